"""The office's whole round with LibreOffice as the clerks' program, on every shipped form:
roster → pre-filled blanks → typed into through UNO (a field emptied, an indicator typed into a
spare row, a row inserted inside a group and filled, a field rewritten; saved as .xlsx and .ods)
→ collect → 汇总 / bundle / 退回 / collected.yaml → the 退回 file fixed where its 审核意见 says →
collect again → no errors left. And 汇总.xlsx recalculated by LibreOffice keeps its totals."""
from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest

import perfxl
from perfxl.cli import main
from perfxl.diff import diff
from perfxl.layout import indicator_rows, plan_table
from perfxl.office.roster import load_roster
from perfxl.render import sheet_names
from perfxl.template import col_letter, load_template

ROOT = Path(__file__).resolve().parent.parent
SPECS = {"project-expenditure": "example.yaml", "county-project": "county.yaml",
         "project-declaration": "declaration.yaml", "department-overall": "department.yaml"}
ROWS = 2


def write_roster(path: Path, form, spec_path: Path) -> Path:
    """Both units get the spec's first project, every field pre-filled, last year's indicators."""
    project = perfxl.load_spec(spec_path).projects[0]
    rows = []
    for unit in ("甲局", "乙局"):
        row = {form.key_label("unit"): unit}
        for key in form.field_keys:
            if project.get(key) is not None and key not in form.sum_fields:
                row[form.key_label(key)] = project.get(key)
        row["上年"] = str(spec_path)
        rows.append(row)
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        out = csv.DictWriter(fh, list(rows[0]))
        out.writeheader()
        out.writerows(rows)
    return path


def cell(row: int, col: int) -> str:
    return f"{col_letter(col)}{row + 1}"


def field_cell(form, plan, key: str) -> str:
    label = form.field_labels()[key]
    row = next(c.row for c in plan.cells if c.style == "label" and c.value == label.label and c.col == label.first)
    value = next(c for r in form.header + form.footer for c in r if c.field == key)
    return cell(row, value.first)


def main_block_edits(form, project, plan) -> tuple[dict, list[str]]:
    """A new indicator in the first spare row; a row inserted inside the last group and filled."""
    name_label, name_col = form.columns[2].label, form.col["name"]
    headers = [c.row for c in plan.cells if c.style == "header" and c.value == name_label and c.col == name_col]
    header = headers[[key for key, _ in form.blocks()].index("indicators")]
    rows = indicator_rows(project, form, ROWS)
    spare = next(i for i, (_, _, item) in enumerate(rows) if item is None)
    r = header + 1 + spare
    typed = {"name": "新增的指标", "type": "≥", "value": "90", "unit": "%"}
    edits = {cell(r, form.col[k]): v for k, v in typed.items() if k in form.col}
    last_group = rows[-1][:2]
    second = [i for i, row in enumerate(rows) if row[:2] == last_group][1]
    at = header + 1 + second
    edits[f"+{at + 1}"] = ""
    inserted = {"name": "插入的指标", "type": "=", "value": "3", "unit": "个"}
    edits.update({cell(at, form.col[k]): v for k, v in inserted.items() if k in form.col})
    paths = ["/".join([*rows[spare][:2], "新增的指标"]), "/".join([*last_group, "插入的指标"])]
    return edits, paths


@pytest.mark.parametrize("form_name", sorted(SPECS))
def test_the_whole_round_in_libreoffice(tmp_path, uno, form_name):
    form = load_template(form_name)
    spec_path = ROOT / "specs" / SPECS[form_name]
    roster = write_roster(tmp_path / "名册.csv", form, spec_path)
    assert main(["blank", "--template", form_name, "--roster", str(roster), "-o", str(tmp_path / "下发"),
                 "--rows", str(ROWS), "--due", "2027-01-15"]) == 0
    sent = load_roster(roster, form)
    project = sent.entries[0].project
    plan = plan_table(form, project, 0, ROWS)
    sheet = sheet_names([project.name], (), form)[0]

    # 甲局: empties the goal, types an indicator, inserts a row and fills it; saves as .xlsx
    edits, new_paths = main_block_edits(form, project, plan)
    new_names = [p.rsplit("/", 1)[1] for p in new_paths]
    edits = {f"{sheet}!{field_cell(form, plan, 'goal')}": "", **{f"{sheet}!{k}": v for k, v in edits.items()}}
    returns = tmp_path / "回收"
    returns.mkdir()
    uno.type_into(tmp_path / "下发" / "甲局.xlsx", returns / "甲局.xlsx", edits)
    # 乙局: changes a short text field; saves as .ods
    changed = next(k for k in form.field_keys if form.field_kinds[k] == "text" and k != "name")
    uno.type_into(tmp_path / "下发" / "乙局.xlsx", returns / "乙局.ods",
                  {f"{sheet}!{field_cell(form, plan, changed)}": "乙局改写的内容"})

    out = tmp_path / "审核"
    assert main(["collect", str(returns), "-o", str(out), "--roster", str(roster), "--quiet", "--no-pdf"]) == 0
    status = {r[1]: r for r in openpyxl.load_workbook(out / "汇总.xlsx")["报送情况"].iter_rows(min_row=2, values_only=True)}
    assert status["甲局"][0] == "有错误" and status["乙局"][0] == "已报送"
    details = list(openpyxl.load_workbook(out / "汇总.xlsx")["指标明细"].iter_rows(min_row=2, values_only=True))
    assert {r[5] for r in details if r[0] == "甲局"} >= set(new_names)
    back = perfxl.load_spec(out / "collected.yaml")
    mine = next(p for p in back.projects if p.unit == "乙局")
    assert mine.get(changed) == "乙局改写的内容"
    assert [p.name for p in (out / "退回").iterdir()] == ["甲局.xlsx"]
    # what came back against what was sent: exactly the clerks' edits
    changes = diff(sent.spec(), perfxl.read(returns / "甲局.xlsx").spec, "sent")
    assert sorted((c.kind, c.path, bool(c.flag)) for c in changes) == sorted(
        [("changed", form.key_label("goal"), True), *(("added", p, False) for p in new_paths)])
    changes = diff(sent.spec(), perfxl.read(returns / "乙局.ods").spec, "sent")
    assert [(c.kind, c.path, c.new) for c in changes] == [("changed", form.key_label(changed), "乙局改写的内容")]

    # 甲局 fixes its 退回 file where the 审核意见 sheet points, and sends it back
    review = openpyxl.load_workbook(out / "退回" / "甲局.xlsx")[form.review_sheet]
    errors = [r for r in review.iter_rows(min_row=2, values_only=True) if r[1] == "错误"]
    where = perfxl.read(out / "退回" / "甲局.xlsx").spec.projects[0].where["goal"]     # the goal's cell there
    assert [r[0] for r in errors] == [f"{where.sheet}!{where.cell}"]
    fixed = returns / "甲局（已修改）.xlsx"
    uno.type_into(out / "退回" / "甲局.xlsx", fixed, {errors[0][0]: "按审核意见补写的绩效目标"})
    assert main(["collect", str(returns), "-o", str(out), "--roster", str(roster), "--quiet", "--no-pdf"]) == 0
    status = list(openpyxl.load_workbook(out / "汇总.xlsx")["报送情况"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in status if r[1] == "甲局"] == ["已报送"]
    assert [r[2] for r in status if r[0] == "已替代"] == [project.name]
    assert list((out / "退回").iterdir()) == []
    again = perfxl.load_spec(out / "collected.yaml")
    fixed_project = next(p for p in again.projects if p.unit == "甲局")
    assert fixed_project.goal == "按审核意见补写的绩效目标"
    assert {item.name for _, _, item in fixed_project.rows()} >= set(new_names)
    assert not [f for f in perfxl.check(again) if f.severity == "error"]


def test_summary_totals_recalculate_to_their_cached_values(tmp_path, libreoffice):
    spec = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    for i, project in enumerate(spec.projects):
        project.unit = f"单位{i}"
        perfxl.render(perfxl.Spec([project]), tmp_path / "in" / f"{i}.xlsx")
    assert main(["collect", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--quiet", "--no-pdf"]) == 0
    ours = openpyxl.load_workbook(tmp_path / "out" / "汇总.xlsx", data_only=True)["项目汇总"]
    shutil.copy(tmp_path / "out" / "汇总.xlsx", tmp_path / "summary.xlsx")
    recalculated = libreoffice.convert(tmp_path / "summary.xlsx", "xlsx:Calc MS Excel 2007 XML", tmp_path / "lo")
    theirs = openpyxl.load_workbook(recalculated, data_only=True)["项目汇总"]
    last = ours.max_row
    assert ours.cell(last, 1).value == "合计"
    totals = [ours.cell(last, c).value for c in range(1, ours.max_column + 1)]
    assert totals == [theirs.cell(last, c).value for c in range(1, ours.max_column + 1)]
    assert totals[3] == sum(p.budget for p in spec.projects)


def test_the_bundle_is_printed_a_table_to_a_page_with_page_numbers(tmp_path, libreoffice):
    spec = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    for i, project in enumerate(spec.projects):
        project.unit = f"单位{i}"
    perfxl.render(spec, tmp_path / "in" / "两张表.xlsx")
    assert main(["collect", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--quiet"]) == 0
    pages = _pages(tmp_path / "out" / "bundle.pdf")
    assert len(pages) == len(spec.projects)                    # each table on its own page
    for n, (text, size) in enumerate(pages, 1):
        assert f"第{n}页共{len(pages)}页" in text.replace(" ", "") and size == (842, 595)   # numbered, A4 landscape
        assert spec.projects[n - 1].name[:10] in text.replace("\n", "")
    assert main(["collect", str(tmp_path / "in"), "-o", str(tmp_path / "per"), "--quiet", "--pdf-per-unit"]) == 0
    assert sorted(p.name for p in (tmp_path / "per" / "pdf").iterdir()) == ["单位0.pdf", "单位1.pdf"]
    assert len(_pages(tmp_path / "per" / "pdf" / "单位1.pdf")) == 1


def test_pdfs_of_an_earlier_collect_that_no_longer_match_are_removed_and_others_kept(tmp_path, libreoffice):
    """A run without PDFs (or with them per unit) after one that printed bundle.pdf removes the
    old prints, which show returns as they were: but only PDFs perfxl printed (their Keywords say
    so); a PDF of the office's own in the folder stays."""
    spec = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    for i, project in enumerate(spec.projects):
        project.unit = f"单位{i}"
    perfxl.render(spec, tmp_path / "in" / "两张表.xlsx")
    out = tmp_path / "out"
    assert main(["collect", str(tmp_path / "in"), "-o", str(out), "--quiet"]) == 0
    (out / "bundle-说明.pdf").write_bytes((out / "bundle.pdf").read_bytes().replace(b"/Keywords", b"/Keyword_"))
    (out / "pdf").mkdir()
    shutil.copy(out / "bundle.pdf", out / "pdf" / "我们自己的.pdf")
    (out / "pdf" / "我们自己的.pdf").write_bytes(b"%PDF-1.4 not perfxl's")
    assert main(["collect", str(tmp_path / "in"), "-o", str(out), "--quiet", "--pdf-per-unit"]) == 0
    assert sorted(p.name for p in out.glob("*.pdf")) == ["bundle-说明.pdf"]
    assert sorted(p.name for p in (out / "pdf").iterdir()) == ["单位0.pdf", "单位1.pdf", "我们自己的.pdf"]
    assert main(["collect", str(tmp_path / "in"), "-o", str(out), "--quiet", "--no-pdf"]) == 0
    assert sorted(p.name for p in out.glob("*.pdf")) == ["bundle-说明.pdf"]
    assert sorted(p.name for p in (out / "pdf").iterdir()) == ["我们自己的.pdf"]


def _pages(pdf: Path) -> list[tuple[str, tuple[int, int]]]:
    import subprocess

    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    count = int(next(line.split()[1] for line in info.splitlines() if line.startswith("Pages:")))
    out = []
    for n in range(1, count + 1):
        text = subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), "-layout", str(pdf), "-"],
                              capture_output=True, text=True, check=True).stdout
        page = subprocess.run(["pdfinfo", "-f", str(n), "-l", str(n), str(pdf)], capture_output=True, text=True,
                              check=True).stdout
        size = next(line for line in page.splitlines() if line.startswith(f"Page    {n} size:"))
        width, height = (float(v) for v in size.split()[3:6:2])
        out.append((text, (round(width), round(height))))
    return out
