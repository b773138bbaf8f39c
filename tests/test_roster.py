"""Sending forms out: `perfxl blank --roster` — one pre-filled workbook per 填报单位, on every form."""
from __future__ import annotations

import csv
import os
from pathlib import Path

import openpyxl
import pytest
import yaml
from hypothesis import given, settings, strategies as st

import perfxl
from perfxl.cli import main
from perfxl.layout import indicator_rows
from perfxl.office.roster import load_roster
from perfxl.office.sendout import MAX_NAME, UNSAFE, WINDOWS_RESERVED, safe_file_names, send_out
from perfxl.template import load_template

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"project-expenditure": "example.yaml", "county-project": "county.yaml",
         "project-declaration": "declaration.yaml", "department-overall": "department.yaml"}


def roster_rows(form, spec_path: Path, units=("甲局", "乙局")) -> list[dict]:
    """A roster of a shipped spec's projects: their short fields by the form's labels, the
    projects dealt out to `units`, last year's indicators from the spec itself."""
    spec = perfxl.load_spec(spec_path)
    rows = []
    for i, project in enumerate(spec.projects):
        row = {form.key_label("unit"): units[i % len(units)]}
        for key in form.field_keys:
            if form.field_kinds[key] != "long_text" and project.get(key) is not None and key not in form.sum_fields:
                row[form.key_label(key)] = project.get(key)
        row["上年"] = str(spec_path)
        rows.append(row)
    return rows


def write_csv(path: Path, rows: list[dict]):
    names = list(dict.fromkeys(k for row in rows for k in row))
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        out = csv.DictWriter(fh, names)
        out.writeheader()
        out.writerows(rows)
    return path


def write_xlsx(path: Path, rows: list[dict]):
    names = list(dict.fromkeys(k for row in rows for k in row))
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["报送名册"])           # a title row above the header is not the header
    ws.append([])
    ws.append(names)
    for row in rows:
        ws.append([row.get(n) for n in names])
    book.save(path)
    return path


@pytest.mark.parametrize("form_name", sorted(SPECS))
def test_every_form_sends_out_prefilled_workbooks_that_read_back(tmp_path, form_name):
    form = load_template(form_name)
    spec_path = ROOT / "specs" / SPECS[form_name]
    roster = write_csv(tmp_path / "名册.csv", roster_rows(form, spec_path))
    code = main(["blank", "--template", form_name, "--roster", str(roster), "-o", str(tmp_path / "out"),
                 "--year", "2027", "--rows", "3", "--due", "2027-01-15"])
    assert code == 0
    loaded = load_roster(roster, form)
    last_year = perfxl.load_spec(spec_path)
    for unit, entries in loaded.units().items():
        book = perfxl.read(tmp_path / "out" / f"{unit}.xlsx")
        assert book.warnings == []
        assert [p.name for p in book.spec.projects] == [e.project.name for e in entries]
        for back, entry in zip(book.spec.projects, entries):
            assert back.unit == unit and back.year == 2027
            assert back.to_dict() == entry.project.to_dict()
            before = next(p for p in last_year.projects if p.name == back.name)
            for block in ("indicators", *before.blocks):      # last year's rows, every one of them
                assert [r for r in back.rows(block)] == [r for r in before.rows(block)]
        sheets = openpyxl.load_workbook(tmp_path / "out" / f"{unit}.xlsx")
        cover = sheets[form.instructions_sheet]["A1"].value
        assert cover.startswith(f"发给：{unit}（{len(entries)} 个项目") and "2027年1月15日" in sheets[form.instructions_sheet]["A2"].value
    sent = perfxl.load_spec(tmp_path / "out" / "sent.yaml")
    assert [p.to_dict() for p in sent.projects] == [e.project.to_dict() for e in loaded.entries]


def test_prefilled_rows_are_kept_and_every_group_gets_spare_rows(tmp_path):
    form = load_template()
    roster = write_xlsx(tmp_path / "r.xlsx", roster_rows(form, ROOT / "specs" / "example.yaml", units=("甲局",)))
    sent = send_out(load_roster(roster, form), tmp_path / "out", rows=2)
    ws = openpyxl.load_workbook(sent[0].path).worksheets[0]
    project = load_roster(roster, form).entries[0].project
    rows = indicator_rows(project, form, 2)
    groups = {(l1, l2) for l1, groups in form.skeleton.items() for l2 in groups}
    filled = sum(1 for _ in project.rows())
    assert len(rows) == filled + 2 * len(groups)
    name_col = form.col["name"] + 1
    header = next(c.row for c in ws.iter_cols(min_col=name_col, max_col=name_col).__next__() if c.value == "三级指标")
    names = [ws.cell(header + 1 + i, name_col).value for i in range(len(rows))]
    assert names == [item.name if item else None for _, _, item in rows]
    dv = ws.data_validations.dataValidation
    assert len(dv) == 1 and str(dv[0].sqref) == f"E{header + 1}:E{header + len(rows)}"
    assert all(ws.cell(header + 1 + i, form.mark_col + 1).data_type == "f" for i in range(len(rows)))


def test_yaml_roster_and_defaults(tmp_path):
    roster = tmp_path / "r.yaml"
    roster.write_text("projects:\n  - {填报单位: 丙局, 项目名称: 路灯维护, 年度本级预算金额: 12.5, 金额单位: 万元}\n"
                      "  - {unit: 丙局, name: 绿化, budget: 30000}\n", encoding="utf-8")
    assert main(["blank", "--roster", str(roster), "-o", str(tmp_path / "out"), "--amount-unit", "元"]) == 0
    back = perfxl.read(tmp_path / "out" / "丙局.xlsx").spec.projects
    assert [(p.name, p.budget, p.amount_unit) for p in back] == [("路灯维护", 12.5, "万元"), ("绿化", 30000, "元")]


@pytest.mark.parametrize("content, expected", [
    ("项目名称,年度本级预算金额\n甲,100\n", "名册缺少「填报单位」列"),
    ("填报单位,年度本级预算金额\n甲局,100\n", "名册缺少「项目名称」列"),
    ("填报单位,项目名称,年度本级预算金额\n甲局,路,一百万\n", "r.csv:2:3: 「年度本级预算金额」应为金额（数字），不是「一百万」"),
    ("填报单位,项目名称\n甲局,路\n乙局,桥\n甲局,路\n", "r.csv:4:2: 项目「路」（甲局）在名册中出现了两次，另一次在"),
    ("填报单位,项目名称\n甲局,路\n,桥\n", "r.csv:3:1: 「填报单位」是空的"),
    ("填报单位,项目名称,年度\n甲局,路,明年\n", "r.csv:2:3: 「年度」应为四位数的年份"),
    ("填报单位,项目名称,上年\n甲局,路,nowhere.yaml\n", "r.csv:2:3: 上年的文件「nowhere.yaml」不存在"),
    ("填报单位,项目名称,单位名称\n甲局,路,乙局\n", "r.csv:1:3: 名册的「单位名称」列与"),
])
def test_roster_mistakes_are_one_line_and_nothing_is_written(tmp_path, capsys, content, expected):
    roster = tmp_path / "r.csv"
    roster.write_text(content, encoding="utf-8")
    os.chdir(tmp_path)
    assert main(["blank", "--roster", "r.csv", "-o", "out"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expected in err[0], err
    assert not (tmp_path / "out").exists()


def test_last_year_without_the_project_is_refused(tmp_path, capsys):
    (tmp_path / "r.csv").write_text(f"填报单位,项目名称,上年\n甲局,没有的项目,{ROOT / 'specs' / 'example.yaml'}\n",
                                    encoding="utf-8")
    assert main(["blank", "--roster", str(tmp_path / "r.csv"), "-o", str(tmp_path / "out")]) == 2
    assert "中没有项目「没有的项目」" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_gbk_csv_from_excel_is_read(tmp_path):
    (tmp_path / "r.csv").write_bytes("填报单位,项目名称\n甲局,路灯\n".encode("gbk"))
    roster = load_roster(tmp_path / "r.csv", load_template())
    assert [(e.project.unit, e.project.name) for e in roster.entries] == [("甲局", "路灯")]


def test_unknown_columns_are_named(tmp_path, capsys):
    (tmp_path / "r.csv").write_text("填报单位,项目名称,联系电话\n甲局,路灯,123\n", encoding="utf-8")
    assert main(["blank", "--roster", str(tmp_path / "r.csv"), "-o", str(tmp_path / "out")]) == 0
    assert "r.csv:1:3: 名册的「联系电话」列不是表样「project-expenditure」的栏目，未使用" in capsys.readouterr().err


def test_hostile_unit_names_become_safe_distinct_files(tmp_path):
    units = ["a/b", "a\\b", "CON", "con.txt", "..", "x" * 300, "x" * 300 + "y", "甲局 ", "甲局", "=1+1"]
    (tmp_path / "r.csv").write_text("填报单位,项目名称\n" + "".join(f'"{u}",路{i}\n' for i, u in enumerate(units)),
                                    encoding="utf-8")
    sent = send_out(load_roster(tmp_path / "r.csv", load_template()), tmp_path / "out")
    assert len({p.path.name.lower() for p in sent}) == len(sent) == len(set(u.strip() for u in units))
    for item in sent:
        assert perfxl.read(item.path).spec.projects[0].unit == item.unit


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), min_size=1, max_size=12))
def test_safe_file_names(stems):
    names = safe_file_names(stems, ".xlsx")
    assert len(names) == len(stems) and len({n.lower() for n in names}) == len(names)
    for name in names:
        assert name.endswith(".xlsx") and len(name) <= MAX_NAME and not UNSAFE.search(name)
        stem = name[:-5]
        assert stem and not stem.endswith((".", " ")) and stem.split(".")[0].upper() not in WINDOWS_RESERVED


def test_sent_spec_is_plain_yaml(tmp_path):
    (tmp_path / "r.csv").write_text("填报单位,项目名称,年度本级预算金额\n甲局,路灯,100\n", encoding="utf-8")
    send_out(load_roster(tmp_path / "r.csv", load_template()), tmp_path / "out")
    data = yaml.safe_load((tmp_path / "out" / "sent.yaml").read_text(encoding="utf-8"))
    assert data["unit"] == "甲局" and data["template"] == "project-expenditure"
    assert [(p["name"], p["budget"]) for p in data["projects"]] == [("路灯", 100)]
