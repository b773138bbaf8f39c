"""The reviewer's rules one by one: the Python-only rules, and the promises live rules keep."""
from __future__ import annotations

import re

import pytest

import perfxl
from perfxl.model import Indicator, Project
from perfxl.rules import money_amounts
from perfxl.spec import complete_tree

TEMPLATE = perfxl.load_template()
RULES = TEMPLATE.rules
RULES_BY_ID = {rule.id: rule for rule in RULES}


def builtin(rule_id: str):
    """The built-in behind one of the form's record rules, with the form's parameters."""
    return lambda p, template: list(RULES_BY_ID[rule_id].run(p, template))


basis_mismatch, duplicate_names = builtin("P-BASIS-SUM"), builtin("P-DUP-NAME")
investment_missing, misplaced_groups = builtin("P-INVEST-MISSING"), builtin("P-L2-MISPLACED")
REFERENCE_1 = ("11人补缴社保基数按4053元×16%计算100万元，医保征缴基数按特困企业4053元×8%标准+大病预留180元/年，"
               "计80万元（男士19年，女士29年），两项合计180万元。")
REFERENCE_2 = "跨境电商综试区线上综合服务平台及1210监管场所建设300万，跨境电商重点项目运营维护及数据对接90万。"


def project(tree=None, **fields) -> Project:
    p = Project(**fields)
    p.indicators = complete_tree(tree or {}, TEMPLATE)
    return p


def row(name, type_=None, value=None, unit=None, **kw) -> Indicator:
    return Indicator(name, type_, value, unit=unit, **kw)


INVEST = {"成本指标": {"经济成本指标": [row("资金投入率", "=", 100, "%")]}}


# -- 支出测算依据及说明 ---------------------------------------------------------------------------
def test_reference_basis_amounts_parts_and_totals():
    assert money_amounts(REFERENCE_1) == ([1_000_000, 800_000], [1_800_000])
    assert money_amounts(REFERENCE_2) == ([3_000_000, 900_000], [])


@pytest.mark.parametrize("text, parts, totals", [
    ("设备采购5200万元", [52_000_000], []),
    ("印刷费4053元", [4053], []),
    ("共计 1,500万元", [], [15_000_000]),
    ("总投资1.2亿元，本年安排300万元", [3_000_000], [120_000_000]),
    ("20人×5000元=10万元", [100_000], []),
    ("每人每月500元，合计6万元", [], [60_000]),
    ("服务群众5万人次，补助１００万元", [1_000_000], []),
    ("租金12万元/年，培训2000元每期", [], []),
])
def test_money_amounts(text, parts, totals):
    assert money_amounts(text) == (parts, totals)


@pytest.mark.parametrize("basis, budget, amount_unit", [
    (REFERENCE_1, 1_800_000, "元"),
    (REFERENCE_2, 3_900_000, "元"),
    (REFERENCE_1, 180, "万元"),
    ("本项目预算390万元，其中建设300万元，运维90万元。", 3_900_000, "元"),   # the budget itself is named
    ("按有关文件测算。", 1_800_000, "元"),                                    # no amounts: nothing to compare
])
def test_basis_that_agrees_with_the_budget_passes(basis, budget, amount_unit):
    assert list(basis_mismatch(project(basis=basis, budget=budget, amount_unit=amount_unit), TEMPLATE)) == []


def test_basis_that_disagrees_names_both_sums_in_the_amount_unit():
    p = project(basis="建设100万元，运维50万元，合计160万元。", budget=180, amount_unit="万元")
    [problem] = basis_mismatch(p, TEMPLATE)
    assert "写明的合计 160 万元" in problem.message and "各项之和 150 万元" in problem.message
    assert "180 万元" in problem.message and problem.keys == ("basis", "budget")


def test_basis_in_yuan_against_a_budget_in_wan():
    p = project(basis="两项合计180万元", budget=1_800_000, amount_unit="万元")   # 180 亿元 budgeted
    assert len(list(basis_mismatch(p, TEMPLATE))) == 1


# -- structure ------------------------------------------------------------------------------------
def test_duplicate_names_are_reported_at_the_second():
    p = project({**INVEST, "产出指标": {"数量指标": [row("培训人数"), row("覆盖企业")],
                                       "质量指标": [row("培训 人数")]}})
    [problem] = duplicate_names(p, TEMPLATE)
    assert (problem.level1, problem.level2, problem.indicator.name) == ("产出指标", "质量指标", "培训 人数")
    assert "产出指标 › 数量指标" in problem.message


def test_satisfaction_under_output_is_misplaced():
    p = project({**INVEST, "产出指标": {"服务对象满意度": [row("满意度", "≥", 90, "%")]}})
    [problem] = misplaced_groups(p, TEMPLATE)
    assert (problem.level1, problem.level2) == ("产出指标", "服务对象满意度")
    assert "移到「满意度」下" in problem.message


def test_unknown_second_and_first_levels_are_misplaced():
    p = project({**INVEST, "效益指标": {"可持续影响": [row("长效机制", "定性", "建立")]},
                 "其他指标": {"其他": [row("x", "定性", "y")]}})
    problems = list(misplaced_groups(p, TEMPLATE))
    assert [(q.level1, q.level2) for q in problems] == [("效益指标", "可持续影响"), ("其他指标", None)]
    assert "经济效益、社会效益、生态效益" in problems[0].message


def test_missing_investment_rate():
    assert list(investment_missing(project(INVEST), TEMPLATE)) == []
    assert list(investment_missing(project({"成本指标": {"经济成本指标": [row(" 资金投入率 ", "=", 90)]}}),
                                   TEMPLATE)) == []   # present (P-INVEST judges its value)
    [problem] = investment_missing(project({"产出指标": {"数量指标": [row("x", "=", 1, "个")]}}), TEMPLATE)
    assert (problem.level1, problem.level2) == ("成本指标", "经济成本指标")


# -- promises the live rules keep ------------------------------------------------------------------
def live_messages() -> list[str]:
    out = []
    for rule in RULES:
        if rule.test is None:
            continue
        out += [rule.text(level1=l1) for l1 in TEMPLATE.skeleton] if rule.scope == "group" else [rule.text()]
    return out


def test_every_live_message_ends_with_the_one_full_stop_the_count_formula_counts():
    for message in live_messages():
        assert message.count("。") == 1 and message.endswith("。"), message


def test_live_messages_tell_rules_apart():
    assert len(set(live_messages())) == len(live_messages())


def test_rules_have_unique_ids_severities_and_one_way_to_run():
    assert len({r.id for r in RULES}) == len(RULES)
    for rule in RULES:
        assert rule.severity in ("error", "warning") and re.fullmatch(r"P-[A-Z0-9-]+", rule.id)
        assert (rule.test is None) == (rule.scope == "record") == (rule.builtin is not None), rule.id


@pytest.mark.parametrize("text, number", [
    ("95", True), ("-2.5", True), ("+7", True), (".5", True), ("0005", True),
    ("5.", False), ("1,500", False), ("1e5", False), ("-", False), (".", False), ("", False), ("9 5", False),
    ("９５", False), ("--5", False), ("5-3", False), ("1.2.3", False)])
def test_number_text_is_what_every_engine_reads_alike(text, number):
    from perfxl.rules import is_number_text

    assert is_number_text(text) is number


@pytest.mark.parametrize("text, split", [
    ("100公里", ("100", "公里")), ("95 %", ("95", "%")), ("-2.5万元", ("-2.5", "万元")), ("1600 元/亩", ("1600", "元/亩")),
    ("100", None), ("公里100", None), ("1公2里", None), ("100 平方 米", None), ("5 个个个个个个个个个", None), ("5 个个个个个个个个", ("5", "个个个个个个个个")),
    ("5.公里", None), ("1,500元", None), ("5-", None)])
def test_a_glued_unit_is_split_as_the_unit_helper_splits_it(text, split):
    from perfxl.rules import glued_text

    assert glued_text(text) == split


def test_typed_values_on_a_form_with_the_helpers():
    from perfxl.rules import typed_value

    form = perfxl.load_template()
    assert typed_value(" 95 ", "≥", "%", form) == (95, "%")
    assert typed_value("95", "定性", None, form) == ("95", None)           # a 定性 value stays text
    assert typed_value("100公里", "≥", None, form) == (100, "公里")
    assert typed_value("100公里", "≥", " 公里 ", form) == (100, "公里")
    assert typed_value("100公里", "≥", "米", form) == ("100公里", "米")     # the unit cell says otherwise
    assert typed_value("100公里", None, None, form) == ("100公里", None)    # no type: nothing to split for
    assert typed_value("100公里", "≥", None, perfxl.load_template("county-project")) == ("100公里", None)   # no helpers
