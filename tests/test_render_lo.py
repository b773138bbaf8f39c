"""LibreOffice as a user's spreadsheet program: it recalculates our live checks and must agree
with the results perfxl cached; it prints each table on one page."""
from __future__ import annotations

import os
import re
from pathlib import Path

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


SHIPPED = {"project-expenditure": "example.yaml", "project-declaration": "declaration.yaml",
           "county-project": "county.yaml", "department-overall": "department.yaml"}


def _pages(pdf: Path) -> int:
    return len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf.read_bytes()))


@pytest.mark.parametrize("fonts", [True, False], ids=["fonts", "without-carlito-and-noto"])
@pytest.mark.parametrize("form", sorted(SHIPPED))
def test_each_table_prints_on_its_own_page_one_page_wide_whatever_the_fonts(tmp_path, libreoffice, form, fonts):
    """Every shipped form's example (at least two tables) and its blank form, with the fonts the
    tests install and without Carlito and Noto CJK. Stacked on one sheet (one print scale, the
    case that depends on fonts): a page per table, nothing spilled right or down. A sheet per
    table (fit to one page wide): its own page, or two for a tall table."""
    spec = perfxl.load_spec(Path(__file__).parent.parent / "specs" / SHIPPED[form])
    spec.projects = (spec.projects * 2)[:max(2, len(spec.projects))]
    tables = len(spec.projects)
    for one_sheet in (True, False):
        book = perfxl.render(spec, tmp_path / f"ex{one_sheet}.xlsx", one_sheet=one_sheet)
        pages = _pages(libreoffice.convert(book, "pdf", tmp_path / "pdf", fonts=fonts))
        if one_sheet:
            assert pages == tables, f"stacked: {pages} pages for {tables} tables"
        else:
            assert tables <= pages <= 2 * tables, f"{pages} pages for {tables} tables"
    # blank forms: a third table stacked on the sheet adds exactly one page (the 填表说明 takes
    # the same pages either way)
    one, two = (perfxl.blank(tmp_path / f"b{n}.xlsx", template=form, projects=n, rows=2, one_sheet=True)
                for n in (2, 3))
    one_pages, two_pages = (_pages(libreoffice.convert(b, "pdf", tmp_path / "pdf", fonts=fonts)) for b in (one, two))
    assert two_pages == one_pages + 1, (one_pages, two_pages)




@pytest.mark.parametrize("form", sorted(SHIPPED))
def test_the_instructions_print_whole(tmp_path, libreoffice, form):
    """Every line of a blank form's 填表说明 is on the printed pages in full (before, lines ran
    off the right edge of the page and were cut)."""
    import shutil
    import subprocess

    if shutil.which("pdftotext") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftotext (poppler-utils) is required in CI but is not installed")
        pytest.skip("pdftotext (poppler-utils) is not installed")
    book = perfxl.blank(tmp_path / "b.xlsx", template=form)
    pdf = libreoffice.convert(book, "pdf", tmp_path / "pdf")
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True).stdout
    printed = re.sub(r"\s+", "", text)
    sheet = openpyxl.load_workbook(book)[load_template(form).instructions_sheet]
    lines = [re.sub(r"\s+", "", str(c.value)) for c in sheet["A"] if c.value]
    missing = [line for line in lines if line not in printed]
    assert missing == [], missing
