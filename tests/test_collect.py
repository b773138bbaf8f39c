"""perfxl collect: real workbooks rendered, then collected in parallel into one spec."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest

import perfxl
from perfxl import Spec


def names(spec: Spec) -> list[str]:
    return [p.name for p in spec.projects]


@pytest.fixture
def returns(tmp_path, example_path):
    """A folder as returned by departments: single tables, a two-table bundle in a sub-folder,
    an Excel lock file and a text file that must be ignored."""
    first, second = perfxl.load_spec(example_path).projects
    folder = tmp_path / "returns"
    third, fourth = perfxl.parse_spec("projects:\n  - name: 第三个项目\n    budget: 5\n"
                                      "  - name: 第四个项目\n    budget: 6\n").projects
    perfxl.render(Spec([second]), folder / "b.xlsx")
    perfxl.render(Spec([first]), folder / "a.xlsx")
    perfxl.render(Spec([third, fourth]), folder / "sub" / "c.xlsx", one_sheet=True)
    (folder / "~$a.xlsx").write_bytes(b"lock")
    (folder / "notes.txt").write_text("not a workbook", encoding="utf-8")
    return folder


def test_collects_in_path_then_table_order(returns, example_path):
    first, second = perfxl.load_spec(example_path).projects
    result = perfxl.collect([returns], jobs=1)
    assert [p.rsplit("/", 1)[-1] for p in result.files] == ["a.xlsx", "b.xlsx", "c.xlsx"]
    assert names(result.spec) == [first.name, second.name, "第三个项目", "第四个项目"]
    assert result.spec.projects[0] == first and result.spec.projects[1] == second
    assert result.failures == []


def test_one_and_two_processes_give_the_same_result(returns):
    one, two = perfxl.collect([returns], jobs=1), perfxl.collect([returns], jobs=2)
    assert one.spec == two.spec and one.files == two.files and one.warnings == two.warnings


def test_a_broken_file_is_named_and_the_others_still_collected(returns):
    (returns / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    result = perfxl.collect([returns], jobs=2)
    assert [path for path, _ in result.failures] == [str(returns / "broken.xlsx")]
    assert len(result.spec.projects) == 4


def test_files_and_folders_given_twice_count_once(returns):
    result = perfxl.collect([returns / "b.xlsx", returns, returns / "b.xlsx"], jobs=1)
    assert len(result.files) == 3


def run(*args):
    return subprocess.run([sys.executable, "-m", "perfxl.cli", "collect", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_writes_yaml_and_exits_2_naming_the_unreadable_file(returns, tmp_path):
    (returns / "broken.xlsx").write_bytes(b"PK\x03\x04 truncated")
    out = tmp_path / "all.yaml"
    result = run(returns, "-o", out, "--jobs", 2)
    assert result.returncode == 2
    failed = [line for line in result.stderr.splitlines() if "broken.xlsx" in line]
    assert len(failed) == 1 and "无法读取" in failed[0]
    assert len(perfxl.load_spec(out).projects) == 4


def test_cli_json_carries_warnings_and_failures(returns, tmp_path):
    (returns / "broken.xlsx").write_bytes(b"not a workbook at all")
    out = tmp_path / "all.json"
    assert run(returns, "-o", out).returncode == 2
    data = json.loads(out.read_text(encoding="utf-8"))
    assert len(data["projects"]) == 4 and data["failures"][0]["path"].endswith("broken.xlsx")
    assert "warnings" in data


def test_cli_bundle_workbook_reads_back(returns, tmp_path):
    out = tmp_path / "bundle.xlsx"
    result = run(returns, "-o", out)
    assert result.returncode == 0, result.stderr
    assert names(perfxl.read(out).spec) == names(perfxl.collect([returns], jobs=1).spec)


def test_cli_no_workbooks_is_exit_2(tmp_path):
    result = run(tmp_path)
    assert result.returncode == 2 and "没有找到工作簿" in result.stderr


def test_returns_on_different_forms_are_collected_each_on_its_own(returns, tmp_path):
    """A 部门整体 return among project returns is collected, not refused: its project names its
    form, and the bundle renders every table on its own form and reads back the same."""
    from conftest import ROOT

    perfxl.render(ROOT / "specs" / "department.yaml", returns / "d.xlsx")
    result = perfxl.collect([returns], jobs=1)
    assert result.failures == []
    forms = {p.name: p.template for p in result.spec.projects}
    assert forms["某市文化和旅游局（本级）"] == "department-overall"
    assert {t for n, t in forms.items() if n != "某市文化和旅游局（本级）"} == {None}
    bundle = tmp_path / "bundle.xlsx"
    assert run(returns, "-o", bundle).returncode == 0
    assert perfxl.read(bundle).spec.projects == result.spec.projects
