"""Blank forms for offline filling: N tables, K rows per 二级, dropdowns, checks, protection."""
from __future__ import annotations

from pathlib import Path

import openpyxl

import perfxl
from perfxl.template import load_template

T = load_template()
EXAMPLE = Path(__file__).resolve().parent.parent / "specs" / "example.yaml"
SECOND_LEVELS = sum(len(v) for v in T.skeleton.values())


def test_blank_has_n_tables_k_rows_and_instructions(tmp_path):
    out = perfxl.blank(tmp_path / "b.xlsx", projects=3, rows=4, year=2027, unit="某局")
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["项目1", "项目2", "项目3", "填表说明", "_lists"]
    ws = book["项目2"]
    assert ws["A1"].value == "2027年项目支出绩效目标表"
    assert ws["A2"].value == "填报单位（盖章）：某局"
    indicator_rows = SECOND_LEVELS * 4
    assert ws.cell(7, 1).value == T.block_label
    assert f"A7:A{7 + indicator_rows}" in {str(r) for r in ws.merged_cells.ranges}
    assert "C8:C11" in {str(r) for r in ws.merged_cells.ranges}
    dv = ws.data_validations.dataValidation
    assert len(dv) == 1 and str(dv[0].sqref) == f"E8:E{7 + indicator_rows}"
    for r in range(8, 8 + indicator_rows):
        assert ws.cell(r, 10).data_type == "f", f"J{r} has no live check"
    text = "\n".join(str(c.value) for c in book["填表说明"]["A"] if c.value)
    assert "填表说明" in text and "= ≥ ≤ > < 定性" in text and "3 张表" in text and "4 行" in text


def test_blank_status_counts_what_is_missing(tmp_path):
    out = perfxl.blank(tmp_path / "b.xlsx")
    ws = openpyxl.load_workbook(out, data_only=True).worksheets[0]
    # name, budget, period, goal, basis, and each of the four 一级 without a 三级
    assert ws["J1"].value == "本表 9 处问题"


def test_long_text_rows_leave_room_to_type(tmp_path):
    # Excel does not grow a merged row as text is typed: 绩效目标 and 测算依据 get room up front.
    ws = openpyxl.load_workbook(perfxl.blank(tmp_path / "b.xlsx", projects=1, rows=1)).worksheets[0]
    goal_row = next(c.row for c in ws["A"] if c.value == "本年度绩效目标")
    basis_row = next(c.row for c in ws["A"] if c.value == "支出测算依据及说明")
    room = T.styles["blank_text_lines"] * T.styles["line_height"]
    assert ws.row_dimensions[goal_row].height >= room and ws.row_dimensions[basis_row].height >= room
    assert ws.row_dimensions[goal_row - 1].height < room        # other rows stay one line
    rendered = openpyxl.load_workbook(perfxl.render(perfxl.load_spec(EXAMPLE), tmp_path / "e.xlsx")).worksheets[0]
    assert rendered.row_dimensions[goal_row].height < room      # filled forms fit their text


def test_blank_year_placeholder_without_year(tmp_path):
    ws = openpyxl.load_workbook(perfxl.blank(tmp_path / "b.xlsx")).worksheets[0]
    assert ws["A1"].value == "20__年项目支出绩效目标表"


def test_protect_locks_labels_but_not_inputs_and_allows_inserting_rows(tmp_path):
    out = perfxl.blank(tmp_path / "p.xlsx", protect=True, rows=2)
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert ws.protection.sheet and not ws.protection.password
    assert ws.protection.insertRows is False      # False means "not prevented" in OOXML
    assert ws["A3"].protection.locked and ws["D7"].protection.locked
    for ref in ("B3", "B4", "G4", "B6", "D8", "E8", "F8", "G8", "H8", "I8", "B28"):
        assert ws[ref].protection.locked is False, ref
    # merged down beside the rows, so that LibreOffice grows them when a row is inserted into
    # them (it deletes a locked merge): the block label, 一级 and 二级 (test_clerk types into them)
    for ref in ("A7", "B8", "C8"):
        assert ws[ref].protection.locked is False, ref


def test_password_protects_every_form_sheet_with_that_password(tmp_path):
    from openpyxl.utils.protection import hash_password

    out = perfxl.blank(tmp_path / "pw.xlsx", projects=2, rows=2, password="caiwu2025")
    book = openpyxl.load_workbook(out)
    for ws in book.worksheets[:2]:
        assert ws.protection.sheet and ws.protection.password == hash_password("caiwu2025")
        assert ws.protection.insertRows is False and ws["D8"].protection.locked is False
    unprotected = openpyxl.load_workbook(perfxl.blank(tmp_path / "no.xlsx")).worksheets[0]
    assert not unprotected.protection.sheet


def test_blank_one_sheet_stacks(tmp_path):
    out = perfxl.blank(tmp_path / "s.xlsx", projects=2, rows=1, one_sheet=True)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == [T.form, "填表说明", "_lists"]
    ws = book.worksheets[0]
    assert [c.row for c in ws["A"] if c.value and str(c.value).endswith(T.form)] == [1, 21]
