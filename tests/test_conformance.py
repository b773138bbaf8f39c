"""The conformance suite over every shipped form, and the shipped forms' own promises."""
from __future__ import annotations

import openpyxl
import pytest

import perfxl
from perfxl.conformance import conformance
from perfxl.formfile import available, shipped_dir
from perfxl.template import load_template

from conftest import ROOT

SHIPPED = sorted(name for name, path in available().items() if path.parent == shipped_dir())   # flat.yaml is no form
EXAMPLES = {"project-expenditure": ROOT / "specs" / "example.yaml",
            "project-declaration": ROOT / "specs" / "declaration.yaml",
            "department-overall": ROOT / "specs" / "department.yaml",
            "county-project": ROOT / "specs" / "county.yaml"}


def test_every_shipped_form_has_an_example_spec():
    assert sorted(EXAMPLES) == SHIPPED
    for form, path in EXAMPLES.items():
        assert perfxl.load_spec(path).template == form


@pytest.mark.parametrize("form", SHIPPED)
def test_every_shipped_form_passes_the_conformance_suite(form, libreoffice):
    outcomes = conformance(form)
    assert [o.name for o in outcomes if not o.passed] == [], [str(o) for o in outcomes]
    assert len(outcomes) == 6       # valid, round trip, blank, plan == check, told apart, LibreOffice


@pytest.mark.parametrize("form", SHIPPED)
def test_a_shipped_example_reads_back_also_after_libreoffice_resaves_it(form, tmp_path, libreoffice):
    spec = perfxl.load_spec(EXAMPLES[form])
    book = perfxl.render(spec, tmp_path / f"{form}.xlsx")
    for fmt in ("xlsx", "xls", "ods"):
        resaved = libreoffice.convert(book, fmt, tmp_path / fmt)
        result = perfxl.read(resaved)
        assert result.spec.template == form, fmt
        assert result.spec.projects == spec.projects, fmt
        # .xls keeps no percent formats: perfxl says so for values ≤ 1 with unit %, nothing else
        assert [w.message for w in result.warnings if "百分比" not in w.message] == [], fmt


def test_the_declaration_checks_the_fund_split_live_and_in_perfxl_check(tmp_path, libreoffice):
    """资金总额 = 财政拨款 + 其他资金: typed wrong into the workbook, both the recalculated live
    check and perfxl check of the returned file say so."""
    spec = perfxl.load_spec(EXAMPLES["project-declaration"])
    assert perfxl.check(spec) == []
    book = perfxl.render(spec, tmp_path / "d.xlsx")
    form = load_template("project-declaration")
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    fiscal = next(c for row in ws.iter_rows() for c in row if c.value == 1500)
    fiscal.value = 1400                                     # 1400 + 100 ≠ 1600
    wb.save(tmp_path / "edited.xlsx")
    recalculated = libreoffice.convert(tmp_path / "edited.xlsx", "xlsx", tmp_path / "lo")
    ws = openpyxl.load_workbook(recalculated, data_only=True).worksheets[0]
    mark = ws.cell(fiscal.row, form.mark_col + 1).value
    assert "财政拨款与其他资金之和应等于年度资金总额" in mark
    assert ws.cell(1, form.mark_col + 1).value == "本表 1 处问题"
    findings = perfxl.check(recalculated)
    assert [(f.rule, f.location.rsplit("!", 1)[1]) for f in findings] == [("D-FUND-SUM", fiscal.coordinate)]


def test_text_in_a_money_cell_fires_the_sum_check_in_both_back_ends(tmp_path, libreoffice):
    spec = perfxl.load_spec(EXAMPLES["project-declaration"])
    spec.projects[0].fiscal = None
    spec.projects[0].extra["fiscal"] = "一千五百"           # what a clerk may type
    from perfxl.layout import plan_table

    form = load_template("project-declaration")
    plan = plan_table(form, spec.projects[0])
    marks = [c for c in plan.cells if c.style == "mark" and "IFERROR(" in (c.formula or "")]
    assert marks and "财政拨款与其他资金之和" in marks[0].value
    assert "D-FUND-SUM" in {f.rule for f in perfxl.check(spec)}


def test_the_declaration_draws_and_reads_both_indicator_blocks(tmp_path):
    """中期绩效指标 above 年度绩效指标, the same columns: each block is read into its own tree, and
    a finding in the 中期 block points at its own row."""
    spec = perfxl.load_spec(EXAMPLES["project-declaration"])
    project = spec.projects[0]
    assert sum(1 for _ in project.rows("mid_indicators")) == 7 and sum(1 for _ in project.rows()) == 10
    book = perfxl.render(spec, tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(book).worksheets[0]
    labels = [c.value for c in ws["A"] if c.value in ("中期绩效指标", "年度绩效指标")]
    assert labels == ["中期绩效指标", "年度绩效指标"]
    mid_row = next(c.row for c in ws["D"] if c.value == "项目完成时间")
    ws.cell(mid_row, 5).value = None                        # 指标性质 emptied in the 中期 block
    ws.parent.save(tmp_path / "edited.xlsx")
    result = perfxl.read(tmp_path / "edited.xlsx")
    back = result.spec.projects[0]
    assert back.blocks["mid_indicators"]["产出指标"]["时效指标"][0].type is None
    assert back.indicators["产出指标"]["时效指标"][0].type == "定性"
    [finding] = [f for f in perfxl.check(result.spec) if f.rule == "D-TYPE-MISSING"]
    assert finding.location.endswith(f"!E{mid_row}") and finding.indicator == "项目完成时间"


def _live_marks(book, form) -> set[tuple[int, str]]:
    """(row, message) of every live check message the workbook shows (cached values)."""
    ws = openpyxl.load_workbook(book, data_only=True).worksheets[0]
    out = set()
    for (cell,) in ws.iter_rows(min_row=2, min_col=form.mark_col + 1, max_col=form.mark_col + 1):
        for message in str(cell.value or "").split("。"):
            if message:
                out.add((cell.row, message + "。"))
    return out


@pytest.mark.parametrize("fiscal_typed", ["1400", "一千五百"])     # a wrong sum; a word in a money cell
def test_a_clerk_typing_into_the_declaration_gets_the_live_checks_perfxl_check_reports(tmp_path, uno, fiscal_typed):
    """Typed through LibreOffice (UNO) as a clerk types: a 财政拨款 that breaks the sum, an emptied
    指标性质 in the 中期 block, a word for a number in the 年度 block. The live checks LibreOffice
    computed while typing and perfxl check of the saved file name the same rows and messages."""
    form = load_template("project-declaration")
    book = perfxl.render(perfxl.load_spec(EXAMPLES["project-declaration"]), tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(book).worksheets[0]
    fiscal = next(c for row in ws.iter_rows() for c in row if c.value == 1500)
    mid = next(c.row for c in ws["D"] if c.value == "项目完成时间")
    year = next(c.row for c in ws["D"] if c.value == "受益农户数")
    typed = uno.type_into(book, tmp_path / "typed.xlsx",
                          {fiscal.coordinate: fiscal_typed, f"E{mid}": "", f"F{year}": "很多"})
    live = _live_marks(typed, form)
    findings = [f for f in perfxl.check(typed) if any(r.id == f.rule and r.test is not None for r in form.rules)]
    checked = {(int("".join(ch for ch in f.location.rsplit("!", 1)[1] if ch.isdigit())), f.message)
               for f in findings}
    assert checked == live
    assert {f.rule for f in findings} == {"D-FUND-SUM", "D-TYPE-MISSING", "D-QUANT-VALUE"}
    status = openpyxl.load_workbook(typed, data_only=True).worksheets[0].cell(1, form.mark_col + 1).value
    assert status == f"本表 {len(findings)} 处问题"
