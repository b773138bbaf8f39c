"""The conformance suite a form must pass: what `perfxl forms check` runs on an office's form file.

For one form: its example (the `<form>.example.yaml` beside it, else a project filled from the
form's own fields and skeleton) renders and reads back equal; a blank form reads back with no
content; the cached live checks of the rendered workbook say what `perfxl check` says (plan ==
check); and, where LibreOffice is installed, its recalculation of the live checks agrees too.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .errors import PerfxlError
from .model import Entry, Indicator, Project, Spec
from .template import Template, load_template


@dataclass(frozen=True)
class Outcome:
    """One check of the suite: its name, whether it passed, and what was seen."""

    name: str
    passed: bool
    detail: str = ""


def conformance(form: str | Template, *, office: bool = True) -> list[Outcome]:
    """Run the suite on a form (a name, a .yaml path, or a loaded Template)."""
    try:
        template = form if isinstance(form, Template) else load_template(str(form))
    except PerfxlError as exc:
        return [Outcome("表样文件有效", False, str(exc))]
    out: list[Outcome] = [Outcome("表样文件有效", True, f"{len(template.rules)} 条规则")]
    try:
        spec = example_spec(template)
    except PerfxlError as exc:
        return [*out, Outcome("示例规格可以载入", False, str(exc))]
    with tempfile.TemporaryDirectory(prefix="perfxl-forms-") as tmp:
        book = Path(tmp) / "example.xlsx"
        out.append(_step("示例生成后读回一致", lambda: _round_trip(spec, template, book)))
        out.append(_step("空白表读回为空", lambda: _blank_reads_empty(template, Path(tmp) / "blank.xlsx")))
        out.append(_step("工作簿中的检查结果与 perfxl check 一致", lambda: _plan_is_check(spec, template, book)))
        out.append(_step("能与其他表样区分", lambda: _told_apart(template, book)))
        if office and shutil.which("soffice") and book.exists():
            out.append(_step("LibreOffice 重算后的检查结果与 perfxl check 一致",
                             lambda: _office_is_check(spec, template, book, Path(tmp))))
    return out


def example_spec(template: Template) -> Spec:
    """The form's example spec beside its file, else one project made from the form itself."""
    beside = Path(template.source).with_suffix(".example.yaml")
    if beside.is_file():
        from .spec import load_spec

        spec = load_spec(beside)
        if spec.form is not None and spec.form.source == template.source:
            return spec
    fields = {c.field: c for c in template.fields()}
    labels = {k: c.label for k, c in template.field_labels().items()}
    values = {key: (100 if cell.kind == "money" else f"示例{labels.get(key, key)}") for key, cell in fields.items()}
    quantitative = template.quantitative[0]
    n = 0

    def tree():
        nonlocal n
        out = {}
        for level1, level2s in template.skeleton.items():
            out[level1] = {}
            for level2 in level2s:
                n += 1
                item = Indicator(f"示例指标{n}", value=f"{quantitative}{n}个")   # a form without a type column
                if "type" in template.col:
                    item.type, item.value = quantitative, n
                if "unit" in template.col:
                    item.unit = "个"
                out[level1][level2] = [item]
        return out
    tables = {}
    for table in template.tables:
        tables[table.key] = [Entry({c.key: 10 * (i + 1) if c.kind == "money" else f"示例{c.label}{i + 1}"
                                    for c in table.columns}) for i in range(2)]
    project = Project(year=2026, unit="示例单位", indicators=tree(),
                      blocks={b.key: tree() for b in template.more_blocks}, tables=tables)
    for key in fields:
        project.set(key, values[key])
    return Spec([project], template.name, template.source, template)


def _step(name: str, run) -> Outcome:
    try:
        detail = run()
    except PerfxlError as exc:
        return Outcome(name, False, str(exc))
    except AssertionError as exc:
        return Outcome(name, False, str(exc))
    return Outcome(name, True, detail or "")


def _round_trip(spec: Spec, template: Template, book: Path) -> str:
    from .reader import read
    from .render import render

    render(spec, book)
    back = read(book, template=template.source)
    if back.spec.projects != spec.projects:
        first = next(i for i, (a, b) in enumerate(zip(back.spec.projects, spec.projects)) if a != b) \
            if len(back.spec.projects) == len(spec.projects) else None
        raise AssertionError(f"读回的内容与示例不同（第 {first + 1 if first is not None else '?'} 张表）")
    count = sum(1 for p in spec.projects for block, _ in template.blocks() for _ in p.rows(block))
    return f"{len(spec.projects)} 张表，{count} 个指标"


def _blank_reads_empty(template: Template, book: Path) -> str:
    from .reader import read
    from .render import blank

    blank(book, template=template.source, rows=2)
    back = read(book, template=template.source)
    filled = [k for p in back.spec.projects for k in template.field_keys
              if p.get(k) is not None] + [i.name for p in back.spec.projects for block, _ in template.blocks()
                                          for _, _, i in p.rows(block)] + [
        f"{t.label}：{e.to_dict()}" for p in back.spec.projects for t in template.tables for e in p.tables.get(t.key, ())]
    if filled:
        raise AssertionError(f"空白表读回了内容：{'、'.join(map(str, filled[:5]))}")
    return f"{len(back.spec.projects)} 张空白表"


def _told_apart(template: Template, book: Path) -> str:
    """Without its tag (a workbook re-typed, or of a form without a version), the rendered example
    must still score best for this form among every form that can be used."""
    from .formfile import available
    from .recognise import Scorer
    from .workbook import open_book

    opened = open_book(book)
    sheets = [(s.name, s.hidden, opened.rows(s.name)) for s in opened.sheets()]
    forms = [template]
    for name, path in available().items():
        if Path(path).resolve() != Path(template.source).resolve():
            try:
                forms.append(load_template(name))
            except PerfxlError:
                continue
    ranked = Scorer(forms).workbook(sheets)
    if len(ranked) > 1 and ranked[1][0] >= ranked[0][0] or ranked[0][1] is not template:
        rival = next(f for _, f in ranked if f is not template)
        if template.version:
            return f"标签与表样「{rival.name}」相同，靠工作簿中的表样标记区分"
        raise AssertionError(f"标签和标题与表样「{rival.name}」无法区分；请改动标题或标签，或给出 version"
                             "（工作簿会带上表样标记）")
    return f"比较了 {len(forms)} 个表样"


def _live_findings(spec: Spec, template: Template) -> list[int]:
    from .check import check_project

    live = {r.id for r in template.rules if r.test is not None}
    return [sum(1 for f in check_project(p, template) if f.rule in live) for p in spec.projects]


def _cached_counts(book: Path, template: Template) -> list[int]:
    """The problem count each table's status cell shows (0 for 通过)."""
    import re

    import openpyxl

    wb = openpyxl.load_workbook(book, read_only=True, data_only=True)
    try:
        counts = []
        before, _, after = template.checks["failed"].partition("{n}")
        pattern = re.compile(re.escape(before) + r"(\d+)" + re.escape(after))
        for ws in wb.worksheets:
            if ws.title in (template.validation["list_sheet"], template.instructions_sheet):
                continue
            for row in ws.iter_rows(min_col=template.mark_col + 1, max_col=template.mark_col + 1, values_only=True):
                text = row[0]
                if text == template.checks["passed"]:
                    counts.append(0)
                elif isinstance(text, str) and pattern.fullmatch(text):
                    counts.append(int(pattern.fullmatch(text).group(1)))
        return counts
    finally:
        wb.close()


def _plan_is_check(spec: Spec, template: Template, book: Path) -> str:
    broken = _broken(spec)
    from .render import render

    render(broken, book.with_name("broken.xlsx"))
    want = _live_findings(broken, template)
    got = _cached_counts(book.with_name("broken.xlsx"), template)
    if got != want:
        raise AssertionError(f"工作簿显示的问题数 {got}，perfxl check 为 {want}")
    return f"问题数 {want}"


def _broken(spec: Spec) -> Spec:
    """The example with every indicator's value blanked and its type removed from every other
    row, and of those some values typed as text (a number, ' 95 ', and text that is no number
    to the typed helper, '5.') or with the unit typed into the value cell ('85 %'): the live
    rules then have something to find."""
    import copy

    broken = Spec(copy.deepcopy(spec.projects), spec.template, spec.source, spec.form)
    for project in broken.projects:
        rows = [row for block, _ in spec.form.blocks() for row in project.rows(block)]
        for i, (_, _, item) in enumerate(rows):
            if i % 2 == 0:
                item.value = None
            elif i % 3 == 2 and isinstance(item.value, (int, float)) and spec.form.is_quantitative(item.type):
                item.value, item.unit = f"{item.value} {item.unit or '个'}", None     # the unit typed in
            else:
                item.type = None
                if i % 3 == 1 and isinstance(item.value, (int, float)):
                    item.value = f" {item.value} "
                elif i % 3 == 0:
                    item.value = "5."
        for table in spec.form.tables:          # a flat row loses its first column, another a money cell
            for i, entry in enumerate(project.tables.get(table.key, ())):
                column = table.columns[0] if i % 2 == 0 else next(
                    (c for c in table.columns if c.kind == "money"), table.columns[-1])
                entry.set(column.key, None if i % 2 == 0 else "无")
        project.budget = None
    return broken


# A LibreOffice profile that recalculates every formula on load (otherwise it keeps the cached values).
RECALC_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""


def _office_is_check(spec: Spec, template: Template, book: Path, tmp: Path) -> str:
    """LibreOffice recalculates the broken example's live checks (a profile that recalculates on load)."""
    source = book.with_name("broken.xlsx")
    out = tmp / "office"
    out.mkdir()
    profile = tmp / "profile"
    (profile / "user").mkdir(parents=True)
    (profile / "user" / "registrymodifications.xcu").write_text(RECALC_PROFILE, encoding="utf-8")
    try:
        subprocess.run(["soffice", f"-env:UserInstallation={profile.as_uri()}", "--headless", "--norestore",
                        "--convert-to", "xlsx:Calc MS Excel 2007 XML", "--outdir", str(out), str(source)],
                       capture_output=True, timeout=180, check=True, env={**os.environ, "HOME": str(tmp)})
    except (OSError, subprocess.SubprocessError) as exc:
        raise AssertionError(f"LibreOffice 未能重算：{exc}") from None
    got = _cached_counts(out / source.name, template)
    want = _live_findings(_broken(spec), template)
    if got != want:
        raise AssertionError(f"LibreOffice 重算后的问题数 {got}，perfxl check 为 {want}")
    return f"问题数 {want}"
