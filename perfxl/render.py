"""Rendering specs and blank forms: model → layout plans → writer. Also the sheet names."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .layout import TablePlan, blank_project, plan_table
from .model import Project, Spec
from .spec import load_spec
from .template import DEFAULT_TEMPLATE, Template, load_template
from .writer import SheetPlan, write_workbook

TABLE_GAP = 2            # blank rows between stacked tables


def sheet_names(titles: list[str | None], reserved: tuple[str, ...] = (),
                template: Template | None = None) -> list[str]:
    """Legal, unique (case-insensitively), at most 31 characters; empty titles become 项目N."""
    template = template or load_template()
    used = {r.lower() for r in reserved}
    last_suffix: dict[str, int] = {}      # per base name, so 10,000 equal titles stay linear
    out = []
    for i, title in enumerate(titles, 1):
        base = re.sub(r"[\[\]:*?/\\\x00-\x1f]", "", title or "").strip().strip("'").strip()
        base = base or template.project_sheet(i)
        name, n = base[:31], last_suffix.get(base.lower(), 1)
        while name.lower() in used or name.lower() == "history":
            n += 1
            suffix = f"({n})"
            name = base[: 31 - len(suffix)] + suffix
        last_suffix[base.lower()] = n
        used.add(name.lower())
        out.append(name)
    return out


def _stack(template, projects: list[Project | None], input_rows: int = 0) -> list[TablePlan]:
    plans, row = [], 0
    for project in projects:
        plan = plan_table(template, project, row, input_rows)
        plans.append(plan)
        row = plan.last_row + 1 + TABLE_GAP
    return plans


def render(spec: Spec | str | os.PathLike, out: str | os.PathLike | None = None, *,
           one_sheet: bool = False) -> Path:
    """Render a spec (or a spec file) to a formatted workbook; returns the output path."""
    if not isinstance(spec, Spec):
        source = os.fspath(spec)
        spec = load_spec(source)
        if out is None:
            out = Path("output") / (Path(source).stem + ".xlsx")
    if out is None:
        raise ValueError("render() of a Spec object needs out=")
    template = load_template(spec.template)
    lists = template.validation["list_sheet"]
    if one_sheet:
        title = spec.projects[0].unit or template.form
        sheets = [SheetPlan(sheet_names([title], (lists,), template)[0], _stack(template, spec.projects))]
    else:
        names = sheet_names([p.name for p in spec.projects], (lists,), template)
        # planned as written: each plan can go once XlsxWriter has its cells
        sheets = (SheetPlan(n, [plan_table(template, p)]) for n, p in zip(names, spec.projects))
    write_workbook(out, template, sheets)
    return Path(out)


def blank(out: str | os.PathLike, *, projects: int = 1, rows: int = 1, protect: bool = False,
          password: str | None = None, one_sheet: bool = False, template: str = DEFAULT_TEMPLATE,
          year: int | None = None, unit: str | None = None, amount_unit: str = "元") -> Path:
    """Empty forms for offline filling: `projects` tables, `rows` input rows per 二级.

    `protect` locks labels and structure, without a password unless `password` is given (a
    password implies `protect`); input cells stay editable and rows can still be inserted.
    """
    if projects < 1 or rows < 1:
        raise ValueError("projects and rows must be at least 1")
    lock = password if password else ("" if protect else None)
    form = load_template(template)

    def empty() -> Project:
        p = blank_project(form)
        p.year, p.unit, p.amount_unit = year, unit, amount_unit
        return p
    reserved = (form.validation["list_sheet"], form.instructions_sheet)
    if one_sheet:
        sheets = [SheetPlan(sheet_names([form.form], reserved, form)[0],
                            _stack(form, [empty() for _ in range(projects)], rows), lock)]
    else:
        names = sheet_names([form.project_sheet(i) for i in range(1, projects + 1)], reserved, form)
        sheets = [SheetPlan(n, [plan_table(form, empty(), 0, rows)], lock) for n in names]
    text = form.instructions(projects=projects, rows=rows, amount_unit=amount_unit)
    write_workbook(out, form, sheets, (form.instructions_sheet, text.strip("\n").split("\n")))
    return Path(out)
