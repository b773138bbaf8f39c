"""LibreOffice as a user's spreadsheet program: it recalculates our live checks and must agree
with the results perfxl cached; it prints each table on one page."""
from __future__ import annotations

import re

import openpyxl
import pytest

import perfxl
from perfxl import parse_spec
from perfxl.template import load_template

T = load_template()
MARK, COUNT = T.mark_col + 1, T.count_col + 1

SPEC = """\
year: 2025
unit: 测试单位
projects:
  - name: 正确的项目
    budget: 100
    period: 2025年
    goal: 目标
    basis: 依据100元
    indicators:
      成本指标:
        经济成本指标: [{{name: 资金投入率, type: "=", value: 100, unit: "%"}}]
      产出指标:
        数量指标: [{{name: 人数, type: ≥, value: 10, unit: 人}}]
      效益指标:
        社会效益: [{{name: 稳定, type: 定性, value: 稳定}}]
      满意度:
        服务对象满意度: [{{name: 满意度, type: ≥, value: 90, unit: "%"}}]
  - name: 错误的项目
    budget: 100
    period: 2025年
    goal: 目标
    basis: 依据
    indicators:
      成本指标:
        经济成本指标: [{{name: 资金投入率, {invest}}}]
      产出指标:
        数量指标: [{{name: 人数, type: ≥, value: 10, unit: 人}}]
      效益指标:
        社会效益: [{{name: 稳定, type: 定性, value: 稳定}}]
      满意度:
        服务对象满意度: [{{name: 满意度, type: ≤, value: 90, unit: "%"}}]
"""


def check_cells(path):
    """{(sheet, cell): value} of every check cell, as the file caches them."""
    book = openpyxl.load_workbook(path, data_only=True)
    out = {}
    for ws in book.worksheets:
        if ws.sheet_state != "visible":
            continue
        for row in ws.iter_rows(min_col=MARK, max_col=COUNT):
            for cell in row:
                if cell.value not in (None, ""):
                    out[(ws.title, cell.coordinate)] = cell.value
    return out


@pytest.mark.parametrize("invest, problems", [
    ('type: "=", value: 100, unit: "%"', 1),    # only the ≤ satisfaction row
    ('type: "=", value: 90, unit: "%"', 2),     # + 资金投入率
    ('type: ≥, value: 100, unit: "%"', 3),      # + 资金投入率 + a cost target that is a floor
])
def test_libreoffice_recalculates_the_same_results_perfxl_cached(tmp_path, libreoffice, invest, problems):
    spec = parse_spec(SPEC.format(invest=invest))
    ours = perfxl.render(spec, tmp_path / "book.xlsx")
    formulas = openpyxl.load_workbook(ours)
    assert formulas.worksheets[1]["J1"].data_type == "f"
    theirs = libreoffice.convert(ours, "xlsx", tmp_path / "lo")
    cached, recalculated = check_cells(ours), check_cells(theirs)
    assert recalculated == cached
    assert cached[("正确的项目", "J1")] == "通过"
    assert cached[("错误的项目", "J1")] == f"本表 {problems} 处问题"
    assert "满意度指标应为下限" in cached[("错误的项目", "J17")]


def test_live_checks_follow_edits_made_in_the_workbook(tmp_path, libreoffice):
    """A clerk changes 资金投入率 to 90 and the unit to 元: the checks react after recalculation."""
    spec = parse_spec(SPEC.format(invest='type: "=", value: 100, unit: "%"'))
    path = perfxl.render(spec, tmp_path / "book.xlsx")
    book = openpyxl.load_workbook(path)
    ws = book["正确的项目"]
    assert ws["D8"].value == "资金投入率"
    ws["F8"] = 90
    ws["H11"] = None          # 人数 loses its unit
    book.save(tmp_path / "edited.xlsx")
    recalculated = check_cells(libreoffice.convert(tmp_path / "edited.xlsx", "xlsx", tmp_path / "lo"))
    assert recalculated[("正确的项目", "J8")] == "资金投入率应为 = 100 %。"
    assert recalculated[("正确的项目", "J11")] == "定量指标应填写度量单位。"
    assert recalculated[("正确的项目", "J1")] == "本表 2 处问题"


def test_each_table_prints_on_one_page(tmp_path, libreoffice, example_path):
    for one_sheet in (False, True):
        book = perfxl.render(example_path, tmp_path / f"ex{one_sheet}.xlsx", one_sheet=one_sheet)
        pdf = libreoffice.convert(book, "pdf", tmp_path / "pdf").read_bytes()
        pages = re.findall(rb"/Type\s*/Page\b(?!s)", pdf)
        assert len(pages) == 2, f"one_sheet={one_sheet}: {len(pages)} pages"


def test_blank_forms_print_a_page_per_table(tmp_path, libreoffice):
    for one_sheet in (False, True):
        book = perfxl.blank(tmp_path / f"b{one_sheet}.xlsx", projects=2, rows=2, one_sheet=one_sheet)
        pdf = libreoffice.convert(book, "pdf", tmp_path / "pdf").read_bytes()
        pages = re.findall(rb"/Type\s*/Page\b(?!s)", pdf)
        assert len(pages) == 3, f"one_sheet={one_sheet}: {len(pages)} pages (2 tables + 填表说明)"
