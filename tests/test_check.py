"""`perfxl check` on specs: findings, locations, reports, exit codes, and agreement with the plans.

CORPUS is a spec of deliberately broken tables (every rule fires at least once, rows fail in
several groups); test_check_live.py renders it and lets LibreOffice judge the same tables.
"""
from __future__ import annotations

import collections
import json
import re
import subprocess
import sys

from hypothesis import given, settings, strategies as st

import perfxl
from perfxl.check import check
from perfxl.layout import plan_table
from perfxl.model import Indicator
from perfxl.spec import complete_tree

TEMPLATE = perfxl.load_template()
RULES = TEMPLATE.rules
RULES_BY_ID = {rule.id: rule for rule in RULES}
GOOD = """
      成本指标:
        经济成本指标:
          - {name: 资金投入率, type: =, value: 100, unit: "%"}
      产出指标:
        数量指标:
          - {name: 培训人数, type: ≥, value: 200, unit: 人}
      效益指标:
        社会效益:
          - {name: 群众办事时间, type: 定性, value: 缩短, content: 平均缩短一半}
      满意度:
        服务对象满意度:
          - {name: 满意度, type: ≥, value: 90, unit: "%"}"""
HEADER = """
    category: 特定目标类
    budget: 1000000
    period: 2025年
    goal: 完成培训。
    basis: 培训费100万元。"""


def invest(name: str, row: str) -> str:
    return f"""
  - name: {name}{HEADER}
    indicators:
      成本指标:
        经济成本指标:
          - {row}
      满意度:
        服务对象满意度:
          - {{name: 满意度, type: ≥, value: 90, unit: "%"}}
      产出指标:
        数量指标: [{{name: 培训人数, type: ≥, value: 200, unit: 人}}]
      效益指标:
        社会效益: [{{name: 群众办事时间, type: 定性, value: 缩短, content: 平均缩短一半}}]"""


CORPUS_YAML = f"""year: 2025
unit: 测试单位
projects:
  - budget: 0
    indicators:{GOOD}
  - name: 行规则{HEADER}
    indicators:
      成本指标:
        经济成本指标:
          - {{name: 资金投入率, type: ≥, value: 100, unit: "%"}}
          - {{name: 人员成本, type: ">", value: 5, unit: 万元}}
        社会成本指标:
          - {{name: 社会成本, type: ≤, value: 3, unit: 万元}}
      产出指标:
        数量指标:
          - {{name: 覆盖人数, type: =, value: 很多, unit: 人}}
          - {{name: 培训次数, type: =, value: 5}}
          - {{name: 培训教材}}
        质量指标:
          - {{name: 合格率, type: ≥, value: 120, unit: "%"}}
      效益指标:
        社会效益:
          - {{name: 群众满意, type: 定性, value: 提高}}
          - {{name: 惠及面, type: 定性, value: 5}}
          - {{name: 服务质量, type: 定性, value: 良好, unit: "%"}}
      满意度:
        服务对象满意度:
          - {{name: 满意度, type: ≤, value: 90, unit: "%"}}
          - {{name: 企业满意度, type: ≥, value: 60, unit: "%"}}
  - name: 一级为空{HEADER}
    indicators:
      成本指标:
        经济成本指标:
          - {{name: 资金投入率, type: =, value: 100, unit: "%"}}
      产出指标:
        数量指标:
          - {{name: 培训人数, type: ≥, value: 200, unit: 人}}
        服务对象满意度:
          - {{name: 满意度, type: ≥, value: 90, unit: "%"}}
  - name: 重名与测算
    category: 特定目标类
    budget: 1800000
    period: 2025年
    goal: 完成培训。
    basis: 培训费100万元，教材费50万元，合计150万元。
    indicators:
      产出指标:
        数量指标:
          - {{name: 培训人数, type: ≥, value: 200, unit: 人}}
        质量指标:
          - {{name: 培训人数, type: ≥, value: 180, unit: 人}}
      效益指标:
        社会效益: [{{name: 群众办事时间, type: 定性, value: 缩短, content: 平均缩短一半}}]
      满意度:
        服务对象满意度: [{{name: 满意度, type: ≥, value: 90, unit: "%"}}]
{invest("投入率正确", '{name: 资金投入率, type: =, value: 100, unit: "%"}')}
{invest("投入率90", '{name: 资金投入率, type: =, value: 90, unit: "%"}')}
{invest("投入率文本", '{name: 资金投入率, type: =, value: "100%"}')}
{invest("投入率无单位", '{name: 资金投入率, type: =, value: 100}')}
"""


NEAR = [100.00000000000001, 99.99999999999999, 100.0000000000001, 100.000000000001]


def corpus() -> perfxl.Spec:
    """CORPUS_YAML, plus what a spec cannot say: a row with a value but no name, and numbers a
    hair from the limits (Excel and LibreOffice compare numbers to about 15 digits)."""
    spec = perfxl.parse_spec(CORPUS_YAML, "corpus.yaml")
    unnamed, near = perfxl.parse_spec(CORPUS_YAML, "corpus.yaml").projects[-4:-2]
    unnamed.name = "名称缺失"
    unnamed.indicators["产出指标"]["数量指标"].append(Indicator("", "=", 3, unit="个"))
    near.name = "精度边界"
    near.indicators["成本指标"]["经济成本指标"] = [Indicator("资金投入率", "=", v, unit="%") for v in NEAR]
    near.indicators["满意度"]["服务对象满意度"] = [Indicator(f"满意度{v}", "≥", v, unit="%")
                                              for v in (79.99999999999999, 80.00000000000001, 100.00000000000001)]
    spec.projects += [unnamed, near]
    return spec


def by_project(findings) -> dict[str, list[str]]:
    out = collections.defaultdict(list)
    for f in findings:
        out[f.project].append(f.rule)
    return out


def perfxl_cli(*args):
    return subprocess.run([sys.executable, "-m", "perfxl.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=120)


# -- what check finds ------------------------------------------------------------------------------
def test_example_has_one_warning_the_reference_really_has(example_path):
    [finding] = check(example_path)
    assert (finding.rule, finding.severity, finding.indicator) == ("P-QUANT-UNIT", "warning", "带动出口")
    assert finding.location == f"{example_path}:59:13"


def test_corpus_fires_every_rule():
    fired = {f.rule for f in check(corpus())}
    assert fired == {r.id for r in RULES}


def test_corpus_findings_table_by_table():
    found = by_project(check(corpus()))
    assert sorted(found[None]) == ["P-HEAD-BASIS", "P-HEAD-BUDGET", "P-HEAD-GOAL", "P-HEAD-NAME",
                                   "P-HEAD-PERIOD"]
    assert sorted(found["行规则"]) == sorted([
        "P-INVEST", "P-COST-DIR", "P-COST-DIR", "P-QUANT-VALUE", "P-QUANT-UNIT", "P-TYPE-MISSING",
        "P-PCT-OVER", "P-VAGUE", "P-QUAL-VALUE", "P-QUAL-PCT", "P-SAT-DIR", "P-SAT-RANGE"])
    assert sorted(found["一级为空"]) == ["P-L1-EMPTY", "P-L1-EMPTY", "P-L2-MISPLACED"]
    assert sorted(found["重名与测算"]) == ["P-BASIS-SUM", "P-DUP-NAME", "P-INVEST-MISSING", "P-L1-EMPTY"]
    assert found["投入率正确"] == []
    assert found["投入率90"] == ["P-INVEST"]
    assert found["投入率无单位"] == ["P-INVEST", "P-QUANT-UNIT"]
    assert found["投入率文本"] == []      # "100%" in the value cell: 100 with unit %, as perfxl read reads it
    assert found["名称缺失"] == ["P-NAME-MISSING"]
    assert found["精度边界"] == ["P-INVEST", "P-PCT-OVER"] + ["P-DUP-NAME"] * 3   # only 100.000000000001 differs


def test_findings_point_at_the_blamed_yaml_line():
    findings = {(f.project, f.rule): f for f in check(corpus())}
    lines = CORPUS_YAML.split("\n")
    sat = findings["行规则", "P-SAT-DIR"]
    line, col = map(int, sat.location.split(":")[1:])
    assert sat.location.startswith("corpus.yaml:") and lines[line - 1][col - 1:].startswith("≤")
    assert (sat.level1, sat.level2, sat.indicator) == ("满意度", "服务对象满意度", "满意度")
    empty = findings["一级为空", "P-L1-EMPTY"]
    assert empty.level2 is None and empty.indicator is None
    budget = findings[None, "P-HEAD-BUDGET"]
    assert lines[int(budget.location.split(":")[1]) - 1].strip() == "- budget: 0"


def test_findings_are_in_table_order_with_header_first():
    rules = [f.rule for f in check(corpus()) if f.project == "行规则"]
    assert rules[:2] == ["P-INVEST", "P-COST-DIR"] and rules[-2:] == ["P-SAT-DIR", "P-SAT-RANGE"]


# -- the invariant: check and the workbook's live cells report the same -----------------------------
def live_by_row(project) -> tuple[dict, int, str]:
    """What the plan caches: row → rule ids from the J texts, the total and the status text."""
    message_rule = {}
    for rule in RULES:
        if rule.test is not None:
            for level1 in TEMPLATE.skeleton:
                message_rule[rule.text(level1=level1)] = rule.id
    plan = plan_table(TEMPLATE, project)
    rows = {}
    for cell in plan.cells:
        if cell.col == TEMPLATE.mark_col and cell.style == "mark" and cell.value:
            rows[cell.row] = sorted(message_rule[m] for m in re.findall(r"[^。]*。", cell.value))
    return rows, plan.problems, plan.status


def assert_plan_agrees(project):
    rows, problems, status = live_by_row(project)
    live = sorted(f.rule for f in check(perfxl.Spec([project])) if RULES_BY_ID[f.rule].test is not None)
    assert sorted(r for ids in rows.values() for r in ids) == live
    assert problems == len(live)
    assert status == ("通过" if not live else f"本表 {len(live)} 处问题")


def test_plans_agree_with_check_on_the_corpus():
    for project in corpus().projects:
        assert_plan_agrees(project)


TEXTS = st.sampled_from(["", " ", "资金投入率", "满意度", "提高", "100", "%", " % ", "=1+1", "x"])
VALUES = st.one_of(st.none(), TEXTS, st.sampled_from([0, 80, 100, 100.0, 120, -5, 79.99, 1e300]))
TYPES = st.one_of(st.none(), st.sampled_from(TEMPLATE.value_types))
ROWS = st.builds(Indicator, TEXTS, TYPES, VALUES, st.one_of(st.none(), TEXTS), st.one_of(st.none(), TEXTS))
TREES = st.dictionaries(st.sampled_from([*TEMPLATE.skeleton, "其他"]),
                        st.dictionaries(st.sampled_from(["经济成本指标", "服务对象满意度", "数量指标", "x"]),
                                        st.lists(ROWS, max_size=3), max_size=3), max_size=4)


@settings(max_examples=150, deadline=None)
@given(TREES, st.one_of(st.none(), TEXTS), st.one_of(st.none(), VALUES))
def test_plans_agree_with_check_on_any_table(tree, name, budget):
    project = perfxl.Project(name=name, budget=budget, basis=name)
    project.indicators = complete_tree(tree, TEMPLATE)
    assert_plan_agrees(project)


# -- the command ------------------------------------------------------------------------------------
def test_text_report_is_compiler_style_with_a_summary(tmp_path):
    spec = tmp_path / "corpus.yaml"
    spec.write_text(CORPUS_YAML, encoding="utf-8")
    result = perfxl_cli("check", spec)
    assert result.returncode == 1, result.stderr
    lines = result.stdout.splitlines()
    assert re.fullmatch(rf"{re.escape(str(spec))}:\d+:\d+: error P-SAT-DIR 满意度指标应为下限（≥），不应使用 ≤ 或 <。"
                        r"（行规则 › 满意度 › 服务对象满意度 › 满意度）",
                        next(line for line in lines if "P-SAT-DIR" in line))
    findings = check(spec)
    errors = sum(f.severity == "error" for f in findings)
    assert lines[-1] == f"检查 8 张表：{errors} 个错误，{len(findings) - errors} 个警告"
    assert len(lines) == len(findings) + 1


def test_json_report(tmp_path):
    spec = tmp_path / "corpus.yaml"
    spec.write_text(CORPUS_YAML, encoding="utf-8")
    result = perfxl_cli("check", spec, "--format", "json")
    assert result.returncode == 1
    findings = json.loads(result.stdout)["findings"]
    assert len(findings) == len(check(spec))
    keys = ["rule", "severity", "message", "project", "level1", "level2", "indicator", "location"]
    assert all(list(f) == keys for f in findings)
    header = next(f for f in findings if f["rule"] == "P-HEAD-GOAL")
    assert header["level1"] is header["level2"] is header["indicator"] is header["project"] is None


def test_warnings_only_exit_0_and_clean_spec_says_passed(tmp_path, example_path):
    result = perfxl_cli("check", example_path)
    assert result.returncode == 0 and result.stdout.splitlines()[-1] == "检查 2 张表：0 个错误，1 个警告"
    clean = tmp_path / "clean.yaml"
    clean.write_text(f"projects:\n  - name: 好{HEADER}\n    indicators:{GOOD}\n", encoding="utf-8")
    result = perfxl_cli("check", clean, "--format", "text")
    assert result.returncode == 0 and result.stdout == "检查 1 张表：通过，未发现问题\n"


def test_unusable_spec_exits_2_with_one_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("- a\n- b\n", encoding="utf-8")
    result = perfxl_cli("check", bad)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == f"perfxl: {bad}:1:1: 规格文件应为键值映射（key: value）\n"


def test_public_api_takes_a_spec_or_a_path(example_path):
    assert perfxl.check(perfxl.load_spec(example_path)) == perfxl.check(str(example_path))


def test_workbooks_are_told_by_their_bytes_and_stdin_is_a_spec(tmp_path, example_path):
    book = perfxl.render(example_path, tmp_path / "book")                    # no suffix
    result = perfxl_cli("check", book, "--format", "json")
    [finding] = json.loads(result.stdout)["findings"]
    assert result.returncode == 0 and finding["location"] == f"{book}!{finding['project'][:31]}!H14"
    piped = subprocess.run([sys.executable, "-m", "perfxl.cli", "check", "/dev/stdin"], capture_output=True,
                           text=True, timeout=120, input=example_path.read_text(encoding="utf-8"))
    assert piped.returncode == 0 and piped.stdout.startswith("/dev/stdin:59:13: warning P-QUANT-UNIT")
