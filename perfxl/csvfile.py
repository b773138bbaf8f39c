"""Small input files read whole with a size limit, and CSV as offices save it: UTF-8 with or without
a BOM, else GB18030 (Excel's "CSV" in China)."""
from __future__ import annotations

import csv
import io

from .errors import PerfxlError


def read_limited(path: str, limit: int, what: str = "") -> bytes:
    """A file's bytes, refused over `limit`; `what` names it in refusals ("名册")."""
    try:
        with open(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except OSError as exc:
        raise PerfxlError(f"无法读取{what}：{exc.strerror}", path) from None
    if len(raw) > limit:
        raise PerfxlError(f"{what or '文件'}过大（超过 {limit >> 20} MB）", path)
    return raw


def read_csv(path: str, limit: int, what: str = "") -> list[list[str]]:
    """The rows of a CSV file of at most `limit` bytes."""
    raw = read_limited(path, limit, what)
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise PerfxlError(f"{what}不是 UTF-8 或 GB18030 编码的 CSV 文件", path)
    return list(csv.reader(io.StringIO(text, newline="")))
