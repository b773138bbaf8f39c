"""Round trips: spec → render → read → the same spec, for random specs (hypothesis), for both
layouts, through the YAML and JSON dumps, and through LibreOffice re-saves as .xlsx, .xls, .ods.
"""
from __future__ import annotations

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

import perfxl
from perfxl.dump import dump_spec
from perfxl.model import Indicator, Project, Spec
from perfxl.values import parse_number
from perfxl.spec import complete_tree

TEMPLATE = perfxl.load_template()

# -- random specs -------------------------------------------------------------------------------
CHARS = st.characters(categories=["L", "N", "P", "S", "Zs"], exclude_characters="\x85\u2028\u2029")
CJK = st.characters(min_codepoint=0x4E00, max_codepoint=0x9FFF)
ODD = st.sampled_from(list("（）：，。、％＝＋－＠“”《》\u3000 =+-@'\"#&<>!?*/\\[]{}|~^_$"))


def line(max_size: int = 24):
    """One line of text as people type it: mostly CJK, odd punctuation, no leading/trailing blanks."""
    return st.text(st.one_of(CJK, CJK, CHARS, ODD), min_size=1, max_size=max_size).map(str.strip).filter(bool)


def long_text():
    piece = st.text(st.one_of(CJK, CHARS, ODD, st.just("\n")), min_size=1, max_size=400)
    return st.one_of(piece, piece.map(lambda t: t * 8)).map(str.strip).filter(bool)


def splits(text: str) -> bool:
    """A value the reader splits into 指标值类型, 指标值 and 度量单位 when no type is given."""
    import unicodedata

    from perfxl.reader import COMPARED
    match = COMPARED.fullmatch(unicodedata.normalize("NFKC", text))
    return bool(match) and TEMPLATE.is_quantitative(TEMPLATE.normalise_type(match.group("op")))


def maybe(strategy):
    return st.one_of(st.none(), strategy)


FORMULA_LIKE = st.tuples(st.sampled_from("=+-@"), line(12)).map("".join)
NUMBERS = st.one_of(st.integers(-10**12, 10**12),
                    st.decimals(-10**9, 10**9, places=2).map(float).map(lambda f: f + 0.0))
TEXT_VALUE = st.one_of(line(), FORMULA_LIKE)


def ROUND_TRIPS(examples: int):
    """Settings of the workbook round trips: slow examples, the tmp_path fixture reused."""
    return settings(max_examples=examples, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@st.composite
def indicators(draw):
    value_type = draw(st.sampled_from([*TEMPLATE.value_types, None]))
    if TEMPLATE.is_quantitative(value_type):
        value = draw(maybe(NUMBERS))
    elif value_type == TEMPLATE.qualitative:
        value = draw(maybe(st.one_of(TEXT_VALUE, NUMBERS)))
    else:   # no type: numeric text is read as the number it says, '≥95%' as type, value and unit
        value = draw(maybe(st.one_of(TEXT_VALUE.filter(lambda t: parse_number(t) is None and not splits(t)),
                                     NUMBERS)))
    return Indicator(
        name=draw(st.one_of(line().filter(lambda t: t[0] not in "★☆"), FORMULA_LIKE)),   # ★: a core mark, read off
        type=value_type,
        value=perfxl.values.normalise_number(value) if isinstance(value, float) else value,
        content=draw(maybe(long_text())),
        unit=draw(maybe(line(6))),
        note=draw(maybe(long_text())),
    )


def rows_of(draw):
    many = draw(st.booleans()) and draw(st.integers(0, 9)) == 0
    return draw(st.lists(indicators(), max_size=14 if many else 3))


@st.composite
def trees(draw):
    tree = {}
    for level1, level2s in TEMPLATE.skeleton.items():
        if draw(st.integers(0, 3)) == 0:
            continue                                   # left out: the loader adds it back empty
        groups = tree[level1] = {}
        for level2 in level2s:
            if draw(st.booleans()):
                groups[level2] = rows_of(draw)
        if draw(st.integers(0, 4)) == 0:
            groups[draw(line(10))] = rows_of(draw)     # an unknown 二级
    for _ in range(draw(st.integers(0, 2))):           # unknown 一级, maybe without any 二级
        tree[draw(line(10))] = {draw(line(10)): rows_of(draw) for _ in range(draw(st.integers(0, 2)))}
    return complete_tree(tree, TEMPLATE)


UNIT = line(20).filter(lambda t: t[0] not in ":：")
YEAR = st.one_of(st.integers(1990, 2100), st.text("〇一二三四五六七八九", min_size=1, max_size=4))


@st.composite
def projects(draw, shared):
    year, unit, amount_unit = shared if shared else (draw(maybe(YEAR)), draw(maybe(UNIT)),
                                                     draw(st.sampled_from(["元", "万元"])))
    budget = draw(maybe(st.decimals(0, 10**10, places=2).map(float)))
    return Project(
        name=draw(maybe(line(40))), category=draw(maybe(line())),
        budget=perfxl.values.normalise_number(budget) if budget is not None else None,
        period=draw(maybe(line(12))), goal=draw(maybe(long_text())), basis=draw(maybe(long_text())),
        year=year, unit=unit, amount_unit=amount_unit, indicators=draw(trees()))


@st.composite
def specs(draw):
    shared = None
    if draw(st.booleans()):
        shared = (draw(maybe(YEAR)), draw(maybe(UNIT)), draw(st.sampled_from(["元", "万元"])))
    return Spec(draw(st.lists(projects(shared), min_size=1, max_size=3)))


@ROUND_TRIPS(40)
@given(spec=specs(), one_sheet=st.booleans())
def test_render_read_round_trip(tmp_path, spec, one_sheet):
    path = perfxl.render(spec, tmp_path / "random.xlsx", one_sheet=one_sheet)
    result = perfxl.read(path)
    assert result.warnings == []
    assert result.spec == spec
    assert perfxl.parse_spec(dump_spec(result.spec)) == spec
    assert perfxl.parse_spec(dump_spec(result.spec, "json")) == spec


# -- the example, both layouts, blank forms ---------------------------------------------------
@pytest.mark.parametrize("one_sheet", [False, True])
def test_example_round_trip(example_path, tmp_path, one_sheet):
    spec = perfxl.load_spec(example_path)
    result = perfxl.read(perfxl.render(spec, tmp_path / "example.xlsx", one_sheet=one_sheet))
    assert result.spec == spec and result.warnings == []
    assert perfxl.parse_spec(dump_spec(result.spec)) == spec


def test_dumped_yaml_looks_like_a_spec(example_path, tmp_path):
    spec = perfxl.load_spec(example_path)
    text = dump_spec(perfxl.read(perfxl.render(spec, tmp_path / "example.xlsx")).spec)
    assert text.startswith("year: 2025\nunit: 外经科公共专项\namount_unit: 元\n")
    assert "- {name: 资金投入率, type: '=', value: 100, unit: '%'}" in text
    assert "社会成本指标: []" in text


@pytest.mark.parametrize("one_sheet", [False, True])
def test_blank_forms_read_as_empty_projects(tmp_path, one_sheet):
    path = perfxl.blank(tmp_path / "blank.xlsx", projects=3, rows=2, one_sheet=one_sheet, unit="某局")
    result = perfxl.read(path)
    empty = Project(unit="某局", indicators=complete_tree({}, TEMPLATE))
    assert result.spec.projects == [empty] * 3
    assert result.warnings == []


def test_a_filled_blank_form(tmp_path):
    path = perfxl.blank(tmp_path / "blank.xlsx", projects=1, rows=2, year=2025)
    wb = openpyxl.load_workbook(path)
    ws = wb.worksheets[0]
    ws["B3"], ws["G4"] = "新项目", 50000
    ws["D8"], ws["E8"], ws["F8"], ws["H8"] = "资金投入率", "=", 100, "%"    # 经济成本指标, 1st of 2 rows
    wb.save(path)
    project = perfxl.read(path).spec.projects[0]
    assert (project.name, project.budget, project.year) == ("新项目", 50000, 2025)
    assert project.indicators["成本指标"]["经济成本指标"] == [Indicator("资金投入率", "=", 100, unit="%")]
    assert sum(1 for _ in project.rows()) == 1


# -- LibreOffice ----------------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", ["xlsx", "xls", "ods", "xlsm:Calc MS Excel 2007 VBA XML"])
@pytest.mark.parametrize("one_sheet", [False, True])
def test_libreoffice_resave(libreoffice, example_path, tmp_path, fmt, one_sheet):
    spec = perfxl.load_spec(example_path)
    src = perfxl.render(spec, tmp_path / "example.xlsx", one_sheet=one_sheet)
    out = libreoffice.convert(src, fmt, tmp_path / fmt.split(":")[0])
    result = perfxl.read(out)
    assert result.spec == spec
    assert result.warnings == []


def test_libreoffice_percent_cells_and_recalculated_formula(libreoffice, example_path, tmp_path):
    spec = perfxl.load_spec(example_path)
    src = perfxl.render(spec, tmp_path / "example.xlsx")
    wb = openpyxl.load_workbook(src)
    ws = wb.worksheets[0]
    ws["F8"] = 1                            # 资金投入率 100 %, unit cell says %
    ws["F17"], ws["H17"] = 0.85, None       # 满意度 85 %, unit cell empty
    for cell in ("F8", "F17"):
        ws[cell].number_format = "0%"
    ws["F11"] = "=5+6"                      # no cached value until LibreOffice recalculates
    wb.save(src)
    assert "公式" in " ".join(w.message for w in perfxl.read(src).warnings)

    def cells(result):
        return [w.location.rsplit("!", 1)[1] for w in result.warnings]

    for fmt in ("ods", "xlsx"):
        result = perfxl.read(libreoffice.convert(src, fmt, tmp_path / fmt))
        assert result.spec == spec
        assert cells(result) == ["F8", "F17"]
    result = perfxl.read(libreoffice.convert(src, "xls", tmp_path / "xls"))   # formats unread
    project = result.spec.projects[0]
    assert project.indicators["成本指标"]["经济成本指标"][0].value == 1
    assert project.indicators["满意度"]["服务对象满意度"][0].value == 0.85
    assert cells(result) == ["F8"] and "应为 100" in result.warnings[0].message


# -- hostile values: spec → render → read → render is a fixpoint ---------------------------------
LABELS = st.sampled_from(["备注", "单位", "绩效指标", "项目名称", "预算金额", "一级指标", "三级指标", "指标值",
                          "本年度绩效指标", "支出测算依据及说明", "金额单位：元", "填报单位", "项目类别"])
TRICKY = st.one_of(
    st.sampled_from(["0123", "00", "2025.10", "2025.1", "1e-05", "1E5", "0x1F", "0o17", "1:30", "12,34,5",
                     "1,500", ".5", "-0", "+7", "null", "~", "true", "yes", "=", "≥", "#N/A", "=1+1", "@x"]),
    LABELS,
    st.text(st.sampled_from(list("\x01\x07\x08\x0b\x0c\x0e\x1b\x7f\x85\u2028\u2029\u200b\ufeff𠮷😀\U0010fffd中")),
            min_size=1, max_size=6).map(lambda t: "甲" + t + "乙"),
)
TRICKY_LINE = st.one_of(line(), TRICKY)


@st.composite
def tricky_indicators(draw):
    value_type = draw(st.sampled_from([*TEMPLATE.value_types, None]))
    value = draw(maybe(st.one_of(TRICKY, NUMBERS, st.sampled_from([1e-05, 0.1, 1e20, -2.5e-9]))))
    return Indicator(name=draw(TRICKY_LINE), type=value_type,
                     value=perfxl.values.normalise_number(value) if isinstance(value, float) else value,
                     content=draw(maybe(TRICKY_LINE)), unit=draw(maybe(TRICKY)), note=draw(maybe(TRICKY_LINE)))


@st.composite
def tricky_specs(draw):
    tree = {draw(st.one_of(st.sampled_from(list(TEMPLATE.skeleton)), TRICKY)):
            {draw(TRICKY_LINE): draw(st.lists(tricky_indicators(), min_size=1, max_size=3))}
            for _ in range(draw(st.integers(1, 3)))}
    project = Project(name=draw(TRICKY_LINE), category=draw(maybe(TRICKY)), budget=draw(maybe(NUMBERS)),
                      period=draw(maybe(TRICKY)), goal=draw(maybe(TRICKY_LINE)), basis=draw(maybe(TRICKY_LINE)),
                      year=draw(maybe(st.integers(1990, 2100))), unit=draw(maybe(UNIT)),
                      indicators=complete_tree(tree, TEMPLATE))
    return Spec([project])


def as_read(spec: Spec) -> Spec:
    """What the reader makes of `spec`'s workbook: a quantitative (or untyped) 指标值 written as
    numeric text comes back as the number it says (each with a warning)."""
    for project in spec.projects:
        for _, _, item in project.rows():
            if isinstance(item.value, str) and item.type != TEMPLATE.qualitative:
                number = parse_number(item.value)
                item.value = item.value if number is None else number
    return spec


@ROUND_TRIPS(60)
@given(spec=tricky_specs(), one_sheet=st.booleans())
def test_hostile_values_reach_a_fixpoint_after_one_pass(tmp_path, spec, one_sheet):
    first = perfxl.render(spec, tmp_path / "first.xlsx", one_sheet=one_sheet)
    once = perfxl.read(first)
    expected = as_read(perfxl.parse_spec(dump_spec(spec)))
    assert once.spec == expected
    changed = sum(isinstance(a.value, str) and not isinstance(b.value, str)
                  for (_, _, a), (_, _, b) in zip(spec.projects[0].rows(), once.spec.projects[0].rows()))
    assert len([w for w in once.warnings if "按数字" in w.message]) >= changed
    second = perfxl.render(once.spec, tmp_path / "second.xlsx", one_sheet=one_sheet)
    twice = perfxl.read(second)
    assert twice.spec == once.spec and twice.warnings == []
    assert perfxl.render(twice.spec, tmp_path / "third.xlsx", one_sheet=one_sheet).read_bytes() == second.read_bytes()
    assert perfxl.parse_spec(dump_spec(once.spec), "back.yaml") == once.spec
    assert perfxl.parse_spec(dump_spec(once.spec, "json"), "back.json") == once.spec


# -- spec text written one project at a time: the same text as the whole document at once -------
def whole_document(spec: Spec, fmt: str, extra: dict | None = None) -> str:
    """The reference: the whole spec as one document, dumped in one call."""
    import json

    import yaml

    from perfxl import dump

    if fmt == "json":
        return json.dumps(spec.to_dict() | (extra or {}), ensure_ascii=False, indent=2, allow_nan=False) + "\n"
    data = spec.to_dict()
    for project in data["projects"]:
        for groups in project["indicators"].values():
            for level2, items in groups.items():
                groups[level2] = [dump._Flow(i) if dump._one_line(i) else i for i in items]
    return yaml.dump(data, Dumper=dump._Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=1 << 30)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=st.one_of(specs(), tricky_specs()), fmt=st.sampled_from(["yaml", "json"]))
def test_streamed_spec_text_is_the_whole_document(spec, fmt):
    extra = {"warnings": [{"where": "a.xlsx!表!B3", "message": "注意"}], "failures": []} if fmt == "json" else None
    assert dump_spec(spec, fmt, extra) == whole_document(spec, fmt, extra)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_streamed_spec_text_of_many_projects_and_none(example_path, fmt):
    spec = perfxl.load_spec(example_path)
    many = Spec(spec.projects * 3, spec.template)
    assert dump_spec(many, fmt) == whole_document(many, fmt)
    assert dump_spec(Spec([], spec.template), fmt) == whole_document(Spec([], spec.template), fmt)


@pytest.mark.parametrize("fmt", ["yaml", "json"])
def test_spec_text_is_made_one_project_at_a_time(example_path, monkeypatch, fmt):
    from perfxl.dump import spec_chunks

    spec = perfxl.load_spec(example_path)
    made = []
    to_dict = Project.to_dict
    monkeypatch.setattr(Project, "to_dict", lambda self: made.append(self.name) or to_dict(self))
    chunks = spec_chunks(Spec(spec.projects * 5, spec.template), fmt)
    text = ""
    while len(made) < 2:
        text += next(chunks)
    assert spec.projects[0].name in text and len(made) == 2     # the first table written before the third is made


def test_written_spec_text_that_cannot_be_encoded_leaves_the_old_file(example_path, tmp_path):
    from perfxl.dump import write_spec

    spec = perfxl.load_spec(example_path)
    out = tmp_path / "back.yaml"
    out.write_text("old\n", encoding="utf-8")
    spec.projects[-1].note = None
    spec.projects[-1].name = "坏\udc80字"
    with pytest.raises(perfxl.PerfxlError, match="U\\+DC80"):
        write_spec(out, Spec(spec.projects, spec.template))
    assert out.read_text(encoding="utf-8") == "old\n" and [p.name for p in tmp_path.iterdir()] == ["back.yaml"]
