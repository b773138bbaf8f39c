"""Sending forms out: one workbook per 填报单位 of a roster, pre-filled, to fill in offline.

Each workbook holds the unit's projects, one sheet each: the roster's fields (and last year's
indicator rows, where the roster points at them) filled in, every group with `rows` spare input
rows after its filled ones, the dropdowns and live checks of the form, and the 填表说明 sheet
headed by who the workbook is for and by when it is due. Beside them, `sent.yaml` keeps what was
sent (for `perfxl diff --sent`). Everything is checked before the first file is written, so a
refusal writes nothing; each file is written atomically.
"""
from __future__ import annotations

import datetime as dt
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import PerfxlError
from .roster import Roster

SENT_SPEC = "sent.yaml"
MAX_NAME = 100                       # characters of a file name, suffix included
WINDOWS_RESERVED = frozenset({"CON", "PRN", "AUX", "NUL", *(f"COM{i}" for i in range(1, 10)),
                              *(f"LPT{i}" for i in range(1, 10))})
UNSAFE = re.compile(r'[\\/:*?"<>|\x00-\x1f\x7f]')


@dataclass
class Sent:
    """One workbook sent out: for whom, where, which projects."""

    unit: str
    path: Path
    projects: list[str]


def safe_file_names(stems: list[str], suffix: str) -> list[str]:
    """File names any Windows, macOS or Linux folder takes: no \\/:*?"<>| or control characters,
    no reserved device name, no trailing dot or space, at most MAX_NAME characters with the
    suffix, unique ignoring case (later ones get (2), (3) …)."""
    used: set[str] = set()
    out = []
    for stem in stems:
        base = UNSAFE.sub("_", stem).strip().rstrip(". ") or "_"
        if base.split(".")[0].upper() in WINDOWS_RESERVED:
            base = "_" + base
        name, n = base[:MAX_NAME - len(suffix)] + suffix, 1
        while name.lower() in used:
            n += 1
            tail = f"({n}){suffix}"
            name = base[:MAX_NAME - len(tail)].rstrip(". ") + tail
        used.add(name.lower())
        out.append(name)
    return out


def due_text(due: str | None) -> str | None:
    """--due as written in the 填表说明: 2027-01-15 → 2027年1月15日; refused when no date."""
    if due is None:
        return None
    try:
        day = dt.date.fromisoformat(due.strip())
    except ValueError:
        raise PerfxlError(f"--due 应为日期，如 2027-01-15，不是 {due!r}") from None
    return f"{day.year}年{day.month}月{day.day}日"


def send_out(roster: Roster, outdir: str | os.PathLike, *, rows: int = 2, due: str | None = None,
             protect: bool = False, password: str | None = None) -> list[Sent]:
    """Write one pre-filled workbook per 填报单位 of `roster` into `outdir`, and sent.yaml."""
    from ..dump import write_spec
    from ..layout import plan_table
    from ..output import check_output
    from ..render import check_cells, check_drawn, sheet_names
    from ..writer import SheetPlan, write_workbook

    if password is not None and not password:
        raise PerfxlError("密码不能为空；不设密码的保护请用 --protect")
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise PerfxlError("输出应为一个文件夹（每个填报单位一个工作簿）", os.fspath(outdir))
    form, when = roster.form, due_text(due)
    units = roster.units()
    names = safe_file_names(list(units), ".xlsx")
    for entry in roster.entries:
        check_cells(entry.project, roster.path)
        check_drawn(entry.project, form, roster.path)
    targets = [outdir / name for name in names]
    for target in [*targets, outdir / SENT_SPEC]:
        check_output(target, [roster.path, *(e.last_year for e in roster.entries if e.last_year)],
                     kind="text" if target.suffix == ".yaml" else "workbook")
    lock = password if password else ("" if protect else None)
    reserved = (form.validation["list_sheet"], form.instructions_sheet)
    sent = []
    for (unit, entries), target in zip(units.items(), targets):
        projects = [e.project for e in entries]
        sheets = [SheetPlan(n, [plan_table(form, p, 0, rows)], lock)
                  for n, p in zip(sheet_names([p.name for p in projects], reserved, form), projects)]
        cover = [f"发给：{unit}（{len(projects)} 个项目：{'、'.join(p.name for p in projects)}）"]
        if when:
            cover.append(f"请于 {when} 前填好报回。")
        text = form.instructions(projects=len(projects), rows=rows, amount_unit=projects[0].amount_unit)
        write_workbook(target, form, sheets, (form.instructions_sheet, cover + [""] + text.strip("\n").split("\n")))
        sent.append(Sent(unit, target, [p.name for p in projects]))
    write_spec(outdir / SENT_SPEC, roster.spec())
    return sent
