"""`perfxl preview`: the tables as one self-contained HTML page, findings at their cells; looked at
in headless Chromium (its DOM, a screenshot, its A4 print)."""
from __future__ import annotations

import os
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

import perfxl
from perfxl.cli import main
from perfxl.layout import plan_table
from perfxl.template import load_template

ROOT = Path(__file__).resolve().parent.parent
SPECS = ["example.yaml", "county.yaml", "declaration.yaml", "department.yaml"]


class Tables(HTMLParser):
    """Each <table class=form>: its cells as (data-cell, rowspan, colspan, classes, text), and the findings lists."""

    def __init__(self):
        super().__init__()
        self.tables, self.findings, self.cell, self.item = [], [], None, None
        self.tags: set[str] = set()
        self.attrs_seen: list[dict] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        self.attrs_seen.append(attrs)
        if tag == "table":
            self.tables.append([])
        elif tag == "td":
            self.cell = [attrs.get("data-cell"), int(attrs.get("rowspan", 1)), int(attrs.get("colspan", 1)),
                         attrs.get("class", ""), ""]
        elif tag == "ol":
            self.findings.append([])
        elif tag == "li":
            self.item = [attrs.get("class"), ""]

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.tables[-1].append(tuple(self.cell))
            self.cell = None
        elif tag == "li" and self.item is not None:
            self.findings[-1].append(tuple(self.item))
            self.item = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell[4] += data
        if self.item is not None:
            self.item[1] += data


def parse(html: str) -> Tables:
    parsed = Tables()
    parsed.feed(html)
    return parsed


@pytest.mark.parametrize("name", SPECS)
def test_every_form_is_drawn_as_its_plan(tmp_path, name):
    spec = perfxl.load_spec(ROOT / "specs" / name)
    assert main(["preview", str(ROOT / "specs" / name), "-o", str(tmp_path / "p.html")]) == 0
    page = parse((tmp_path / "p.html").read_text(encoding="utf-8"))
    assert len(page.tables) == len(spec.projects)
    form = perfxl.load_template(spec.template)
    for table, project in zip(page.tables, spec.projects):
        plan = plan_table(form, project)
        merged = {f"{chr(65 + c.col)}{c.row + 1}": ((c.last_row or c.row) - c.row + 1, (c.last_col or c.col) - c.col + 1)
                  for c in plan.cells if c.merged and c.col < form.ncols}
        drawn = {ref: (rows, cols) for ref, rows, cols, _, _ in table if rows > 1 or cols > 1}
        assert drawn == merged
        covered = sum(rows * cols for _, rows, cols, _, _ in table)
        assert covered == (plan.last_row - plan.first_row + 1) * form.ncols      # every cell once
        texts = {text for *_, text in table}
        assert project.name in texts and form.block_label in texts


def test_findings_are_painted_at_their_cells_and_listed(tmp_path):
    spec = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    spec.projects[0].goal = None
    spec.projects[0].indicators["产出指标"]["数量指标"][0].value = "许多"
    html = perfxl_preview(spec, tmp_path)
    page = parse(html)
    first = {ref: (classes, text) for ref, _, _, classes, text in page.tables[0]}
    form = load_template()
    goal_cell = next(c for c in plan_table(form, spec.projects[0]).cells if c.style == "long_text")
    ref = f"{chr(65 + goal_cell.col)}{goal_cell.row + 1}"
    assert "error" in first[ref][0].split() and "[1]" in first[ref][1]
    messages = [m for _, m in page.findings[0]]
    assert messages[0].startswith("错误：请填写本年度绩效目标。") and any("许多" in m or "数字" in m for m in messages)
    assert page.findings[0][0][0] == "error"
    assert "<p class=\"passed\">" not in html.split("</section>")[0]


def perfxl_preview(spec, tmp_path: Path) -> str:
    from perfxl.preview import write_preview

    write_preview(spec, tmp_path / "p.html")
    return (tmp_path / "p.html").read_text(encoding="utf-8")


def test_text_is_shown_never_run_and_nothing_is_fetched(tmp_path):
    spec = perfxl.parse_spec("projects:\n  - name: '<script>alert(1)</script>'\n    category: '<img src=x onerror=alert(1)>'\n")
    html = perfxl_preview(spec, tmp_path)
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert "<script>alert(1)</script>" in {text for *_, text in page.tables[0]}
    assert not any(k in ("src", "href") for attrs in page.attrs_seen for k in attrs)
    assert "http" not in html and "<link" not in html and "@import" not in html


@pytest.fixture
def chromium():
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is required in CI but is not installed")
        pytest.skip("Chromium is not installed (apt-get install chromium)")
    return path


def run_chromium(chromium: str, *args, cwd: Path):
    return subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           f"--user-data-dir={cwd / 'profile'}", *args], capture_output=True, timeout=120, cwd=cwd)


def test_in_headless_chromium(tmp_path, chromium):
    spec = perfxl.load_spec(ROOT / "specs" / "example.yaml")
    spec.projects[1].goal = None
    html = perfxl_preview(spec, tmp_path)
    url = (tmp_path / "p.html").as_uri()
    dom = run_chromium(chromium, "--dump-dom", url, cwd=tmp_path).stdout.decode("utf-8")
    page, ours = parse(dom), parse(html)
    assert [len(t) for t in page.tables] == [len(t) for t in ours.tables] == [len(t) for t in page.tables]
    second = {ref: classes for ref, _, _, classes, _ in page.tables[1]}
    assert any("error" in classes.split() for classes in second.values())
    assert page.findings[-1][0][1].startswith("错误：请填写本年度绩效目标。")
    shot = tmp_path / "shot.png"
    run_chromium(chromium, f"--screenshot={shot}", "--window-size=1300,1600", url, cwd=tmp_path)
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
    pdf = tmp_path / "p.pdf"
    run_chromium(chromium, f"--print-to-pdf={pdf}", "--no-pdf-header-footer", url, cwd=tmp_path)
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True).stdout
    pages = int(next(line for line in info.splitlines() if line.startswith("Pages:")).split()[1])
    size = next(line for line in info.splitlines() if line.startswith("Page size:"))
    assert pages == len(spec.projects)                    # a table to a page
    width, height = (float(v) for v in size.split()[2:5:2])
    assert (round(width), round(height)) == (842, 595)    # A4 landscape
