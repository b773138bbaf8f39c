"""Rule formulas: the Excel-style text of a form file's rule, parsed into perfxl.expr's tree.

`parse("OR(NOT(ISNUMBER(budget)),budget<=0)", names)` gives the expression that `perfxl check`
evaluates and that the layout writes into the workbook as the live formula: one text, two back
ends. The language is a small, safe part of Excel's: numbers, "text" (quotes doubled inside),
TRUE/FALSE, names (a field or a column of the rule's scope), `column[]` (that column over a group's
rows), + - * /, unary -, = <> < <= > >=, parentheses, and the functions in FUNCTIONS. Anything else
is a FormulaError with its character offset; nothing in a formula can run code.
"""
from __future__ import annotations

import re
from collections.abc import Mapping

from .expr import (And, Arith, Cell, Column, Compare, Expr, Function, IsNumber, Lit, Negate, Not, Or,
                   Paren, Trim)

# name → (fewest, most) arguments
FUNCTIONS = {"AND": (1, 30), "OR": (1, 30), "NOT": (1, 1), "IF": (2, 3), "TRIM": (1, 1),
             "ISNUMBER": (1, 1), "LEN": (1, 1), "ABS": (1, 1), "ROUND": (2, 2), "SUMPRODUCT": (1, 1)}
MAX_FORMULA = 2000          # characters; a live check joins several and Excel allows 8,192

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<text>"(?:[^"]|"")*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*(?:\[\])?)
  | (?P<op><>|<=|>=|[=<>+\-*/(),])
""", re.X)
COMPARISONS = ("=", "<>", "<", "<=", ">", ">=")


class FormulaError(ValueError):
    """A formula that is not in the language; `offset` is the 0-based character where it fails."""

    def __init__(self, message: str, offset: int):
        super().__init__(message)
        self.message = message
        self.offset = offset


def tokens(text: str) -> list[tuple[str, str, int]]:
    """(kind, text, offset) of every token, then ("end", "", len)."""
    out, pos = [], 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise FormulaError(f"无法识别的字符「{text[pos]}」", pos)
        if m.lastgroup != "space":
            out.append((m.lastgroup, m.group(), pos))
        pos = m.end()
    out.append(("end", "", len(text)))
    return out


def parse(text: str, names: Mapping[str, str] | None = None, *,
          defined: Mapping[str, Expr] | None = None) -> Expr:
    """The expression of `text`.

    names: the names the formula may use, each "cell" (one value) or "column" (also as name[]).
    defined: named sub-formulas (a form's `names:`), used by name and inlined.
    """
    if len(text) > MAX_FORMULA:
        raise FormulaError(f"公式过长（{len(text)} 个字符，最多 {MAX_FORMULA}）", MAX_FORMULA)
    parser = _Parser(tokens(text), names, defined or {})
    expr = parser.comparison()
    kind, word, offset = parser.peek()
    if kind != "end":
        raise FormulaError(f"多余的「{word}」", offset)
    return expr


def names_used(expr: Expr) -> set[str]:
    """The field and column keys an expression reads (`type`, `name[]` → name)."""
    out: set[str] = set()
    stack = [expr]
    while stack:
        node = stack.pop()
        if isinstance(node, (Cell, Column)):
            out.add(node.key)
        stack.extend(node.children())
    return out


class _Parser:
    def __init__(self, items, names, defined):
        self.items, self.at = items, 0
        self.names, self.defined = names, defined

    def peek(self):
        return self.items[self.at]

    def take(self):
        item = self.items[self.at]
        self.at += 1
        return item

    def expect(self, word: str):
        kind, got, offset = self.take()
        if got != word:
            raise FormulaError(f"此处应为「{word}」，不是「{got or '结尾'}」", offset)

    # comparison < additive < multiplicative < unary < primary, as Excel orders them
    def comparison(self) -> Expr:
        return self.left_to_right(self.additive, COMPARISONS, Compare)

    def additive(self) -> Expr:
        return self.left_to_right(self.multiplicative, ("+", "-"), Arith)

    def multiplicative(self) -> Expr:
        return self.left_to_right(self.unary, ("*", "/"), Arith)

    def left_to_right(self, operand, ops: tuple[str, ...], node) -> Expr:
        """operand (op operand)*, grouped from the left: a-b-c is (a-b)-c."""
        left = operand()
        while self.peek()[0] == "op" and self.peek()[1] in ops:
            op = self.take()[1]
            left = node(op, left, operand())
        return left

    def unary(self) -> Expr:
        if self.peek()[:2] == ("op", "-"):
            self.take()
            return Negate(self.unary())
        return self.primary()

    def primary(self) -> Expr:
        kind, word, offset = self.take()
        if kind == "number":
            value = float(word)
            return Lit(int(word) if word.isdigit() else value)
        if kind == "text":
            return Lit(word[1:-1].replace('""', '"'))
        if word == "(":
            inner = self.comparison()
            self.expect(")")
            return Paren(inner)
        if kind != "name":
            raise FormulaError(f"此处应为值、名称或函数，不是「{word or '结尾'}」", offset)
        upper = word.upper()
        if self.peek()[1] == "(":
            return self.call(upper, word, offset)
        if upper in ("TRUE", "FALSE"):
            return Lit(upper == "TRUE")
        if word.endswith("[]"):
            key = word[:-2]
            if self.names is not None and self.names.get(key) != "column":
                raise FormulaError(f"「{word}」：这里没有名为 {key} 的列", offset)
            return Column(key)
        if word in self.defined:
            return self.defined[word]
        if self.names is not None and word not in self.names:
            known = "、".join(sorted(set(self.names) | set(self.defined)))
            raise FormulaError(f"未知的名称「{word}」；可用：{known}", offset)
        return Cell(word)

    def call(self, name: str, word: str, offset: int) -> Expr:
        if name not in FUNCTIONS:
            raise FormulaError(f"不支持的函数「{word}」；可用：{'、'.join(FUNCTIONS)}", offset)
        self.expect("(")
        args: list[Expr] = []
        if self.peek()[1] != ")":
            args.append(self.comparison())
            while self.peek()[1] == ",":
                self.take()
                args.append(self.comparison())
        self.expect(")")
        fewest, most = FUNCTIONS[name]
        if not fewest <= len(args) <= most:
            count = f"{fewest}" if fewest == most else f"{fewest} 到 {most}"
            raise FormulaError(f"{name} 需要 {count} 个参数，这里有 {len(args)} 个", offset)
        simple = {"AND": lambda: And(*args), "OR": lambda: Or(*args), "NOT": lambda: Not(args[0]),
                  "TRIM": lambda: Trim(args[0]), "ISNUMBER": lambda: IsNumber(args[0])}
        if name in simple:
            return simple[name]()
        return Function(name, tuple(args))
