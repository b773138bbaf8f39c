"""Errors perfxl reports to users, and where in a file they point."""
from __future__ import annotations

from dataclasses import dataclass


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


class WorkbookError(PerfxlError):
    """A workbook that cannot be read as the form."""
