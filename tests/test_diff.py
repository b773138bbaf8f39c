"""`perfxl diff`: changes between specs and workbooks, and the --sent and --last-year readings."""
from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

import perfxl
from perfxl.cli import main
from perfxl.diff import diff, differs
from perfxl.model import Indicator

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "specs" / "example.yaml"
SPECS = ["example.yaml", "county.yaml", "declaration.yaml", "department.yaml"]


def lines(changes) -> list[str]:
    return [str(c) for c in changes]


@pytest.mark.parametrize("name", SPECS)
def test_a_spec_and_its_workbook_are_the_same(tmp_path, capsys, name):
    spec = ROOT / "specs" / name
    book = perfxl.render(perfxl.load_spec(spec), tmp_path / "a.xlsx")
    assert main(["diff", str(spec), str(book)]) == 0
    captured = capsys.readouterr()
    assert captured.out == "" and "两边相同" in captured.err


def test_changes_are_named_by_the_forms_words():
    old = perfxl.load_spec(EXAMPLE)
    new = copy.deepcopy(old)
    first = new.projects[0]
    first.category = "其他类"
    first.indicators["产出指标"]["数量指标"][0].value = 12
    first.indicators["产出指标"]["质量指标"].append(Indicator("新指标", "≥", 90, unit="%"))
    del first.indicators["效益指标"]["社会效益"][0]
    new.projects.pop()
    head = f"项目「{first.name}」（外经科公共专项）："
    assert lines(diff(old, new)) == [
        head + "项目类别 特定目标类 → 其他类",
        head + "产出指标/数量指标/补缴社保、医保人员: 指标值 11 → 12",
        head + "删除指标 效益指标/社会效益/相关企业人员（定性 稳定）",
        head + "新增指标 产出指标/质量指标/新指标（≥ 90 %）",
        f"项目「{old.projects[1].name}」（外经科公共专项）：删除的项目",
    ]


def test_flat_table_rows_are_compared_by_their_first_column():
    old = perfxl.load_spec(ROOT / "specs" / "department.yaml")
    new = copy.deepcopy(old)
    project = new.projects[0]
    key = next(iter(project.tables))
    entry = project.tables[key][0]
    money = next(k for k, v in entry.values.items() if isinstance(v, (int, float)))
    entry.values[money] += 1
    changed = [c for c in diff(old, new) if c.what == "entry"]
    assert len(changed) == 1 and changed[0].kind == "changed" and changed[0].new == changed[0].old + 1


def test_sent_reading_flags_what_the_office_filled_and_the_unit_changed():
    sent = perfxl.parse_spec("projects:\n  - {unit: 甲局, name: 路灯, budget: 100, category: 专项,\n"
                             "     indicators: {产出指标: {数量指标: [{name: 盏数, type: '=', value: 5, unit: 盏}]}}}\n"
                             "  - {unit: 乙局, name: 绿化, budget: 7}\n")
    back = perfxl.parse_spec("projects:\n  - {unit: 甲局, name: 路灯, budget: 120, category: 专项, period: 2027年,\n"
                             "     indicators: {产出指标: {数量指标: [{name: 亮灯率, type: ≥, value: 95, unit: '%'}]}}}\n")
    changes = diff(sent, back, "sent")
    flagged = [c for c in changes if c.flag]
    assert [(c.column or c.path, c.flag) for c in flagged] == [
        ("年度本级预算金额", "改动了下发时已填的内容"), ("产出指标/数量指标/盏数", "删除了下发时已有的内容")]
    assert {c.path for c in changes if not c.flag} == {"项目支出实施期", "产出指标/数量指标/亮灯率"}
    assert all(c.unit == "甲局" for c in changes)          # 乙局's project is not 甲局's return


def test_last_year_reading():
    last = perfxl.parse_spec(
        "projects:\n  - name: 路灯\n    budget: 100\n    goal: 保障路灯正常运行\n    indicators:\n"
        "      产出指标: {数量指标: [{name: 亮灯率, type: ≥, value: 95, unit: '%'}, {name: 故障率, type: ≤, value: 2, unit: '%'},\n"
        "                  {name: 巡查次数, type: '=', value: 12, unit: 次}]}\n")
    this = perfxl.parse_spec(
        "projects:\n  - name: 路灯\n    budget: 80\n    goal: 保障路灯正常运行\n    indicators:\n"
        "      产出指标: {数量指标: [{name: 亮灯率, type: ≥, value: 90, unit: '%'}, {name: 故障率, type: ≤, value: 3, unit: '%'}]}\n")
    changes = diff(last, this, "last_year")
    assert [(c.column or c.path, c.flag) for c in changes] == [
        ("年度本级预算金额", "比去年减少 20.0%"),
        ("本年度绩效目标", "与去年的一字不差"),
        ("指标值", "目标值比去年降低（≥）"),
        ("指标值", "目标值比去年提高（≤）"),
        ("产出指标/数量指标/巡查次数", "去年有的指标今年没有了"),
    ]
    assert differs(changes)
    assert not differs(diff(last, copy.deepcopy(last), "last_year"))     # copied texts alone: the same


def test_amount_units_are_converted_for_the_percent():
    last = perfxl.parse_spec("amount_unit: 万元\nprojects:\n  - {name: 路灯, budget: 10}\n")
    this = perfxl.parse_spec("projects:\n  - {name: 路灯, budget: 110000}\n")
    budget = next(c for c in diff(last, this, "last_year") if c.column == "年度本级预算金额")
    assert budget.flag == "比去年增加 10.0%"


def test_rows_of_the_same_name_pair_in_order():
    old = perfxl.parse_spec("projects:\n  - name: 甲\n    indicators: {产出指标: {数量指标: [{name: 数, value: 1}, {name: 数, value: 2}]}}\n")
    new = perfxl.parse_spec("projects:\n  - name: 甲\n    indicators: {产出指标: {数量指标: [{name: 数, value: 1}, {name: 数, value: 3}]}}\n")
    assert lines(diff(old, new)) == ["项目「甲」：产出指标/数量指标/数（第 2 个）: 指标值 2 → 3"]


def test_json_and_exit_codes(tmp_path, capsys):
    new = perfxl.load_spec(EXAMPLE)
    new.projects[0].period = "2026年"
    (tmp_path / "new.yaml").write_text(perfxl.dump_spec(new), encoding="utf-8")
    assert main(["diff", str(EXAMPLE), str(tmp_path / "new.yaml"), "--format", "json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == [{"project": new.projects[0].name, "unit": "外经科公共专项", "kind": "changed", "what": "field",
                     "path": "项目支出实施期", "column": "项目支出实施期", "old": "2025年", "new": "2026年"}]
    (tmp_path / "bad.xlsx").write_bytes(b"not a workbook")
    assert main(["diff", str(EXAMPLE), str(tmp_path / "bad.xlsx")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.xlsx" in err[0]


def test_a_renamed_unit_still_matches_its_projects():
    last = perfxl.load_spec(EXAMPLE)
    this = copy.deepcopy(last)
    for project in this.projects:
        project.unit = "新的单位"
    changes = diff(last, this, "last_year")
    assert {(c.what, c.column, c.old, c.new) for c in changes if c.kind != "copied"} == {
        ("field", "填报单位", "外经科公共专项", "新的单位")}
