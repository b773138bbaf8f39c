"""The reviewer's rules, each declared once.

A rule has a stable id, a severity, a Chinese message saying what to do, and a test. Tests
written in the expression language of `expr` run in Python (`perfxl check`, and the cached
results of live formulas) and are written into workbooks as live formulas and conditional
formats. Rules that no formula can express carry a Python function instead.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .expr import AnyFilled, Cell, Expr, IsFilled, IsNumber, Not, Or, And, Trim, one_of
from .model import Indicator, Project
from .template import Template

ERROR, WARNING = "error", "warning"

NAME, TYPE, VALUE, CONTENT, UNIT = (Cell(k) for k in ("name", "type", "value", "content", "unit"))
QUANTITATIVE = ("=", "≥", "≤", ">", "<")   # a test keeps these equal to the templates
QUALITATIVE = "定性"
DIRECTION_WORDS = ("提高", "提升", "促进", "增强", "改善", "加强")


@dataclass(frozen=True)
class Rule:
    """One review rule.

    scope: "row" (a 三级 row), "group" (all rows of one 一级), "field" (a header field) or
    "project" (Python only, `run` yields findings).
    """

    id: str
    severity: str
    message: str
    scope: str
    test: Expr | None = None
    blame: tuple[str, ...] = ()             # cells painted when the rule fires
    level1: str | None = None               # row rules: only under a 一级 containing this word
    field: str | None = None                # field rules: the header field tested
    paint: bool = True                      # paint the blamed cells (not for "still empty")
    run: Callable[[Project, Template], Iterable["Finding"]] | None = None

    def applies(self, level1: str | None) -> bool:
        return self.level1 is None or (level1 is not None and self.level1 in level1)

    def text(self, **ctx) -> str:
        return self.message.format(**ctx)


@dataclass
class Finding:
    rule: str
    severity: str
    message: str
    project: str | None
    level1: str | None = None
    level2: str | None = None
    indicator: str | None = None
    location: str | None = None

    def to_dict(self) -> dict:
        return dict(self.__dict__)


def row_env(indicator: Indicator | None) -> dict:
    if indicator is None:
        return {}
    return {k: getattr(indicator, k) for k in ("name", "type", "value", "content", "unit", "note")}


QUANT = one_of(TYPE, QUANTITATIVE)

RULES: list[Rule] = [
    Rule("P-HEAD-NAME", ERROR, "请填写项目名称。", "field", Not(IsFilled(Cell("name"))), field="name", paint=False),
    Rule("P-HEAD-BUDGET", ERROR, "年度本级预算金额应为大于 0 的数字。", "field",
         Or(Not(IsNumber(Cell("budget"))), Cell("budget") <= 0), field="budget", paint=False),
    Rule("P-HEAD-PERIOD", ERROR, "请填写项目支出实施期。", "field", Not(IsFilled(Cell("period"))), field="period", paint=False),
    Rule("P-HEAD-GOAL", ERROR, "请填写本年度绩效目标。", "field", Not(IsFilled(Cell("goal"))), field="goal", paint=False),
    Rule("P-HEAD-BASIS", WARNING, "请填写支出测算依据及说明。", "field", Not(IsFilled(Cell("basis"))), field="basis", paint=False),
    Rule("P-L1-EMPTY", ERROR, "一级指标「{level1}」下至少需要一个三级指标。", "group", Not(AnyFilled("name")),
         blame=("name",), paint=False),
    Rule("P-NAME-MISSING", ERROR, "已填指标值类型或指标值，请填写三级指标名称。", "row",
         And(Not(IsFilled(NAME)), Or(IsFilled(TYPE), IsFilled(VALUE))), blame=("name",)),
    Rule("P-TYPE-MISSING", ERROR, "请选择指标值类型（= ≥ ≤ > < 定性）。", "row",
         And(IsFilled(NAME), Not(IsFilled(TYPE))), blame=("type",)),
    Rule("P-INVEST", ERROR, "资金投入率应为 = 100 %。", "row",
         And(Trim(NAME) == "资金投入率", Or(TYPE != "=", VALUE != 100, Trim(UNIT) != "%")),
         blame=("type", "value", "unit")),
    Rule("P-QUANT-VALUE", ERROR, "定量指标的指标值应为数字。", "row",
         And(QUANT, Not(IsNumber(VALUE))), blame=("value",)),
    Rule("P-QUANT-UNIT", WARNING, "定量指标应填写度量单位。", "row",
         And(QUANT, Not(IsFilled(UNIT))), blame=("unit",)),
    Rule("P-QUAL-VALUE", WARNING, "定性指标的指标值应为文字。", "row",
         And(TYPE == QUALITATIVE, Or(Not(IsFilled(VALUE)), IsNumber(VALUE))), blame=("value",)),
    Rule("P-QUAL-PCT", WARNING, "定性指标不应使用 % 作度量单位。", "row",
         And(TYPE == QUALITATIVE, Trim(UNIT) == "%"), blame=("unit",)),
    Rule("P-SAT-DIR", ERROR, "满意度指标应为下限（≥），不应使用 ≤ 或 <。", "row",
         one_of(TYPE, ("≤", "<")), blame=("type",), level1="满意度"),
    Rule("P-SAT-RANGE", WARNING, "满意度目标值通常在 80%–100% 之间，请核实。", "row",
         And(QUANT, IsNumber(VALUE), Or(VALUE < 80, VALUE > 100)), blame=("value",), level1="满意度"),
    Rule("P-PCT-OVER", WARNING, "百分比目标值超过 100%，请核实。", "row",
         And(one_of(TYPE, ("≥", ">", "=")), IsNumber(VALUE), Trim(UNIT) == "%", VALUE > 100),
         blame=("value",)),
    Rule("P-COST-DIR", WARNING, "成本指标应为上限（≤）或等于（=），不应使用 ≥ 或 >。", "row",
         one_of(TYPE, ("≥", ">")), blame=("type",), level1="成本"),
    Rule("P-VAGUE", WARNING, "定性指标值只有方向词（如“提高”），请写明可衡量的目标或指标值内容。", "row",
         And(TYPE == QUALITATIVE, one_of(Trim(VALUE), DIRECTION_WORDS), Not(IsFilled(CONTENT))),
         blame=("value",)),
]

RULES_BY_ID = {rule.id: rule for rule in RULES}


def live_rules(scope: str) -> list[Rule]:
    """The rules of a scope that carry a formula (used by the layout for live checks)."""
    return [r for r in RULES if r.scope == scope and r.test is not None]
