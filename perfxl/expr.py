"""A tiny expression language for review rules: one expression, two back ends.

`expr.evaluate(env)` computes the result in Python with Excel's semantics (blank cells, text vs
number comparison, TRIM), and `expr.excel(refs)` writes the same test as an Excel formula. A rule
written once thus runs in `perfxl check` and live in the workbook, and the two cannot drift.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass

Env = dict  # key → cell value (None for blank), or a list of values for ranges
Refs = dict  # key → cell reference ("$E8") or range ("$D8:$D10")


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


class Expr:
    def evaluate(self, env: Env):
        raise NotImplementedError

    def excel(self, refs: Refs) -> str:
        raise NotImplementedError

    # operators build comparisons, so rules read like formulas
    def __eq__(self, other):  # type: ignore[override]
        return Compare("=", self, lit(other))

    def __ne__(self, other):  # type: ignore[override]
        return Compare("<>", self, lit(other))

    def __lt__(self, other):
        return Compare("<", self, lit(other))

    def __le__(self, other):
        return Compare("<=", self, lit(other))

    def __gt__(self, other):
        return Compare(">", self, lit(other))

    def __ge__(self, other):
        return Compare(">=", self, lit(other))

    __hash__ = object.__hash__


def lit(value) -> Expr:
    return value if isinstance(value, Expr) else Lit(value)


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
        return re.sub(" +", " ", _as_text(self.arg.evaluate(env)).strip(" "))

    def excel(self, refs):
        return f"TRIM({self.arg.excel(refs)})"


@dataclass(eq=False)
class IsNumber(Expr):
    arg: Expr

    def evaluate(self, env):
        return _is_number(self.arg.evaluate(env))

    def excel(self, refs):
        return f"ISNUMBER({self.arg.excel(refs)})"


@dataclass(eq=False)
class IsFilled(Expr):
    """The cell holds something other than spaces."""

    arg: Expr

    def evaluate(self, env):
        return Trim(self.arg).evaluate(env) != ""

    def excel(self, refs):
        return f'TRIM({self.arg.excel(refs)})<>""'


@dataclass(eq=False)
class AnyFilled(Expr):
    """Some cell of a column over a range of rows (refs[key] is a range) is filled."""

    key: str

    def evaluate(self, env):
        return any(_as_text(v).strip(" ") != "" for v in env.get(self.key + "[]", ()))

    def excel(self, refs):
        return f"(SUMPRODUCT(LEN(TRIM({refs[self.key + '[]']})))>0)"


@dataclass(eq=False)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr

    def evaluate(self, env):
        c = _compare(self.left.evaluate(env), self.right.evaluate(env))
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
        return all(a.evaluate(env) for a in self.args)

    def excel(self, refs):
        return "AND(" + ",".join(a.excel(refs) for a in self.args) + ")"


@dataclass(eq=False)
class Or(Expr):
    args: tuple

    def __init__(self, *args):
        self.args = args

    def evaluate(self, env):
        return any(a.evaluate(env) for a in self.args)

    def excel(self, refs):
        return "OR(" + ",".join(a.excel(refs) for a in self.args) + ")"


@dataclass(eq=False)
class Not(Expr):
    arg: Expr

    def evaluate(self, env):
        return not self.arg.evaluate(env)

    def excel(self, refs):
        return f"NOT({self.arg.excel(refs)})"


def one_of(arg: Expr, values) -> Expr:
    return Or(*[Compare("=", arg, Lit(v)) for v in values])
