"""`perfxl preview`: one self-contained HTML page drawing each table as the form prints it.

The page is the layout's own plan (perfxl.layout.plan_table) as an HTML table: merges become
rowspan/colspan, column widths and row heights follow the form; the findings of `perfxl check`
are painted at the cells they point at (perfxl.check.findings_as_drawn), numbered, and listed under
their table. It is rendered by the shipped Jinja2 template preview.html.j2 with autoescaping
(text from users is shown, never run), uses no network and no other file, and prints on A4, a
table to a page.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

from .model import Spec
from .rules import ERROR, SEVERITY_WORDS
from .template import col_letter, form_of, shipped_dir

PASSED = "未发现问题"
SKIPPED_STYLES = {"mark", "count", "status"}      # the live check columns: the page lists findings instead
# A4 landscape less the page's 12 mm margins, in CSS pixels (96 per inch): a table is zoomed to fit
PAGE_PX = (1030, 700)
PRINT_EXTRA_PX = 70     # the sheet name above the table and the space around the list
LINE_PX = 24            # a line of the findings list
MIN_ZOOM = 0.45         # below this a tall table rather runs on to a second page


@dataclass
class _Cell:
    text: str
    classes: str
    rowspan: int = 1
    colspan: int = 1
    ref: str = ""
    tip: str = ""
    marks: list[int] = field(default_factory=list)


def preview_html(spec: Spec) -> str:
    """The HTML page for a spec."""
    import jinja2

    from .check import findings_as_drawn
    from .layout import plan_table
    from .render import sheet_names

    template = form_of(spec)
    names = sheet_names([p.name for p in spec.projects], (template.validation["list_sheet"],), template)
    placed: dict[str, list] = {}
    for finding, sheet, place in findings_as_drawn(spec):
        placed.setdefault(sheet or names[0], []).append((finding, place))
    tables = []
    for name, project in zip(names, spec.projects):
        form = form_of(spec, project)
        tables.append(_table(name, form, plan_table(form, project), placed.get(name, [])))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(shipped_dir())), autoescape=True,
                             keep_trailing_newline=True)
    title = f"{template.form}：{len(spec.projects)} 张表"
    return env.get_template("preview.html.j2").render(title=title, tables=tables, passed=PASSED)


def _table(sheet: str, form, plan, findings: list) -> dict:
    widths = [round(form.widths.get(c, 9) * 7 + 5) for c in range(form.ncols)]
    by_cell: dict[tuple[int, int], list[int]] = {}
    listed = []
    for number, (finding, place) in enumerate(findings, 1):
        if place is not None:
            by_cell.setdefault(place, []).append(number)
        listed.append({"number": number, "severity": finding.severity, "message": finding.message,
                       "word": SEVERITY_WORDS.get(finding.severity, finding.severity),
                       "ref": f"{col_letter(place[1])}{place[0] + 1}" if place else ""})
    severity = {n["number"]: n["severity"] for n in listed}
    cells = {(c.row, c.col): c for c in plan.cells if c.col < form.ncols and c.style not in SKIPPED_STYLES}
    covered: set[tuple[int, int]] = set()
    rows = []
    auto = form.styles["line_height"] + 6
    for r in range(plan.first_row, plan.last_row + 1):
        row = []
        for c in range(form.ncols):
            if (r, c) in covered:
                continue
            cell = cells.get((r, c))
            last_row = min(cell.last_row or r, plan.last_row) if cell else r
            last_col = min(cell.last_col or c, form.ncols - 1) if cell else c
            for rr in range(r, last_row + 1):
                for cc in range(c, last_col + 1):
                    covered.add((rr, cc))
            marks = sorted({n for rr in range(r, last_row + 1) for cc in range(c, last_col + 1)
                            for n in by_cell.get((rr, cc), ())})
            classes = [cell.style if cell else "empty"]
            if marks:
                classes.append("error" if any(severity[n] == ERROR for n in marks) else "warning")
            row.append(_Cell(_shown(cell, form), " ".join(classes), last_row - r + 1, last_col - c + 1,
                             f"{col_letter(c)}{r + 1}", "；".join(listed[n - 1]["message"] for n in marks), marks))
        rows.append({"height": round(plan.heights.get(r, auto) * 4 / 3), "cells": row})
    tall = sum(r["height"] for r in rows) + PRINT_EXTRA_PX + LINE_PX * max(len(listed), 1)
    zoom = min(1.0, PAGE_PX[0] / sum(widths), PAGE_PX[1] / tall)
    return {"sheet": sheet, "widths": widths, "rows": rows, "findings": listed,
            "zoom": max(round(zoom, 3), MIN_ZOOM)}


def _shown(cell, form) -> str:
    """A cell's value as the form shows it (money with thousands separators)."""
    if cell is None or cell.value is None:
        return ""
    value = cell.value
    if cell.style in ("money", "total") and isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:,.2f}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def write_preview(spec: Spec, out: str | os.PathLike) -> None:
    """Write the page to `out`, atomically, as UTF-8."""
    from .output import check_output, write_text

    check_output(out, [spec.source] if spec.source else [], kind="text")
    write_text(out, preview_html(spec))
