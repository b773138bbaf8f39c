"""Rendered workbooks opened with openpyxl: cells, merges, dropdowns, live checks, fonts, print."""
from __future__ import annotations

import os
import zipfile

import openpyxl
import pytest

import perfxl
from perfxl import parse_spec
from perfxl.template import load_template

T = load_template()
ROOT = os.path.join(os.path.dirname(__file__), "..")


@pytest.fixture(scope="module")
def example_book(tmp_path_factory):
    out = tmp_path_factory.mktemp("render") / "example.xlsx"
    perfxl.render(os.path.join(os.path.dirname(__file__), "..", "specs", "example.yaml"), out)
    return out


@pytest.fixture(scope="module")
def formulas(example_book):
    return openpyxl.load_workbook(example_book)


@pytest.fixture(scope="module")
def cached(example_book):
    return openpyxl.load_workbook(example_book, data_only=True)


def merges(ws) -> set[str]:
    return {str(r) for r in ws.merged_cells.ranges}


def test_sheets_are_named_after_projects_and_the_list_sheet_is_hidden(formulas):
    second = "株洲市跨境电商综试区线上综合服务平台及1210监管场所建设及维护"
    assert formulas.sheetnames == ["市属商贸企业遗留问题专项资金", second[:31], "_lists"]
    lists = formulas["_lists"]
    assert lists.sheet_state == "hidden"
    assert [lists.cell(i, 1).value for i in range(1, 7)] == ["=", "≥", "≤", ">", "<", "定性"]


def test_first_table_matches_the_reference_cell_for_cell(formulas):
    ws = formulas.worksheets[0]
    assert ws["A1"].value == "2025年项目支出绩效目标表"
    assert ws["A2"].value == "填报单位（盖章）：外经科公共专项"
    assert ws["G2"].value == "金额单位：元"
    assert [ws[c].value for c in ("A3", "B3")] == ["项目名称", "市属商贸企业遗留问题专项资金"]
    assert [ws[c].value for c in ("A4", "B4", "E4", "G4")] == ["项目类别", "特定目标类", "年度本级预算金额", 1800000]
    assert ws["G4"].number_format == "#,##0.00"
    assert [ws[c].value for c in ("A5", "B5")] == ["项目支出实施期", "2025年"]
    assert ws["A6"].value == "本年度绩效目标" and ws["B6"].value.startswith("引导市属商贸企业")
    assert [ws.cell(7, c).value for c in range(1, 10)] == [
        "本年度绩效指标", "一级指标", "二级指标", "三级指标", "指标值类型", "指标值", "指标值内容", "度量单位", "备注"]
    rows = [[ws.cell(r, c).value for c in range(2, 10)] for r in range(8, 18)]
    assert rows == [
        ["成本指标", "经济成本指标", "资金投入率", "=", 100, None, "%", None],
        [None, "社会成本指标", None, None, None, None, None, None],
        [None, "生态环境成本指标", None, None, None, None, None, None],
        ["产出指标", "数量指标", "补缴社保、医保人员", "=", 11, None, "人", None],
        [None, "质量指标", "覆盖企业数", "=", 36, None, "家", None],
        [None, "时效指标", "任务完成时间", "定性", "2025年", None, None, None],
        ["效益指标", "经济效益", None, None, None, None, None, None],
        [None, "社会效益", "相关企业人员", "定性", "稳定", "相关信访减少", None, None],
        [None, "生态效益", None, None, None, None, None, None],
        ["满意度", "服务对象满意度", "满意度", "≥", 85, None, "%", None],
    ]
    assert ws["E8"].data_type == "s"          # the type "=" is text, not an empty formula
    assert ws["A18"].value == "支出测算依据及说明" and "两项合计180万元" in ws["B18"].value
    assert merges(ws) == {"A1:I1", "A2:F2", "G2:I2", "B3:I3", "B4:D4", "E4:F4", "G4:I4", "B5:I5",
                          "B6:I6", "A7:A17", "B8:B10", "B11:B13", "B14:B16", "B18:I18"}


def test_second_table_merges_a_two_row_second_level(formulas):
    ws = formulas.worksheets[1]
    assert {"C14:C15", "B14:B17"} <= merges(ws)
    assert ws["D14"].value == "带动出口" and ws["D15"].value == "跨境电商企业交易规模"
    assert ws["E11"].value == "≥"      # \geq in the spec


def test_every_type_cell_has_the_dropdown_with_a_stop_error(formulas):
    for ws in formulas.worksheets[:2]:
        validations = ws.data_validations.dataValidation
        assert len(validations) == 1
        dv = validations[0]
        assert dv.type == "list" and dv.formula1 == "'_lists'!$A$1:$A$6"
        assert dv.showErrorMessage and dv.errorStyle in (None, "stop") and dv.error and dv.prompt
        assert dv.showInputMessage
        first_indicator, last_indicator = 8, ws.max_row - 1
        covered = {cell for rng in dv.sqref.ranges for row in rng.rows for cell in row}
        for r in range(first_indicator, last_indicator + 1):
            assert (r, 5) in covered, f"E{r} has no dropdown"


def test_live_checks_are_formulas_with_correct_cached_results(formulas, cached):
    first, second = formulas.worksheets[0], formulas.worksheets[1]
    assert first["J1"].data_type == "f" and first["J1"].value.startswith("=IF(SUM(")
    # the first row of a group also carries the group's check over its range: an array formula
    j8 = second["J8"].value
    assert isinstance(j8, openpyxl.worksheet.formula.ArrayFormula) and "资金投入率" in j8.text and ":" in j8.text
    assert second["J9"].value.startswith("=") and "资金投入率" in second["J9"].value
    c1, c2 = cached.worksheets[0], cached.worksheets[1]
    assert c1["J1"].value == "通过"
    assert c2["J1"].value == "本表 1 处问题"
    assert c2["J14"].value == "定量指标应填写度量单位。" and c2["K14"].value == 1
    assert all(not c1.cell(r, 10).value for r in range(2, c1.max_row + 1))


def test_cjk_font_and_print_setup(formulas):
    ws = formulas.worksheets[0]
    for ref in ("A1", "B3", "D8", "B18"):
        assert ws[ref].font.name == "宋体" and ws[ref].font.charset == 134
    assert ws["A1"].font.b and ws["A1"].font.sz == 18
    assert ws.page_setup.orientation == "landscape" and ws.page_setup.paperSize == 9
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight or 1) == (1, 1)   # 1 is the default
    assert ws.print_area == "'市属商贸企业遗留问题专项资金'!$A$1:$I$18"
    assert ws.oddFooter.center.text == "第 &P 页 共 &N 页"
    assert ws.column_dimensions["K"].hidden


def test_a_very_tall_table_fits_one_page_wide_but_not_tall(tmp_path):
    rows = ", ".join(f"{{name: 指标{i}, type: 定性, value: 是}}" for i in range(80))
    spec = parse_spec(f"projects:\n  - name: a\n    indicators:\n      产出指标:\n        数量指标: [{rows}]\n")
    ws = openpyxl.load_workbook(perfxl.render(spec, tmp_path / "tall.xlsx")).worksheets[0]
    assert ws.sheet_properties.pageSetUpPr.fitToPage
    assert (ws.page_setup.fitToWidth or 1, ws.page_setup.fitToHeight) == (1, 0)


def test_long_text_gets_taller_rows(tmp_path):
    spec = parse_spec("projects:\n  - name: a\n    goal: " + "很长的绩效目标文字，" * 60 + "\n    basis: 短\n")
    out = perfxl.render(spec, tmp_path / "long.xlsx")
    ws = openpyxl.load_workbook(out).worksheets[0]
    assert ws.row_dimensions[6].height > 4 * ws.row_dimensions[3].height


FORMULA_LOOKING = ["=SUM(A1:A9)", "+1", "-cmd", "@name", "=", "==x"]


def test_user_text_never_becomes_a_formula(tmp_path):
    items = ", ".join(f'{{name: "{t}", type: 定性, value: "{t}", content: "{t}", note: "{t}"}}'
                      for t in FORMULA_LOOKING)
    spec = parse_spec(f'unit: "=1+1"\nprojects:\n  - name: "=HYPERLINK(1)"\n    goal: "@x"\n'
                      f'    indicators:\n      产出指标:\n        数量指标: [{items}]\n')
    out = perfxl.render(spec, tmp_path / "f.xlsx")
    ws = openpyxl.load_workbook(out).worksheets[0]
    checks = {c + 1 for c in T.check_cols}          # perfxl's own check columns
    for row in ws.iter_rows():
        for cell in row:
            if cell.column not in checks:
                assert cell.data_type != "f", f"{cell.coordinate} became a formula: {cell.value}"
    assert ws["B3"].value == "=HYPERLINK(1)"
    assert [ws.cell(r, 4).value for r in range(11, 17)] == FORMULA_LOOKING


def test_same_spec_gives_identical_bytes(tmp_path, example_path):
    a = perfxl.render(example_path, tmp_path / "a.xlsx").read_bytes()
    b = perfxl.render(example_path, tmp_path / "b.xlsx").read_bytes()
    assert a == b


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path, example_path, monkeypatch):
    import perfxl.writer as writer

    target = tmp_path / "keep.xlsx"
    target.write_bytes(b"old")

    def broken(path, *args):
        with open(path, "wb") as fh:
            fh.write(b"PK half")
        raise RuntimeError("disk full")

    monkeypatch.setattr(writer, "_write_book", broken)
    with pytest.raises(RuntimeError):
        perfxl.render(example_path, target)
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.xlsx"]


def test_one_sheet_stacks_tables_with_page_breaks(tmp_path, example_path):
    out = perfxl.render(example_path, tmp_path / "one.xlsx", one_sheet=True)
    book = openpyxl.load_workbook(out)
    assert book.sheetnames == ["外经科公共专项", "_lists"]
    ws = book.worksheets[0]
    titles = [c.row for c in ws["A"] if c.value == "2025年项目支出绩效目标表"]
    assert titles == [1, 21]
    assert [b.id for b in ws.row_breaks.brk] == [20]
    # Excel ignores page breaks under fit-to-page, so stacked tables get a print scale instead
    assert not ws.sheet_properties.pageSetUpPr.fitToPage and 40 <= ws.page_setup.scale < 100
    assert ws.print_area == "'外经科公共专项'!$A$1:$I$39"
    assert {"A27:A38", "A7:A17"} <= merges(ws)


def test_unknown_groups_are_drawn_after_the_skeleton(tmp_path):
    spec = parse_spec("projects:\n  - name: a\n    indicators:\n      可持续影响:\n        长期效益: [{name: x, type: 定性, value: 持续}]\n")
    ws = openpyxl.load_workbook(perfxl.render(spec, tmp_path / "u.xlsx")).worksheets[0]
    assert [ws.cell(r, 2).value for r in (8, 11, 14, 17, 18)] == ["成本指标", "产出指标", "效益指标", "满意度", "可持续影响"]
    assert ws["C18"].value == "长期效益" and ws["D18"].value == "x"


def test_sheet_names_are_legal_and_unique():
    from perfxl.render import sheet_names

    names = sheet_names(["a/b:c*?[x]", "A/B:C*?[X]", "", "x" * 40, "x" * 40, "'q'"], ("_lists",))
    assert names == ["abcx", "ABCX(2)", "项目3", "x" * 31, "x" * 28 + "(2)", "q"]


def test_many_equal_titles_get_numbered_in_order():
    from perfxl.render import sheet_names

    names = sheet_names(["项目"] * 3000 + ["项目(2)", "History"], ("_lists",))
    assert names[:3] == ["项目", "项目(2)", "项目(3)"] and names[2999] == "项目(3000)"
    assert names[3000] == "项目(2)(2)" and names[3001] == "History(2)"
    assert len({n.lower() for n in names}) == len(names)


def test_xml_is_stable_and_small(example_book):
    with zipfile.ZipFile(example_book) as z:
        core = z.read("docProps/core.xml").decode()
    assert "2000-01-01T00:00:00Z" in core


def test_output_gets_the_usual_file_mode(tmp_path, example_path):
    old = os.umask(0o022)
    try:
        out = perfxl.render(example_path, tmp_path / "mode.xlsx")
    finally:
        os.umask(old)
    assert out.stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("change, phrase", [
    (lambda p: p.extra.update(no_such_field="值"), "no_such_field"),
    (lambda p: setattr(p, "category", "其他"), "category"),
    (lambda p: p.blocks.update(long_term={"产出指标": {}}), "long_term"),
    (lambda p: p.tables.update(schedule=[perfxl.Entry({"step": "招标"})]), "schedule"),
    (lambda p: p.tables["tasks"].append(perfxl.Entry({"task": "巡演", "owner": "张三"})), "owner"),
    (lambda p: next(p.rows())[2].extra.update(weight=10), "weight"),
    (lambda p: setattr(next(p.rows())[2], "type", "≥"), None),
])
def test_a_value_the_form_cannot_draw_is_refused_not_dropped(tmp_path, change, phrase):
    """A Spec built in code (or read on one form and given another) holding a field, block, table,
    column or indicator key its form does not draw is refused, naming it; nothing is left out silently."""
    spec = perfxl.load_spec(os.path.join(ROOT, "specs", "department.yaml"))
    change(spec.projects[0])
    if phrase is None:              # the department form has a 指标值类型 column: drawn, fine
        perfxl.render(spec, tmp_path / "ok.xlsx")
        return
    with pytest.raises(perfxl.PerfxlError, match=phrase) as caught:
        perfxl.render(spec, tmp_path / "out.xlsx")
    assert "不会出现在表中" in str(caught.value)
    assert not (tmp_path / "out.xlsx").exists()


def test_text_taller_than_excels_tallest_row_spans_rows_and_reads_back(tmp_path):
    """A 本年度绩效目标 of 3,000 characters needs more than 409 pt, Excel's tallest row: its label
    and value merge down as many rows as it takes, none over 409 pt, and it reads back whole."""
    goal = "项目建设竣工并验收合格投入使用，提升办事效率。" * 130
    spec = parse_spec(f"projects:\n  - name: a\n    goal: {goal}\n    basis: 短\n")
    out = perfxl.render(spec, tmp_path / "long.xlsx")
    ws = openpyxl.load_workbook(out).worksheets[0]
    (merge,) = [m for m in ws.merged_cells.ranges if m.min_row == 6 and m.min_col == 2]
    assert merge.max_row > merge.min_row
    assert any(m.min_row == 6 and m.min_col == 1 and m.max_row == merge.max_row for m in ws.merged_cells.ranges)
    heights = [ws.row_dimensions[r].height for r in range(1, ws.max_row + 1) if ws.row_dimensions[r].height]
    assert max(heights) <= 409
    assert sum(ws.row_dimensions[r].height for r in range(6, merge.max_row + 1)) > 409
    back = perfxl.read(out)
    assert back.spec.projects == spec.projects and back.warnings == []
    assert [f.rule for f in perfxl.check(out)] == [f.rule for f in perfxl.check(spec)]
