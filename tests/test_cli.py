"""The command line as a user runs it: exit codes, one-line errors, no half-written output."""
from __future__ import annotations

import subprocess
import sys

import openpyxl
import pytest


def perfxl(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "perfxl.cli", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, timeout=120)


def test_render_defaults_to_output_folder(tmp_path, example_path):
    spec = tmp_path / "mine.yaml"
    spec.write_text(example_path.read_text(encoding="utf-8"), encoding="utf-8")
    result = perfxl("render", spec, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert openpyxl.load_workbook(tmp_path / "output" / "mine.xlsx").sheetnames[0] == "市属商贸企业遗留问题专项资金"


def test_blank_command(tmp_path):
    result = perfxl("blank", "-o", tmp_path / "b.xlsx", "--projects", 2, "--rows", 3, "--protect", "--year", 2027)
    assert result.returncode == 0, result.stderr
    book = openpyxl.load_workbook(tmp_path / "b.xlsx")
    assert book.sheetnames[:2] == ["项目1", "项目2"] and book.worksheets[0].protection.sheet
    assert not book.worksheets[0].protection.password


def test_blank_password(tmp_path):
    from openpyxl.utils.protection import hash_password

    result = perfxl("blank", "-o", tmp_path / "b.xlsx", "--password", "s3cret")
    assert result.returncode == 0, result.stderr
    ws = openpyxl.load_workbook(tmp_path / "b.xlsx").worksheets[0]
    assert ws.protection.sheet and ws.protection.password == hash_password("s3cret")


@pytest.mark.parametrize("content, expected", [
    (None, "文件不存在"),
    ("projects:\n  - name: a\n    indicators:\n      成本指标:\n        经济成本指标:\n          - {name: x, type: 大约}\n",
     'bad.yaml:6:29: 指标值类型 "大约" 无效；可选 = ≥ ≤ > < 定性'),
    ("projects: [\n", "YAML 语法错误"),
    ("\x00\x01\x02binary", "YAML"),
])
def test_bad_input_is_one_line_exit_2_and_no_output(tmp_path, content, expected):
    spec = tmp_path / "bad.yaml"
    if content is not None:
        spec.write_text(content, encoding="utf-8")
    result = perfxl("render", spec, "-o", tmp_path / "out.xlsx")
    assert result.returncode == 2
    assert expected in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "out.xlsx").exists()
    assert [p.name for p in tmp_path.iterdir()] == (["bad.yaml"] if content is not None else [])


def test_bad_arguments_exit_2(tmp_path):
    result = perfxl("blank", "--rows", "0")
    assert result.returncode == 2 and "Traceback" not in result.stderr


def test_an_internal_error_is_one_line_with_exit_3(tmp_path, example_path, monkeypatch, capsys):
    import perfxl.cli
    import perfxl.writer

    def broken(*args, **kwargs):
        raise ZeroDivisionError("boom\nsecond line")

    monkeypatch.setattr(perfxl.writer, "_write_book", broken)
    monkeypatch.delenv("PERFXL_DEBUG", raising=False)
    assert perfxl.cli.main(["render", str(example_path), "-o", str(tmp_path / "x.xlsx")]) == 3
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "ZeroDivisionError: boom second line" in err


def test_readme_lists_every_rule():
    from conftest import ROOT
    from perfxl.template import load_template

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert [r.id for r in load_template().rules if f"`{r.id}`" not in readme] == []


ENGLISH = ("usage:", "options:", "show this help", "error:", "the following arguments", "invalid choice",
           "positional arguments")


@pytest.mark.parametrize("args", [["--help"], *[[c, "--help"] for c in ("render", "blank", "check", "read", "collect", "diff", "preview", "export")]])
def test_help_is_chinese_with_an_example(args):
    result = subprocess.run([sys.executable, "-m", "perfxl", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "用法：" in result.stdout
    assert not [w for w in ENGLISH if w in result.stdout]
    if len(args) == 2:
        assert "示例：" in result.stdout and f"perfxl {args[0]} " in result.stdout


@pytest.mark.parametrize("args, phrase", [
    (["nope"], "无效的选项"), ([], "缺少必需的参数"), (["blank", "--rows", "x"], "应为整数"),
    (["read"], "缺少必需的参数"), (["check", "a", "b"], "无法识别的参数"),
])
def test_command_line_errors_are_chinese(args, phrase):
    result = subprocess.run([sys.executable, "-m", "perfxl", *args], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and phrase in result.stderr and "错误：" in result.stderr
    assert not [w for w in ENGLISH if w in result.stderr]


def test_version():
    import perfxl as api

    result = subprocess.run([sys.executable, "-m", "perfxl", "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.strip() == f"perfxl {api.__version__}"


@pytest.mark.parametrize("command", [["--help"], ["read", "BOOK"], ["check", "BOOK"], ["forms"]])
def test_commands_that_write_no_workbook_import_no_writer_and_no_template_engine(command, tmp_path):
    """`perfxl --help`, `read`, `check` and `forms` start without XlsxWriter or Jinja2 (they cost
    a user's wait on every run); the 填表说明 engine loads only when a workbook is written."""
    import perfxl
    from conftest import ROOT

    book = perfxl.render(ROOT / "specs" / "example.yaml", tmp_path / "book.xlsx")
    args = [str(book) if a == "BOOK" else a for a in command]
    probe = ("import sys, runpy\n"
             f"sys.argv = ['perfxl', *{args!r}]\n"
             "try:\n    runpy.run_module('perfxl', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print('LOADED', sorted(m for m in ('xlsxwriter', 'jinja2', 'openpyxl') if m in sys.modules),"
             " file=sys.stderr)\n")
    env = {**__import__("os").environ, "PERFXL_DEBUG": "1"}      # in this process: no forked child
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, env=env)
    assert "LOADED []" in done.stderr, done.stderr[-500:]


def test_every_public_name_resolves_and_a_module_does_not_hide_its_function():
    import types

    import perfxl

    for name in perfxl.__all__:
        assert getattr(perfxl, name) is not None, name
    import perfxl.check, perfxl.collect, perfxl.diff, perfxl.render  # noqa: E401,F401
    for name in ("check", "collect", "diff", "render"):
        assert not isinstance(getattr(perfxl, name), types.ModuleType), name
