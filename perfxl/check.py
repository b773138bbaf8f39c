"""`perfxl check`: every rule of the form over a spec or a filled workbook, as findings.

The live rules are evaluated by the same functions the layout uses for a workbook's cached
results (rules.field_outcomes, row_outcomes, group_outcomes), over the same rows
(layout.indicator_rows): for every table, the findings of rules that carry a formula are exactly
what the workbook's live check cells report. Built-in rules (scope "record") follow.
"""
from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from .layout import indicator_rows
from .model import Indicator, Project, Spec, block_prefix
from .rules import (ERROR, WARNING, Finding, Rule, entry_outcomes, field_env, field_outcomes,
                    group_outcomes, row_outcomes)
from .template import MAIN_BLOCK, Template, form_of

SPEC_SUFFIXES = (".yaml", ".yml")
WORKBOOK_MAGIC = (b"PK", b"\xd0\xcf\x11\xe0")     # zip (.xlsx/.ods), OLE (.xls, encrypted .xlsx)


def check(source: Spec | str | os.PathLike) -> list[Finding]:
    """All findings for a Spec, a spec file or a workbook file, table by table in table order."""
    spec = source if isinstance(source, Spec) else load_source(source)[0]
    return [f for project in spec.projects for f in check_project(project, form_of(spec, project), spec.source)]


def findings_as_drawn(spec: Spec) -> list[tuple[Finding, str | None, tuple[int, int] | None]]:
    """Each finding of `spec` with the sheet and (row, col) of the cell `perfxl render` draws it
    at (None where it has none). Each table's layout plan is read back as the reader reads a
    rendered sheet (perfxl.reader.read_drawn) and checked there, so the places are those of the
    drawn tables."""
    from .layout import plan_table
    from .reader import read_drawn
    from .render import sheet_names
    from .template import col_index

    template = form_of(spec)
    names = sheet_names([p.name for p in spec.projects], (template.validation["list_sheet"],), template)
    out = []
    for name, project in zip(names, spec.projects):
        form = form_of(spec, project)
        drawn = read_drawn(DRAWN, name, plan_grid(plan_table(form, project)), form)
        for back in drawn:
            for finding in check_project(back, form):
                out.append((replace(finding, location=None), name, _place(finding.location, name, col_index)))
    return out


DRAWN = "<drawn>"


def plan_grid(plan) -> list[list]:
    """A layout plan's values as calamine gives a sheet's rows: "" for an empty cell, numbers as
    floats, formula cells their cached values."""
    last_col = max((c.col for c in plan.cells), default=0)
    rows: list[list] = [[""] * (last_col + 1) for _ in range(plan.last_row + 1)]
    for c in plan.cells:
        value = c.value
        if value is None or value == "":
            continue
        rows[c.row][c.col] = float(value) if isinstance(value, int) and not isinstance(value, bool) else value
    return rows


def _place(location: str | None, sheet: str, col_index) -> tuple[int, int] | None:
    prefix = f"{DRAWN}!{sheet}!"
    if not location or not location.startswith(prefix):
        return None
    cell = location[len(prefix):]
    letters = cell.rstrip("0123456789")
    return (int(cell[len(letters):]) - 1, col_index(letters)) if letters and cell[len(letters):] else None


def load_source(path: str | os.PathLike) -> tuple[Spec, list[str]]:
    """A spec file or a workbook as a Spec, with the reader's notes (what it normalised)."""
    path = os.fspath(path)
    if _is_workbook(path):
        from .reader import read

        book = read(path)
        return book.spec, [str(w) for w in book.warnings]
    from .spec import load_spec

    return load_spec(path), []


def _is_workbook(path: str) -> bool:
    if Path(path).suffix.lower() in SPEC_SUFFIXES:
        return False
    if Path(path).suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods", ".csv"):     # .csv: the flat layout
        return True
    if not os.path.isfile(path):
        return False          # a pipe (/dev/stdin) is read once, as a spec; the loader judges the rest
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head.startswith(WORKBOOK_MAGIC)


def check_project(project: Project, template: Template, source: str | None = None) -> list[Finding]:
    """One table: its fields, flat tables and indicator blocks in drawing order, then the built-ins."""
    env = field_env(project, template)
    out: list[Finding] = []
    for kind, *part in template.parts:             # in the order the table draws them
        if kind == "fields":
            out += _field_findings(project, template, part[0], env, source)
        elif kind == "table":
            out += _table_findings(project, template, part[0], env, source)
        else:
            out += _block_findings(project, template, source, part[0])
    for rule in template.rules:
        if rule.scope == "record":
            for p in rule.run(project, template):
                out.append(_finding(rule, p.message, project, source, p.level1, p.level2, p.indicator, p.keys))
    return out


def _field_findings(project: Project, template: Template, rows, env, source) -> list[Finding]:
    out = []
    for cells in rows:
        for cell in cells:
            if cell.field:
                for o in field_outcomes(template, cell.field, env):
                    if o.fired:
                        keys = (cell.field, *(k for k in o.rule.blame if k != cell.field))
                        out.append(_finding(o.rule, o.message, project, source, keys=keys))
    return out


def _table_findings(project: Project, template: Template, table, env, source) -> list[Finding]:
    """A flat table's row findings (the row's first column names it), then those of its sums."""
    out = []
    first = table.columns[0].key
    for entry in project.tables.get(table.key, ()):
        for o in entry_outcomes(template, table.key, entry):
            if o.fired:
                where = next((entry.where.get(k) for k in (*o.rule.blame, first, "row") if entry.where.get(k)),
                             project.where.get("project"))
                name = entry.get(first)
                out.append(Finding(o.rule.id, o.rule.severity, o.message, project.name, table.label, None,
                                   str(name) if name is not None else None,
                                   str(where) if where is not None else source, table.key))
    for _, key in table.sums:
        for o in field_outcomes(template, key, env):
            if o.fired:
                out.append(_finding(o.rule, o.message, project, source, keys=(key, *o.rule.blame)))
    return out


def _block_findings(project: Project, template: Template, source, block: str) -> list[Finding]:
    """Row findings in row order; a group finding after those of its first row (as the marks)."""
    rows = indicator_rows(project, template, block=block)
    prefix = block_prefix(block)
    groups: dict[int, list] = {}
    for g in group_outcomes(template, rows):
        groups.setdefault(g.first, []).append(g)
    out = []
    for i, (level1, level2, item) in enumerate(rows):
        for o in row_outcomes(template, level1, item):
            if o.fired:
                out.append(_finding(o.rule, o.message, project, source, level1, level2, item, o.rule.blame,
                                    prefix))
        for g in groups.get(i, ()):
            if g.fired:
                out.append(_finding(g.rule, g.message, project, source, g.level1, prefix=prefix))
    if block != MAIN_BLOCK:
        for finding in out:
            finding.table = block
    return out


def _finding(rule: Rule, message: str, project: Project, source: str | None, level1: str | None = None,
             level2: str | None = None, indicator: Indicator | None = None, keys=(), prefix: str = "") -> Finding:
    where = locate(project, level1 or None, level2 or None, indicator, keys, prefix)
    return Finding(rule.id, rule.severity, message, project.name, level1 or None, level2 or None,
                   indicator.name if indicator is not None else None,
                   str(where) if where is not None else source)


def locate(project: Project, level1: str | None, level2: str | None, indicator: Indicator | None,
           keys=(), prefix: str = ""):
    """The blamed field's location, else the indicator's, its 二级's, its 一级's, the project's
    (prefix: a further block's where-keys, spec.block_prefix)."""
    if indicator is not None:
        places = [indicator.where.get(k) for k in (*keys, "name")]
    else:
        places = [project.where.get(k) for k in keys]
    if level1 and level2:
        places.append(project.where.get(f"{prefix}l2:{level1}/{level2}"))
    if level1:
        places.append(project.where.get(f"{prefix}l1:{level1}"))
    places.append(project.where.get("project"))
    return next((p for p in places if p is not None), None)


# -- reports --------------------------------------------------------------------------------------
def text_report(findings: list[Finding], tables: int) -> list[str]:
    """Compiler-style lines, `where: severity RULE message（project › 一级 › 二级 › 三级）`, and a summary."""
    lines = []
    for f in findings:
        context = " › ".join(x for x in (f.project, f.level1, f.level2, f.indicator) if x)
        lines.append(f"{f.location or '-'}: {f.severity} {f.rule} {f.message}" + (f"（{context}）" if context else ""))
    lines.append(summary(findings, tables))
    return lines


def summary(findings: list[Finding], tables: int) -> str:
    errors = sum(f.severity == ERROR for f in findings)
    warnings = sum(f.severity == WARNING for f in findings)
    if not findings:
        return f"检查 {tables} 张表：通过，未发现问题"
    return f"检查 {tables} 张表：{errors} 个错误，{warnings} 个警告"


def json_report(findings: list[Finding]) -> str:
    return json.dumps({"findings": [f.to_dict() for f in findings]}, ensure_ascii=False, indent=1)
