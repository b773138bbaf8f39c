"""The writer's speed-ups change no byte: the same workbook as plain XlsxWriter would write."""
from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st
from xlsxwriter.worksheet import Worksheet

import perfxl
from perfxl import writer
from perfxl.layout import plan_table
from perfxl.template import load_template


def formulas(example_path):
    template = load_template()
    plans = [plan_table(template, p) for p in perfxl.load_spec(example_path).projects]
    plans.append(plan_table(template, None, 0, 2))
    return ([c.formula for p in plans for c in p.cells if c.formula]
            + [h.formula for p in plans for h in p.highlights])


def test_every_live_check_formula_takes_the_fast_path(example_path):
    for formula in formulas(example_path):
        assert set(writer.CALL.findall(formula)) <= writer.PLAIN_FUNCTIONS, formula


@pytest.mark.parametrize("conditional", [False, True])
def test_fast_path_gives_what_xlsxwriter_gives(example_path, tmp_path, conditional):
    ws = writer._Workbook(str(tmp_path / "x.xlsx")).add_worksheet("x")
    for formula in formulas(example_path) + ["=SORT(A1:A3)", '=IF(A1,"SORT(",1)', "{=SUM(A1:A2)}"]:
        formula = formula if formula.startswith(("=", "{")) else "=" + formula
        assert ws._prepare_formula(formula, conditional) == Worksheet._prepare_formula(ws, formula, conditional)


def test_same_bytes_as_plain_xlsxwriter(example_path, tmp_path, monkeypatch):
    spec = perfxl.load_spec(example_path)
    perfxl.render(spec, tmp_path / "fast.xlsx")
    monkeypatch.setattr(writer, "_Worksheet", Worksheet)
    monkeypatch.setattr(writer, "_Workbook", writer.xlsxwriter.Workbook)
    perfxl.render(spec, tmp_path / "plain.xlsx")
    assert (tmp_path / "fast.xlsx").read_bytes() == (tmp_path / "plain.xlsx").read_bytes()


def test_duplicate_sheet_names_still_refused(tmp_path):
    book = writer._Workbook(str(tmp_path / "x.xlsx"))
    book.add_worksheet("项目")
    with pytest.raises(writer.DuplicateWorksheetName):
        book.add_worksheet("项目")


def test_cached_row_formulas_are_the_rules_own(example_path, monkeypatch):
    from perfxl import layout

    def plans():
        template = load_template()
        return [plan_table(template, p) for p in perfxl.load_spec(example_path).projects] + [
            plan_table(template, None, 5, 2)]

    fast = plans()
    monkeypatch.setattr(layout._Planner, "row_condition", lambda self, rule, row, percent=None: rule.formula(
        self.row_refs(rule.table, lambda col: layout.ref(row, col), {}, percent)))
    monkeypatch.setattr(layout, "_empty_row_outcomes", lambda template, level1: layout.row_outcomes(template, level1, None))
    assert plans() == fast


@pytest.mark.parametrize("enabled", [True, False])
@pytest.mark.parametrize("text", ["projects:\n  - name: 甲\n", "projects: [\n"])
def test_spec_loading_pauses_the_collector_and_restores_it(monkeypatch, enabled, text):
    import gc

    from perfxl import spec

    seen = []
    compose = spec.compose_yaml
    monkeypatch.setattr(spec, "compose_yaml", lambda t: seen.append(gc.isenabled()) or compose(t))
    (gc.enable if enabled else gc.disable)()
    try:
        try:
            perfxl.parse_spec(text, "x.yaml")
        except perfxl.SpecError:
            assert text.endswith("[\n")
        assert seen == [False] and gc.isenabled() is enabled
    finally:
        gc.enable()


def test_reading_and_writing_pause_the_collector_and_restore_it(example_path, tmp_path, monkeypatch):
    import gc

    from perfxl import reader

    seen = []
    build = writer._Workbook.close
    monkeypatch.setattr(writer._Workbook, "close", lambda self: seen.append(gc.isenabled()) or build(self))
    recognise = reader.recognise
    monkeypatch.setattr(reader, "recognise", lambda *a: seen.append(gc.isenabled()) or recognise(*a))
    perfxl.render(perfxl.load_spec(example_path), tmp_path / "x.xlsx")
    perfxl.read(tmp_path / "x.xlsx")
    assert seen == [False, False] and gc.isenabled()


_json_leaves = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
                | st.text())
_json_keys = st.text() | st.integers() | st.booleans() | st.none() | st.floats(allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(st.recursive(_json_leaves, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_json_keys, inner, max_size=4),
                    max_leaves=30), st.sampled_from([1, 2, 4]))
def test_json_text_is_what_json_writes(value, indent):
    import json

    from perfxl.jsontext import json_text

    assert json_text(value, indent) == json.dumps(value, ensure_ascii=False, indent=indent, allow_nan=False)


@pytest.mark.parametrize("bad", [float("nan"), [float("inf")], {"x": {1: float("-inf")}}, {float("nan"): 1}])
def test_json_text_refuses_what_json_refuses(bad):
    import json

    from perfxl.jsontext import json_text

    with pytest.raises(ValueError):
        json.dumps(bad, allow_nan=False)
    with pytest.raises(ValueError):
        json_text(bad)
    with pytest.raises(TypeError):
        json_text({"x": object()})


def test_spec_json_is_what_json_writes(example_path):
    import json

    spec = perfxl.load_spec(example_path)
    text = perfxl.dump_spec(spec, "json", {"warnings": [{"where": "a.xlsx!表1!B3", "message": "注意\n\x1b[31m"}]})
    data = spec.to_dict() | {"warnings": [{"where": "a.xlsx!表1!B3", "message": "注意\n\x1b[31m"}]}
    assert text == json.dumps(data, ensure_ascii=False, indent=2, allow_nan=False) + "\n"
