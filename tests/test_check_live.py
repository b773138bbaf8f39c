"""`perfxl check` and the workbook's live formulas agree, judged by LibreOffice.

The broken corpus of test_check.py is rendered, LibreOffice recalculates every formula, and on
every table the per-row messages (J), counts (K) and the status cell must name the same rules at
the same rows as `perfxl check`, and equal the results perfxl cached when it wrote the file.
"""
from __future__ import annotations

import collections
import os
import random
import re

import openpyxl
import pytest

import perfxl
from perfxl.check import check
from perfxl.errors import Location
from perfxl.layout import indicator_rows

from conftest import ROOT
from perfxl.render import sheet_names
from perfxl.spec import complete_tree
from test_check import RULES, RULES_BY_ID, TEMPLATE, corpus

MARK, COUNT = TEMPLATE.mark_col + 1, TEMPLATE.count_col + 1          # openpyxl columns, 1-based
MESSAGE_RULE = {rule.text(level1=l1): rule.id for rule in RULES if rule.test is not None
                for l1 in TEMPLATE.skeleton}


_BOOKS: dict = {}


@pytest.fixture
def books(libreoffice, tmp_path_factory):
    """(spec, perfxl's workbook with cached results, LibreOffice's recalculation of it).

    LibreOffice gets a copy stripped of every cached result (openpyxl keeps formulas but not
    their values), so what it reports can only come from recalculating. Made once per session.
    """
    if not _BOOKS:
        tmp = tmp_path_factory.mktemp("live")
        spec = corpus()
        for project in spec.projects:                               # rows made in Python get a
            for n, (_, _, item) in enumerate(project.rows()):        # place, so findings can be put
                item.where = item.where or {"name": Location(f"python:{project.name}", n, 1)}
        rendered = perfxl.render(spec, tmp / "corpus.xlsx")
        stripped = openpyxl.load_workbook(rendered)
        stripped.save(tmp / "stripped.xlsx")
        recalculated = libreoffice.convert(tmp / "stripped.xlsx", "xlsx", tmp / "lo")
        _BOOKS.update(spec=spec, path=recalculated, cached=openpyxl.load_workbook(rendered, data_only=True),
                      recalculated=openpyxl.load_workbook(recalculated, data_only=True))
    return _BOOKS["spec"], _BOOKS["cached"], _BOOKS["recalculated"]


def sheet_rows(ws, project) -> dict[str, int]:
    """Where check's places are on the sheet: item locations, 一级 starts, field label rows."""
    header = next(r for r in range(1, ws.max_row + 1)
                  if ws.cell(r, TEMPLATE.col["name"] + 1).value == "三级指标")
    out = {}
    for i, (level1, _, item) in enumerate(indicator_rows(project, TEMPLATE)):
        out.setdefault(f"l1:{level1}", header + 1 + i)
        for loc in (item.where.values() if item is not None else ()):
            out[str(loc)] = header + 1 + i
    labels = {label.label: field for field, label in TEMPLATE.field_labels().items()}
    for r in range(1, ws.max_row + 1):
        for c in range(1, TEMPLATE.ncols + 1):
            if ws.cell(r, c).value in labels:
                out[f"field:{labels[ws.cell(r, c).value]}"] = r
    return out


def expected_marks(ws, project) -> dict[int, list[str]]:
    """Row → rule ids of the live-rule findings `perfxl check` reports for this table."""
    places = sheet_rows(ws, project)
    out = collections.defaultdict(list)
    for f in check(perfxl.Spec([project])):
        rule = RULES_BY_ID[f.rule]
        if rule.test is None:
            continue
        key = {"field": f"field:{rule.field}", "group": f"l1:{f.level1}"}.get(rule.scope, f.location)
        out[places[key]].append(f.rule)
    return {row: sorted(ids) for row, ids in out.items()}


def live_marks(ws) -> tuple[dict[int, list[str]], dict[int, int], str]:
    """Row → rule ids named by the J messages, row → K count, and the status text."""
    marks, counts = {}, {}
    for r in range(2, ws.max_row + 1):
        text, count = ws.cell(r, MARK).value, ws.cell(r, COUNT).value
        if text:
            marks[r] = sorted(MESSAGE_RULE[m] for m in re.findall(r"[^。]*。", text))
        if count:
            counts[r] = count
    return marks, counts, ws.cell(1, MARK).value


def test_libreoffice_and_check_report_the_same_rules_at_the_same_rows(books):
    spec, cached, recalculated = books
    names = sheet_names([p.name for p in spec.projects], (TEMPLATE.validation["list_sheet"],))
    for name, project in zip(names, spec.projects):
        marks, counts, status = live_marks(recalculated[name])
        expected = expected_marks(recalculated[name], project)
        assert marks == expected, name
        assert counts == {r: len(ids) for r, ids in expected.items()}, name
        total = sum(counts.values())
        assert status == (TEMPLATE.checks["passed"] if total == 0 else f"本表 {total} 处问题"), name


def test_cached_results_equal_what_libreoffice_recalculates(books):
    _, cached, recalculated = books
    for name in cached.sheetnames[:-1]:
        for r in range(1, cached[name].max_row + 1):
            for c in (MARK, COUNT):
                mine, theirs = cached[name].cell(r, c).value, recalculated[name].cell(r, c).value
                assert (mine or None) == (theirs or None), f"{name}!{r}:{c}"


def test_investment_rate_right_and_wrong(books):
    _, _, recalculated = books
    rows = {name: live_marks(recalculated[name])[0] for name in ("投入率正确", "投入率90", "投入率文本", "投入率无单位")}
    assert rows["投入率正确"] == {} and rows["投入率文本"] == {}       # "100%" typed into the value cell
    for name in ("投入率90", "投入率无单位"):
        [invest_row] = [ids for ids in rows[name].values() if "P-INVEST" in ids]
        assert invest_row.count("P-INVEST") == 1


def test_check_of_the_recalculated_workbook_points_at_the_rows_libreoffice_marks(books):
    """The workbook path: `perfxl check BOOK` (the reader's sheet!cell locations) against J."""
    _, _, recalculated = books
    found = collections.defaultdict(lambda: collections.defaultdict(list))
    for f in check(_BOOKS["path"]):
        if RULES_BY_ID[f.rule].test is not None:
            sheet, cell = f.location.split("!")[-2:]
            found[sheet][int(re.sub(r"^[A-Z]+", "", cell))].append(f.rule)
    for name in recalculated.sheetnames[:-1]:
        marks = live_marks(recalculated[name])[0]
        assert marks == {row: sorted(ids) for row, ids in found[name].items()}, name


NAMES = ["资金投入率", " 资金投入率 ", "资金投入率\u3000", "满意度", "", " ", "  x  y ", "提高", "\t"]
TYPES = [None, "=", "≥", "≤", ">", "<", "定性"]
VALUES = [None, "", " ", 0, 100, 100.0, -1, 80, 79.9, 101, 1e15, 0.1 + 0.2, "100", "提高", " 提高 ",
          "提高\xa0", "促进", "abc", "95%"]
UNITS = [None, "%", " % ", "%%", "人", "", "％", " "]
LEVEL1 = [*TEMPLATE.skeleton, "满意度调查", "其他成本", "其他"]
FIELDS = [None, "", " ", "x", "\u3000", "=1+1"]


def random_project(rng, n: int) -> perfxl.Project:
    """A table of random, often odd, cell values: what clerks type, and worse."""
    tree: dict = {}
    for _ in range(rng.randint(0, 8)):
        rows = tree.setdefault(rng.choice(LEVEL1), {}).setdefault(rng.choice(["a", "b", "经济成本指标"]), [])
        rows.append(perfxl.Indicator(rng.choice(NAMES), rng.choice(TYPES), rng.choice(VALUES),
                                     rng.choice(FIELDS), rng.choice(UNITS), rng.choice(FIELDS)))
    project = perfxl.Project(f"随机{n}", rng.choice(FIELDS), rng.choice([None, 0, -5, 100, 1e-300, "abc"]),
                             rng.choice(FIELDS), rng.choice(FIELDS), rng.choice(FIELDS))
    project.indicators = complete_tree(tree, TEMPLATE)
    return project


def test_random_tables_cached_results_and_check_equal_libreoffice(tmp_path, libreoffice):
    """Python's Excel semantics (blanks, text vs numbers, TRIM, 15-digit equality) against
    LibreOffice's, on odd values no spec would hold but a reader may bring back."""
    rng = random.Random(20251128)
    spec = perfxl.Spec([random_project(rng, n) for n in range(40)])
    rendered = perfxl.render(spec, tmp_path / "random.xlsx")
    openpyxl.load_workbook(rendered).save(tmp_path / "stripped.xlsx")
    recalculated = openpyxl.load_workbook(libreoffice.convert(tmp_path / "stripped.xlsx", "xlsx", tmp_path / "lo"),
                                          data_only=True)
    cached = openpyxl.load_workbook(rendered, data_only=True)
    for project in spec.projects:
        ws, mine = recalculated[project.name], cached[project.name]
        for r in range(1, ws.max_row + 1):
            for c in (MARK, COUNT):
                assert (mine.cell(r, c).value or None) == (ws.cell(r, c).value or None), f"{project.name}!{r}"
        live = [f for f in check(perfxl.Spec([project])) if RULES_BY_ID[f.rule].test is not None]
        assert sum(live_marks(ws)[1].values()) == len(live), project.name


SHIPPED = {"project-expenditure": "example.yaml", "project-declaration": "declaration.yaml",
           "county-project": "county.yaml", "department-overall": "department.yaml"}


@pytest.mark.parametrize("form", sorted(SHIPPED))
def test_a_second_engine_agrees_with_the_cached_results_and_with_check(tmp_path, gnumeric, form):
    """Gnumeric recalculates a broken example of every shipped form (ssconvert --recalc): each
    live check cell says what perfxl cached, and each table's status counts what perfxl check finds."""
    import subprocess

    from perfxl.conformance import _broken, _cached_counts, _live_findings

    spec = perfxl.load_spec(ROOT / "specs" / SHIPPED[form])
    template = spec.form
    broken = _broken(spec)
    book = perfxl.render(broken, tmp_path / "broken.xlsx")
    out = tmp_path / "gnumeric.xlsx"
    result = subprocess.run([gnumeric, "--recalc", str(book), str(out)], capture_output=True, text=True,
                            timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    assert result.returncode == 0 and out.exists(), result.stderr
    cached = openpyxl.load_workbook(book, data_only=True)
    again = openpyxl.load_workbook(out, data_only=True)
    for ws in cached.worksheets:
        if ws.title in (template.validation["list_sheet"], template.instructions_sheet):
            continue
        for col in (template.mark_col, template.count_col):
            for row in range(1, ws.max_row + 1):
                want, got = ws.cell(row, col + 1).value, again[ws.title].cell(row, col + 1).value
                assert (got or "") == (want or "") or (col == template.count_col and (got or 0) == (want or 0)), (
                    ws.title, f"{openpyxl.utils.get_column_letter(col + 1)}{row}", want, got)
    assert _cached_counts(out, template) == _live_findings(broken, template)
