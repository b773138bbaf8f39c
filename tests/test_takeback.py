"""Taking returns back: `perfxl collect … -o FOLDER` — 汇总.xlsx, bundle.xlsx, 退回/, collected.yaml."""
from __future__ import annotations

import copy
import os
import shutil
import zipfile
from pathlib import Path

import openpyxl
import pytest

import perfxl
from perfxl import Spec
from perfxl.cli import main
from perfxl.office.summary import SHEETS, convert
from perfxl.template import load_template

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def season(tmp_path):
    """A roster of four projects for three units; two units returned (one with an error, one
    with its amounts in 万元), one did not; a lock file and a broken workbook among the returns."""
    example = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    first, second = example.projects
    (tmp_path / "名册.csv").write_text(
        "填报单位,项目名称,年度本级预算金额\n"
        f"甲局,{first.name},1800000\n"
        f"乙局,{second.name},\n"
        "乙局,乙局的第二个项目,\n"
        "丙局,没有报回的项目,100\n", encoding="utf-8")
    returns = tmp_path / "回收"
    returns.mkdir()
    first.unit = "甲局"
    bad = perfxl.parse_spec(f"unit: 乙局\namount_unit: 万元\nprojects:\n  - name: {second.name}\n    budget: 12.5\n"
                            "  - name: 乙局的第二个项目\n    budget: 3\n").projects
    perfxl.render(Spec([first]), returns / "甲局.xlsx")
    perfxl.render(Spec(bad), returns / "乙局.xlsx")
    (returns / "~$甲局.xlsx").write_bytes(b"lock")
    (returns / "坏的.xlsx").write_bytes(b"PK\x03\x04 not really a zip")
    return tmp_path


def run(*args) -> int:
    """`perfxl collect ARGS`, without printing PDFs to a folder (tests/test_round_lo.py prints them)."""
    args = [str(a) for a in args]
    if "-o" in args and not Path(args[args.index("-o") + 1]).suffix:
        args.append("--no-pdf")
    return main(["collect", *args])


def sheet_rows(path, name):
    return [list(r) for r in openpyxl.load_workbook(path)[name].iter_rows(values_only=True)]


def test_collect_to_a_folder_writes_the_round(season, capsys):
    out = season / "审核"
    assert run(season / "回收", "-o", out, "--roster", season / "名册.csv", "--jobs", 2) == 2   # one file unreadable
    err = capsys.readouterr().err
    assert "坏的.xlsx: 无法读取" in err and "1 个项目未报送" in err and "2 个单位需退回修改" not in err
    assert sorted(p.name for p in out.iterdir()) == sorted(["汇总.xlsx", "bundle.xlsx", "collected.yaml", "退回"])
    book = openpyxl.load_workbook(out / "汇总.xlsx")
    assert book.sheetnames == list(SHEETS)

    status = sheet_rows(out / "汇总.xlsx", "报送情况")
    assert status[0][:3] == ["状态", "填报单位", "项目名称"]
    assert status[1][:3] == ["未报送", "丙局", "没有报回的项目"]           # the missing first
    by_name = {r[2]: r for r in status[1:]}
    assert by_name["乙局的第二个项目"][0] == "有错误" and by_name["乙局的第二个项目"][5] >= 1
    states = [r[0] for r in status[1:]]
    assert "无法读取" in states and "跳过" in states
    assert status[-1][0] == "跳过" and "锁定文件" in status[-1][7]

    projects = sheet_rows(out / "汇总.xlsx", "项目汇总")
    assert projects[0][3] == "年度本级预算金额（元）"
    amounts = {r[1]: r[3] for r in projects[1:-1]}
    assert amounts["乙局的第二个项目"] == 30000 and amounts[perfxl.load_spec(ROOT / "specs" / "example.yaml").projects[1].name] == 125000
    ws = book["项目汇总"]
    total = len(projects)
    assert ws.cell(total, 1).value == "合计" and ws.cell(total, 4).value == f"=SUM(D2:D{total - 1})"
    cached = openpyxl.load_workbook(out / "汇总.xlsx", data_only=True)["项目汇总"].cell(total, 4).value
    assert cached == sum(amounts.values())

    details = book["指标明细"]
    assert list(details.tables) == ["指标明细"] and details.freeze_panes == "A2"
    assert details.tables["指标明细"].ref == f"A1:L{details.max_row}"
    rows = sheet_rows(out / "汇总.xlsx", "指标明细")
    assert rows[0][3:6] == ["一级指标", "二级指标", "三级指标"]
    assert ["甲局", "资金投入率", "=", 100, "%"] == [rows[1][0], rows[1][5], rows[1][6], rows[1][7], rows[1][9]]

    findings = sheet_rows(out / "汇总.xlsx", "问题清单")
    assert all(r[2] in ("错误", "警告") for r in findings[1:]) and len(findings) > 3
    assert sorted(os.listdir(out / "退回")) == ["乙局.xlsx"]       # 甲局's return has no error


def _links(path: Path, sheet_index: int) -> list[tuple[str, str]]:
    """(target file, place) of each external hyperlink of a sheet, from the package itself."""
    import re

    with zipfile.ZipFile(path) as z:
        rels = z.read(f"xl/worksheets/_rels/sheet{sheet_index}.xml.rels").decode()
        sheet = z.read(f"xl/worksheets/sheet{sheet_index}.xml").decode()
    targets = dict(re.findall(r'Id="(rId\d+)"[^>]*Target="([^"]+)"', rels) or
                   [(i, t) for t, i in re.findall(r'Target="([^"]+)"[^>]*Id="(rId\d+)"', rels)])
    out = []
    for attrs in re.findall(r"<hyperlink ([^>]*)/>", sheet):
        rid = re.search(r'r:id="(rId\d+)"', attrs)
        place = re.search(r'location="([^"]*)"', attrs)
        if rid:
            out.append((targets[rid.group(1)], place.group(1).replace("&apos;", "'") if place else ""))
    return out


def test_finding_links_open_the_return_at_its_cell(season):
    out = season / "审核"
    run(season / "回收", "-o", out, "--roster", season / "名册.csv")
    links = _links(out / "汇总.xlsx", 4)
    assert links
    for target, place in links:
        book = out / target.replace("\\", "/")
        assert book.resolve().is_file(), target
        sheet, cell = place.rsplit("!", 1)
        ws = openpyxl.load_workbook(book)[sheet.strip("'").replace("''", "'")]
        assert ws[cell].coordinate == cell
    assert {t for t, _ in _links(out / "汇总.xlsx", 1)} >= {"..\\回收\\甲局.xlsx", "..\\回收\\乙局.xlsx"}


def test_bundle_is_grouped_by_unit_and_not_collected_again(season):
    out = season / "审核"
    run(season / "回收", "-o", out, "--roster", season / "名册.csv")
    names = openpyxl.load_workbook(out / "bundle.xlsx").sheetnames
    example = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    from perfxl.render import sheet_names

    assert names[:3] == sheet_names([example.projects[0].name, example.projects[1].name, "乙局的第二个项目"])
    again = perfxl.collect([season / "回收", out])         # the outputs are passed over
    assert [p.name for p in again.spec.projects] == [example.projects[0].name, example.projects[1].name,
                                                      "乙局的第二个项目"]
    assert {why for _, why in again.skipped} >= {"这是 perfxl collect 汇总出的工作簿，不再收集"}


def test_the_return_file_carries_the_findings_and_a_fixed_one_wins(season, capsys):
    out = season / "审核"
    run(season / "回收", "-o", out, "--roster", season / "名册.csv")
    returned = out / "退回" / "乙局.xlsx"
    book = openpyxl.load_workbook(returned)
    form = load_template()
    assert book.sheetnames[-2:] == [form.review_sheet, form.validation["list_sheet"]]
    review = [list(r)[:4] for r in book[form.review_sheet].iter_rows(values_only=True)]   # E: the digests
    assert review[0] == ["位置", "级别", "项目", "问题"]
    assert book[form.review_sheet].column_dimensions["E"].hidden
    for place, severity, project, message in review[1:]:
        sheet, _, cell = place.rpartition("!")
        comment = book[sheet][cell].comment
        assert comment is not None and f"{severity}：{message}" in comment.text
    read_back = perfxl.read(returned)
    assert read_back.warnings == []
    errors = [f for f in perfxl.check(read_back.spec) if f.severity == "error"]
    assert len(errors) == sum(1 for r in review[1:] if r[1] == "错误")

    # 乙局 fixes its file: every field and indicator of a valid table, saved later than the first return
    fixed = perfxl.read(returned).spec
    good = perfxl.load_spec(ROOT / "specs" / "example.yaml").projects[1]
    for project in fixed.projects:
        project.goal, project.basis, project.period = good.goal, good.basis, good.period
        project.category, project.indicators = good.category, good.indicators
    comeback = season / "回收" / "乙局（修改后）.xlsx"
    perfxl.render(fixed, comeback)
    later = os.stat(season / "回收" / "乙局.xlsx").st_mtime + 60
    os.utime(comeback, (later, later))
    os.unlink(season / "回收" / "坏的.xlsx")
    capsys.readouterr()
    assert run(season / "回收", "-o", out, "--roster", season / "名册.csv") == 0
    assert os.listdir(out / "退回") == []           # nothing to send back any more: the old file is gone
    status = sheet_rows(out / "汇总.xlsx", "报送情况")
    by_state: dict = {}
    for row in status[1:]:
        by_state.setdefault(row[0], []).append(row)
    assert [r[2] for r in by_state["已替代"]] == [good.name, "乙局的第二个项目"]
    assert all("乙局（修改后）.xlsx" in r[7] for r in by_state["已替代"])
    assert "有错误" not in by_state


def test_same_outputs_whatever_the_order_of_inputs(season):
    files = sorted((season / "回收").glob("*.xlsx"))
    run(*files, "-o", season / "a", "--roster", season / "名册.csv")
    run(*reversed(files), "-o", season / "b", "--roster", season / "名册.csv", "--jobs", 1)
    for name in ("汇总.xlsx", "bundle.xlsx", "collected.yaml", "退回/乙局.xlsx"):
        assert (season / "a" / name).read_bytes() == (season / "b" / name).read_bytes(), name


def test_amounts_in_wan_yuan(season):
    run(season / "回收", "-o", season / "万", "--amount-unit", "万元")
    rows = sheet_rows(season / "万" / "汇总.xlsx", "项目汇总")
    assert rows[0][3] == "年度本级预算金额（万元）"
    assert [r[3] for r in rows[1:-1]] == [12.5, 3, 180]       # 乙局.xlsx's projects first: sorted by path
    assert convert(1, "元", "万元") == 0.0001 and convert(12.5, "万元", "元") == 125000


def test_text_from_returns_stays_text(tmp_path):
    spec = perfxl.parse_spec("unit: '=HYPERLINK(\"http://x\")'\nprojects:\n  - name: '=1+1'\n    budget: 5\n"
                             "    indicators: {产出指标: {数量指标: [{name: '=2+2', type: '=', value: 1, unit: 个}]}}\n")
    perfxl.render(spec, tmp_path / "in" / "a.xlsx")
    run(tmp_path / "in", "-o", tmp_path / "out")
    texts = []
    for name in SHEETS:
        ws = openpyxl.load_workbook(tmp_path / "out" / "汇总.xlsx")[name]
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if cell.data_type == "f":
                    assert cell.value.startswith("=SUM("), (name, cell.coordinate)    # only perfxl's totals
                elif cell.value in ("=1+1", "=2+2", '=HYPERLINK("http://x")'):
                    texts.append(name)
    assert set(texts) == set(SHEETS)


def test_folder_options_need_a_folder(season, capsys):
    assert run(season / "回收", "-o", season / "x.yaml", "--roster", season / "名册.csv") == 2
    assert "--roster 用于写出汇总文件夹" in capsys.readouterr().err
    (season / "file").write_text("x")
    assert run(season / "回收", "-o", str(season / "file") + "/") == 2


def test_the_output_folder_inside_the_inputs_is_not_read(season):
    out = season / "回收" / "审核"
    run(season / "回收", "-o", out)
    shutil.copy(season / "回收" / "甲局.xlsx", out / "退回" / "copy.xlsx")
    again = perfxl.collect([season / "回收"], output=out)
    assert not any(str(out) in p for p in again.files)


@pytest.mark.parametrize("name", ["example.yaml", "county.yaml", "declaration.yaml", "department.yaml"])
def test_findings_as_drawn_are_where_a_rendered_file_has_them(tmp_path, name):
    """findings_as_drawn reads the layout plans instead of a written file: the same findings at
    the same cells as render → read → check, on broken variants of every shipped spec."""
    from perfxl.check import check, findings_as_drawn
    from perfxl.template import col_letter, form_of

    spec = perfxl.load_spec(ROOT / "specs" / name)
    form = form_of(spec)
    broken = copy.deepcopy(spec)
    for project in broken.projects:
        for key in form.field_keys[1::2]:               # every other field emptied
            project.set(key, None)
        for i, (_, _, item) in enumerate(project.rows()):
            if i % 2:
                item.value = "许多"
            if i % 3 == 0:
                item.unit = None
    blank = Spec([perfxl.Project(name="空表", unit="某局")], spec.template)
    for variant in (spec, broken, blank):
        drawn = [(f.rule, f.message, sheet, f"{col_letter(p[1])}{p[0] + 1}" if p else None)
                 for f, sheet, p in findings_as_drawn(variant)]
        perfxl.render(variant, tmp_path / "x.xlsx")
        written = []
        for f in check(perfxl.read(tmp_path / "x.xlsx").spec):
            parts = f.location.split("!")[1:]
            written.append((f.rule, f.message, parts[0], parts[1] if len(parts) > 1 else None))
        assert drawn == written
    assert len(drawn) > 3


def test_big_bundles_and_returns_come_in_parts(season, monkeypatch):
    from perfxl.office import takeback

    monkeypatch.setattr(takeback, "PART", 2)
    out = season / "审核"
    run(season / "回收", "-o", out)
    assert sorted(p.name for p in out.glob("bundle*.xlsx")) == ["bundle-1.xlsx", "bundle-2.xlsx"]
    assert [len(openpyxl.load_workbook(out / n).sheetnames) for n in ("bundle-1.xlsx", "bundle-2.xlsx")] == [3, 2]
    monkeypatch.setattr(takeback, "PART", 1)
    run(season / "回收", "-o", out)
    assert sorted(p.name for p in out.glob("bundle*.xlsx")) == [f"bundle-{k}.xlsx" for k in (1, 2, 3)]
    assert sorted(os.listdir(out / "退回")) == ["乙局-1.xlsx", "乙局-2.xlsx"]
    monkeypatch.setattr(takeback, "PART", 1000)
    (out / "bundle-9.xlsx").write_bytes(b"a file of the office's own")     # not perfxl's: kept
    run(season / "回收", "-o", out)
    assert sorted(p.name for p in out.glob("bundle*.xlsx")) == ["bundle-9.xlsx", "bundle.xlsx"]
    assert sorted(os.listdir(out / "退回")) == ["乙局.xlsx"]


def test_collect_does_not_need_last_years_files(season):
    """The roster's 上年 column fed the blanks; at collect time those files may be gone."""
    roster = season / "名册.csv"
    lines = roster.read_text(encoding="utf-8").splitlines()
    roster.write_text("\n".join([lines[0] + ",上年"] + [line + ",已经删除的去年.yaml" for line in lines[1:]]) + "\n",
                      encoding="utf-8")
    assert run(season / "回收", "-o", season / "审核", "--roster", roster) == 2      # 2: the broken return
    assert (season / "审核" / "汇总.xlsx").is_file()


@pytest.mark.parametrize("roster", ["没有的名册.csv", "名册.txt", "坏的名册.xlsx"])
def test_a_roster_that_cannot_be_read_is_refused_before_any_return_is_read(season, monkeypatch, capsys, roster):
    """A missing, mistyped or broken roster is one line, exit 2, before collect reads the returns
    (which can take minutes), and nothing is written."""
    import sys

    (season / "坏的名册.xlsx").write_bytes(b"PK\x03\x04 broken")
    (season / "名册.txt").write_text("填报单位,项目名称\n", encoding="utf-8")
    monkeypatch.setattr(sys.modules["perfxl.collect"], "collect", lambda *a, **k: pytest.fail("the returns were read"))
    assert run(season / "回收", "-o", season / "审核", "--roster", season / roster) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and roster in err, err
    assert not (season / "审核").exists()
