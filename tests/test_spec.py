"""The spec loader: aliases, defaults, the template skeleton, and one-line errors with positions."""
from __future__ import annotations

import pytest
import yaml

import perfxl
from perfxl import SpecError, parse_spec
from perfxl.template import load_template

ONE = """\
year: 2025
unit: 测试单位
projects:
  - name: 项目甲
    budget: 100
    indicators:
      成本指标:
        经济成本指标:
          - {{name: 资金投入率, type: {type}, value: 100, unit: "%"}}
"""


def first_type(text: str) -> str:
    spec = parse_spec(text)
    return next(spec.projects[0].rows())[2].type


@pytest.mark.parametrize("typed, canonical", [
    ("=", "="), ("'＝'", "="), ("'=='", "="), ("'>='", "≥"), ("≧", "≥"), ("'\\geq'", "≥"),
    ("大于等于", "≥"), ("不低于", "≥"), ("'<='", "≤"), ("≦", "≤"), ("'\\leq'", "≤"),
    ("小于等于", "≤"), ("不高于", "≤"), ("'>'", ">"), ("'<'", "<"), ("定性", "定性"), ("定性指标", "定性"),
])
def test_type_aliases_normalise(typed, canonical):
    assert first_type(ONE.format(type=typed)) == canonical


def test_unknown_type_is_one_line_error_with_position():
    with pytest.raises(SpecError) as info:
        parse_spec(ONE.format(type="大约"), "specs/x.yaml")
    assert str(info.value) == 'specs/x.yaml:9:33: 指标值类型 "大约" 无效；可选 = ≥ ≤ > < 定性'


def test_example_loads_both_reference_tables(example_path):
    spec = perfxl.load_spec(example_path)
    assert [p.name for p in spec.projects] == [
        "市属商贸企业遗留问题专项资金", "株洲市跨境电商综试区线上综合服务平台及1210监管场所建设及维护"]
    first = spec.projects[0]
    assert (first.year, first.unit, first.amount_unit, first.budget) == (2025, "外经科公共专项", "元", 1800000)
    assert sum(1 for _ in first.rows()) == 6
    assert sum(1 for _ in spec.projects[1].rows()) == 8
    assert spec.projects[1].indicators["产出指标"]["数量指标"][0].type == "≥"


def test_missing_groups_come_from_the_skeleton_and_unknown_ones_follow():
    spec = parse_spec("""
projects:
  - name: p
    indicators:
      自定义一级:
        自定义二级: [{name: x, type: 定性, value: 好}]
      满意度:
        服务对象满意度: [{name: 满意度, type: ≥, value: 90, unit: "%"}]
      产出指标:
        其他产出: [{name: y, type: 定性, value: 是}]
""")
    tree = spec.projects[0].indicators
    skeleton = load_template().skeleton
    assert list(tree) == list(skeleton) + ["自定义一级"]
    assert list(tree["产出指标"]) == skeleton["产出指标"] + ["其他产出"]
    assert tree["成本指标"] == {"经济成本指标": [], "社会成本指标": [], "生态环境成本指标": []}


def test_project_overrides_shared_fields():
    spec = parse_spec("year: 2025\nunit: A\nprojects:\n  - {name: a}\n  - {name: b, year: 2026, unit: B, amount_unit: 万元}\n")
    a, b = spec.projects
    assert (a.year, a.unit, a.amount_unit) == (2025, "A", "元")
    assert (b.year, b.unit, b.amount_unit) == (2026, "B", "万元")


def test_quantitative_types_in_rules_match_the_template():
    """The form's `quantitative` name lists exactly its quantitative 指标值类型."""
    template = load_template()
    rule = next(r for r in template.rules if r.id == "P-QUANT-VALUE")
    fires = {t for t in template.value_types + ["", "约", "=="] if rule.fires({"type": t, "value": "多"})}
    assert fires == set(template.quantitative)


@pytest.mark.parametrize("text, message", [
    ("projects:\n  - name: a\n    colour: red\n", 'x.yaml:3:5: 项目中未知的键 "colour"'),
    ("projects:\n  - name: a\n    budget: 一百万\n", 'x.yaml:3:13: budget（年度本级预算金额）应为数字，不是 "一百万"'),
    ("projects: [\n", "x.yaml:2:1: YAML 语法错误"),
    ("- a\n- b\n", "x.yaml:1:1: 规格文件应为键值映射"),
    ("", "x.yaml: 文件为空"),
    ("year: 2025\n", "x.yaml:1:1: 缺少 projects"),
    ("projects:\n  - name: a\n    amount_unit: 美元\n", 'x.yaml:3:18: 金额单位 "美元" 无效'),
    ("projects:\n  - name: a\n    indicators:\n      成本指标:\n        经济成本指标:\n          - {type: =}\n",
     "x.yaml:6:13: 指标缺少 name"),
    ("projects:\n  - name: a\n    goal: " + "长" * 32768 + "\n", "x.yaml:3:11: goal有 32768 个字符，超过 Excel 单元格上限 32767"),
])
def test_bad_specs_fail_with_position(text, message):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "x.yaml")
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_alias_bomb_is_refused_quickly():
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
    for i in range(1, 10):
        bomb += f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]\n"
    bomb += "projects:\n  - name: *j\n"
    with pytest.raises(SpecError):
        parse_spec(bomb, "bomb.yaml")


def test_missing_file(tmp_path):
    with pytest.raises(SpecError) as info:
        perfxl.load_spec(tmp_path / "nope.yaml")
    assert "文件不存在" in str(info.value)


# -- YAML 1.2 rules: decimal numbers only, text exactly as typed ---------------------------------
FORMS = """\
projects:
  - name: {name}
    budget: {budget}
    period: {period}
    indicators:
      产出指标:
        数量指标:
          - {{name: 数量, type: ≥, value: {value}, unit: 个}}
"""


def loaded(name="p", budget="1", period="2025年", value="1"):
    project = parse_spec(FORMS.format(name=name, budget=budget, period=period, value=value), "x.yaml").projects[0]
    return project, project.indicators["产出指标"]["数量指标"][0]


@pytest.mark.parametrize("typed, budget", [
    ("0500000", 500000), ("500000", 500000), ("1800000.00", 1800000), ("'1,500'", 1500), ("1.5e6", 1500000),
    ("'３,０００'", 3000), ("+12", 12),
])
def test_budget_is_read_as_a_decimal_number(typed, budget):
    assert loaded(budget=typed)[0].budget == budget


@pytest.mark.parametrize("typed", ["0x1F", "0o17", "1:30", "'12,34,5'", ".inf", ".nan", "1e999", "true", "'0x1F'"])
def test_budget_refuses_what_is_no_decimal_number_with_its_position(typed):
    with pytest.raises(SpecError) as info:
        loaded(budget=typed)
    assert str(info.value).startswith("x.yaml:3:13: budget（年度本级预算金额）应为")
    assert any(w in str(info.value) for w in ("应为数字", "应为有限的数字", "应为十进制数字"))


@pytest.mark.parametrize("typed, text", [
    ("2025.10", "2025.10"), ("0123", "0123"), ("0x1F", "0x1F"), ("1:30", "1:30"), ("1e-05", "1e-05"),
    ("yes", "yes"), ("true", "true"), ("2025-01-01", "2025-01-01"), ("'0123'", "0123"), ("=", "="), (".inf", ".inf"),
])
def test_text_fields_keep_exactly_what_was_typed(typed, text):
    project, _ = loaded(name=typed, period=typed)
    assert (project.name, project.period) == (text, text)


@pytest.mark.parametrize("typed, value", [
    ("0100", 100), ("100", 100), ("1e-05", 1e-05), ("95.5", 95.5), ("-3", -3), ("1:30", "1:30"), ("0x1F", "0x1F"),
    ("'95'", "95"), ("yes", "yes"), ("'0100'", "0100"),
])
def test_indicator_values_are_decimal_numbers_or_text_as_typed(typed, value):
    got = loaded(value=typed)[1].value
    assert got == value and type(got) is type(value)


@pytest.mark.parametrize("typed", [".inf", "-.inf", ".nan", "1e999"])
def test_indicator_values_refuse_infinity_and_nan(typed):
    with pytest.raises(SpecError) as info:
        loaded(value=typed)
    assert str(info.value).startswith("x.yaml:8:40: 指标值应为有限的数字")


@pytest.mark.parametrize("loader", ["c", "python"])
def test_a_lone_surrogate_is_refused_with_its_line(monkeypatch, loader):
    if loader == "python":      # PyYAML's own parser makes the character; libyaml refuses the escape
        import perfxl.yamlnodes
        monkeypatch.setattr(perfxl.yamlnodes, "_Loader", perfxl.yamlnodes._PythonLoader)
    with pytest.raises(SpecError) as info:
        loaded(name='"a\\ud800b"')
    assert str(info.value).startswith("x.yaml:2:")


def test_unknown_tags_and_merge_keys_are_refused():
    with pytest.raises(SpecError, match="x.yaml:2:11: .*不支持的 YAML 标签"):
        loaded(name="!!binary aGVsbG8=")
    with pytest.raises(SpecError, match="x.yaml:2:6: 不支持 YAML 合并键"):
        parse_spec("projects:\n  - {<<: {name: a}}\n", "x.yaml")


# -- JSON specs: JSON's grammar, positions as for YAML ---------------------------------------------
def test_json_is_read_as_json(tmp_path):
    text = ('{"projects": [{"name": "a\\u2028b\\u2029c\\u0085d\\u007f", "budget": 1e2, "indicators": '
            '{"产出指标": {"数量指标": [{"name": "n", "type": "≥", "value": 1e-05, "unit": "%"}]}}}]}')
    path = tmp_path / "spec.json"
    path.write_text(text, encoding="utf-8")
    project = perfxl.load_spec(path).projects[0]
    assert project.name == "a\u2028b\u2029c\u0085d\x7f" and project.budget == 100
    assert project.indicators["产出指标"]["数量指标"][0].value == 1e-05


@pytest.mark.parametrize("text, message", [
    ('{"projects": [{"name": "a"},]}', "x.json:1:29: JSON 语法错误"),
    ('{"projects": [{"name": "a", "colour": 1}]}', 'x.json:1:29: 项目中未知的键 "colour"'),
    ('{"projects": [{"name": "a", "budget": NaN}]}', "x.json:1:39: JSON 语法错误"),
    ('{"projects": [{"name": "a", "budget": "0x10"}]}', 'x.json:1:39: budget（年度本级预算金额）应为数字'),
    ('{"projects": [{"name": "a"}]} x', "x.json:1:31: JSON 语法错误"),
    ('{"projects": [{"name": "a", "name": "b"}]}', 'x.json:1:29: 键 "name" 重复'),
    ('[' * 200, "x.json:1:102: JSON 语法错误：JSON 嵌套过深"),
])
def test_bad_json_fails_with_position(text, message):
    with pytest.raises(SpecError) as info:
        parse_spec(text, "x.json")
    assert str(info.value).startswith(message)


@pytest.mark.parametrize("depth", [30_000, 100_000])
def test_deep_flow_nesting_is_refused_in_process_not_a_segfault(depth):
    # libyaml's recursive composer overflows the C stack at 20,000-30,000 levels (exit 139)
    with pytest.raises(SpecError, match="嵌套过深"):
        parse_spec("projects: " + "[" * depth + "]" * depth, "deep.yaml")


def test_nesting_guard_errs_towards_the_safe_composer_only():
    from perfxl.yamlnodes import MAX_C_NESTING, compose_yaml, deeply_nested
    flat = "projects:\n" + "".join(f"- {{name: 项目{i}, tags: [a, b], more: {{}}}}\n" for i in range(2000))
    assert not deeply_nested(flat)
    hidden = "a: " + "]" * 500 + "\nb: " + "[" * (MAX_C_NESTING + 1) + "]" * (MAX_C_NESTING + 1)
    assert deeply_nested(hidden)
    assert deeply_nested("a:\n" + " " * (MAX_C_NESTING + 1) + "b: 1\n")
    nested = "a: " + "[" * (MAX_C_NESTING + 5) + "1" + "]" * (MAX_C_NESTING + 5)
    node, levels = compose_yaml(nested).value[0][1], 0
    while isinstance(node, yaml.SequenceNode):
        node, levels = node.value[0], levels + 1
    assert (levels, node.value, node.tag) == (MAX_C_NESTING + 5, "1", "tag:perfxl,2026:plain")


def test_a_large_collected_spec_loads_back(tmp_path):
    """collect writes the combined spec of every return; perfxl must read its own output back:
    over 8 MB (long texts) and over 200,000 nodes (many tables) are no alias bombs."""
    from perfxl.model import Indicator, Project, Spec

    rows = [Indicator(f"指标{i}", "≥", i, unit="个") for i in range(12)]
    projects = [Project(name=f"项目{n}", unit=f"单位{n % 40}", budget=n, goal="目" * (4000 if n < 700 else 10),
                        indicators={"产出指标": {"数量指标": list(rows)}}) for n in range(2600)]
    text = perfxl.dump_spec(Spec(projects))
    assert len(text.encode()) > 8 << 20
    (tmp_path / "collected.yaml").write_text(text, encoding="utf-8")
    back = perfxl.load_spec(tmp_path / "collected.yaml")
    assert len(back.projects) == 2600 and back.projects[-1].indicators["产出指标"]["数量指标"][-1].value == 11

