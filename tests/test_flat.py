"""The budget system's flat layout: `perfxl export --flat` and `perfxl read` of flat files."""
from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import perfxl
from perfxl.cli import main
from perfxl.diff import diff
from perfxl.flat import flat_layout

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"example.yaml": "project-expenditure", "county.yaml": "county-project",
         "declaration.yaml": "project-declaration", "department.yaml": "department-overall"}


def indicators(spec) -> list:
    return [(p.unit, p.name, block, row) for p in spec.projects for block in ("indicators", *p.blocks)
            for row in p.rows(block)]


@pytest.mark.parametrize("merge", [False, True])
@pytest.mark.parametrize("suffix", [".xlsx", ".csv"])
@pytest.mark.parametrize("name", sorted(SPECS))
def test_every_form_exports_flat_and_reads_back(tmp_path, capsys, name, suffix, merge):
    spec_path = ROOT / "specs" / name
    out = tmp_path / f"flat{suffix}"
    args = ["export", str(spec_path), "--flat", "-o", str(out)] + (["--merge-value"] if merge else [])
    assert main(args) == 0
    assert "这些栏目没有导出" in capsys.readouterr().err          # the fields are named as left out
    original = perfxl.load_spec(spec_path)
    back = perfxl.read(out, template=SPECS[name])
    assert indicators(back.spec) == indicators(original)
    assert {c.what for c in diff(original, back.spec)} <= {"field", "entry"}    # the indicators are all equal


def test_the_columns_are_the_systems(tmp_path):
    perfxl_cli = main(["export", str(ROOT / "specs" / "example.yaml"), "--flat", "-o", str(tmp_path / "f.xlsx")])
    assert perfxl_cli == 0
    ws = openpyxl.load_workbook(tmp_path / "f.xlsx").worksheets[0]
    assert ws.title == flat_layout().sheet
    assert [c.value for c in ws[1]] == ["项目名称", "填报单位", "一级指标", "二级指标", "三级指标名称", "计算符号",
                                        "年度指标值", "计量单位", "指标解释", "评（扣）分标准", "备注"]
    assert [c.value for c in ws[2]][:8] == ["市属商贸企业遗留问题专项资金", "外经科公共专项", "成本指标", "经济成本指标",
                                            "资金投入率", "=", 100, "%"]
    assert not ws.merged_cells.ranges
    main(["export", str(ROOT / "specs" / "example.yaml"), "--flat", "--merge-value", "-o", str(tmp_path / "m.csv")])
    raw = (tmp_path / "m.csv").read_bytes()
    assert raw.startswith("\ufeff".encode()) and "'=100%".encode() in raw and b"\r\n" in raw
    header = raw.decode("utf-8-sig").splitlines()[0].split(",")
    assert header[5] == "指标值" and "计算符号" not in header and "计量单位" not in header


def test_a_flat_file_from_elsewhere(tmp_path):
    """Headers with * for required columns, a percent cell, a column the form has no place for,
    an unknown column, a row without its 三级 name."""
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["*项目名称", "*一级指标", "*二级指标", "*三级指标名称", "计算符号", "年度指标值", "计量单位",
               "评（扣）分标准", "联系人"])
    ws.append(["路灯", "产出指标", "质量指标", "亮灯率", "≥", 0.95, None, "每低1%扣1分", "张三"])
    ws.append(["路灯", "产出指标", "数量指标", None, "=", 5, "盏", None, None])
    ws.append(["路灯", "满意度", "服务对象满意度", "满意度", ">=", "90", "%", None, None])
    ws["F2"].number_format = "0%"
    book.save(tmp_path / "system.xlsx")
    result = perfxl.read(tmp_path / "system.xlsx")
    project = result.spec.projects[0]
    assert project.name == "路灯" and project.unit is None
    rate = project.indicators["产出指标"]["质量指标"][0]
    assert (rate.name, rate.type, rate.value, rate.unit) == ("亮灯率", "≥", 95, "%")
    happy = project.indicators["满意度"]["服务对象满意度"][0]
    assert (happy.type, happy.value) == ("≥", 90)
    assert project.indicators["产出指标"]["数量指标"] == []
    messages = {w.location.split("!")[-1]: w.message for w in result.warnings}
    assert "没有「评（扣）分标准」这一栏" in messages["H2"]
    assert "「联系人」不是平铺格式的列" in messages["I2"]
    assert "缺三级指标名称" in messages["B3"]
    assert "百分比格式" in messages["F2"] and "按「≥」读入" in messages["E4"] and "按数字 90" in messages["F4"]


def test_csv_text_that_looks_like_a_formula_stays_text(tmp_path):
    spec = perfxl.parse_spec("projects:\n  - name: '=1+1'\n    indicators: {产出指标: {数量指标: "
                             "[{name: '-开头', type: 定性, value: '@值'}, {name: '+2', type: '=', value: -3, unit: 个}]}}\n")
    (tmp_path / "s.yaml").write_text(perfxl.dump_spec(spec), encoding="utf-8")
    assert main(["export", str(tmp_path / "s.yaml"), "--flat", "-o", str(tmp_path / "f.csv")]) == 0
    text = (tmp_path / "f.csv").read_text(encoding="utf-8-sig")
    assert "'=1+1" in text and "'-开头" in text and "'@值" in text and ",-3," in text
    back = perfxl.read(tmp_path / "f.csv").spec
    assert indicators(back) == indicators(spec) and back.projects[0].name == "=1+1"


texts = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=20).filter(
    lambda t: t.strip() == t and t not in ("'",))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(names=st.lists(texts, min_size=1, max_size=5, unique=True),
       values=st.lists(st.one_of(st.integers(-10**6, 10**6), texts), min_size=5, max_size=5))
def test_flat_csv_round_trip(tmp_path, names, values):
    rows = [perfxl.Indicator(n, "定性" if isinstance(v, str) else "=", v) for n, v in zip(names, values)]
    spec = perfxl.Spec([perfxl.Project(name="甲", unit="乙", indicators={"产出指标": {"数量指标": rows}})])
    from perfxl.flat import write_flat

    write_flat(spec, tmp_path / "f.csv")
    back = perfxl.read(tmp_path / "f.csv").spec
    assert [(i.name, i.type, i.value) for _, _, i in back.projects[0].rows()] == \
        [(i.name, i.type, i.value) for i in rows]
