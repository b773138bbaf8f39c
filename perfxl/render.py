"""Rendering specs and blank forms: model → layout plans → writer. Also the sheet names."""
from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import PerfxlError
from .layout import TablePlan, blank_project, plan_table
from .model import INDICATOR_KEYS, PROJECT_KEYS, SHARED_KEYS, Project, Spec, block_prefix
from .output import check_output
from .values import bad_character, is_finite_number
from .spec import MAX_CELL_TEXT, load_spec
from .template import DEFAULT_TEMPLATE, Template, form_of, load_template
from .writer import SheetPlan, write_workbook

TABLE_GAP = 2            # blank rows between stacked tables
MAX_BLANK_ROWS = 50_000   # input rows of one blank workbook (about 450 MB and 15 s to write)


def sheet_names(titles: list[str | None], reserved: tuple[str, ...] = (),
                template: Template | None = None) -> list[str]:
    """Legal, unique (case-insensitively), at most 31 characters as Excel counts them (UTF-16
    units: 𠮷 and emoji count two); empty titles become 项目N."""
    template = template or load_template()
    used = {r.lower() for r in reserved}
    last_suffix: dict[str, int] = {}      # per base name, so 10,000 equal titles stay linear
    out = []
    for i, title in enumerate(titles, 1):
        base = re.sub(r"[\[\]:*?/\\\x00-\x1f]", "", title or "").strip().strip("'").strip()
        base = base or template.project_sheet(i)
        name, n = _fit(base, 31), last_suffix.get(base.lower(), 1)
        while name.lower() in used or name.lower() == "history":
            n += 1
            suffix = f"({n})"
            name = _fit(base, 31 - len(suffix)) + suffix
        last_suffix[base.lower()] = n
        used.add(name.lower())
        out.append(name)
    return out


def _fit(text: str, units: int) -> str:
    """The longest start of `text` that takes at most `units` UTF-16 code units."""
    used = 0
    for i, ch in enumerate(text):
        used += 2 if ord(ch) > 0xFFFF else 1
        if used > units:
            return text[:i]
    return text


def _stack(template, projects: list[Project | None], input_rows: int = 0) -> list[TablePlan]:
    plans, row = [], 0
    for project in projects:
        plan = plan_table(template, project, row, input_rows)
        plans.append(plan)
        row = plan.last_row + 1 + TABLE_GAP
    return plans


def render(spec: Spec | str | os.PathLike, out: str | os.PathLike | None = None, *,
           one_sheet: bool = False, mark: str | None = None) -> Path:
    """Render a spec (or a spec file) to a formatted workbook; returns the output path.

    `mark` goes into the workbook's `perfxl` document property (perfxl collect marks its bundles).
    """
    if not isinstance(spec, Spec):
        source = os.fspath(spec)
        spec = load_spec(source)
        if out is None:
            out = Path("output") / (Path(source).stem + ".xlsx")
    if out is None:
        raise ValueError("render() of a Spec object needs out=")
    check_output(out, [spec.source] if spec.source else [])
    template = form_of(spec)
    forms = [form_of(spec, p) for p in spec.projects]
    for project, form in zip(spec.projects, forms):
        check_cells(project, spec.source)
        check_drawn(project, form, spec.source)
    lists = template.validation["list_sheet"]
    if one_sheet:
        if any(f.source != template.source for f in forms):
            raise PerfxlError("--one-sheet 只能把同一种表样的表排在一张工作表上；这份规格有几种表样"
                              f"（{'、'.join(dict.fromkeys(f.name for f in forms))}），请去掉 --one-sheet",
                              spec.source)
        title = spec.projects[0].unit or template.form
        sheets = [SheetPlan(sheet_names([title], (lists,), template)[0], _stack(template, spec.projects))]
    else:
        names = sheet_names([p.name for p in spec.projects], (lists,), template)
        # planned as written: each plan can go once XlsxWriter has its cells
        sheets = (SheetPlan(n, [plan_table(f, p)], form=f if f is not template else None)
                  for n, p, f in zip(names, spec.projects, forms))
    write_workbook(out, template, sheets, mark=mark)
    return Path(out)


def check_cells(project: Project, source: str | None = None) -> None:
    """Refuse, naming the place, a value no workbook cell can hold: text over Excel's 32,767
    characters (XlsxWriter would cut it silently), a lone surrogate, NaN or infinity. Specs
    loaded from files never hold them; read workbooks (an .ods cell) and API callers can."""
    def refuse(problem: str, where, what: str):
        place = where or project.where.get("project") or source
        raise PerfxlError(f"项目「{project.name or ''}」的{what}{problem}，无法写入工作簿", place)

    def check(value, where, what: str):
        if isinstance(value, str):
            if len(value) > MAX_CELL_TEXT:
                refuse(f"有 {len(value)} 个字符，超过 Excel 单元格上限 {MAX_CELL_TEXT}", where, what)
            if bad_character(value):
                refuse(f"含有无效的字符 {bad_character(value)}", where, what)
        elif isinstance(value, float) and not is_finite_number(value):
            refuse(f"是无效的数字（{value}）", where, what)

    for key in (*PROJECT_KEYS, "unit", "year", *project.extra):
        check(project.get(key), project.where.get(key), key)
    for block in ("indicators", *project.blocks):
        prefix = block_prefix(block)
        for level1, groups in project.tree(block).items():
            check(level1, project.where.get(f"{prefix}l1:{level1}"), "一级指标")
            for level2 in groups:
                check(level2, project.where.get(f"{prefix}l2:{level1}/{level2}"), "二级指标")
        for _, _, item in project.rows(block):
            for key in (*INDICATOR_KEYS, *item.extra):
                check(item.get(key), item.where.get(key) or item.where.get("name"), f"指标「{item.name}」的 {key}")


def check_drawn(project: Project, template: Template, source: str | None = None) -> None:
    """Refuse, naming it, a value the form has no place for: a field, block, flat table, table
    column or indicator key it does not draw (a Spec built in code, or read on another form).
    Spec files never hold one: their loader refuses the key."""
    def refuse(key: str, what: str, where):
        raise PerfxlError(f"项目「{project.name or ''}」的{what}「{key}」在表样「{template.name}」中没有栏目，"
                          "不会出现在表中；请去掉它或换用有这一栏的表样",
                          where or project.where.get("project") or source)

    drawn = set(template.field_keys) | set(SHARED_KEYS)
    for key in (*PROJECT_KEYS, *project.extra):
        if key not in drawn and project.get(key) not in (None, ""):
            refuse(key, "字段", project.where.get(key))
    blocks = {b.key for b in template.more_blocks}
    for key, tree in project.blocks.items():
        if key not in blocks and tree:
            refuse(key, "指标块", None)
    for key, entries in project.tables.items():
        if key not in {t.key for t in template.tables}:
            if entries:
                refuse(key, "表格", None)
            continue
        columns = set(template.table(key).keys)
        for entry in entries:
            for column, value in entry.values.items():
                if column not in columns and value not in (None, ""):
                    refuse(column, f"表格 {key} 的列", entry.where.get(column))
    columns = {"name", *template.row_keys}
    for block in ("indicators", *(k for k in project.blocks if k in blocks)):
        for _, _, item in project.rows(block):
            for key in (*INDICATOR_KEYS, *item.extra):
                if key not in columns and item.get(key) not in (None, ""):
                    refuse(key, f"指标「{item.name}」的", item.where.get(key) or item.where.get("name"))


def blank(out: str | os.PathLike, *, projects: int = 1, rows: int = 1, protect: bool = False,
          password: str | None = None, one_sheet: bool = False, template: str = DEFAULT_TEMPLATE,
          year: int | None = None, unit: str | None = None, amount_unit: str = "元") -> Path:
    """Empty forms for offline filling: `projects` tables, `rows` input rows per 二级.

    `protect` locks labels and structure, without a password unless `password` is given (a
    password implies `protect`); input cells stay editable and rows can still be inserted.
    """
    if projects < 1 or rows < 1:
        raise ValueError("projects and rows must be at least 1")
    if password is not None and not password:
        raise PerfxlError("密码不能为空；不设密码的保护请用 --protect")
    check_output(out)
    lock = password if password else ("" if protect else None)
    form = load_template(template)
    input_rows = projects * rows * sum(len(groups) for groups in form.skeleton.values())
    if input_rows > MAX_BLANK_ROWS:
        raise PerfxlError(f"空白表共需 {input_rows} 个输入行（{projects} 张表 × 每个二级指标 {rows} 行），"
                          f"超过上限 {MAX_BLANK_ROWS}；请减少表数或每组行数")

    def empty() -> Project:
        p = blank_project(form)
        p.year, p.unit, p.amount_unit = year, unit, amount_unit
        return p
    check_cells(empty())
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
