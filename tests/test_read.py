"""perfxl read on workbooks as people leave them: edited with openpyxl the way a clerk edits in
Excel (values changed, rows inserted, cells unmerged, `>=`, numbers as text, percent formats), a
table typed by hand at an offset, broken files, and the CLI.

The example's rendered sheet, 1-based rows: 1 title, 2 unit line, 3 项目名称, 4 项目类别/预算 (G4),
5 实施期, 6 目标, 7 indicator header, 8 资金投入率, 9–10 empty 社会/生态环境成本, 11 数量 (产出指标
merged B11:B13), 12 质量, 13 时效, 14 empty 经济效益, 15 社会效益, 16 empty 生态效益, 17 满意度, 18 测算依据.
"""
from __future__ import annotations

import copy
import datetime
import json
import subprocess
import sys
import zipfile

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import perfxl
from perfxl import WorkbookError
from perfxl.model import Indicator

SHEET = "市属商贸企业遗留问题专项资金"
TEMPLATE = perfxl.load_template()


@pytest.fixture
def spec(example_path):
    return perfxl.load_spec(example_path)


@pytest.fixture
def book(spec, tmp_path):
    """The example rendered one table per sheet."""
    return perfxl.render(spec, tmp_path / "example.xlsx")


def edit(path, change, out=None):
    """Open a workbook with openpyxl, let `change(ws, wb)` edit the first sheet, save."""
    wb = openpyxl.load_workbook(path)
    change(wb[SHEET], wb)
    out = out or path.with_name("edited.xlsx")
    wb.save(out)
    return out


def read(path):
    result = perfxl.read(path)
    return result.spec, {w.location.split("!", 1)[1]: w.message for w in result.warnings}


def first(spec):
    return spec.projects[0]


def insert_row(ws, idx, extend=True):
    """Insert a row before `idx` like Excel: merges below move down, merges across it grow
    (extend=True), or stop above it (extend=False: the row goes in right after a merge)."""
    merges = [tuple(m.bounds) for m in ws.merged_cells.ranges]
    for m in list(ws.merged_cells.ranges):
        ws.unmerge_cells(str(m))
    ws.insert_rows(idx)
    for min_col, min_row, max_col, max_row in merges:
        if min_row >= idx:
            min_row, max_row = min_row + 1, max_row + 1
        elif max_row >= idx and extend:
            max_row += 1
        ws.merge_cells(start_row=min_row, start_column=min_col, end_row=max_row, end_column=max_col)


# -- a perfxl workbook edited by hand -----------------------------------------------------------
def test_rendered_example_reads_back_without_warnings(spec, book):
    result = perfxl.read(book)
    assert result.spec == spec
    assert result.warnings == []


def test_changed_values(spec, book):
    def change(ws, wb):
        ws["F11"] = 12
        ws["D12"] = "覆盖企业户数"
        ws["G15"] = None
        ws["B3"] = "新项目名称"
    got, warnings = read(edit(book, change))
    expected = copy.deepcopy(spec)
    p = first(expected)
    p.name = "新项目名称"
    p.indicators["产出指标"]["数量指标"][0].value = 12
    p.indicators["产出指标"]["质量指标"][0].name = "覆盖企业户数"
    p.indicators["效益指标"]["社会效益"][0].content = None
    assert got == expected
    assert warnings == {}


@pytest.mark.parametrize("extend", [True, False])
def test_inserted_row_in_a_group(spec, book, extend):
    def change(ws, wb):
        insert_row(ws, 12, extend)          # below 数量指标's only row, inside 产出指标's merge
        ws["D12"], ws["E12"], ws["F12"], ws["H12"] = "新增培训人次", "=", 120, "人次"
    got, warnings = read(edit(book, change))
    expected = copy.deepcopy(spec)
    first(expected).indicators["产出指标"]["数量指标"].append(
        Indicator("新增培训人次", "=", 120, unit="人次"))
    assert got == expected
    assert warnings == {}


def test_inserted_empty_rows_are_skipped(spec, book):
    def change(ws, wb):
        insert_row(ws, 12)
        insert_row(ws, 9)
    got, warnings = read(edit(book, change))
    assert got == spec and warnings == {}


def test_unmerged_level1_blank_or_repeated(spec, book):
    def change(ws, wb):
        ws.unmerge_cells("B11:B13")         # 产出指标: blank below means "same as above"
        ws.unmerge_cells("B8:B10")          # 成本指标: repeated on every row
        ws["B9"] = ws["B10"] = "成本指标"
    got, warnings = read(edit(book, change))
    assert got == spec and warnings == {}


def test_typed_aliases_numbers_as_text_and_spaces(spec, book):
    def change(ws, wb):
        ws["E17"] = ">="
        ws["E11"] = "＝"
        ws["F11"] = "1,500"
        ws["G4"] = "3,000,000.00"
        ws["D13"] = "\u3000任务完成时间\n"
        ws["F12"] = " 36 "
    got, warnings = read(edit(book, change))
    expected = copy.deepcopy(spec)
    p = first(expected)
    p.budget = 3000000
    p.indicators["产出指标"]["数量指标"][0].value = 1500
    assert got == expected
    assert set(warnings) == {f"{SHEET}!{c}" for c in ("E17", "E11", "F11", "G4", "D13", "F12")}
    assert "≥" in warnings[f"{SHEET}!E17"]
    assert "1500" in warnings[f"{SHEET}!F11"]


def test_unit_glued_to_the_value(spec, book):
    def change(ws, wb):
        ws["F17"], ws["H17"] = "85%", None        # unit taken from the value
        ws["F8"] = "100%"                          # unit cell already says %
        ws["F11"], ws["H11"] = "11人", "家"        # disagrees with the unit cell: kept as typed
    got, warnings = read(edit(book, change))
    p = first(got)
    assert p.indicators["满意度"]["服务对象满意度"][0] == Indicator("满意度", "≥", 85, unit="%")
    assert p.indicators["成本指标"]["经济成本指标"][0] == Indicator("资金投入率", "=", 100, unit="%")
    assert p.indicators["产出指标"]["数量指标"][0].value == "11人"
    assert "度量单位补为 %" in warnings[f"{SHEET}!F17"]
    assert "不一致" in warnings[f"{SHEET}!F11"]


def test_percentage_formatted_cells(spec, book):
    def change(ws, wb):
        ws["F8"] = 1
        ws["F8"].number_format = "0%"
        ws["F17"], ws["H17"] = 0.85, None
        ws["F17"].number_format = "0.00%"
    got, warnings = read(edit(book, change))
    assert got == spec
    assert "百分比" in warnings[f"{SHEET}!F8"] and "度量单位补为" not in warnings[f"{SHEET}!F8"]
    assert "度量单位补为 %" in warnings[f"{SHEET}!F17"]


def test_a_percentage_typed_in_a_text_column_reads_as_shown(spec, book):
    """Typing 95% in Excel stores 0.95 with a percent format: a text column reads what it shows."""
    def change(ws, wb):
        for cell, stored in (("G11", 0.95), ("I12", 0.5), ("H13", 0.125)):
            ws[cell] = stored
            ws[cell].number_format = "0%" if cell != "H13" else "0.0%"
    got, warnings = read(edit(book, change))
    p = first(got)
    assert p.indicators["产出指标"]["数量指标"][0].content == "95%"
    assert p.indicators["产出指标"]["质量指标"][0].note == "50%"
    assert p.indicators["产出指标"]["时效指标"][0].unit == "12.5%"
    for cell, shown in (("G11", "95%"), ("I12", "50%"), ("H13", "12.5%")):
        assert "百分比" in warnings[f"{SHEET}!{cell}"] and shown in warnings[f"{SHEET}!{cell}"]


def test_unknown_type_and_nameless_row(spec, book):
    def change(ws, wb):
        ws["E11"] = "约等于"
        ws["D12"] = None
    got, warnings = read(edit(book, change))
    p = first(got)
    assert p.indicators["产出指标"]["数量指标"][0].type is None
    assert p.indicators["产出指标"]["质量指标"][0] == Indicator("", "=", 36, unit="家")
    assert "约等于" in warnings[f"{SHEET}!E11"]
    assert "名称为空" in warnings[f"{SHEET}!D12"]


def test_groups_without_a_level1_above_them(book):
    def change(ws, wb):
        for cell in ("B8", "D8", "E8", "F8", "H8"):
            ws[cell] = None                 # 成本指标 and its only indicator cleared
    got, warnings = read(edit(book, change))
    assert list(first(got).indicators[""]) == ["经济成本指标", "社会成本指标", "生态环境成本指标"]
    assert "没有一级指标" in warnings[f"{SHEET}!B8"]
    assert perfxl.parse_spec(perfxl.dump_spec(got)) == got


def test_formula_without_cached_value_is_reported(spec, book):
    def change(ws, wb):
        ws["F11"] = "=5+6"                  # openpyxl stores no result
        ws["F12"] = "#N/A"                  # an error value
    got, warnings = read(edit(book, change))
    p = first(got)
    assert p.indicators["产出指标"]["数量指标"][0].value is None
    assert p.indicators["产出指标"]["质量指标"][0].value is None
    assert "公式" in warnings[f"{SHEET}!F11"]
    assert "#N/A" in warnings[f"{SHEET}!F12"]


def test_where_points_at_cells(book):
    p = first(perfxl.read(book).spec)
    item = p.indicators["满意度"]["服务对象满意度"][0]
    assert str(item.where["type"]) == f"{book}!{SHEET}!E17"
    assert str(item.where["note"]) == f"{book}!{SHEET}!I17"
    assert str(p.where["budget"]) == f"{book}!{SHEET}!G4"
    assert str(p.where["basis"]) == f"{book}!{SHEET}!B18"
    assert str(p.where["l1:产出指标"]) == f"{book}!{SHEET}!B11"
    assert str(p.where["l2:效益指标/生态效益"]) == f"{book}!{SHEET}!C16"


def test_other_sheets_are_named_and_perfxls_hidden_list_sheet_is_not(spec, book):
    def change(ws, wb):
        notes = wb.create_sheet("说明")
        notes["A1"] = "本工作簿由各单位填报"
    got, warnings = read(edit(book, change))
    assert got == spec and list(warnings) == ["说明!A1"] and "A1:A1 中 1 个非空单元格未读入" in warnings["说明!A1"]


def test_what_someone_typed_on_the_hidden_list_sheet_is_named_not_dropped(spec, book):
    def change(ws, wb):
        lists = wb["_lists"]
        lists["D5"] = "请财政局核对"            # a note beside the lists
        lists["A2"] = "大约"                    # a dropdown choice overwritten
        lists["B1"] = "perfxl:form=project-expenditure@"    # the tag rewritten as perfxl writes it: its own
    got, warnings = read(edit(book, change))
    assert got == spec
    assert sorted(warnings) == ["_lists!A2", "_lists!D5"]
    assert "请财政局核对" in warnings["_lists!D5"] and "隐藏" in warnings["_lists!D5"]
    assert "大约" in warnings["_lists!A2"]


def test_a_table_on_a_hidden_sheet_named_like_the_list_sheet_is_read(spec, book):
    def change(ws, wb):
        del wb["_lists"]
        copy_ws = wb.copy_worksheet(ws)
        copy_ws.title = "_lists"
        copy_ws.sheet_state = "hidden"
    got, warnings = read(edit(book, change))
    assert got.projects[:2] == spec.projects and got.projects[2].name == spec.projects[0].name
    assert "隐藏的" in warnings["_lists"] and len(warnings) == 1


@pytest.mark.parametrize("state", ["hidden", "veryHidden"])
def test_a_project_on_a_hidden_sheet_is_read_with_a_warning(spec, book, state):
    def change(ws, wb):
        copy_ws = wb.copy_worksheet(ws)
        copy_ws.title = "藏起来的表"
        copy_ws.sheet_state = state
        copy_ws["B6"] = None                        # its 本年度绩效目标 is missing
    got, warnings = read(edit(book, change))
    assert got.projects[:2] == spec.projects and got.projects[2].name == spec.projects[0].name
    assert "隐藏的" in warnings["藏起来的表"] and len(warnings) == 1
    assert [(f.rule, f.location.split("!", 1)[1]) for f in perfxl.check(got) if f.severity == "error"] == [
        ("P-HEAD-GOAL", "藏起来的表!B6")]


def test_hidden_rows_and_columns_are_read_with_a_warning(spec, book):
    def change(ws, wb):
        ws.row_dimensions[11].hidden = True         # 产出指标 › 数量指标: a filled row
        ws.row_dimensions[12].hidden = True         # 质量指标: a filled row
        ws.column_dimensions["G"].hidden = True     # 指标值内容
    got, warnings = read(edit(book, change))
    assert got == spec
    assert "隐藏行" in warnings[f"{SHEET}!B11"] and "隐藏行" in warnings[f"{SHEET}!C12"]
    assert [k for k, v in warnings.items() if "隐藏列" in v] == [f"{SHEET}!G2"]     # 金额单位：元
    assert len(warnings) == 3


# -- a table typed by hand ----------------------------------------------------------------------
HAND = [  # from C5: no merges, 一级 repeated on every row, 二级 blank = same as above
    ["2026年项目支出绩效目标表"],
    ["填报单位：某某局", None, None, None, None, None, "金额单位：万元"],
    ["项目名称", "老旧小区改造"],
    ["项目类型", "特定目标类", None, None, "预算金额", None, "120"],
    ["实施期", 2026],
    ["年度绩效目标", "完成改造。\n居民满意。"],
    ["年度绩效指标", "一级指标", "二级指标", "指标名称", "指标性质", "指标值", "指标值说明", "计量单位", "备注"],
    [None, "成本指标", "经济成本指标", "资金投入率", "=", 100, None, "%"],
    [None, "产出指标", "数量指标", "改造小区数", "≧", "12", None, "个"],
    [None, "产出指标", None, "加装电梯", "≥", 30, None, "部"],
    [None, "产出指标", None, None, None, None, None, None],
    [None, "产出指标", "时效指标", "完成时间", "定性", "2026年底"],
    [None, "满意度", "服务对象满意度", "居民满意度", "\\geq", "90%"],
    ["测算依据", "每个小区10万元，共120万元。"],
]


def hand_typed(path, at_row=5, at_col=3, repeat=1):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "填报"
    ws.cell(1, 1, "附件2")
    r = at_row
    for _ in range(repeat):
        for line in HAND:
            for j, value in enumerate(line):
                if value is not None:
                    ws.cell(r, at_col + j, value)
            r += 1
        ws.cell(r, at_col, "填表人：张三")
        r += 3
    wb.save(path)
    return path


HAND_SPEC = """
year: 2026
unit: 某某局
amount_unit: 万元
projects:
  - name: 老旧小区改造
    category: 特定目标类
    budget: 120
    period: "2026"
    goal: "完成改造。\\n居民满意。"
    basis: 每个小区10万元，共120万元。
    indicators:
      成本指标:
        经济成本指标:
          - {name: 资金投入率, type: =, value: 100, unit: "%"}
      产出指标:
        数量指标:
          - {name: 改造小区数, type: ≥, value: 12, unit: 个}
          - {name: 加装电梯, type: ≥, value: 30, unit: 部}
        时效指标:
          - {name: 完成时间, type: 定性, value: 2026年底}
      满意度:
        服务对象满意度:
          - {name: 居民满意度, type: ≥, value: 90, unit: "%"}
"""


def test_hand_typed_table_at_an_offset(tmp_path):
    got, warnings = read(hand_typed(tmp_path / "hand.xlsx"))
    assert got == perfxl.parse_spec(HAND_SPEC)
    # budget "120" (I8), ≧ and "12" (G13, H13), \geq and "90%" (G17, H17); 填表人 below the table
    # (C19) is no field of this form; the attachment mark 附件2 (A1) is not named
    assert set(warnings) == {"填报!I8", "填报!G13", "填报!H13", "填报!G17", "填报!H17", "填报!C19"}
    assert "不属于任何一张表" in warnings["填报!C19"]
    assert "度量单位补为 %" in warnings["填报!H17"]


def test_title_in_other_words(tmp_path):
    path = hand_typed(tmp_path / "hand.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.active["C5"] = "2026年度项目支出绩效目标表"
    wb.save(path)
    got, warnings = read(path)
    assert got == perfxl.parse_spec(HAND_SPEC)
    assert "2026" in warnings["填报!C5"]


def test_hand_typed_tables_stacked(tmp_path):
    got, _ = read(hand_typed(tmp_path / "hand.xlsx", at_row=2, at_col=1, repeat=3))
    assert got.projects == perfxl.parse_spec(HAND_SPEC).projects * 3


def test_extra_columns_are_named(tmp_path):
    path = hand_typed(tmp_path / "hand.xlsx")
    wb = openpyxl.load_workbook(path)
    wb.active["L11"], wb.active["L12"] = "权重", 10
    wb.save(path)
    got, warnings = read(path)
    assert got == perfxl.parse_spec(HAND_SPEC)
    assert "权重" in warnings["填报!L11"]


def test_unread_cells_on_field_rows_are_named(book):
    def change(ws, wb):
        ws.unmerge_cells("G4:I4")
        ws["H4"], ws["I4"] = "其中：财政拨款", 1500000      # a breakdown the template has no place for
    got, warnings = read(edit(book, change))
    assert first(got).budget == 1800000
    assert set(warnings) == {f"{SHEET}!H4", f"{SHEET}!I4"}


def test_no_tables_names_the_labels(tmp_path):
    wb = openpyxl.Workbook()
    wb.active["A1"] = "项目名称"
    wb.save(tmp_path / "none.xlsx")
    with pytest.raises(WorkbookError) as err:
        perfxl.read(tmp_path / "none.xlsx")
    assert "本年度绩效指标" in str(err.value) and "一级指标" in str(err.value)


@pytest.mark.parametrize("content", [b"", b"a,b\n1,2\n", bytes(range(256)) * 8])
def test_not_a_workbook(tmp_path, content):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(content)
    with pytest.raises(WorkbookError) as err:
        perfxl.read(path)
    assert "\n" not in str(err.value) and str(path) in str(err.value)


def test_truncated_workbook(book, tmp_path):
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(book.read_bytes()[:4000])
    with pytest.raises(WorkbookError):
        perfxl.read(path)


def test_workbook_without_a_sheet_part(book, tmp_path):
    path = tmp_path / "partless.xlsx"
    with zipfile.ZipFile(book) as src, zipfile.ZipFile(path, "w") as dst:
        for item in src.infolist():
            if item.filename != "xl/worksheets/sheet1.xml":
                dst.writestr(item, src.read(item))
    with pytest.raises(WorkbookError):
        perfxl.read(path)


# -- the command line ---------------------------------------------------------------------------
def run(*args):
    return subprocess.run([sys.executable, "-m", "perfxl.cli", "read", *map(str, args)],
                          capture_output=True, text=True, encoding="utf-8")


def test_cli_yaml_to_stdout(spec, book):
    done = run(book)
    assert done.returncode == 0, done.stderr
    assert perfxl.parse_spec(done.stdout) == spec
    assert done.stderr == ""


def test_cli_json_with_warnings(spec, book, tmp_path):
    edited = edit(book, lambda ws, wb: ws.__setitem__("E17", ">="))
    done = run(edited, "--format", "json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["warnings"] == [{"location": f"{edited}!{SHEET}!E17", "message": "指标值类型「>=」按「≥」读取"}]
    out = tmp_path / "spec.json"
    out.write_text(done.stdout, encoding="utf-8")
    assert perfxl.load_spec(out) == spec


@pytest.mark.parametrize("name", ["out.yaml", "out.json"])
def test_cli_output_file(spec, book, tmp_path, name):
    out = tmp_path / name
    done = run(book, "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    assert perfxl.load_spec(out) == spec
    assert out.name in done.stderr


def test_cli_yaml_warnings_on_stderr(book):
    edited = edit(book, lambda ws, wb: ws.__setitem__("E17", ">="))
    done = run(edited)
    assert done.returncode == 0
    assert f"{SHEET}!E17" in done.stderr


def test_cli_bad_file_is_one_line(tmp_path):
    path = tmp_path / "bad.xlsx"
    path.write_bytes(b"not a workbook")
    done = run(path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr


@pytest.mark.parametrize("unit", ["*", "（市）财政局", "财政局：预算科", "Finance Bureau"])
def test_unit_line_keeps_the_unit_as_written(tmp_path, unit, example_path):
    spec = perfxl.load_spec(example_path)
    for project in spec.projects:
        project.unit = unit
    assert perfxl.read(perfxl.render(spec, tmp_path / "unit.xlsx")).spec == spec


# -- whatever a clerk does, the reader answers with a spec or a one-line error -----------------
EDIT_VALUES = st.one_of(
    st.sampled_from([None, "", " ", 0, 1.5, -3, 0.85, "95%", "1,500", "=A1", "=", ">=", "约等于", "定性",
                     "\n", "成本指标", "满意度", "#N/A", True, datetime.datetime(2025, 1, 1), "x" * 300]),
    st.sampled_from([c.label for c in TEMPLATE.columns] + [TEMPLATE.block_label, "项目名称", "项目类别",
                     "年度本级预算金额", "支出测算依据及说明", "2025年项目支出绩效目标表", "金额单位：千元"]),
    st.text(st.characters(categories=["L", "N", "P", "S", "Zs"]), max_size=8))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.integers(1, 40), st.integers(1, 12), EDIT_VALUES, st.booleans()),
                      min_size=1, max_size=12),
       unmerge=st.integers(0, 8), insert=st.one_of(st.none(), st.integers(1, 40)))
def test_random_edits_never_crash(book, edits, unmerge, insert):
    def change(ws, wb):
        for m in list(ws.merged_cells.ranges)[:unmerge]:
            ws.unmerge_cells(str(m))
        if insert:
            insert_row(ws, insert)
        for row, col, value, percent in edits:
            cell = ws.cell(row, col)
            if not isinstance(cell, openpyxl.cell.cell.MergedCell):
                cell.value = value
                if percent:
                    cell.number_format = "0%"
    path = edit(book, change)
    try:
        result = perfxl.read(path)
    except WorkbookError as exc:
        assert "\n" not in str(exc)
        return
    if not any("名称为空" in w.message for w in result.warnings):
        assert perfxl.parse_spec(perfxl.dump_spec(result.spec)) == result.spec


def test_an_empty_field_is_located_at_its_value_cell_not_inside_the_label(tmp_path):
    book = perfxl.blank(tmp_path / "b.xlsx")
    where = perfxl.read(book).spec.projects[0].where
    assert (where["budget"].cell, where["name"].cell, where["basis"].cell) == ("G4", "B3", "B18")


# -- the unit line as offices write it, and values written with their comparator ------------------
def cells(**values):
    def change(ws, wb):
        for ref, value in values.items():
            ws[ref] = value
    return change


@pytest.mark.parametrize("edits, unit, amount", [
    ({"A2": "填报单位：（盖章）   单位：万元", "G2": None}, None, "万元"),          # both in one cell
    ({"A2": "填报单位（盖章）：某某局     金额单位：万元", "G2": None}, "某某局", "万元"),
    ({"A2": "填报单位：某某局", "G2": "单位：万元"}, "某某局", "万元"),            # 单位 for 金额单位
    ({"A2": "填报单位：某某局", "G2": "金额单位：万元"}, "某某局", "万元"),
    ({"A2": "填报单位：某某局", "G2": "单位：元"}, "某某局", "元"),
])
def test_the_amount_unit_is_read_wherever_the_unit_line_puts_it(book, edits, unit, amount):
    project = perfxl.read(edit(book, cells(**edits))).spec.projects[0]
    assert (project.unit, project.amount_unit) == (unit, amount)


def test_a_unit_name_after_the_word_unit_is_not_an_amount_unit(book):
    result = perfxl.read(edit(book, cells(A2="单位：某某局", G2="金额单位：万元")))
    project = result.spec.projects[0]
    assert project.amount_unit == "万元" and project.unit != "某某局" or any(
        "某某局" in w.message for w in result.warnings)


def test_a_standalone_unit_row_in_the_title_area_gives_the_amount_unit(book):
    def change(ws, wb):
        ws["G2"] = None
        ws.insert_rows(2)
        ws["A2"] = "单位：万元"
    project = perfxl.read(edit(book, change)).spec.projects[0]
    assert project.amount_unit == "万元"


@pytest.mark.parametrize("typed, want", [
    ("≥95%", ("≥", 95, "%")),
    (">=95 %", ("≥", 95, "%")),
    ("≤3天", ("≤", 3, "天")),
    ("＜5", ("<", 5, None)),
    ("＝100%", ("=", 100, "%")),            # full-width: "=100%" typed in Excel is a formula
    ("不低于90%", ("≥", 90, "%")),
    ("1600元/亩", (None, "1600元/亩", None)),        # no comparator, no type: kept (P-TYPE-MISSING)
])
def test_a_value_written_with_its_comparator_and_unit_is_split_with_a_warning(book, typed, want):
    result = perfxl.read(edit(book, cells(E11=None, F11=typed, H11=None)))
    item = result.spec.projects[0].indicators["产出指标"]["数量指标"][0]
    assert (item.type, item.value, item.unit) == want
    if want[0] is None:
        assert not [w for w in result.warnings if w.location.endswith("!F11")]
        return
    [warning] = [w for w in result.warnings if w.location.endswith("!F11")]
    assert typed in warning.message and "拆分" in warning.message


@pytest.mark.parametrize("type_, typed, unit", [("=", "≥95%", None), ("≥", "≥95%", "人"), ("≥", "≥很多", None)])
def test_a_split_never_overrides_what_the_type_and_unit_cells_say(book, type_, typed, unit):
    result = perfxl.read(edit(book, cells(E11=type_, F11=typed, H11=unit)))
    item = result.spec.projects[0].indicators["产出指标"]["数量指标"][0]
    assert (item.type, item.value, item.unit) == (type_, typed, unit)       # kept as typed
    assert "P-QUANT-VALUE" in {f.rule for f in perfxl.check(result.spec)}


def test_a_year_on_its_own_line_under_a_title_in_other_words(book):
    def change(ws, wb):
        ws["A1"] = "项目支出绩效目标表"
        insert_row(ws, 2, extend=False)
        ws["A2"] = "（2022年度）"
    result = perfxl.read(edit(book, change))
    assert result.spec.projects[0].year == 2022
    assert not [w for w in result.warnings if "未识别" in w.message]


def test_a_star_marked_core_indicator_keeps_its_name_with_a_warning(book):
    result = perfxl.read(edit(book, cells(D11="★★补缴社保、医保人员")))
    item = result.spec.projects[0].indicators["产出指标"]["数量指标"][0]
    assert item.name == "补缴社保、医保人员"
    assert any(w.location.endswith("!D11") and "核心指标" in w.message for w in result.warnings)


def test_values_written_below_their_labels_are_read(tmp_path):
    """A row of labels with nothing beside them, the values on the row below (forms.md §2: 年度目标
    as a header row, the goal text under it): each value is read under its label's span."""
    wb = openpyxl.Workbook()
    ws = wb.active
    for row in [["2025年项目支出绩效目标表"], ["填报单位：某局"],
                ["项目名称", None, "项目类别", None, "年度本级预算金额"],
                ["道路养护", None, "一般项目", None, 1000],
                ["本年度绩效目标"], ["完成养护100公里"],
                ["本年度绩效指标", "一级指标", "二级指标", "三级指标", "指标值类型", "指标值", "指标值内容", "度量单位"],
                [None, "产出指标", "数量指标", "养护里程", "≥", 100, None, "公里"],
                ["支出测算依据及说明", "按每公里1万元测算"]]:
        ws.append(row)
    ws["D4"] = "旁注"                                # under no label: named, not read
    wb.save(tmp_path / "below.xlsx")
    result = perfxl.read(tmp_path / "below.xlsx", template="project-expenditure")
    (project,) = result.spec.projects
    assert (project.name, project.category, project.budget, project.goal, project.basis) == (
        "道路养护", "一般项目", 1000, "完成养护100公里", "按每公里1万元测算")
    assert [(w.location.rsplit("!", 1)[1], w.message) for w in result.warnings] == [("D4", "「旁注」不属于任何字段，未读入")]
    assert str(project.where["name"]).endswith("!A4") and str(project.where["budget"]).endswith("!E4")


def test_a_blank_form_does_not_take_the_next_row_of_labels_as_values(tmp_path):
    book = perfxl.blank(tmp_path / "b.xlsx")
    (project,) = perfxl.read(book).spec.projects
    assert all(project.get(k) is None for k in ("name", "category", "budget", "period", "goal", "basis"))
