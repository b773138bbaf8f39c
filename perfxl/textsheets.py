"""perfxl's own text sheets (the 填表说明, the 审核意见 of a 退回 file): how a reader tells the
text perfxl wrote there from what someone typed in.

Each row perfxl writes on such a sheet carries, in a hidden cell right of its text, a digest of
each of its cells (`perfxl:` and a CRC-32 of each cell in 8 hex digits). A cell whose digest matches is perfxl's;
anything else on the sheet (a changed line, a reply typed beside a finding, a note below) is
named cell by cell, as it is not read. A sheet with no digest at all (written before perfxl marked its rows, or by
another program) is named once, with its filled area.
"""
from __future__ import annotations

import re
import zlib

from .template import col_letter

DIGEST = re.compile(r"perfxl:(?:[0-9a-f]{8})+")


def _one(text: str) -> str:
    return f"{zlib.crc32(text.encode('utf-8')):08x}"      # zlib: already loaded, hashlib is not


def digest(texts: list[str]) -> str:
    """The digest of one row's texts, as written beside them."""
    return "perfxl:" + "".join(_one(t) for t in texts)


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def unread(rows: list[list]) -> tuple[list[tuple[int, int]], str | None]:
    """The (row, col) of every filled cell that is not perfxl's text, 0-based, and for a sheet
    without any digest the filled area (A1:C9) instead, with its cells."""
    filled, marked, others = [], False, []
    for r, row in enumerate(rows):
        at = next((c for c, v in enumerate(row) if v.__class__ is str and DIGEST.fullmatch(v)), None)
        mine = set() if at is None else {c for c in range(at) if row[at][7 + 8 * c:15 + 8 * c] == _one(_text(row[c]))}
        marked = marked or at is not None
        for c, value in enumerate(row):
            if value not in ("", None):
                filled.append((r, c))
                if c != at and c not in mine:
                    others.append((r, c))
    if marked or not filled:
        return others, None
    top, bottom = min(r for r, _ in filled), max(r for r, _ in filled)
    left, right = min(c for _, c in filled), max(c for _, c in filled)
    return filled, f"{col_letter(left)}{top + 1}:{col_letter(right)}{bottom + 1}"
