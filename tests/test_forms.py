"""Form files: an office's own form without code, and every mistake in one named line."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import openpyxl
import pytest

import perfxl
from perfxl.errors import TemplateError
from perfxl.formfile import shipped_dir
from perfxl.template import load_template

SHIPPED = shipped_dir() / "project-expenditure.yaml"
TEXT = SHIPPED.read_text(encoding="utf-8")
ROOT = Path(__file__).resolve().parent.parent


def form_file(tmp_path: Path, text: str, name: str = "my-form") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def line_of(text: str, needle: str) -> int:
    return text[:text.rindex(needle)].count("\n") + 1


def broken(old: str, new: str) -> tuple[str, str]:
    assert old in TEXT, old
    return TEXT.replace(old, new, 1), new


# (the changed text, a phrase of the message); the error must point at the changed line
MISTAKES = {
    "unknown key": (*broken("blank_year:", "colour: red\nblank_year:"), '未知的键 "colour"'),
    "unknown name in a rule": (*broken("when: OR(NOT(ISNUMBER(budget)),budget<=0)",
                                       "when: OR(NOT(ISNUMBER(budgt)),budget<=0)"), "未知的名称「budgt」"),
    "unknown function": (*broken('when: NOT(TRIM(goal)<>"")', 'when: NOT(SYSTEM(goal)<>"")'), "不支持的函数「SYSTEM」"),
    "overlapping cells": (*broken('{label: 年度本级预算金额, cols: "E:F"', '{label: 年度本级预算金额, cols: "D:F"'), "重叠"),
    "check column on the table": (*broken("mark_col: J", "mark_col: I"), "落在表格的列内"),
    "code in a title": (*broken('title: "{year}年项目支出绩效目标表"', 'title: "{year.__class__}年项目支出绩效目标表"'),
                        "不能使用"),
    "blamed column unknown": (*broken("blame: [type, value, unit]", "blame: [type, value, units]"), '"units" 不是指标列'),
    "two rules with one id": (*broken("id: P-HEAD-GOAL", "id: P-HEAD-PERIOD"), "重复"),
    "a built-in that does not exist": (*broken("builtin: unique", "builtin: os.system"), "需要 builtin"),
    "a built-in's parameter": (*broken("params: {column: name}", "params: {column: nam}"), "应为指标列之一"),
    "a severity": (*broken("severity: warning\n    scope: row\n    blame: [unit]",
                           "severity: fatal\n    scope: row\n    blame: [unit]"), "severity 应为"),
    "a field rule without its field": (*broken("at: budget", "at: money"), "字段规则需要 at"),
    "a wrong kind of value": (*broken("size: 11", "size: big"), "应为数字"),
    "a missing key": (*broken("instructions_sheet: 填表说明\n", "\n"), "缺少 instructions_sheet"),
    "a YAML mistake": (*broken("checks:\n", "checks: [\n"), "YAML 语法错误"),
}


@pytest.mark.parametrize("case", MISTAKES)
def test_a_mistake_in_a_form_file_is_one_line_with_its_place(tmp_path, case):
    text, changed, phrase = MISTAKES[case]
    path = form_file(tmp_path, text)
    with pytest.raises(TemplateError) as info:
        load_template(str(path))
    where = str(info.value.where)
    assert phrase in info.value.message, info.value.message
    assert where.startswith(f"{path}:"), where
    if case not in ("a missing key", "a YAML mistake"):
        assert int(where.split(":")[1]) == line_of(text, changed.split("\n")[0])


@pytest.mark.parametrize("command", ["render", "check"])
def test_the_cli_refuses_a_broken_form_in_one_line(tmp_path, command):
    text, _, _ = MISTAKES["unknown function"]
    form_file(tmp_path, text)
    (tmp_path / "spec.yaml").write_text("template: my-form.yaml\nprojects:\n  - name: 甲\n", encoding="utf-8")
    extra = ["-o", "out.xlsx"] if command == "render" else []
    done = subprocess.run([sys.executable, "-m", "perfxl", command, "spec.yaml", *extra], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "my-form.yaml:" in done.stderr and "SYSTEM" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.xlsx").exists()


def test_the_instructions_text_runs_in_a_sandbox(tmp_path):
    (tmp_path / "evil.md.j2").write_text("{{ template.__class__.__init__.__globals__ }}", encoding="utf-8")
    path = form_file(tmp_path, TEXT.replace("instructions: instructions.md.j2", "instructions: evil.md.j2"))
    with pytest.raises(TemplateError, match="填表说明模板无法生成"):
        perfxl.blank(tmp_path / "blank.xlsx", template=str(path))
    assert not (tmp_path / "blank.xlsx").exists()


VARIANT = """\
# 某区财政局的变体：在 project-expenditure 上改一个标题、一个标签，加一条规则，关一条规则。
extends: project-expenditure
form: 某区项目支出绩效目标表
title: "{year}年某区项目支出绩效目标表"
rules:
  add:
    - id: X-BUDGET-CAP
      severity: warning
      scope: field
      at: budget
      when: AND(ISNUMBER(budget),budget>5000000)
      message: 预算超过 500 万元，请附可行性论证。
  disable: [P-SAT-RANGE]
"""
SPEC = """\
template: {form}
year: 2026
projects:
  - name: 社区养老服务
    category: 特定目标类
    budget: 6000000
    period: 2026年
    goal: 为辖区老人提供助餐服务。
    basis: 助餐补贴600万元。
    indicators:
      成本指标: {{经济成本指标: [{{name: 资金投入率, type: "=", value: 100, unit: "%"}}]}}
      产出指标: {{数量指标: [{{name: 助餐人次, type: "≥", value: 5000, unit: 人次}}]}}
      效益指标: {{社会效益: [{{name: 老人生活便利, type: 定性, value: 明显改善}}]}}
      满意度: {{服务对象满意度: [{{name: 老人满意度, type: "≥", value: 70, unit: "%"}}]}}
"""


def test_an_office_variant_is_a_short_file_over_a_shipped_form(tmp_path):
    form = form_file(tmp_path, VARIANT, "district")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(form="district.yaml"), encoding="utf-8")
    found = {f.rule for f in perfxl.check(spec)}
    assert "X-BUDGET-CAP" in found and "P-SAT-RANGE" not in found
    base = spec.with_name("base.yaml")
    base.write_text(SPEC.format(form="project-expenditure"), encoding="utf-8")
    assert {f.rule for f in perfxl.check(base)} == found - {"X-BUDGET-CAP"} | {"P-SAT-RANGE"}
    book = perfxl.render(spec, tmp_path / "out.xlsx")
    ws = openpyxl.load_workbook(book).worksheets[0]
    assert ws["A1"].value == "2026年某区项目支出绩效目标表"
    marks = [c.value for c in ws["J"] if isinstance(c.value, str) and c.value.startswith("=")]
    assert any("AND(ISNUMBER($G4),$G4>5000000)" in m for m in marks), marks
    assert load_template(str(form)).rules[-1].id == "X-BUDGET-CAP"


def test_a_copied_form_with_new_labels_columns_and_a_rule_needs_no_code(tmp_path):
    """An office copies the shipped file, renames a label, moves the note column wider, changes a
    rule's threshold: render, check and the live formula follow the file."""
    text = (TEXT.replace("{label: 项目名称, cols: A, aliases: [项目全称]}", "{label: 项目支出名称, cols: A, aliases: [项目名称]}")
            .replace("I: 12}", "I: 20}")
            .replace("OR(value<80,value>100)", "OR(value<85,value>100)")
            .replace("满意度目标值通常在 80%–100% 之间", "满意度目标值应在 85%–100% 之间"))
    path = form_file(tmp_path, text, "copied")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(form="copied").replace("value: 70", "value: 82"), encoding="utf-8")
    env_dir = tmp_path / "forms-here"
    env_dir.mkdir()
    path.rename(env_dir / path.name)
    done = subprocess.run([sys.executable, "-m", "perfxl", "--forms", str(env_dir), "check", str(spec)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "P-SAT-RANGE" in done.stdout and "85%–100%" in done.stdout, done.stdout + done.stderr
    done = subprocess.run([sys.executable, "-m", "perfxl", "--forms", str(env_dir), "render", str(spec),
                           "-o", str(tmp_path / "out.xlsx")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ws = openpyxl.load_workbook(tmp_path / "out.xlsx").worksheets[0]
    assert ws["A3"].value == "项目支出名称" and ws.column_dimensions["I"].width > 19
    texts = [str(getattr(c.value, "text", c.value)) for c in ws["J"]]    # array formulas keep theirs in .text
    assert any("$F" in t and "<85" in t for t in texts)


def test_forms_lists_the_shipped_and_the_offices_forms(tmp_path):
    form_file(tmp_path, VARIANT, "district")
    done = subprocess.run([sys.executable, "-m", "perfxl", "--forms", str(tmp_path), "forms"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "project-expenditure" in done.stdout and "项目支出绩效目标表" in done.stdout
    assert "district" in done.stdout and "某区项目支出绩效目标表" in done.stdout


# -- which form a workbook is on ---------------------------------------------------------------------
def read_cli(book: Path, *args: str, forms: Path | None = None) -> subprocess.CompletedProcess:
    extra = ["--forms", str(forms)] if forms else []
    return subprocess.run([sys.executable, "-m", "perfxl", *extra, "read", str(book), "--format", "json", *args],
                          capture_output=True, text=True, timeout=120)


def test_a_tagged_form_is_recognised_also_after_libreoffice_resaves_it(tmp_path):
    import json

    import lo

    forms = tmp_path / "forms"
    forms.mkdir()
    form_file(forms, VARIANT.replace("form: 某区", 'version: "2026.1"\nform: 某区'), "district")
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(form="forms/district.yaml"), encoding="utf-8")
    book = perfxl.render(spec, tmp_path / "out.xlsx")
    lists = openpyxl.load_workbook(book)["_lists"]
    assert lists["B1"].value == "perfxl:form=district@2026.1"
    books = [book]
    if lo.available():
        books += [lo.convert(book, "xls", tmp_path / "xls"), lo.convert(book, "ods", tmp_path / "ods")]
    want = perfxl.load_spec(spec).projects
    for each in books:
        done = read_cli(each, forms=forms)
        assert done.returncode == 0, done.stderr
        data = json.loads(done.stdout)
        assert data["template"] == "district", each
        assert [w for w in data["warnings"] if "表样" in w["message"]] == []
        assert perfxl.parse_spec(done.stdout.replace('"template": "district"', '"template": "forms/district.yaml"'),
                                 str(tmp_path / "back.json")).projects == want
    done = read_cli(book)                                   # the form is not known here
    assert done.returncode == 0 and "表样「district」无法使用" in done.stdout


def test_without_a_tag_the_labels_and_title_decide_and_a_tie_is_said(tmp_path):
    import json

    forms = tmp_path / "forms"
    forms.mkdir()
    form_file(forms, VARIANT, "district")                    # no version: no tag; its title differs
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(form="forms/district.yaml"), encoding="utf-8")
    book = perfxl.render(spec, tmp_path / "out.xlsx")
    data = json.loads(read_cli(book, forms=forms).stdout)
    assert data["template"] == "district" and not [w for w in data["warnings"] if "同样相符" in w["message"]]
    base = tmp_path / "base.yaml"
    base.write_text(SPEC.format(form="project-expenditure"), encoding="utf-8")
    data = json.loads(read_cli(perfxl.render(base, tmp_path / "base.xlsx"), forms=forms).stdout)
    assert data["template"] == "project-expenditure"
    twin = tmp_path / "twins"
    twin.mkdir()
    form_file(twin, "extends: project-expenditure\n", "twin")    # the same labels and title
    data = json.loads(read_cli(tmp_path / "base.xlsx", forms=twin).stdout)
    assert any("同样相符" in w["message"] and "twin" in w["message"] for w in data["warnings"])
    data = json.loads(read_cli(tmp_path / "base.xlsx", "--form", "project-expenditure", forms=twin).stdout)
    assert data["template"] == "project-expenditure" and not data["warnings"]


def test_forms_check_runs_the_conformance_suite(tmp_path):
    form_file(tmp_path, VARIANT, "district")
    done = subprocess.run([sys.executable, "-m", "perfxl", "forms", "check", str(tmp_path / "district.yaml"),
                           str(SHIPPED)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("通过：") >= 6 and "未通过" not in done.stdout
    # a form without the 备注 column, and an example that writes a 备注: the spec is refused, in a line
    form_file(tmp_path, TEXT.replace("    - {key: note,    label: 备注,       col: I}\n", ""), "nonote")
    (tmp_path / "nonote.example.yaml").write_text(
        "template: nonote.yaml\nprojects:\n  - name: 甲\n    indicators:\n      产出指标: {数量指标: "
        "[{name: 人数, type: \"≥\", value: 5, unit: 人, note: 备注文字}]}\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "perfxl", "forms", "check", "--no-office",
                           str(tmp_path / "nonote.yaml"), str(tmp_path / "missing.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr
    assert '未通过：示例规格可以载入' in done.stdout and 'nonote.example.yaml:5:' in done.stdout
    assert '没有指标列 "note"' in done.stdout and "missing.yaml: 未通过：表样文件有效" in done.stdout


def test_forms_check_says_when_a_form_cannot_be_told_from_another(tmp_path):
    form_file(tmp_path, "extends: project-expenditure\n", "twin")          # same labels, same title
    form_file(tmp_path, 'extends: project-expenditure\nversion: "1"\n', "tagged-twin")
    done = subprocess.run([sys.executable, "-m", "perfxl", "forms", "check", "--no-office",
                           str(tmp_path / "twin.yaml"), str(tmp_path / "tagged-twin.yaml")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert "twin.yaml: 未通过：能与其他表样区分（标签和标题与表样「project-expenditure」无法区分" in done.stdout
    assert "tagged-twin.yaml: 通过：能与其他表样区分（标签与表样「project-expenditure」相同，靠工作簿中的表样标记区分）" \
        in done.stdout


def test_a_variant_gives_its_skeleton_whole(tmp_path):
    """An office's 一级/二级 replace the base's (merged key by key, the base's groups would stay)."""
    form_file(tmp_path, "extends: project-expenditure\nform: 某县项目绩效目标表\ntitle: \"{year}年某县项目绩效目标表\"\n"
                        "skeleton:\n  产出指标: [数量指标, 质量指标, 时效指标, 成本指标]\n  效益指标: [社会效益]\n"
                        "  满意度: [服务对象满意度]\n"
                        "rules: {disable: [P-INVEST-MISSING]}\n", "county")
    form = load_template(str(tmp_path / "county.yaml"))
    assert list(form.skeleton) == ["产出指标", "效益指标", "满意度"]
    assert form.skeleton["产出指标"][-1] == "成本指标"
    assert "P-INVEST-MISSING" not in {r.id for r in form.rules}


def test_the_typed_helpers_come_together(tmp_path):
    from perfxl.errors import TemplateError
    from perfxl.formfile import shipped_dir

    text = (shipped_dir() / "project-expenditure.yaml").read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if not line.startswith("  rest_col:")]
    (tmp_path / "mine.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    for name in ("instructions.md.j2",):
        (tmp_path / name).write_text((shipped_dir() / name).read_text(encoding="utf-8"), encoding="utf-8")
    with pytest.raises(TemplateError, match="value_col、unit_col 与 rest_col 应同时给出"):
        perfxl.load_template(str(tmp_path / "mine.yaml"))


def test_a_form_whose_live_check_would_pass_excels_formula_limit_is_refused_in_one_line(tmp_path):
    """An office adds rules to its copy of a form until a joined live check (a row's messages, or
    the inserted rows' count) would be longer than the 8,192 characters Excel takes: Excel would
    drop it on opening, so perfxl refuses the form in one line and writes nothing."""
    extra = "".join(f"""
  - id: X-{n}
    severity: warning
    scope: row
    blame: [value]
    when: AND(type="定性",OR(TRIM(value)="方向{n}",TRIM(value)="提升{n}",TRIM(value)="促进{n}"),NOT(TRIM(content)<>""))
    message: 定性指标值只有方向词（{n}）。""" for n in range(40))
    form_file(tmp_path, TEXT.replace("\nrules:\n", "\nrules:" + extra + "\n", 1))
    done = subprocess.run([sys.executable, "-m", "perfxl", "blank", "--template", "my-form.yaml", "-o", "out.xlsx"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "my-form.yaml" in done.stderr and "8192" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "out.xlsx").exists()
