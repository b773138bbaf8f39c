"""Rule formulas: the text a form file writes, parsed into one tree with two back ends."""
from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perfxl.expr import FAILED
from perfxl.formula import FUNCTIONS, MAX_FORMULA, FormulaError, names_used, parse
from perfxl.rules import Rule

NAMES = {"budget": "cell", "fiscal": "cell", "other": "cell", "name": "column"}
REFS = {"budget": "$G$5", "fiscal": "$G$6", "other": "$I$6", "name": "$D8", "name[]": "$D$8:$D$12"}


def run(text: str, **env):
    return parse(text, NAMES).evaluate(env)


@pytest.mark.parametrize("text", [
    'OR(NOT(ISNUMBER(budget)),budget<=0)',
    'ABS(fiscal+other-budget)>0.005',
    'AND(TRIM(name)="资金投入率",OR(name<>"=",budget<>100))',
    'NOT((SUMPRODUCT(LEN(TRIM(name[])))>0))',
    'IF(ISNUMBER(budget),budget*2/3<-1,FALSE)',
    'ROUND(fiscal,2)=ROUND(other,2)',
    '"say ""hi"""=name',
])
def test_the_workbook_formula_is_the_text_as_written(text):
    same = {k: k for k in ("budget", "fiscal", "other", "name", "name[]")}
    assert parse(text, NAMES).excel(same) == text
    assert "$G$5" in parse(text, NAMES).excel(REFS) or "budget" not in text


def test_arithmetic_and_cross_field_references_evaluate_as_excel_does():
    rule = 'ABS(fiscal+other-budget)>0.005'
    assert run(rule, fiscal=60, other=40, budget=100) is False
    assert run(rule, fiscal=60, other=40.01, budget=100) is True
    assert run(rule, fiscal=None, other=None, budget=None) is False     # blank cells are 0
    assert run(rule, fiscal="六十", other=40, budget=100) is FAILED     # text in arithmetic: #VALUE!
    assert run("budget/fiscal>1", budget=1, fiscal=0) is FAILED          # #DIV/0!
    assert run("-budget*2+1", budget=3) == -5
    assert run("budget-fiscal-other", budget=10, fiscal=3, other=2) == 5  # left to right
    assert run("budget+fiscal*other", budget=1, fiscal=2, other=3) == 7   # * before +
    assert run("ROUND(budget,2)", budget=2.675) == 2.68                  # halves away from zero, as shown
    assert run("ROUND(budget,0)", budget=-2.5) == -3
    assert run("ROUND(budget,400)", budget=1e300) == 1e300 and run("ROUND(budget,-400)", budget=5) == 0
    assert run("IF(ISNUMBER(fiscal),fiscal+1>2,FALSE)", fiscal="x") is False   # IF evaluates one branch


def test_a_rule_that_cannot_be_computed_fires_in_both_back_ends():
    rule = Rule("W-SUM", "error", "和不对。", "field", parse("ABS(fiscal+other-budget)>0.005", NAMES), field="budget")
    assert rule.fires({"fiscal": "abc", "other": 1, "budget": 1}) is True
    assert rule.formula(REFS) == "IFERROR(ABS($G$6+$I$6-$G$5)>0.005,TRUE)"
    plain = Rule("P", "error", "空。", "field", parse('NOT(TRIM(budget)<>"")', NAMES), field="budget")
    assert plain.formula(REFS) == 'NOT(TRIM($G$5)<>"")'        # no IFERROR where nothing can fail


def test_names_used_lists_the_cells_a_formula_reads():
    assert names_used(parse("AND(ABS(fiscal-other)>1,SUMPRODUCT(LEN(name[]))>0)", NAMES)) == {
        "fiscal", "other", "name"}


def test_defined_names_are_inlined():
    quant = parse('OR(name="=",name="≥")', NAMES)
    expr = parse("AND(quant,TRUE)", NAMES, defined={"quant": quant})
    assert expr.excel(REFS) == 'AND(OR($D8="=",$D8="≥"),TRUE)'


@pytest.mark.parametrize("text, offset, phrase", [
    ("EXEC(budget)", 0, "不支持的函数「EXEC」"),
    ("budgt>0", 0, "未知的名称「budgt」"),
    ("budget[]>0", 0, "没有名为 budget 的列"),
    ("NOT(budget,1)", 0, "NOT 需要 1 个参数，这里有 2 个"),
    ("budget>0)", 8, "多余的「)」"),
    ('name="abc', 5, "无法识别的字符"),
    ("budget>", 7, "此处应为值、名称或函数，不是「结尾」"),
    ("AND(budget>0", 12, "此处应为「)」"),
    ("budget^2", 6, "无法识别的字符「^」"),
    ("budget.__class__", 6, "无法识别的字符「.」"),
])
def test_formula_mistakes_say_what_and_where(text, offset, phrase):
    with pytest.raises(FormulaError) as info:
        parse(text, NAMES)
    assert phrase in info.value.message and info.value.offset == offset


def test_long_formulas_are_refused():
    with pytest.raises(FormulaError, match="公式过长"):
        parse("AND(" + ",".join(["budget>0"] * 300) + ")", NAMES)
    assert len("AND(" + ",".join(["budget>0"] * 300) + ")") > MAX_FORMULA


# -- property: any expression the grammar makes prints back as itself and never crashes ---------
LEAVES = st.sampled_from(["budget", "fiscal", "other", "1", "0.5", '"x"', '""', "TRUE"])


def _compose(children):
    return st.one_of(
        st.tuples(children, st.sampled_from(["+", "-", "*", "/", "=", "<>", "<", ">=", "<=", ">"]), children).map(
            lambda t: f"{t[0]}{t[1]}{t[2]}"),
        st.tuples(st.sampled_from(["AND", "OR"]), st.lists(children, min_size=1, max_size=3)).map(
            lambda t: f"{t[0]}({','.join(t[1])})"),
        st.tuples(st.sampled_from(["NOT", "TRIM", "ISNUMBER", "ABS", "LEN"]), children).map(lambda t: f"{t[0]}({t[1]})"),
        children.map(lambda c: f"({c})"),
        st.tuples(children, st.sampled_from(["0", "2", "-3", "400"])).map(lambda t: f"ROUND({t[0]},{t[1]})"),
        st.tuples(children, children, children).map(lambda t: f"IF({t[0]},{t[1]},{t[2]})"),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(LEAVES, _compose, max_leaves=12),
       st.fixed_dictionaries({k: st.one_of(st.none(), st.integers(-5, 5), st.floats(-1e6, 1e6), st.text(max_size=3))
                              for k in ("budget", "fiscal", "other")}))
def test_generated_formulas_print_back_as_written_and_evaluate(text, env):
    expr = parse(text, NAMES)
    assert expr.excel({k: k for k in NAMES}) == text
    expr.evaluate(env)          # never raises: errors are FAILED, as Excel's are error values


def test_every_function_is_known_to_both_back_ends():
    for name, (fewest, _) in FUNCTIONS.items():
        args = ",".join(["budget"] * fewest)
        expr = parse(f"{name}({args})", NAMES)
        assert expr.excel({"budget": "$G$5"}).startswith(f"{name}(")
        expr.evaluate({"budget": 1})
