"""Flat tables (年度主要任务, 项目实施进度计划): declared in the form file, drawn with a live 合计 row,
checked row by row, read back from any workbook, and typed into by a clerk in LibreOffice."""
from __future__ import annotations

import json
import re

import openpyxl
import pytest

import perfxl
from perfxl.errors import SpecError, TemplateError
from perfxl.formfile import shipped_dir
from perfxl.spec import parse_spec
from perfxl.template import load_template

from conftest import ROOT

DEPARTMENT = ROOT / "specs" / "department.yaml"


def _cells(ws, text):
    return [c for row in ws.iter_rows() for c in row if c.value == text]


def _row_of(ws, text) -> int:
    (cell,) = _cells(ws, text)
    return cell.row


def test_the_task_table_draws_its_label_header_rows_and_a_live_total(tmp_path):
    spec = perfxl.load_spec(DEPARTMENT)
    book = perfxl.render(spec, tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(book).worksheets[0]
    label = _row_of(ws, "年度主要任务")
    total = _row_of(ws, "金额合计")
    first, last = label + 1, total - 1
    assert [ws.cell(first + i, 2).value for i in range(3)] == ["公共文化服务", "文物保护修缮", "文旅宣传推广"]
    assert [ws.cell(label, c).value for c in (2, 3, 5, 6, 7)] == ["任务名称", "主要内容", "预算总额", "财政拨款", "其他资金"]
    merges = {str(m) for m in ws.merged_cells.ranges}
    assert f"A{label}:A{total}" in merges            # the label down the left, header to 合计
    assert f"C{first}:D{first}" in merges            # 主要内容 spans two sheet columns
    assert f"B{total}:D{total}" in merges            # 金额合计 over the columns before the sums
    assert [ws.cell(total, c).value for c in (5, 6, 7)] == [
        f"=SUM($E${first}:$E${last})", f"=SUM($F${first}:$F${last})", f"=SUM($G${first}:$G${last})"]
    cached = openpyxl.load_workbook(book, data_only=True).worksheets[0]
    assert [cached.cell(total, c).value for c in (5, 6, 7)] == [3260, 3000, 260]
    assert cached.cell(1, 9).value == "通过"


def test_a_total_that_misses_the_budget_is_flagged_live_and_by_check(tmp_path, libreoffice):
    spec = perfxl.load_spec(DEPARTMENT)
    spec.projects[0].tables["tasks"][0].set("amount", 1200)
    spec.projects[0].tables["tasks"][0].set("fiscal", 1200)
    book = perfxl.render(spec, tmp_path / "d.xlsx")
    findings = perfxl.check(book)
    assert [(f.rule, f.location.rsplit("!", 1)[1]) for f in findings] == [
        ("G-TASK-TOTAL", f"E{_row_of(openpyxl.load_workbook(book).worksheets[0], '金额合计')}")]
    recalculated = libreoffice.convert(book, "xlsx", tmp_path / "lo")         # LibreOffice recalculates
    for path in (book, recalculated):
        status = openpyxl.load_workbook(path, data_only=True).worksheets[0].cell(1, 9).value
        assert status == "本表 1 处问题", path


def test_a_task_row_breaking_its_split_is_found_at_its_cells(tmp_path):
    spec = perfxl.load_spec(DEPARTMENT)
    entry = spec.projects[0].tables["tasks"][1]
    entry.set("other", 10)                               # 900 + 10 ≠ 980
    findings = perfxl.check(spec)
    assert [(f.rule, f.table, f.level1, f.indicator) for f in findings] == [
        ("G-TASK-SPLIT", "tasks", "年度主要任务", "文物保护修缮")]
    from perfxl.check import json_report
    assert json.loads(json_report(findings))["findings"][0]["table"] == "tasks"
    book = perfxl.render(spec, tmp_path / "d.xlsx")
    back = perfxl.check(book)
    split = next(f for f in back if f.rule == "G-TASK-SPLIT")
    ws = openpyxl.load_workbook(book).worksheets[0]
    assert split.location.endswith(f"!F{_row_of(ws, '文物保护修缮')}")     # blamed: 财政拨款 first
    mark = openpyxl.load_workbook(book, data_only=True).worksheets[0].cell(_row_of(ws, "文物保护修缮"), 9).value
    assert mark == split.message


def test_a_clerk_inserting_a_task_row_in_libreoffice_moves_the_total_and_the_checks_agree(tmp_path, uno):
    """Through UNO: a row inserted above the last task (inside the SUM's range, as 插入行 does), a
    task typed into it. LibreOffice's SUM takes the new row, the total no longer matches the 年度预算,
    and perfxl check of the saved file says the same at the moved 合计 row."""
    book = perfxl.render(perfxl.load_spec(DEPARTMENT), tmp_path / "d.xlsx")
    ws = openpyxl.load_workbook(book).worksheets[0]
    last = _row_of(ws, "文旅宣传推广")
    typed = uno.type_into(book, tmp_path / "typed.xlsx", {
        f"+{last}": "", f"B{last}": "新增任务", f"C{last}": "非遗展演", f"E{last}": "200", f"F{last}": "200"})
    values = openpyxl.load_workbook(typed, data_only=True).worksheets[0]
    total = _row_of(values, "金额合计")
    assert total == _row_of(ws, "金额合计") + 1
    assert values.cell(total, 5).value == 3460
    assert "年度主要任务的金额合计应等于年度预算资金总额。" in str(values.cell(total, 9).value)
    back = perfxl.read(typed)
    assert [e.get("task") for e in back.spec.projects[0].tables["tasks"]] == [
        "公共文化服务", "文物保护修缮", "新增任务", "文旅宣传推广"]
    findings = perfxl.check(typed)
    assert [(f.rule, f.location.rsplit("!", 1)[1]) for f in findings] == [("G-TASK-TOTAL", f"E{total}")]
    assert values.cell(1, 9).value == "本表 1 处问题"


def test_a_total_typed_over_is_named_and_the_rows_decide(tmp_path):
    book = perfxl.render(perfxl.load_spec(DEPARTMENT), tmp_path / "d.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    total = _row_of(ws, "金额合计")
    ws.cell(total, 5).value = 9999
    ws.cell(total - 1, 8).value = "旁注"      # right of the table (column H): named, not read
    wb.save(tmp_path / "edited.xlsx")
    result = perfxl.read(tmp_path / "edited.xlsx")
    messages = {w.location.rsplit("!", 1)[1]: w.message for w in result.warnings}
    assert "9999" in messages[f"E{total}"] and "3260" in messages[f"E{total}"]
    assert messages[f"H{total - 1}"] == "表格右侧的内容「旁注」不属于表格，未读入"
    assert result.spec.projects == perfxl.load_spec(DEPARTMENT).projects


def test_a_workbook_perfxl_did_not_make_with_the_label_on_its_own_row(tmp_path):
    """Another office's sheet: the table's label on a row of its own, then the header row, a blank
    row inside, text amounts; every read cell named where it was normalised."""
    wb = openpyxl.Workbook()
    ws = wb.active
    rows = [["2026年度部门整体支出绩效目标表"], ["部门名称", "某局"], ["年度预算", 100, "财政拨款", 100, "其他资金", 0],
            ["部门职责", "职责"], ["年度总体目标", "目标"], ["年度主要任务"],
            [None, "任务", "主要内容", None, "预算金额", "财政资金", "自有资金"],
            [None, "任务一", "内容一", None, "60", 60], [None], [None, "任务二", None, None, 40, 40],
            [None, "合计", None, None, 100, 100, 0],
            ["绩效指标", "一级指标", "二级指标", "三级指标", "指标值类型", "指标值", "度量单位"],
            [None, "产出指标", "数量指标", "场次", "≥", 3, "场"]]
    for row in rows:
        ws.append(row)
    wb.save(tmp_path / "other.xlsx")
    result = perfxl.read(tmp_path / "other.xlsx")
    assert result.spec.template == "department-overall"
    (project,) = result.spec.projects
    assert [e.to_dict() for e in project.tables["tasks"]] == [
        {"task": "任务一", "content": "内容一", "amount": 60, "fiscal": 60}, {"task": "任务二", "amount": 40, "fiscal": 40}]
    assert [w.location.rsplit("!", 1)[1] for w in result.warnings] == ["E8"]      # "60" typed as text


def test_a_spec_names_its_table_rows_by_the_forms_columns():
    head = "template: department-overall\nprojects:\n  - name: 甲\n    tasks:\n"
    spec = parse_spec(head + "      - {task: 一, amount: 5}\n")
    assert spec.projects[0].tables["tasks"][0].to_dict() == {"task": "一", "amount": 5}
    for body, phrase in [("      - {task: 一, cost: 5}\n", '未知的列 "cost"'),
                         ("      - {task: 一, amount: 五}\n", "应为数字"),
                         ("      - {}\n", "这一行是空的"),
                         ("      - 一\n", "应为键值映射")]:
        with pytest.raises(SpecError) as info:
            parse_spec(head + body)
        assert phrase in info.value.message and info.value.where.line == 5, info.value.message
    with pytest.raises(SpecError) as info:
        parse_spec("template: department-overall\nprojects:\n  - name: 甲\n    task_total: 5\n")
    assert "由各行计算得出" in info.value.message


FORM = (shipped_dir() / "department-overall.yaml").read_text(encoding="utf-8")


@pytest.mark.parametrize("old, new, phrase", [
    ("sums: {amount: task_total,", "sums: {content: task_total,", '"content" 应为本表 kind: money 的列'),
    ("sums: {amount: task_total,", "sums: {amount: budget,", '合计的名字 "budget" 不可用'),
    ('- {key: task, label: 任务名称, cols: B,', '- {key: task, label: 任务名称, cols: "A:B",', "与 label_col 重叠"),
    ("cols: E, kind: money, aliases: [预算金额", "cols: D, kind: money, aliases: [预算金额", '"D" 与第 2 列重叠'),
    ("    blank_rows: 4\n", "    blank_rows: 0\n", "blank_rows 应为 1 到 100"),
    ("    table: tasks\n    blame: [task]", "    table: jobs\n    blame: [task]", "table 只用于 scope: row"),
    ("    table: tasks\n    blame: [amount]", "    table: tasks\n    blame: [name]", "不是表格 tasks 的列"),
    ("when: AND(TRIM(task)<>\"\",NOT(ISNUMBER(amount)))", "when: AND(TRIM(task)<>\"\",NOT(ISNUMBER(cost)))", "cost"),
])
def test_a_mistake_in_a_flat_table_is_one_line_with_its_place(tmp_path, old, new, phrase):
    assert old in FORM
    path = tmp_path / "my-form.yaml"
    path.write_text(FORM.replace(old, new, 1).replace("instructions: department.md.j2",
                                                       "instructions: instructions.md.j2"), encoding="utf-8")
    with pytest.raises(TemplateError) as info:
        load_template(str(path))
    assert phrase in info.value.message, info.value.message
    changed = next(text for text in new.splitlines() if text not in old.splitlines())
    line = next(i for i, text in enumerate(FORM.replace(old, new, 1).splitlines(), 1) if changed in text)
    assert re.search(rf"my-form\.yaml:{line}(:\d+)?$", str(info.value.where)), (str(info.value.where), line)


COUNTY = ROOT / "specs" / "county.yaml"


def test_the_county_form_draws_its_schedule_between_the_particulars_and_the_goals(tmp_path):
    book = perfxl.render(perfxl.load_spec(COUNTY), tmp_path / "c.xlsx")
    ws = openpyxl.load_workbook(book).worksheets[0]
    column_a = [c.value for c in ws["A"] if c.value]
    assert column_a.index("项目申报的必要性") < column_a.index("项目实施进度计划") < column_a.index("长期目标") \
        < column_a.index("长期绩效指标") < column_a.index("年度绩效指标") < column_a.index("填报人")
    schedule = _row_of(ws, "项目实施进度计划")
    assert [ws.cell(schedule + 1, c).value for c in (2, 5, 6)] == ["施工图设计审查和招标", "2026年3月", "2026年4月"]
    # no 指标值类型 column: the value is written as the form writes it, and no dropdown is drawn
    assert ws.cell(_cells(ws, "≥48公里")[0].row, 4).value == "提质改造里程"
    assert not ws.data_validations.dataValidation


def test_a_county_value_keeps_its_comparison_and_unit_as_written(tmp_path):
    """The county form has no 指标值类型 or 度量单位 column: '≥95%' typed into 指标值 stays '≥95%'
    (a split would give the spec keys the form cannot draw), a bare number reads as a number."""
    book = perfxl.render(perfxl.load_spec(COUNTY), tmp_path / "c.xlsx")
    wb = openpyxl.load_workbook(book)
    ws = wb.worksheets[0]
    row = _cells(ws, "≥48公里")[-1].row
    ws.cell(row, 5).value = "不低于 50 公里"
    wb.save(tmp_path / "edited.xlsx")
    result = perfxl.read(tmp_path / "edited.xlsx")
    item = next(i for _, _, i in result.spec.projects[0].rows() if i.name == "提质改造里程")
    assert (item.type, item.value, item.unit) == (None, "不低于 50 公里", None)
    assert result.warnings == []
    reloaded = parse_spec(perfxl.dump_spec(result.spec), str(tmp_path / "back.yaml"))
    assert reloaded.projects == result.spec.projects


def test_on_a_protected_blank_the_totals_are_locked_and_the_task_cells_open(tmp_path):
    book = perfxl.blank(tmp_path / "p.xlsx", template="department-overall", protect=True)
    ws = openpyxl.load_workbook(book).worksheets[0]
    total = _row_of(ws, "金额合计")
    assert ws.protection.sheet
    assert all(ws.cell(total, c).protection.locked for c in (5, 6, 7))          # the live SUMs
    assert ws.cell(total, 5).value.startswith("=SUM(")
    first = _row_of(ws, "年度主要任务") + 1
    assert all(ws.cell(r, c).protection.locked is False for r in range(first, total) for c in (2, 3, 5, 6, 7))


def test_a_finding_in_a_further_block_names_its_block_and_the_main_block_none():
    """A finding points at its record, table, group and row: a row of the county form's 长期绩效指标
    block names that block; a row of the main block and a field name no table (JSON leaves it out)."""
    spec = perfxl.load_spec(ROOT / "specs" / "county.yaml")
    project = spec.projects[0]
    long_row = project.blocks["long_indicators"]["产出指标"]["数量指标"][0]
    long_row.name = ""
    main_row = next(project.rows())[2]
    main_row.name = ""
    project.name = ""
    findings = perfxl.check(spec)
    tables = {(f.table, f.level1) for f in findings if f.level1}
    assert ("long_indicators", "产出指标") in tables and (None, next(project.rows())[0]) in tables, findings
    field = next(f for f in findings if f.level1 is None and f.table is None)
    assert "table" not in field.to_dict()
