"""Layout planning: a pure function from a project (or a blank form) to the cells of one table.

The plan says what goes in each cell, which cells merge, where the dropdowns and live checks go
and how tall each row is. It knows the template and the rules, never a workbook library; the
writer turns plans into XlsxWriter calls.
"""
from __future__ import annotations

import functools
import math
import unicodedata
from dataclasses import dataclass, field

from .errors import TemplateError
from .model import Indicator, Project
from .expr import RowsRefs, quote
from .formula import names_used
from .rules import (DIGITS, NUMBER_START, Outcome, Rule, column_sum, entry_outcomes, excel_trim, field_env,
                    field_outcomes, glued_rest, group_outcomes, is_number_text, row_env, row_outcomes, typed_value)
from .template import MAIN_BLOCK, FlatTable, Template, col_letter


@dataclass
class PlannedCell:
    row: int
    col: int
    value: object = None
    style: str = "field"
    last_row: int | None = None     # a merge when last_row/last_col is set
    last_col: int | None = None
    formula: str | None = None      # without the leading "="; value is then the cached result
    array: bool = False             # an array formula (over the rows of a range at once)

    @property
    def merged(self) -> bool:
        return (self.last_row or self.row) != self.row or (self.last_col or self.col) != self.col


@dataclass
class Highlight:
    """Conditional formatting: paint `ranges` when `formula` (relative to the first row) holds."""

    ranges: list[tuple[int, int, int, int]]
    formula: str
    severity: str


@dataclass
class TablePlan:
    first_row: int
    last_row: int
    cells: list[PlannedCell] = field(default_factory=list)
    heights: dict[int, float] = field(default_factory=dict)
    type_cells: list[tuple[int, int]] = field(default_factory=list)   # (row, col) with dropdown
    input_cells: list[tuple[int, int]] = field(default_factory=list)  # unlocked when protected
    highlights: list[Highlight] = field(default_factory=list)
    status: str = ""                       # cached text of the table's check cell
    problems: int = 0


def ref(row: int, col: int, absolute_row: bool = False) -> str:
    return f"${col_letter(col)}{'$' if absolute_row else ''}{row + 1}"


def text_width(text: str) -> int:
    """Display width: CJK and full-width characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def lines_needed(text: object, width_units: float) -> int:
    if text is None or text == "":
        return 1
    usable = max(width_units - 1.5, 4)
    return sum(max(1, math.ceil(text_width(part) * 1.1 / usable)) for part in str(text).split("\n"))


Row = tuple[str, str, Indicator | None]
ROW = "\x00"        # stands for the row number in a row rule's formula text
MAX_ROW_HEIGHT = 409    # points: Excel's tallest row


@functools.lru_cache(maxsize=256)
def _empty_row_outcomes(template: Template, level1: str) -> tuple[Outcome, ...]:
    """An empty indicator row's outcomes depend on its form and 一级 only (many rows are empty)."""
    return tuple(row_outcomes(template, level1, None))


def indicator_rows(project: Project, template: Template, input_rows: int = 0,
                   block: str = MAIN_BLOCK) -> list[Row]:
    """The rows of an indicator block: one per 三级, one empty row for an empty 二级.

    With input_rows (blank and pre-filled forms), every 二级 gets that many empty rows after
    its rows (a blank form has none).
    """
    rows: list[Row] = []
    for level1, groups in project.tree(block).items():
        if not groups:
            rows.append((level1, "", None))
        for level2, items in groups.items():
            if input_rows:
                rows.extend((level1, level2, item) for item in items)
                rows.extend((level1, level2, None) for _ in range(input_rows))
            elif items:
                rows.extend((level1, level2, item) for item in items)
            else:
                rows.append((level1, level2, None))
    return rows


def blank_project(template: Template) -> Project:
    def skeleton():
        return {l1: {l2: [] for l2 in l2s} for l1, l2s in template.skeleton.items()}
    return Project(indicators=skeleton(), blocks={b.key: skeleton() for b in template.more_blocks},
                   tables={t.key: [] for t in template.tables})


class _Planner:
    def __init__(self, template: Template, project: Project, first_row: int, input_rows: int):
        self.t = template
        self.p = project
        self.plan = TablePlan(first_row, first_row)
        self.row = first_row
        self.input_rows = input_rows
        self.marks: dict[int, list[tuple[str, bool, str]]] = {}  # row → (condition, fired, message)
        self.row_texts: dict[str, str] = {}     # rule id → its row formula, ROW for the row number
        self.field_cells: dict[str, tuple[int, int]] = {}     # field → (row, col), as placed
        self.pending: list[tuple[Outcome, int]] = []          # field rules over fields not yet placed
        self.env = field_env(project, template)

    def width(self, first: int, last: int) -> float:
        return sum(self.t.widths.get(c, 9) for c in range(first, last + 1))

    def put(self, col: int, value=None, style="field", last_col=None, last_row=None, formula=None):
        cell = PlannedCell(self.row, col, value, style, last_row, last_col, formula)
        self.plan.cells.append(cell)
        return cell

    def grow(self, row: int, value, first: int, last: int):
        self.reserve(row, lines_needed(value, self.width(first, last)))

    def reserve(self, row: int, lines: int):
        height = lines * self.t.styles["line_height"] + 6
        self.plan.heights[row] = max(self.plan.heights.get(row, 0), height)

    # -- parts of the table -------------------------------------------------------------
    def title(self):
        ctx = {"year": self.p.year if self.p.year is not None else self.t.blank_year,
               "unit": self.p.unit or "", "amount_unit": self.p.amount_unit or "元"}
        last = self.t.ncols - 1
        self.put(0, self.t.title(**ctx), "title", last_col=last)
        self.plan.heights[self.row] = 36
        self.status_row = self.row
        self.row += 1
        a, b = self.t.unit_line_cols
        self.put(a, self.t.unit_line(**ctx), "unit_line", last_col=b)
        a, b = self.t.amount_unit_line_cols
        self.put(a, self.t.amount_unit_line(**ctx), "amount_unit_line", last_col=b)
        self.plan.heights[self.row] = 22
        self.row += 1

    def fields(self, rows):
        """Rows of labels and fields. A row whose text needs more than Excel's tallest row (409 pt:
        a 绩效目标 of some 1,400 characters) spans as many rows as it needs, every cell merged down."""
        for cells in rows:
            placed = []
            for cell in cells:
                if cell.label:
                    placed.append(self.put(cell.first, cell.label, "label", last_col=cell.last))
                    self.grow(self.row, cell.label, cell.first, cell.last)
                    continue
                value = self.p.get(cell.field)
                style = {"money": "money", "long_text": "long_text"}.get(cell.kind, "field")
                placed.append(self.put(cell.first, value, style, last_col=cell.last))
                self.plan.input_cells.append((self.row, cell.first))
                self.grow(self.row, value, cell.first, cell.last)
                if self.input_rows and cell.kind == "long_text":      # a blank form: room to type
                    self.reserve(self.row, self.t.styles["blank_text_lines"])
                self.field_cells[cell.field] = (self.row, cell.first)
                self.field_rule_marks(cell.field, self.row)
            height = self.plan.heights.setdefault(self.row, 22)
            span = math.ceil(height / MAX_ROW_HEIGHT)
            if span > 1:
                for placed_cell in placed:
                    placed_cell.last_row = self.row + span - 1
                for r in range(self.row, self.row + span):
                    self.plan.heights[r] = math.ceil(height / span * 4) / 4
            self.row += span

    def indicator_block(self, block: str, label: str):
        t = self.t
        rows = indicator_rows(self.p, t, self.input_rows, block)
        top = self.row
        last = top + len(rows)
        self.put(t.block_label_col, label, "side_label", last_row=last)
        for column in t.columns:
            self.put(column.col, column.label, "header")
        self.plan.heights[self.row] = 30
        self.row += 1
        start = self.row
        for level1, level2, item in rows:
            env = row_env(item)
            for column in t.columns[2:]:
                value = env.get(column.key)
                style = "number" if column.key == "value" and isinstance(value, (int, float)) else (
                    "center" if column.key in ("type", "value", "unit") else "field")
                self.put(column.col, value, style)
                self.plan.input_cells.append((self.row, column.col))
                if column.key != "type" and isinstance(value, str):     # text wraps (指标值 too)
                    self.grow(self.row, value, column.col, column.col)
            if "type" in t.col:
                self.plan.type_cells.append((self.row, t.col["type"]))
            if t.typed_cols:
                self.typed_cells(env.get("value"), *typed_value(env.get("value"), env.get("type"), env.get("unit"), t))
            if item is not None or not self.input_rows:     # a blank form's input rows keep no fixed
                self.plan.heights.setdefault(self.row, 22)      # height: they grow as a clerk types
            self.row_rule_marks(level1, item)
            self.row += 1
        self.merge_groups(rows, start)
        self.group_rule_marks(rows, start)
        self.row_highlights(rows, start)
        self.inserted_rows(top, [(first, last, [rule]) for rule, first, last in self.rule_runs(rows, start)])

    def merge_groups(self, rows: list[Row], start: int):
        """一级 and 二级 cells merged down over their rows."""
        for key, index in (("level1", 0), ("level2", 1)):
            col = self.t.col[key]
            run_start = 0
            for i in range(1, len(rows) + 1):
                if i < len(rows) and rows[i][: index + 1] == rows[run_start][: index + 1]:
                    continue
                text = rows[run_start][index]
                cell = PlannedCell(start + run_start, col, text or None, "level",
                                   last_row=start + i - 1 if i - 1 > run_start else None)
                self.plan.cells.append(cell)
                if cell.last_row is None and not self.input_rows:
                    self.grow(cell.row, text, col, col)
                run_start = i

    def flat_table(self, table: FlatTable):
        """A flat table: its label merged down the left, a header row, one row per entry (blank and
        pre-filled forms: blank_rows empty rows more; no entries: one), and its 合计 row of live SUMs."""
        entries: list = list(self.p.tables.get(table.key, ()))
        rows = entries + [None] * table.blank_rows if self.input_rows else entries or [None]
        top = self.row
        height = 1 + len(rows) + (1 if table.total_label else 0)
        self.put(table.label_col, table.label, "side_label", last_row=top + height - 1)
        for column in table.columns:
            self.put(column.first, column.label, "header", last_col=column.last)
            self.grow(top, column.label, column.first, column.last)
        self.plan.heights[top] = max(self.plan.heights.get(top, 0), 30)
        self.row += 1
        start = self.row
        rules = [r for r in self.t.live_rules("row") if r.table == table.key]
        for entry in rows:
            for column in table.columns:
                value = entry.get(column.key) if entry is not None else None
                style = {"money": "money", "long_text": "long_text"}.get(column.kind, "field")
                self.put(column.first, value, style, last_col=column.last)
                self.plan.input_cells.append((self.row, column.first))
                self.grow(self.row, value, column.first, column.last)
            self.plan.heights.setdefault(self.row, 22)
            for outcome in entry_outcomes(self.t, table.key, entry):
                self.mark(self.row, self.row_condition(outcome.rule, self.row), outcome)
            self.row += 1
        end = self.row - 1
        for rule in rules:
            if rule.paint:
                cols = [table.column(k).first for k in rule.blame]
                self.plan.highlights.append(Highlight([(start, c, end, c) for c in cols],
                                                      self.row_condition(rule, start), rule.severity))
        if rules:
            self.inserted_rows(top, [(start, end, rules)], table.key)
        if table.total_label:
            self.total_row(table, entries, start, end)

    def total_row(self, table: FlatTable, entries: list, start: int, end: int):
        """合计: the label over the columns before the first sum, a live SUM under each summed column."""
        sums = dict(table.sums)
        first_sum = next(i for i, c in enumerate(table.columns) if c.key in sums)
        columns = table.columns
        self.put(columns[0].first, table.total_label, "label", last_col=columns[first_sum - 1].last)
        for column in columns[first_sum:]:
            if column.key not in sums:
                self.put(column.first, None, "boxed", last_col=column.last)     # boxed, locked
                continue
            cached = column_sum(entries, column.key)
            span = f"{ref(start, column.first, True)}:{ref(end, column.first, True)}"
            self.put(column.first, cached, "total", last_col=column.last, formula=f"SUM({span})")
            self.field_cells[sums[column.key]] = (self.row, column.first)
        self.plan.heights.setdefault(self.row, 22)
        for column in columns[first_sum:]:
            if column.key in sums:
                self.field_rule_marks(sums[column.key], self.row)
        self.row += 1

    # -- live checks --------------------------------------------------------------------
    def mark(self, row: int, condition: str, outcome: Outcome):
        self.marks.setdefault(row, []).append((condition, outcome.fired, outcome.message))

    def field_rule_marks(self, field_name: str, row: int):
        """The field rules marked on this field's row; one that reads a field placed further down
        (the footer) waits for it (field_rule_mark at the end)."""
        for outcome in field_outcomes(self.t, field_name, self.env):
            if names_used(outcome.rule.test) <= set(self.field_cells):
                self.field_rule_mark(outcome, row)
            else:
                self.pending.append((outcome, row))

    def field_rule_mark(self, outcome: Outcome, row: int):
        rule = outcome.rule
        refs = {key: ref(*self.field_cells[key]) for key in names_used(rule.test)}
        condition = rule.formula(refs)
        self.mark(row, condition, outcome)
        if rule.paint:        # one format per row: its relative rows mean the same in every range
            places = [self.field_cells[k] for k in rule.blame or (rule.field,)]
            for row in dict.fromkeys(r for r, _ in places):
                self.plan.highlights.append(Highlight([(r, c, r, c) for r, c in places if r == row],
                                                      condition, rule.severity))

    def row_condition(self, rule: Rule, row: int, percent: str | None = None) -> str:
        """The rule's formula over the cells of one row (an indicator row, or a row of the rule's
        flat table), built once per table with ROW for the row number; `percent` as row_refs."""
        text = self.row_texts.get((rule.id, percent))
        if text is None:
            refs = self.row_refs(rule.table, lambda col: f"${col_letter(col)}{ROW}", {}, percent)
            text = self.row_texts[rule.id, percent] = rule.formula(refs)
        return text.replace(ROW, str(row + 1))

    def row_rule_marks(self, level1: str, item: Indicator | None):
        outcomes = _empty_row_outcomes(self.t, level1) if item is None else row_outcomes(self.t, level1, item)
        for outcome in outcomes:
            self.mark(self.row, self.row_condition(outcome.rule, self.row), outcome)

    def group_rule_marks(self, rows: list[Row], start: int):
        for outcome in group_outcomes(self.t, rows):
            first, last, rule = start + outcome.first, start + outcome.last, outcome.rule
            refs = {f"{c.key}[]": f"{ref(first, c.col, True)}:{ref(last, c.col, True)}" for c in self.t.columns}
            condition = rule.formula(refs)
            self.mark(first, condition, outcome)
            if rule.paint:
                cols = [self.t.col[k] for k in rule.blame]
                self.plan.highlights.append(
                    Highlight([(first, c, last, c) for c in cols], condition, rule.severity))

    def rule_runs(self, rows: list[Row], start: int) -> list[tuple[Rule, int, int]]:
        """(rule, first row, last row) for every live row rule of the indicator rows and each run
        of rows it applies to (its `under` 一级)."""
        out = []
        for rule in self.t.live_rules("row"):
            if rule.table is not None:
                continue
            runs: list[list[int]] = []
            for i, (level1, _, _) in enumerate(rows):
                if rule.applies(level1):
                    if runs and runs[-1][1] == start + i - 1:
                        runs[-1][1] = start + i
                    else:
                        runs.append([start + i, start + i])
            out.extend((rule, first, last) for first, last in runs)
        return out

    def row_highlights(self, rows: list[Row], start: int):
        """One conditional format per rule and run of rows it applies to, formula relative."""
        for rule, first, last in self.rule_runs(rows, start):
            if rule.paint:
                cols = [self.t.col[k] for k in rule.blame]
                self.plan.highlights.append(Highlight(
                    [(first, c, last, c) for c in cols], self.row_condition(rule, first, "cell"), rule.severity))

    def typed_cells(self, raw, value, unit):
        """The hidden cells holding this row's 指标值 and 度量单位 as perfxl reads them: a number
        shown as a percentage (a clerk typed 95%) is 95, and its empty unit %; a number typed as
        text on a row that is not 定性 is that number; a unit typed into the value cell of a
        quantitative row (100公里) is split off (rules.typed_value); otherwise the value cell
        itself decides (the value helper is then "", the unit helper ""). The third helper holds
        the value's text after its first character with digits and points taken out: "" for a
        number, the unit (with the spaces before it) for 100公里. `raw`: the row's 指标值 as
        written; `value`, `unit`: as its rules see them, the helpers' cached results."""
        t = self.t
        v, u, ty = (ref(self.row, t.col[k]) for k in ("value", "unit", "type"))
        rest, unit_helper = (ref(self.row, t.typed_cols[k]) for k in ("rest", "unit"))
        text = f"TRIM({v})"
        percent = f'LEFT(CELL("format",{v}))="P"'
        starts = f'ISNUMBER(FIND(LEFT({text},1),"{NUMBER_START}"))'

        def number_ending(expr: str) -> str:       # at most one point, a digit last
            return (f'LEN({expr})-LEN(SUBSTITUTE({expr},".",""))<=1,'
                    f'ISNUMBER(FIND(RIGHT({expr},1),"{DIGITS}"))')
        number_text = (f'AND(TRIM({ty})<>{quote(t.qualitative)},LEN({text})>0,{starts},{rest}="",'
                       f'{number_ending(text)})')
        before = f"LEFT({text},LEN({text})-LEN({rest}))"        # the number before a glued unit
        kinds = ",".join(f"TRIM({ty})={quote(k)}" for k in t.quantitative)
        glued_unit = f"TRIM({rest})"
        glued = ",".join([
            f"OR({kinds})", f"LEN({text})>0", starts, f"LEN({rest})>0", f"RIGHT({text},LEN({rest}))={rest}",
            f"LEN({glued_unit})<=8", f'ISERROR(FIND(" ",{glued_unit}))', f'ISERROR(FIND(LEFT({glued_unit},1),",+-"))',
            number_ending(before), f'OR(TRIM({u})="",TRIM({u})={glued_unit})'])
        number = value if isinstance(value, (int, float)) and not isinstance(value, bool) else ""
        split = isinstance(raw, str) and number != "" and not is_number_text(excel_trim(raw))
        rest_value = glued_rest(excel_trim(raw)) if isinstance(raw, str) else ""
        self.plan.cells.append(PlannedCell(self.row, t.typed_cols["rest"], rest_value, "count", formula=(
            f'IF(ISNUMBER({v}),"",{_without_digits(f"MID({text},2,LEN({text}))")})')))
        self.plan.cells.append(PlannedCell(self.row, t.typed_cols["unit"], unit if split else "", "count", formula=(
            f'IF(ISNUMBER({v}),IF(AND(TRIM({u})="",{percent}),"%",""),IF(AND({glued}),{glued_unit},""))')))
        self.plan.cells.append(PlannedCell(self.row, t.typed_cols["value"], number, "count", formula=(
            f'IF(ISNUMBER({v}),IF({percent},ROUND({v}*100,9),{v}),'
            f'IF({number_text},VALUE({text}),IF({unit_helper}<>"",VALUE({before}),"")))')))

    def row_refs(self, table: str | None, at, refs: dict, percent: str | None = None) -> dict:
        """The references a row rule's names stand for, `at(col)` giving a column's reference: the
        columns of the flat table `table`, or of the indicator rows (table None), whose value and
        unit go through their typed helpers where the form has them (the helper when it holds a
        number or a unit, else the cell itself, as on rows a clerk inserted, which have no
        helpers). `percent` says how such a row's number is taken: None as it is; "cell" as a
        percentage where its cell is shown as one (CELL: one cell at a time, as a conditional
        format is evaluated); "yes" always as a percentage (for ranges: inserted_rows)."""
        t = self.t
        if table is not None:
            refs.update((c.key, at(c.first)) for c in t.table(table).columns)
            return refs
        refs.update((c.key, at(c.col)) for c in t.columns)
        if t.typed_cols:
            value, unit, raw, raw_unit = at(t.typed_cols["value"]), at(t.typed_cols["unit"]), refs["value"], refs["unit"]
            if percent is not None:
                shown = f'IF(TRIM({raw_unit})="","%",{raw_unit})'
                if percent == "cell":
                    test = f'LEFT(CELL("format",{raw}))="P"'
                    raw, raw_unit = (f"IF(ISNUMBER({raw}),IF({test},ROUND({raw}*100,9),{raw}),{raw})",
                                     f"IF(ISNUMBER({raw}),IF({test},{shown},{raw_unit}),{raw_unit})")
                else:
                    raw, raw_unit = (f"IF(ISNUMBER({raw}),ROUND({raw}*100,9),{raw})",
                                     f"IF(ISNUMBER({raw}),{shown},{raw_unit})")
            refs["value"] = f"IF(ISNUMBER({value}),{value},{raw})"
            refs["unit"] = f'IF({unit}<>"",{unit},{raw_unit})'
        return refs

    def inserted_rows(self, header: int, runs: list[tuple[int, int, list[Rule]]], table: str | None = None):
        """The check of rows a clerk inserts into a table, on its header row: an array formula
        counting, over every row of each run, the row rules that fire on a row without perfxl's
        mark formula (an inserted row: its mark cell is blank). Rows inserted inside a run grow
        its ranges, in Excel, WPS and LibreOffice alike; the count joins the table's status.
        `table`: the flat table whose rows these are (None: indicator rows)."""
        t = self.t
        merged: dict[tuple[int, int], list[Rule]] = {}
        for first, last, rules in runs:
            merged.setdefault((first, last), []).extend(rules)
        terms = []
        for (first, last), rules in merged.items():
            def at(col):
                return f"{ref(first, col, True)}:{ref(last, col, True)}"
            refs = self.row_refs(table, at, RowsRefs())
            as_percent = self.row_refs(table, at, RowsRefs(), "yes")
            tests = "+".join(self.inserted_test(rule, refs, as_percent, at) for rule in rules)
            marks = f"{ref(first, t.mark_col, True)}:{ref(last, t.mark_col, True)}"
            terms.append(f"SUM(IF(ISBLANK({marks}),{tests},0))")
        if not terms:
            return
        self.plan.cells.append(PlannedCell(header, t.count_col, 0, "count", formula="+".join(terms), array=True))
        text = t.checks.get("inserted")
        if text:
            count = ref(header, t.count_col)
            before, _, after = text.partition("{n}")
            self.plan.cells.append(PlannedCell(header, t.mark_col, "", "mark",
                                               formula=f'IF({count}>0,{quote(before)}&{count}&{quote(after)},"")'))

    def inserted_test(self, rule: Rule, refs: RowsRefs, as_percent: RowsRefs, at) -> str:
        """1 where `rule` fires on an inserted row. A number there may have been typed as a
        percentage (95% is stored as 0.95), which no formula over a range can tell (CELL reads one
        cell): a rule reading the value or unit counts such a row only if it fires both on the
        number as stored and on it as a percentage. So a typed 95% or 100% is never a false
        problem; a rule that fires on one reading only (150% above 100 %, or 0.9 typed plainly
        under 满意度) is painted at its cell but not counted."""
        fires = rule.formula(refs)
        if not self.t.typed_cols or rule.table is not None or not names_used(rule.test) & {"value", "unit"}:
            return f"IF({fires},1,0)"
        number = f"ISNUMBER({at(self.t.col['value'])})"
        return f"IF({fires},IF({number},IF({rule.formula(as_percent)},1,0),1),0)"

    def write_marks(self, end_row: int):
        t = self.t
        total = 0
        for row, pieces in sorted(self.marks.items()):
            formula = "&".join(f'IF({cond},{quote(msg)},"")' for cond, _, msg in pieces)
            text = "".join(msg for _, fired, msg in pieces if fired)
            fired = sum(1 for _, f, _ in pieces if f)
            total += fired
            # a check over a group's range (一级 needs an indicator) is an array formula: Gnumeric
            # takes TRIM(range) in a plain formula at the formula's own row, even inside SUMPRODUCT
            over_range = any(":" in cond for cond, _, _ in pieces)
            self.plan.cells.append(PlannedCell(row, t.mark_col, text, "mark", formula=formula, array=over_range))
            mark = ref(row, t.mark_col)
            self.plan.cells.append(PlannedCell(
                row, t.count_col, fired, "count", formula=f'LEN({mark})-LEN(SUBSTITUTE({mark},"。",""))'))
        counts = f"{ref(self.plan.first_row + 1, t.count_col)}:{ref(end_row, t.count_col)}"
        before, _, after = t.checks["failed"].partition("{n}")
        formula = (f'IF(SUM({counts})=0,{quote(t.checks["passed"])},'
                   f'{quote(before)}&SUM({counts})&{quote(after)})')
        status = t.checks["passed"] if total == 0 else t.checks["failed"].format(n=total)
        self.plan.cells.append(PlannedCell(self.status_row, t.mark_col, status, "status", formula=formula))
        self.plan.status = status
        self.plan.problems = total


EXCEL_FORMULA = 8192        # characters in one cell's formula, its "=" included


def _without_digits(expr: str) -> str:
    """A formula: `expr` with its digits and points taken out (SUBSTITUTE, in every engine)."""
    for ch in DIGITS + ".":
        expr = f'SUBSTITUTE({expr},"{ch}","")'
    return expr


def plan_table(template: Template, project: Project | None, first_row: int = 0,
               input_rows: int = 0) -> TablePlan:
    """Plan one table whose title is on `first_row` (0-based).

    project=None plans a blank form; input_rows gives every 二级 that many empty rows.
    """
    if project is None:
        project = blank_project(template)
        input_rows = input_rows or 1
    planner = _Planner(template, project, first_row, input_rows)
    planner.title()
    for kind, *part in template.parts:
        if kind == "fields":
            planner.fields(*part)
        elif kind == "table":
            planner.flat_table(*part)
        else:
            planner.indicator_block(*part)
    for outcome, row in planner.pending:
        planner.field_rule_mark(outcome, row)
    planner.plan.last_row = planner.row - 1
    planner.write_marks(planner.plan.last_row)
    formulas = [(c.row, c.col, c.formula) for c in planner.plan.cells if c.formula is not None]
    formulas += [(h.ranges[0][0], h.ranges[0][1], h.formula) for h in planner.plan.highlights]
    for row, col, formula in formulas:
        if len(formula) >= EXCEL_FORMULA:
            raise TemplateError(f"表样的规则太多：{col_letter(col)}{row + 1} 的检查公式有 {len(formula) + 1} 个字符，"
                                f"Excel 最多 {EXCEL_FORMULA}；请减少或合并规则", template.source)
    return planner.plan
