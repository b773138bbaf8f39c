"""A tiny expression language for review rules: one expression, two back ends.

`expr.evaluate(env)` computes the result in Python with Excel's semantics (blank cells, text vs
number comparison, TRIM, arithmetic), and `expr.excel(refs)` writes the same test as an Excel
formula. A rule written once (as formula text, parsed by perfxl.formula) thus runs in `perfxl check`
and live in the workbook, and the two cannot drift. A value that Excel would turn into an error
(#VALUE!: text in arithmetic) is FAILED in Python; a rule that can fail is written into the
workbook inside IFERROR(…,TRUE), so both back ends say "fired" for it.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

Env = dict  # key → cell value (None for blank), or a list of values for ranges
Refs = dict  # key → cell reference ("$E8") or range ("$D8:$D10")


class RowsRefs(dict):
    """Refs of a row test to the ranges of many rows at once ("$E$8:$E$20"), for an array formula
    that tests every row of the range: AND and OR, which would fold a range into one value, are
    written as products and sums of the rows' tests instead."""


def quote(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _is_number(value) -> bool:
    """A number a cell can hold: not a bool, not NaN or infinity (ISNUMBER of a workbook never sees those)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


APPROX = 2.0 ** -48     # numbers this close (relatively) compare equal, as in LibreOffice


def _approx_equal(a, b) -> bool:
    """LibreOffice's rtl::math::approxEqual: 99.99999999999999 = 100 (Excel rounds similarly)."""
    if a == b:
        return True
    d = abs(a - b)
    return a != 0 and b != 0 and math.isfinite(d) and d < abs(a) * APPROX and d < abs(b) * APPROX


def _compare(a, b) -> int:
    """Excel's ordering: blank is 0 beside a number and "" beside text; numbers < text."""
    if a is None:
        a = 0 if _is_number(b) else ""
    if b is None:
        b = 0 if _is_number(a) else ""
    if _is_number(a) and _is_number(b):
        return 0 if _approx_equal(a, b) else (a > b) - (a < b)
    if _is_number(a) != _is_number(b):
        return -1 if _is_number(a) else 1
    a, b = _as_text(a).lower(), _as_text(b).lower()
    return (a > b) - (a < b)


class _Failed:
    """What Excel shows as #VALUE!: arithmetic on text. It spreads through every node."""

    def __repr__(self):
        return "FAILED"


FAILED = _Failed()


def _failed(*values) -> bool:
    return any(v is FAILED for v in values)


class Expr:
    can_fail = False            # True where evaluating may give FAILED (arithmetic)

    def evaluate(self, env: Env):
        raise NotImplementedError

    def children(self) -> tuple:
        return tuple(v for v in self.__dict__.values() if isinstance(v, Expr)) + tuple(
            a for v in self.__dict__.values() if isinstance(v, tuple) for a in v if isinstance(a, Expr))

    def may_fail(self) -> bool:
        return self.can_fail or any(c.may_fail() for c in self.children())

    def excel(self, refs: Refs) -> str:
        raise NotImplementedError



@dataclass(eq=False)
class Lit(Expr):
    value: object

    def evaluate(self, env):
        return self.value

    def excel(self, refs):
        if isinstance(self.value, str):
            return quote(self.value)
        if isinstance(self.value, bool):
            return "TRUE" if self.value else "FALSE"
        return repr(self.value)


@dataclass(eq=False)
class Cell(Expr):
    """The cell of a column on the current row (a key of the indicator columns or a field)."""

    key: str

    def evaluate(self, env):
        value = env.get(self.key)
        return None if value == "" else value

    def excel(self, refs):
        return refs[self.key]


@dataclass(eq=False)
class Trim(Expr):
    arg: Expr

    def evaluate(self, env):
        value = self.arg.evaluate(env)
        if isinstance(value, list):
            return [_trim(v) for v in value]
        return _trim(value)

    def excel(self, refs):
        return f"TRIM({self.arg.excel(refs)})"


def _trim(value):
    return FAILED if value is FAILED else re.sub(" +", " ", _as_text(value).strip(" "))


@dataclass(eq=False)
class IsNumber(Expr):
    arg: Expr

    def evaluate(self, env):
        return _is_number(self.arg.evaluate(env))

    def excel(self, refs):
        return f"ISNUMBER({self.arg.excel(refs)})"


@dataclass(eq=False)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr

    def evaluate(self, env):
        left, right = self.left.evaluate(env), self.right.evaluate(env)
        if _failed(left, right):
            return FAILED
        c = _compare(left, right)
        return {"=": c == 0, "<>": c != 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0}[self.op]

    def excel(self, refs):
        # A comparison is only ever an argument of IF/AND/OR/NOT here, so it needs no parentheses.
        return f"{self.left.excel(refs)}{self.op}{self.right.excel(refs)}"


@dataclass(eq=False)
class And(Expr):
    args: tuple

    def __init__(self, *args):
        self.args = args

    def evaluate(self, env):
        values = [a.evaluate(env) for a in self.args]     # Excel evaluates every argument
        return FAILED if _failed(*values) else all(values)

    def excel(self, refs):
        if isinstance(refs, RowsRefs):
            return "(" + "*".join(f"({a.excel(refs)})" for a in self.args) + ")"
        return "AND(" + ",".join(a.excel(refs) for a in self.args) + ")"


@dataclass(eq=False)
class Or(Expr):
    args: tuple

    def __init__(self, *args):
        self.args = args

    def evaluate(self, env):
        values = [a.evaluate(env) for a in self.args]
        return FAILED if _failed(*values) else any(values)

    def excel(self, refs):
        if isinstance(refs, RowsRefs):
            return "((" + "+".join(f"({a.excel(refs)})" for a in self.args) + ")>0)"
        return "OR(" + ",".join(a.excel(refs) for a in self.args) + ")"


@dataclass(eq=False)
class Not(Expr):
    arg: Expr

    def evaluate(self, env):
        value = self.arg.evaluate(env)
        return FAILED if value is FAILED else not value

    def excel(self, refs):
        return f"NOT({self.arg.excel(refs)})"


# -- what formula text adds: ranges, parentheses, arithmetic and a few more functions ----------
def _number(value):
    """An operand of arithmetic as Excel takes it: blank 0, TRUE 1; text is #VALUE! (FAILED)."""
    if value is None:
        return 0
    if isinstance(value, bool):
        return int(value)
    if _is_number(value):
        return value
    return FAILED


@dataclass(eq=False)
class Column(Expr):
    """`key[]`: the column's cells over the rows of the current group (refs[key + "[]"])."""

    key: str

    def evaluate(self, env):
        return [None if v == "" else v for v in env.get(self.key + "[]", ())]

    def excel(self, refs):
        return refs[self.key + "[]"]


@dataclass(eq=False)
class Paren(Expr):
    """Parentheses the author wrote, kept so that the formula reads as written."""

    arg: Expr

    def evaluate(self, env):
        return self.arg.evaluate(env)

    def excel(self, refs):
        return f"({self.arg.excel(refs)})"


@dataclass(eq=False)
class Arith(Expr):
    op: str
    left: Expr
    right: Expr
    can_fail = True

    def evaluate(self, env):
        a, b = _number(self.left.evaluate(env)), _number(self.right.evaluate(env))
        if _failed(a, b) or self.op == "/" and b == 0:
            return FAILED
        result = {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b}[self.op]()
        return result if math.isfinite(result) else FAILED

    def excel(self, refs):
        return f"{self.left.excel(refs)}{self.op}{self.right.excel(refs)}"


@dataclass(eq=False)
class Negate(Expr):
    arg: Expr
    can_fail = True

    def evaluate(self, env):
        value = _number(self.arg.evaluate(env))
        return FAILED if value is FAILED else -value

    def excel(self, refs):
        return f"-{self.arg.excel(refs)}"


@dataclass(eq=False)
class Function(Expr):
    """ABS, LEN, SUMPRODUCT, ROUND and IF: functions every spreadsheet program computes alike."""

    name: str
    args: tuple

    def __post_init__(self):
        self.can_fail = self.name in ("ABS", "ROUND")

    def evaluate(self, env):
        if self.name == "IF":                       # lazy, as in Excel: only the branch taken
            test = self.args[0].evaluate(env)
            if test is FAILED:
                return FAILED
            branch = self.args[1] if _truth(test) else (self.args[2] if len(self.args) > 2 else Lit(False))
            return branch.evaluate(env)
        values = [a.evaluate(env) for a in self.args]
        if self.name == "LEN":
            value = values[0]
            if isinstance(value, list):
                return [FAILED if v is FAILED else len(_as_text(v)) for v in value]
            return FAILED if value is FAILED else len(_as_text(value))
        if self.name == "SUMPRODUCT":
            items = values[0] if isinstance(values[0], list) else [values[0]]
            if _failed(*items):
                return FAILED
            return sum(v for v in items if _is_number(v))
        numbers = [_number(v) for v in values]
        if _failed(*numbers):
            return FAILED
        if self.name == "ABS":
            return abs(numbers[0])
        return _round(numbers[0], int(numbers[1]))    # ROUND

    def excel(self, refs):
        return f"{self.name}(" + ",".join(a.excel(refs) for a in self.args) + ")"


def _truth(value) -> bool:
    if isinstance(value, str):
        return value.upper() == "TRUE"
    return bool(value)


def _round(value, digits: int):
    """Excel's ROUND: halves away from zero, on the decimal digits shown."""
    from decimal import ROUND_HALF_UP, Decimal

    digits = max(-15, min(15, digits))          # Excel keeps 15 significant digits
    exponent = Decimal(1).scaleb(-digits)
    try:
        return float(Decimal(repr(value)).quantize(exponent, rounding=ROUND_HALF_UP))
    except ArithmeticError:                     # more digits than the value can take: as it is
        return value
