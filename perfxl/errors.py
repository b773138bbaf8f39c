"""Errors perfxl reports to users, where in a file they point, and how their text is shown."""
from __future__ import annotations

import re
from dataclasses import dataclass

# Characters that would act on a terminal rather than show (C0 and C1 controls, DEL, bidi
# overrides), and the lone surrogates Python uses for file-name bytes that are not UTF-8.
UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def printable(text: object) -> str:
    """Text safe to print on a terminal: an unprintable character becomes a visible escape
    (ESC → \\x1b, a file-name byte 0xFF → \\xff, U+202E → \\u202e), a line break ⏎."""
    def escape(match: re.Match) -> str:
        ch = match.group()
        if ch == "\n":
            return "⏎"
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:                  # os.fsdecode's escape of a non-UTF-8 byte
            return f"\\x{code - 0xDC00:02x}"
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return UNPRINTABLE.sub(escape, str(text))


def short(text: str, limit: int = 30) -> str:
    """A cell's text quoted in a message: one line, at most `limit` characters."""
    text = text.replace("\r\n", "\n").replace("\n", "⏎").replace("\r", "⏎")
    return text if len(text) <= limit else text[:limit] + "…"


@dataclass(frozen=True)
class Location:
    """A place in a spec (path:line:col) or in a workbook (path!sheet!cell)."""

    path: str
    line: int | None = None
    col: int | None = None
    sheet: str | None = None
    cell: str | None = None

    def __str__(self) -> str:
        if self.sheet is not None:
            where = f"{self.path}!{self.sheet}"
            return f"{where}!{self.cell}" if self.cell else where
        if self.line is None:
            return self.path
        if self.col is None:
            return f"{self.path}:{self.line}"
        return f"{self.path}:{self.line}:{self.col}"


class PerfxlError(Exception):
    """An input perfxl cannot use. The CLI prints it as one line and exits with status 2."""

    def __init__(self, message: str, where: Location | str | None = None):
        self.message = message
        self.where = where
        super().__init__(f"{where}: {message}" if where else message)


class SpecError(PerfxlError):
    """A spec file that is not a valid spec."""


class TemplateError(PerfxlError):
    """A form file (templates/*.yaml, or an office's own) that is not a valid form."""


class WorkbookError(PerfxlError):
    """A workbook that cannot be read as the form."""
