"""What the 汇总 workbook says, as plain tables (perfxl.office.tablebook writes them).

- 报送情况: every project the roster expects, returned or not (the missing first), with the file,
  when it was saved, its errors and warnings; returns outside the roster, files superseded by a
  newer return of the same project, files that could not be read and files skipped.
- 项目汇总: one row per project: 填报单位, the form's short fields by their labels, amounts in one
  unit (元 or 万元, converted), indicator, error and warning counts, the source file; a 合计 row of
  SUM formulas with their values.
- 指标明细: one row per indicator, flat, as an Excel table (a filter, ready for a pivot table).
- 问题清单: every finding, linked to the cell of the returned workbook it is about.

Column words are the form's own labels (Template.key_label, the block and column labels); nothing
here names a field of one form.
"""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from ..collect import Collected
from ..errors import printable
from ..rules import ERROR, SEVERITY_WORDS, WARNING
from ..template import Template, col_letter, form_of
from .tablebook import Column, Formula, Link, Table

SHEETS = ("报送情况", "项目汇总", "指标明细", "问题清单")
FACTORS = {("元", "万元"): 0.0001, ("万元", "元"): 10000}
MONEY_FORMATS = {"元": "#,##0.00", "万元": "#,##0.0000"}
UNSAVED = "2000-01-01T00:00:00"     # the fixed date perfxl writes: a file no program has saved since


def convert(amount, given: str, wanted: str):
    """An amount in `given` (元/万元) as `wanted`; exact to the fen."""
    if amount is None or given == wanted or not isinstance(amount, (int, float)):
        return amount
    value = round(amount * FACTORS[(given, wanted)], 6)
    return int(value) if float(value).is_integer() else value


def summary_tables(result: Collected, form: Template, base: str | os.PathLike, *, amount_unit: str = "元",
                   roster=None) -> list[Table]:
    """The four tables of 汇总.xlsx; links relative to `base` (the folder 汇总.xlsx is written to)."""
    base = Path(base)
    order = projects_by_unit(result, roster)
    return [_status(result, form, base, roster), _projects(result, order, form, base, amount_unit),
            _indicators(result, order, form), _findings(result, order, form, base)]


def _counts(findings) -> tuple[int, int]:
    return sum(f.severity == ERROR for f in findings), sum(f.severity == WARNING for f in findings)


def _file_link(path: str, base: Path) -> Link:
    rel = os.path.relpath(path, base)
    return Link(printable(rel), rel)


def _saved(result: Collected, path: str) -> str:
    inside, mtime = result.saved.get(path, ("", 0.0))
    if inside and not inside.startswith(UNSAVED):
        return inside.replace("T", " ").rstrip("Z")[:19]
    if mtime:
        return dt.datetime.fromtimestamp(mtime).strftime("%Y-%m-%d %H:%M:%S")
    return ""


def _status(result: Collected, form: Template, base: Path, roster) -> Table:
    columns = [Column("状态", 12), Column(form.key_label("unit"), 22), Column(form.key_label("name"), 36),
               Column("文件", 36), Column("保存时间", 20), Column("错误", 7, "count"), Column("警告", 7, "count"),
               Column("说明", 40)]
    returned: dict[tuple, list[int]] = {}
    for i, project in enumerate(result.spec.projects):
        returned.setdefault((project.unit, project.name), []).append(i)
    rows_missing, rows_in = [], []

    def returned_row(i: int, state: str | None = None, why: str = ""):
        project, back = result.spec.projects[i], result.returns[i]
        errors, warnings = _counts(back.findings)
        state = state or ("有错误" if errors else "已报送")
        return [state, project.unit, project.name, _file_link(back.path, base), _saved(result, back.path),
                errors, warnings, why]
    done: set[int] = set()
    if roster is not None:
        for entry in roster.entries:
            key = (entry.project.unit, entry.project.name)
            found = returned.get(key, [])
            if not found:
                rows_missing.append(["未报送", key[0], key[1], "", "", None, None, f"名册中在 {entry.where}"])
            for i in found:
                rows_in.append(returned_row(i))
                done.add(i)
    for i in range(len(result.spec.projects)):
        if i not in done:
            rows_in.append(returned_row(i, None if roster is None else "名册外",
                                        "" if roster is None else "名册中没有这个项目"))
    others = []
    for path, name, newer in result.superseded:
        others.append(["已替代", "", name, _file_link(path, base), _saved(result, path), None, None,
                       f"以较新的 {os.path.relpath(newer, base)} 为准"])
    for path, why in result.failures:
        others.append(["无法读取", "", "", _file_link(path, base), "", None, None, why])
    for path, why in result.skipped:
        others.append(["跳过", "", "", printable(os.path.relpath(path, base)), "", None, None, why])
    return Table(SHEETS[0], columns, rows_missing + rows_in + others)


def _short_fields(form: Template) -> list[str]:
    return [key for key in form.field_keys
            if key not in ("unit", "name") and form.field_kinds.get(key) != "long_text"]


def _projects(result: Collected, order: list[int], form: Template, base: Path, amount_unit: str) -> Table:
    keys = _short_fields(form)
    money_format = MONEY_FORMATS[amount_unit]
    columns = [Column(form.key_label("unit"), 22), Column(form.key_label("name"), 36)]
    for key in keys:
        if form.field_kinds.get(key) == "money":
            columns.append(Column(f"{form.key_label(key)}（{amount_unit}）", 18, "money", money_format))
        else:
            columns.append(Column(form.key_label(key), 16))
    columns += [Column("指标数", 8, "count"), Column("错误", 7, "count"), Column("警告", 7, "count"),
                Column("来源文件", 36)]
    rows = []
    for i in order:
        project, back = result.spec.projects[i], result.returns[i]
        row = [project.unit, project.name]
        for key in keys:
            value = project.get(key)
            if form.field_kinds.get(key) == "money":
                value = convert(value, project.amount_unit, amount_unit)
            row.append(value)
        own = form_of(result.spec, project)
        count = sum(1 for block, _ in own.blocks() for _ in project.rows(block))
        row += [count, *_counts(back.findings), _file_link(back.path, base)]
        rows.append(row)
    total: list = ["合计", f"{len(rows)} 个项目"]
    for offset, column in enumerate(columns[2:], 2):
        if column.kind in ("money", "count"):
            values = [r[offset] for r in rows if isinstance(r[offset], (int, float))]
            letter = col_letter(offset)
            cached = round(sum(values), 6) if values else 0
            total.append(Formula(f"SUM({letter}2:{letter}{len(rows) + 1})", cached))
        else:
            total.append(None)
    return Table(SHEETS[1], columns, rows, total)


def _indicators(result: Collected, order: list[int], form: Template) -> Table:
    row_columns = form.columns[2:]
    columns = [Column(form.key_label("unit"), 18), Column(form.key_label("name"), 30), Column("指标块", 14),
               Column(form.columns[0].label, 12), Column(form.columns[1].label, 14)]
    columns += [Column(c.label, 24 if c.key in ("name", "content", "note") else 10) for c in row_columns]
    columns.append(Column("位置", 40))
    rows = []
    for project in (result.spec.projects[i] for i in order):
        own = form_of(result.spec, project)
        for block, label in own.blocks():
            for level1, level2, item in project.rows(block):
                place = item.where.get("name")
                rows.append([project.unit, project.name, label, level1, level2,
                             *(item.get(c.key) for c in row_columns), printable(place) if place else ""])
    return Table(SHEETS[2], columns, rows, table_name="指标明细")


def _findings(result: Collected, order: list[int], form: Template, base: Path) -> Table:
    columns = [Column(form.key_label("unit"), 18), Column(form.key_label("name"), 30), Column("级别", 7),
               Column("规则", 18), Column("问题", 60), Column("位置", 40)]
    rows = []
    for i in order:
        project, back = result.spec.projects[i], result.returns[i]
        for finding in back.findings:
            rows.append([project.unit, project.name, SEVERITY_WORDS.get(finding.severity, finding.severity),
                         finding.rule, finding.message, _place_link(finding.location, back.path, base)])
    return Table(SHEETS[3], columns, rows)


def _place_link(location: str | None, path: str, base: Path):
    """A finding's place in its return as a link that opens that workbook at the cell."""
    if not location:
        return ""
    text = printable(location)
    prefix = path + "!"
    if not location.startswith(prefix):
        return _file_link(path, base) if location == path else text
    sheet, _, cell = location[len(prefix):].rpartition("!")
    if not sheet:
        sheet, cell = cell, "A1"
    quoted = "'" + sheet.replace("'", "''") + "'"
    return Link(text, os.path.relpath(path, base), f"{quoted}!{cell}")


def projects_by_unit(result: Collected, roster=None) -> list[int]:
    """Indexes of the merged projects grouped by 填报单位 (in roster order, else first return), the
    projects of a unit in merge order."""
    order: dict[str, int] = {}
    if roster is not None:
        for entry in roster.entries:
            order.setdefault(entry.project.unit, len(order))
    for project in result.spec.projects:
        order.setdefault(project.unit, len(order))
    indexes = range(len(result.spec.projects))
    return sorted(indexes, key=lambda i: order[result.spec.projects[i].unit])

