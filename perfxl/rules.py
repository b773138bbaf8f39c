"""The reviewer's rules: what a rule is, the named built-ins, and the live rules' outcomes.

Every rule is declared in its form file (templates/*.yaml, `rules:`), with a stable id, a severity,
a Chinese message saying what to do, and a test: an Excel-style formula (perfxl.formula) that runs
in Python (`perfxl check`, and the cached results of live formulas) and is written into workbooks
as live formulas and conditional formats. What no formula can express is a named built-in of
BUILTINS with parameters from the form file (scope "record"); a form file never holds code.

field_outcomes, row_outcomes and group_outcomes evaluate the live rules once, for both the
layout's cached results and `perfxl check`, so the workbook and the checker cannot drift.
"""
from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable, Mapping
import dataclasses
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from .expr import FAILED, Expr
from .model import INDICATOR_KEYS, Indicator, Project
from .template import label_key
from .values import normalise_number

if TYPE_CHECKING:
    from .template import Template

ERROR, WARNING = "error", "warning"
SEVERITY_WORDS = {ERROR: "错误", WARNING: "警告"}     # how the users' pages say them
SCOPES = ("field", "row", "group", "record")


@dataclass(frozen=True)
class Rule:
    """One review rule of a form.

    scope: "row" (a 三级 row, or with `table` a row of that flat table), "group" (all rows of one
    一级), "field" (header and footer fields, and the sums of flat tables' 合计 rows) or "record"
    (the whole table: a built-in of BUILTINS, run with `params`).
    """

    id: str
    severity: str
    message: str
    scope: str
    test: Expr | None = None
    blame: tuple[str, ...] = ()             # cells painted when the rule fires
    level1: str | None = None               # row rules: only under a 一级 containing this word
    field: str | None = None                # field rules: the field whose row carries the mark
    paint: bool = True                      # paint the blamed cells (not for "still empty")
    builtin: str | None = None
    params: Mapping = dataclasses.field(default_factory=dict, compare=False, hash=False)
    table: str | None = None                # row rules: a flat table's rows instead of indicator rows

    def applies(self, level1: str | None) -> bool:
        return self.level1 is None or (level1 is not None and self.level1 in level1)

    def text(self, **ctx) -> str:
        return self.message.format(**ctx)

    def fires(self, env) -> bool:
        """The test on one place; a test Excel cannot compute (#VALUE!) fires, as IFERROR(…,TRUE)."""
        result = self.test.evaluate(env)
        return result is FAILED or bool(result)

    def formula(self, refs) -> str:
        """The test as the live formula's condition."""
        text = self.test.excel(refs)
        return f"IFERROR({text},TRUE)" if self.may_fail else text

    @functools.cached_property
    def may_fail(self) -> bool:
        """Whether the test can be an error in Excel (asked for every formula: walked once)."""
        return self.test.may_fail()

    def run(self, project: Project, template: Template) -> Iterable[Problem]:
        return BUILTINS[self.builtin].run(project, template, self.params)


@dataclass
class Finding:
    """One problem found: which rule, where (YAML line or sheet!cell), in which record (project),
    table, group and row.

    table: the key of the flat table or further indicator block the finding is in, None for the
    fields and the main indicator block. A flat table's row has its table's label as level1 and
    its first column as indicator.
    """

    rule: str
    severity: str
    message: str
    project: str | None
    level1: str | None = None
    level2: str | None = None
    indicator: str | None = None
    location: str | None = None
    table: str | None = None

    def to_dict(self) -> dict:
        out = dict(self.__dict__)
        if out["table"] is None:
            del out["table"]
        return out


@dataclass(frozen=True)
class Problem:
    """What a built-in rule reports; `check` adds the rule, the project and the location.

    keys: the indicator's (or, without one, the project's) fields to point at, best first.
    """

    message: str
    level1: str | None = None
    level2: str | None = None
    indicator: Indicator | None = None
    keys: tuple[str, ...] = ()


NUMBER_START, DIGITS = "0123456789.+-", "0123456789"


def is_number_text(text: str) -> bool:
    """A number a clerk typed as text, as the hidden value helper's formula tells it (perfxl.layout):
    a sign, a digit or a point, then digits with at most one point, ending in a digit ('95',
    '-2.5', '.5'). Narrower than the reader's numbers (no commas, no exponent, no full-width
    digits), so that Excel, LibreOffice and Gnumeric give VALUE() of it the same number."""
    return (text != "" and text[0] in NUMBER_START and all(c in DIGITS + "." for c in text[1:])
            and text.count(".") <= 1 and text[-1] in DIGITS)


def glued_rest(text: str) -> str:
    """The text after its first character with digits and points taken out (the third helper)."""
    return "".join(c for c in text[1:] if c not in DIGITS + ".")


def glued_text(text: str) -> tuple[str, str] | None:
    """(number, unit) of a unit typed into the value cell ('100公里', '-2.5 万元', '95%'), as the
    hidden unit helper's formula splits it: the digits and points after the first character
    taken away leave the unit, which must end the text, take 1 to 8 characters without a space
    and not start with , + or -; what stands before it must be a number (is_number_text)."""
    if not text or text[0] not in NUMBER_START:
        return None
    rest = glued_rest(text)
    unit = excel_trim(rest)
    if not rest or not text.endswith(rest) or not 1 <= len(unit) <= 8 or " " in unit or unit[0] in ",+-":
        return None
    number = excel_trim(text[:len(text) - len(rest)])
    return (number, unit) if is_number_text(number) else None


def typed_value(value, value_type, unit, template: Template) -> tuple:
    """An indicator's (指标值, 度量单位) as its row rules see them, as `perfxl read` reads them: on a
    form with the typed helpers, a number typed as text on a row that is not 定性 is that number;
    a unit typed into the value cell of a quantitative row ('100公里') is split off, where the
    unit cell is empty or says the same."""
    if not template.typed_cols or not isinstance(value, str):
        return value, unit
    text = excel_trim(value)
    if value_type != template.qualitative and is_number_text(text):
        return normalise_number(float(text)), unit
    if template.is_quantitative(value_type):
        split = glued_text(text)
        if split is not None and excel_trim(unit or "") in ("", split[1]):
            return normalise_number(float(split[0])), split[1]
    return value, unit


def excel_trim(text: str) -> str:
    """Excel's TRIM: spaces (only U+0020) off both ends, and each run inside down to one."""
    return " ".join(part for part in text.split(" ") if part)


def row_env(indicator: Indicator | None) -> dict:
    """An indicator row's values by column key: what row rules see."""
    if indicator is None:
        return {}
    out = {k: getattr(indicator, k) for k in INDICATOR_KEYS}
    out.update(indicator.extra)
    return out


def field_env(project: Project, template: Template) -> dict:
    """Every header and footer field of a project, by key, and each flat table's sums (what its
    合计 row's SUM computes: the numbers of the column, text ignored): what field rules see."""
    env = {key: project.get(key) for key in template.field_keys}
    for key, (table, column) in template.sum_fields.items():
        env[key] = column_sum(project.tables.get(table, ()), column)
    return env


def column_sum(entries, column: str) -> int | float:
    """Excel's SUM over a column: numbers added, text and empty cells skipped."""
    total = sum(v for e in entries if (v := e.get(column)).__class__ in (int, float))
    return round(total, 9) if isinstance(total, float) else total


# -- built-ins: what no formula can express, parametrised by the form file ----------------------
@dataclass(frozen=True)
class Builtin:
    """A named check with its parameters: `params` maps each to "column", "field", "text" or "words"
    (a list of texts), what the loader checks a form's values against; `required` must be given."""

    run: Callable[[Project, Template, Mapping], Iterable[Problem]]
    params: Mapping[str, str]
    required: tuple[str, ...] = ()


def _column_label(template: Template, key: str) -> str:
    return next((c.label for c in template.columns if c.key == key), key)


def unique_values(project: Project, template: Template, params: Mapping) -> Iterable[Problem]:
    """A column's text used twice in one table (compared as labels: width, spaces, colons ignored)."""
    column = params["column"]
    label = _column_label(template, column)
    seen: dict[str, str] = {}
    for level1, level2, item in project.rows():
        text = item.get(column)
        key = label_key(text if text is not None else "")
        if not key:
            continue
        if key in seen:
            yield Problem(f"{label}「{text}」与「{seen[key]}」下的指标重名；请合并或改用不同的名称。",
                          level1, level2, item, (column,))
        else:
            seen[key] = f"{level1} › {level2}"


def known_groups(project: Project, template: Template, params: Mapping) -> Iterable[Problem]:
    """A 二级 the form does not give its 一级, or a 一级 the form does not have."""
    words1, words2 = (_column_label(template, c.key) for c in template.columns[:2])
    home = {label_key(l2): l1 for l1, l2s in template.skeleton.items() for l2 in l2s}
    skeleton = {label_key(l1): l2s for l1, l2s in template.skeleton.items()}
    for level1, groups in project.indicators.items():
        if label_key(level1) not in skeleton:
            yield Problem(f"{words1}「{level1}」不是本表的{words1}（{'、'.join(template.skeleton)}）；"
                          f"请把其下指标移到相应的{words1}下。", level1)
            continue
        allowed = skeleton[label_key(level1)]
        for level2 in groups:
            if label_key(level2) in {label_key(a) for a in allowed}:
                continue
            owner = home.get(label_key(level2))
            advice = (f"它属于{words1}「{owner}」，请移到「{owner}」下" if owner
                      else f"请改用{'、'.join(allowed)}之一")
            yield Problem(f"{words2}「{level2}」不应放在{words1}「{level1}」下；{advice}。", level1, level2)


def required_row(project: Project, template: Template, params: Mapping) -> Iterable[Problem]:
    """A row every table should carry (its column's text equal to `value`, spaces trimmed)."""
    column, value = params["column"], params["value"]
    if not any(re.sub(" +", " ", str(item.get(column) or "").strip(" ")) == value
               for _, _, item in project.rows()):
        level1, level2 = params["group"]
        yield Problem(f"本表没有「{value}」指标；请在 {level1} › {level2} 下加一行：{params['row']}。",
                      level1, level2)


MONEY = re.compile(r"(?P<num>\d+(?:,\d{3})*(?:\.\d+)?)\s*(?P<unit>亿元|万元|千元|元|亿|万)")
SCALE = {"元": 1, "千元": 1e3, "万元": 1e4, "万": 1e4, "亿元": 1e8, "亿": 1e8}
TOTAL_WORDS = ("合计", "共计", "总计", "总共", "累计", "总额", "总金额", "总预算", "总投资")
RATE_AFTER = re.compile(r"\s*(?:[×xX*＊/／÷]|每)")                 # 4053元×16%, 180元/年
RATE_BEFORE = re.compile(r"(?:[×xX*＊/／÷]\s*|每\D{0,3})$")      # 20人×5000元, 每人500元
COUNT_AFTER = re.compile(r"(?:人|次|户|个|家|件|份|台|套|吨|亩|平方|米|公里|册|张|名|株|只|头|辆|条|篇|场|间|所|字|页|小时)")
CLAUSE_END = "，。；、,;:：\n"


def money_amounts(text: str) -> tuple[list[float], list[float]]:
    """(parts, totals) in 元 named in a text: '合计180万元' is a total, '4053元×16%' neither."""
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


def money_sum(project: Project, template: Template, params: Mapping) -> Iterable[Problem]:
    """The amounts named in a text field (支出测算依据) should add up to (or state) a money field."""
    text_key, total_key = params["text"], params["total"]
    text, total = project.get(text_key), project.get(total_key)
    if not text or isinstance(total, bool) or not isinstance(total, (int, float)) or total <= 0:
        return
    unit = project.amount_unit if project.amount_unit in SCALE else "元"
    total_yuan = total * SCALE[unit]
    parts, totals = money_amounts(text)
    if not parts and not totals:
        return
    if any(_same_money(a, total_yuan) for a in parts + totals) or _same_money(sum(parts), total_yuan):
        return
    found = []
    if totals:
        found.append("写明的合计 " + "、".join(_show(t, unit) for t in totals))
    if parts:
        found.append("各项之和 " + _show(sum(parts), unit))
    labels = template.field_labels()
    text_label = params.get("text_label") or labels[text_key].label
    total_label = params.get("total_label") or labels[total_key].label
    yield Problem(f"{text_label}中的金额（{'，'.join(found)}）与{total_label} {_show(total_yuan, unit)}"
                  f"不一致；请核对{params.get('advice', text_label + '或' + total_label)}。",
                  keys=(text_key, total_key))


BUILTINS: Mapping[str, Builtin] = MappingProxyType({
    "unique": Builtin(unique_values, {"column": "column"}, ("column",)),
    "known_groups": Builtin(known_groups, {}),
    "required_row": Builtin(required_row, {"column": "column", "value": "text", "group": "words", "row": "text"},
                            ("column", "value", "group", "row")),
    "money_sum": Builtin(money_sum, {"text": "field", "total": "field", "text_label": "text",
                                     "total_label": "text", "advice": "text"}, ("text", "total")),
})


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


def field_outcomes(template: Template, at: str, env: Mapping) -> list[Outcome]:
    """The field rules whose mark is on field `at`, over all of the table's fields (env)."""
    return [Outcome(r, r.fires(env), r.text()) for r in template.live_rules("field") if r.field == at]


def row_outcomes(template: Template, level1: str, indicator: Indicator | None) -> list[Outcome]:
    """The row rules on one row of the indicator block (indicator None: an empty row)."""
    env = row_env(indicator)
    if indicator is not None:
        env["value"], env["unit"] = typed_value(env.get("value"), env.get("type"), env.get("unit"), template)
    return [Outcome(r, r.fires(env), r.text()) for r in template.live_rules("row")
            if r.table is None and r.applies(level1)]


def entry_outcomes(template: Template, table: str, entry) -> list[Outcome]:
    """The row rules on one row of a flat table (entry None: an empty row)."""
    env = entry.values if entry is not None else {}
    return [Outcome(r, r.fires(env), r.text()) for r in template.live_rules("row") if r.table == table]


def group_outcomes(template: Template, rows: list[tuple]) -> list[GroupOutcome]:
    """The group rules on each form 一级 present in `rows` ((level1, level2, indicator))."""
    spans: dict[str, list[int]] = {}
    for i, (level1, _, _) in enumerate(rows):
        spans.setdefault(level1, [i, i])[1] = i
    out = []
    for rule in template.live_rules("group"):
        for level1 in template.skeleton:
            if level1 in spans:
                first, last = spans[level1]
                columns = {f"{k}[]": [row_env(item).get(k) for _, _, item in rows[first:last + 1]]
                           for k in template.row_keys}
                out.append(GroupOutcome(rule, rule.fires(columns), rule.text(level1=level1), level1, first, last))
    return out
