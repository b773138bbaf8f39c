"""The form in a clerk's hands: a blank form of every shipped form typed into through LibreOffice's
UNO API (an inserted row inside a group, values typed as a clerk types them), saved, recalculated;
the title's status, the check cells and `perfxl check` of the saved file must agree."""
from __future__ import annotations

import openpyxl
import pytest

import lo
import perfxl
from perfxl.writer import CF_FORMATS
from perfxl.template import MAIN_BLOCK, col_letter, load_template

FORMS = ("county-project", "department-overall", "project-declaration", "project-expenditure")


def _live(findings, template) -> list:
    live = {r.id for r in template.rules if r.test is not None}
    return [f for f in findings if f.rule in live]


def _painted_agree(typed, template, findings):
    """The cells LibreOffice paints after recalculating the typed workbook are exactly the blamed
    cells of `perfxl check`'s findings of painted row rules, each in its severity's colour."""
    rules = {r.id: r for r in template.rules}
    expected: dict = {}
    for f in findings:
        rule = rules[f.rule]
        if rule.scope != "row" or not rule.paint:
            continue
        sheet, cell = f.location.split("!")[-2:]
        row = cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
        cols = ({c.key: c.first for c in template.table(rule.table).columns} if rule.table
                else template.col)
        for key in rule.blame:
            expected.setdefault((sheet, f"{col_letter(cols[key])}{row}"), set()).add(
                CF_FORMATS[f.severity]["bg_color"].lstrip("#"))
    assert lo.painted(typed) == expected


def _first_group_rows(ws, template) -> tuple[int, int]:
    """(header row, first input row of the first 二级) of the first indicator block drawn on a
    blank form, 1-based."""
    level1 = next(iter(template.skeleton))
    level2 = template.skeleton[level1][0]
    col = template.col["level2"] + 1
    row = next(r for r in range(1, ws.max_row + 1) if ws.cell(r, col).value == level2)
    label = template.col["name"] + 1
    header = max(r for r in range(1, row) if ws.cell(r, label).value == template.columns[2].label)
    return header, row


@pytest.mark.parametrize("protect", [False, True], ids=["open", "protected"])
@pytest.mark.parametrize("form", FORMS)
def test_a_row_inserted_inside_a_group_is_checked_live_and_by_check(tmp_path, uno, form, protect):
    """A clerk inserts a row inside a 二级 group of a blank form and types an indicator whose value
    is no number (五) under a ≥. The inserted row has no per-row check formula of its own, but the
    block's header row counts its problems, the title's status counts them too, and the count
    equals what `perfxl check` of the saved file reports."""
    template = load_template(form)
    book = perfxl.blank(tmp_path / "blank.xlsx", template=form, rows=2, protect=protect)
    ws = openpyxl.load_workbook(book).worksheets[0]
    header, first = _first_group_rows(ws, template)
    new = first + 1                                   # between the group's two input rows
    edits = {f"+{new}": "", f"{col_letter(template.col['name'])}{new}": "新增指标"}
    if "type" in template.col:
        edits[f"{col_letter(template.col['type'])}{new}"] = "≥"
    edits[f"{col_letter(template.col['value'])}{new}"] = "五"
    typed = uno.type_into(book, tmp_path / "typed.xlsx", edits)

    findings = _live(perfxl.check(typed), template)
    at_new = [f for f in findings if f.location.endswith(f"!{col_letter(template.col['value'])}{new}")
              or f.location.rsplit("!", 1)[1][1:] == str(new)]
    values = openpyxl.load_workbook(typed, data_only=True).worksheets[0]
    status = values.cell(1, template.mark_col + 1).value
    assert status == template.checks["failed"].format(n=len(findings)), (status, findings)
    inserted = values.cell(header, template.mark_col + 1).value
    if at_new:
        assert inserted == template.checks["inserted"].format(n=len(at_new)), (inserted, at_new)
    else:
        assert inserted in (None, ""), inserted
    if "type" in template.col:
        assert at_new, findings                       # 五 under ≥ is no number: found at the new row
    _painted_agree(typed, template, findings)
    back = perfxl.read(typed)
    project = back.spec.projects[0]
    names = [i.name for block in (MAIN_BLOCK, *project.blocks) for _, _, i in project.rows(block)]
    assert names == ["新增指标"]
    merged = {str(m) for m in openpyxl.load_workbook(typed).worksheets[0].merged_cells.ranges}
    level2 = col_letter(template.col["level2"])
    assert f"{level2}{first}:{level2}{first + 2}" in merged, sorted(merged)     # the 二级 merge grew


TYPED_FORMS = tuple(f for f in FORMS if {"type", "value", "unit"} <= set(load_template(f).col))


TYPED = {"percent": (("100%", "%"), ("95%", "")),          # typed with %, the unit once left empty
         "text": (("'100", "%"), ("' 95", "%")),           # numbers typed as text ('100: a text cell)
         "glued": (("'100%", ""), ("'95 %", "%"))}         # the unit typed into the value cell


@pytest.mark.parametrize("typed", sorted(TYPED))
@pytest.mark.parametrize("form", TYPED_FORMS)
def test_typed_values_agree_live_and_by_check(tmp_path, uno, form, typed):
    """A clerk types 100% and 95% at the keyboard (LibreOffice stores 1 and 0.95 shown as
    percentages), once with the unit % filled in and once without; or types them as text ('100).
    perfxl check reads them as 100 and 95 (each with a warning); the live checks must say the
    same: no 资金投入率 error, no "not a number" error, no 满意度 range warning, and the title's
    status counts what check counts."""
    template = load_template(form)
    book = perfxl.blank(tmp_path / "blank.xlsx", template=form, rows=2)
    ws = openpyxl.load_workbook(book).worksheets[0]
    _, first = _first_group_rows(ws, template)
    letter = {k: col_letter(template.col[k]) for k in ("name", "type", "value", "unit")}
    edits = {}
    for row, name, sign, (value, unit) in zip((first, first + 1), ("资金投入率", "覆盖率"), "=≥", TYPED[typed]):
        edits.update({f"{letter['name']}{row}": name, f"{letter['type']}{row}": sign,
                      f"{letter['value']}{row}~": value})
        if unit:
            edits[f"{letter['unit']}{row}"] = unit
    typed_book = uno.type_into(book, tmp_path / "typed.xlsx", edits)
    cell = openpyxl.load_workbook(typed_book).worksheets[0][f"{letter['value']}{first}"]
    assert cell.number_format.endswith("%") if typed == "percent" else cell.data_type == "s"
    typed = typed_book

    result = perfxl.read(typed)
    rows = [i for block in (MAIN_BLOCK, *result.spec.projects[0].blocks)
            for _, _, i in result.spec.projects[0].rows(block)]
    assert [(i.value, i.unit) for i in rows] == [(100, "%"), (95, "%")]
    findings = _live(perfxl.check(typed), template)
    values = openpyxl.load_workbook(typed, data_only=True).worksheets[0]
    for row in (first, first + 1):
        at_row = [f.message for f in findings if f.location.rsplit("!", 1)[1][1:] == str(row)]
        assert not any("资金投入率" in m or "数字" in m or "度量单位" in m for m in at_row), at_row
        assert (values.cell(row, template.mark_col + 1).value or "") == "".join(at_row), row
    assert values.cell(1, template.mark_col + 1).value == template.checks["failed"].format(n=len(findings))
    _painted_agree(typed, template, findings)


@pytest.mark.parametrize("protect", [False, True], ids=["open", "protected"])
@pytest.mark.parametrize("form", TYPED_FORMS)
def test_percentages_typed_into_inserted_rows_agree_live_and_by_check(tmp_path, uno, form, protect):
    """A clerk inserts two rows inside a group and types 资金投入率 = 100% (unit left empty) and
    覆盖率 ≥ 95% (unit %) at the keyboard: the inserted rows have no typed-value helpers, yet the
    header's count of their problems, the title's status and the painted cells agree with
    `perfxl check`, which reads 100 % and 95 %."""
    template = load_template(form)
    book = perfxl.blank(tmp_path / "blank.xlsx", template=form, rows=2, protect=protect)
    ws = openpyxl.load_workbook(book).worksheets[0]
    header, first = _first_group_rows(ws, template)
    letter = {k: col_letter(template.col[k]) for k in ("name", "type", "value", "unit")}
    new = (first + 1, first + 2)
    edits = {f"+{first + 1}": "", f"+{first + 2}": ""}
    for row, (name, sign, value, unit) in zip(new, (("资金投入率", "=", "100%", ""), ("覆盖率", "≥", "95%", "%"))):
        edits.update({f"{letter['name']}{row}": name, f"{letter['type']}{row}": sign,
                      f"{letter['value']}{row}~": value})
        if unit:
            edits[f"{letter['unit']}{row}"] = unit
    typed = uno.type_into(book, tmp_path / "typed.xlsx", edits)
    assert openpyxl.load_workbook(typed).worksheets[0][f"{letter['value']}{new[0]}"].number_format.endswith("%")

    rows = [i for block in (MAIN_BLOCK, *perfxl.read(typed).spec.projects[0].blocks)
            for _, _, i in perfxl.read(typed).spec.projects[0].rows(block)]
    assert [(i.name, i.value, i.unit) for i in rows] == [("资金投入率", 100, "%"), ("覆盖率", 95, "%")]
    findings = _live(perfxl.check(typed), template)
    at_new = [f for f in findings if f.location.rsplit("!", 1)[1][1:] in {str(r) for r in new}]
    values = openpyxl.load_workbook(typed, data_only=True).worksheets[0]
    inserted = values.cell(header, template.mark_col + 1).value
    assert (inserted or "") == (template.checks["inserted"].format(n=len(at_new)) if at_new else ""), at_new
    assert values.cell(1, template.mark_col + 1).value == template.checks["failed"].format(n=len(findings))
    _painted_agree(typed, template, findings)
