"""The 退回 file: a 填报单位's projects re-rendered with the reviewer's findings on them.

Every finding is a comment on its cell, the cell painted by severity, and a row of the 审核意见
sheet (the form's `review_sheet`), linked to the cell; the workbook opens on that sheet. The
department fixes the tables in place and sends the file back: it reads as any return (the
reader passes over the 审核意见 sheet), and its newer date makes it win over the first return.

The findings are those of `perfxl check` on the re-rendered tables themselves, at the cells the
layout draws them in (perfxl.check.findings_as_drawn reads the layout plans back as the reader
reads a sheet).
"""
from __future__ import annotations

import os

from ..model import Spec
from ..rules import SEVERITY_WORDS
from ..template import form_of

RETURN_MARK = "return"          # the `perfxl` property of a 退回 file (collect reads it as any return)
REVIEW_HEADER = ["位置", "级别", "项目", "问题"]
REVIEW_WIDTHS = [30, 7, 30, 80]


def write_return(spec: Spec, out: str | os.PathLike) -> int:
    """Write `spec` (one unit's projects) to `out` with its findings; returns how many there are."""
    from ..check import findings_as_drawn
    from ..layout import plan_table
    from ..render import sheet_names
    from ..template import col_letter
    from ..writer import Note, ReviewSheet, SheetPlan, write_workbook

    found = findings_as_drawn(spec)
    template = form_of(spec)
    forms = [form_of(spec, p) for p in spec.projects]
    names = sheet_names([p.name for p in spec.projects], (template.validation["list_sheet"], template.review_sheet),
                        template)
    drawn = sheet_names([p.name for p in spec.projects], (template.validation["list_sheet"],), template)
    notes: dict[str, list[Note]] = {n: [] for n in names}
    rows = []
    for finding, sheet, place in found:
        sheet = names[drawn.index(sheet)] if sheet in drawn else sheet     # a project named 审核意见
        word = SEVERITY_WORDS.get(finding.severity, finding.severity)
        cell = f"{col_letter(place[1])}{place[0] + 1}" if place else None
        if sheet in notes and place:
            notes[sheet].append(Note(*place, finding.severity, f"{word}：{finding.message}"))
        rows.append((sheet or names[0], cell, [word, finding.project or "", finding.message]))
    sheets = (SheetPlan(n, [plan_table(f, p)], form=f if f is not template else None, notes=notes[n])
              for n, p, f in zip(names, spec.projects, forms))         # planned as written
    write_workbook(out, template, sheets, review=ReviewSheet(template.review_sheet, REVIEW_HEADER, rows, REVIEW_WIDTHS),
                   mark=RETURN_MARK)
    return len(found)
