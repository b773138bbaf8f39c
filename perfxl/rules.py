"""The reviewer's rules, each declared once.

A rule has a stable id, a severity, a Chinese message saying what to do, and a test. Tests
written in the expression language of `expr` run in Python (`perfxl check`, and the cached
results of live formulas) and are written into workbooks as live formulas and conditional
formats. Rules that no formula can express carry a Python function instead (scope "project").

field_outcomes, row_outcomes and group_outcomes evaluate the live rules once, for both the
layout's cached results and `perfxl check`, so the workbook and the checker cannot drift.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .expr import AnyFilled, Cell, Expr, IsFilled, IsNumber, Not, Or, And, Trim, one_of
from .model import Indicator, Project
from .template import Template, label_key

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
    run: Callable[[Project, Template], Iterable["Problem"]] | None = None

    def applies(self, level1: str | None) -> bool:
        return self.level1 is None or (level1 is not None and self.level1 in level1)

    def text(self, **ctx) -> str:
        return self.message.format(**ctx)


@dataclass
class Finding:
    """One problem found: which rule, where (YAML line or sheet!cell), about which row."""

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


@dataclass(frozen=True)
class Problem:
    """What a Python-only rule reports; `check` adds the rule, the project and the location.

    keys: the indicator's (or, without one, the project's) fields to point at, best first.
    """

    message: str
    level1: str | None = None
    level2: str | None = None
    indicator: Indicator | None = None
    keys: tuple[str, ...] = ()


def row_env(indicator: Indicator | None) -> dict:
    if indicator is None:
        return {}
    return {k: getattr(indicator, k) for k in ("name", "type", "value", "content", "unit", "note")}


QUANT = one_of(TYPE, QUANTITATIVE)
INVEST_NAME = "资金投入率"
INVEST_PLACE = ("成本指标", "经济成本指标")


# -- rules no formula can express -------------------------------------------------------------
def duplicate_names(project: Project, template: Template) -> Iterable[Problem]:
    """A 三级 name used twice in one table (compared as labels: width, spaces, colons ignored)."""
    seen: dict[str, str] = {}
    for level1, level2, item in project.rows():
        key = label_key(item.name or "")
        if not key:
            continue
        if key in seen:
            yield Problem(f"三级指标「{item.name}」与「{seen[key]}」下的指标重名；请合并或改用不同的名称。",
                          level1, level2, item, ("name",))
        else:
            seen[key] = f"{level1} › {level2}"


def misplaced_groups(project: Project, template: Template) -> Iterable[Problem]:
    """A 二级 the template does not give its 一级, or a 一级 the template does not have."""
    home = {label_key(l2): l1 for l1, l2s in template.skeleton.items() for l2 in l2s}
    skeleton = {label_key(l1): l2s for l1, l2s in template.skeleton.items()}
    for level1, groups in project.indicators.items():
        if label_key(level1) not in skeleton:
            yield Problem(f"一级指标「{level1}」不是本表的一级指标（{'、'.join(template.skeleton)}）；"
                          "请把其下指标移到相应的一级指标下。", level1)
            continue
        allowed = skeleton[label_key(level1)]
        for level2 in groups:
            if label_key(level2) in {label_key(a) for a in allowed}:
                continue
            owner = home.get(label_key(level2))
            advice = (f"它属于一级指标「{owner}」，请移到「{owner}」下" if owner
                      else f"请改用{'、'.join(allowed)}之一")
            yield Problem(f"二级指标「{level2}」不应放在一级指标「{level1}」下；{advice}。", level1, level2)


def investment_missing(project: Project, template: Template) -> Iterable[Problem]:
    """Every table in the reference carries 资金投入率; reviewers look for it."""
    named = Trim(NAME) == INVEST_NAME
    if not any(named.evaluate(row_env(item)) for _, _, item in project.rows()):
        level1, level2 = INVEST_PLACE
        yield Problem(f"本表没有「{INVEST_NAME}」指标；请在 {level1} › {level2} 下加一行："
                      f"{INVEST_NAME} = 100 %。", level1, level2)


MONEY = re.compile(r"(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s*(?P<unit>亿元|万元|千元|元|亿|万)")
SCALE = {"元": 1, "千元": 1e3, "万元": 1e4, "万": 1e4, "亿元": 1e8, "亿": 1e8}
TOTAL_WORDS = ("合计", "共计", "总计", "总共", "累计", "总额", "总金额", "总预算", "总投资")
RATE_AFTER = re.compile(r"\s*(?:[×xX*＊/／÷]|每)")                 # 4053元×16%, 180元/年
RATE_BEFORE = re.compile(r"(?:[×xX*＊/／÷]\s*|每\D{0,3})$")      # 20人×5000元, 每人500元
COUNT_AFTER = re.compile(r"(?:人|次|户|个|家|件|份|台|套|吨|亩|平方|米|公里|册|张|名|株|只|头|辆|条|篇|场|间|所|字|页|小时)")
CLAUSE_END = "，。；、,;:：\n"


def money_amounts(text: str) -> tuple[list[float], list[float]]:
    """(parts, totals) in 元 named in a 支出测算依据: '合计180万元' is a total, '4053元×16%' neither."""
    parts: list[float] = []
    totals: list[float] = []
    for m in MONEY.finditer(text):
        after, before = text[m.end():], text[:m.start()]
        if RATE_AFTER.match(after) or RATE_BEFORE.search(before[-6:]):
            continue
        if m.group("unit") in ("万", "亿") and COUNT_AFTER.match(after):
            continue
        amount = float(m.group("num").replace(",", "")) * SCALE[m.group("unit")]
        clause = re.split(f"[{CLAUSE_END}]", before)[-1]
        is_total = any(w in clause and not re.search(r"\d", clause.rsplit(w, 1)[1]) for w in TOTAL_WORDS)
        (totals if is_total else parts).append(amount)
    return parts, totals


def _same_money(a: float, b: float) -> bool:
    return abs(a - b) < 0.005 + 1e-9 * abs(b)


def _show(amount_yuan: float, amount_unit: str) -> str:
    value = amount_yuan / SCALE.get(amount_unit, 1)
    return f"{value:,.2f}".rstrip("0").rstrip(".") + " " + amount_unit


def basis_mismatch(project: Project, template: Template) -> Iterable[Problem]:
    """The amounts in 支出测算依据及说明 should add up to (or state) the 年度本级预算金额."""
    budget = project.budget
    if not project.basis or isinstance(budget, bool) or not isinstance(budget, (int, float)) or budget <= 0:
        return
    unit = project.amount_unit if project.amount_unit in SCALE else "元"
    budget_yuan = budget * SCALE[unit]
    parts, totals = money_amounts(project.basis)
    if not parts and not totals:
        return
    if any(_same_money(a, budget_yuan) for a in parts + totals) or _same_money(sum(parts), budget_yuan):
        return
    found = []
    if totals:
        found.append("写明的合计 " + "、".join(_show(t, unit) for t in totals))
    if parts:
        found.append("各项之和 " + _show(sum(parts), unit))
    yield Problem(f"支出测算依据中的金额（{'，'.join(found)}）与年度本级预算金额 {_show(budget_yuan, unit)}"
                  "不一致；请核对测算依据或预算金额。", keys=("basis", "budget"))


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
    Rule("P-DUP-NAME", WARNING, "三级指标在本表中重名；请合并或改用不同的名称。", "project",
         run=duplicate_names),
    Rule("P-L2-MISPLACED", WARNING, "二级指标不属于所在的一级指标；请移到模板规定的一级指标下。", "project",
         run=misplaced_groups),
    Rule("P-INVEST-MISSING", WARNING, "本表没有资金投入率指标；请加一行 资金投入率 = 100 %。", "project",
         run=investment_missing),
    Rule("P-BASIS-SUM", WARNING, "支出测算依据中的金额与年度本级预算金额不一致；请核对。", "project",
         run=basis_mismatch),
]

RULES_BY_ID = {rule.id: rule for rule in RULES}


def live_rules(scope: str) -> list[Rule]:
    """The rules of a scope that carry a formula (used by the layout for live checks)."""
    return [r for r in RULES if r.scope == scope and r.test is not None]


# -- the live rules, evaluated once for the workbook's cached results and for `perfxl check` --
@dataclass(frozen=True)
class Outcome:
    """A live rule applied to one place: whether it fires, and the message of its mark."""

    rule: Rule
    fired: bool
    message: str


@dataclass(frozen=True)
class GroupOutcome(Outcome):
    """A group rule applied to one 一级: rows[first..last] of the indicator rows."""

    level1: str = ""
    first: int = 0
    last: int = 0


def field_outcomes(field_name: str, value) -> list[Outcome]:
    """The field rules on one header or footer field."""
    return [Outcome(r, bool(r.test.evaluate({field_name: value})), r.text())
            for r in live_rules("field") if r.field == field_name]


def row_outcomes(level1: str, indicator: Indicator | None) -> list[Outcome]:
    """The row rules on one row of the indicator block (indicator None: an empty row)."""
    env = row_env(indicator)
    return [Outcome(r, bool(r.test.evaluate(env)), r.text()) for r in live_rules("row") if r.applies(level1)]


def group_outcomes(template: Template, rows: list[tuple]) -> list[GroupOutcome]:
    """The group rules on each template 一级 present in `rows` ((level1, level2, indicator))."""
    spans: dict[str, list[int]] = {}
    for i, (level1, _, _) in enumerate(rows):
        spans.setdefault(level1, [i, i])[1] = i
    out = []
    for rule in live_rules("group"):
        for level1 in template.skeleton:
            if level1 in spans:
                first, last = spans[level1]
                names = [row_env(item).get("name") for _, _, item in rows[first:last + 1]]
                fired = bool(rule.test.evaluate({"name[]": names}))
                out.append(GroupOutcome(rule, fired, rule.text(level1=level1), level1, first, last))
    return out
