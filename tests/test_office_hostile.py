"""Hostile inputs to the office commands: a roster, a flat file or a diff side that is garbage is
a one-line refusal (exit 2) or a warning, never an internal error (exit 3) or a traceback."""
from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, given, settings, strategies as st

from perfxl.cli import main

ROOT = Path(__file__).resolve().parent.parent
cells = st.one_of(st.text(max_size=12), st.sampled_from(["填报单位", "项目名称", "年度本级预算金额", "上年", "年度",
                                                         "金额单位", "万元", "1e400", "-0", "=1+1", "\ufeff", "..", "CON"]))
rows = st.lists(st.lists(cells, min_size=1, max_size=6), min_size=0, max_size=6)


def csv_text(table: list[list[str]]) -> str:
    import csv
    import io

    out = io.StringIO()
    csv.writer(out).writerows(table)
    return out.getvalue()


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=rows)
def test_a_garbage_roster_is_refused_in_one_line_or_sent(tmp_path, capsys, table):
    roster = tmp_path / "r.csv"
    roster.write_bytes(csv_text(table).encode("utf-8", "surrogatepass"))
    out = tmp_path / "out"
    code = main(["blank", "--roster", str(roster), "-o", str(out)])
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err
    if code == 2:
        assert len([line for line in err.splitlines() if not line.startswith("perfxl: 注意")]) == 1
        assert not out.exists() or not any(out.iterdir())
    for name in (os.listdir(out) if out.exists() else []):
        os.unlink(out / name)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=rows)
def test_a_garbage_flat_file_is_read_or_refused(tmp_path, capsys, table):
    flat = tmp_path / "f.csv"
    header = [["项目名称", "一级指标", "二级指标", "三级指标名称", "指标值", "计量单位"]]
    flat.write_bytes(csv_text(header + table).encode("utf-8", "surrogatepass"))
    code = main(["read", str(flat)])
    err = capsys.readouterr().err
    assert code in (0, 2) and "Traceback" not in err, err


def test_diff_of_garbage(tmp_path, capsys):
    (tmp_path / "a.xlsx").write_bytes(b"PK\x03\x04garbage")
    (tmp_path / "b.yaml").write_text("projects: [", encoding="utf-8")
    assert main(["diff", str(tmp_path / "a.xlsx"), str(ROOT / "specs" / "example.yaml")]) == 2
    assert main(["diff", str(ROOT / "specs" / "example.yaml"), str(tmp_path / "b.yaml")]) == 2
    assert main(["preview", str(tmp_path / "b.yaml"), "-o", str(tmp_path / "p.html")]) == 2
    assert main(["export", str(tmp_path / "b.yaml"), "--flat", "-o", str(tmp_path / "f.csv")]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 4 and "Traceback" not in "".join(err)
    assert not (tmp_path / "p.html").exists() and not (tmp_path / "f.csv").exists()
