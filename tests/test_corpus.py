"""Real-world workbooks from other projects' test suites (../shared/corpus/, skipped where absent).

Every file is read or refused in one line: exit 0 or 2, under a 1.5 GB address-space limit and
60 s, with no traceback, no internal error and no panic text. Workbooks calamine reads (unusual
OLE stream names, backslash zip paths, parts outside xl/, UTF-16 XML parts) are valid and must
never be called damaged or no workbook.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
FILES = sorted(p for p in CORPUS.glob("*") if p.suffix.lower() in (".xlsx", ".xlsm", ".xls", ".ods", ".xlsb")) \
    if CORPUS.is_dir() else []
VALID = {  # read by calamine: perfxl must look for its tables in them
    "gen-calamine-capitalized_wbook_stream.xls", "gen-poi-WORKBOOK_in_capitals.xls",
    "gen-poi-bug66319-WORKBOOK-stream.xls", "gen-calamine-issue_530-backslash-paths-zh.xlsx",
    "gen-calamine-minimal_package.xlsx", "gen-calamine-pivots-utf16-customxml.xlsx",
    "gen-calamine-strict_iso_paths.xlsx", "gen-poi-SampleSS.strict.xlsx", "gen-calamine-any_sheets.xlsx",
    "gen-poi-TwoSheetsOneHidden.xls", "gen-poi-TwoSheetsOneHidden.xlsx", "gen-calamine-nonstandard-xml-ns-prefix.xlsx",
}
LIMIT = 1536 << 20


def _limited():
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def _read(path: Path) -> tuple[Path, subprocess.CompletedProcess | None]:
    try:
        return path, subprocess.run([sys.executable, "-m", "perfxl.cli", "read", str(path), "--format", "json"],
                                    capture_output=True, text=True, timeout=60, preexec_fn=_limited,
                                    env={**os.environ, "RUST_BACKTRACE": "full"})
    except subprocess.TimeoutExpired:
        return path, None


@pytest.fixture(scope="module")
def outcomes():
    if not FILES:
        pytest.skip("../shared/corpus is not here")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        return dict(pool.map(_read, FILES))


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_every_corpus_file_is_read_or_refused_in_one_line(outcomes, path):
    result = outcomes[path]
    assert result is not None, "took over 60 s"
    assert result.returncode in (0, 2), result.stderr[-2000:]
    for bad in ("Traceback", "panicked", "内部错误", "RUST_BACKTRACE", "memory allocation"):
        assert bad not in result.stderr, result.stderr[-2000:]
    if result.returncode == 2:
        assert result.stderr.count("\n") == 1 and str(path) in result.stderr, result.stderr
    if path.name in VALID:
        assert result.returncode == 0 or "没有找到项目表" in result.stderr, result.stderr
