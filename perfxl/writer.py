"""The writer of the form workbooks (XlsxWriter): table plans in, a workbook file out; and the
XlsxWriter plumbing perfxl.office.tablebook writes its plain tables with (write_xlsx, write_value).

Writes through perfxl.output.write_atomically, so a failure never leaves a half-written
workbook; XlsxWriter's own part files go to a private folder removed afterwards. Document dates
are fixed: the same plans give the same bytes.
"""
from __future__ import annotations

import datetime
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import xlsxwriter
from xlsxwriter.exceptions import DuplicateWorksheetName, FileCreateError
from xlsxwriter.worksheet import Worksheet

from .gcpause import paused_gc
from .layout import TablePlan, lines_needed
from .output import temporary_name, write_atomically
from .recognise import tag_text
from .template import Template, col_letter
from .textsheets import digest

FIXED_DATE = datetime.datetime(2000, 1, 1)
CF_FORMATS = {"error": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
              "warning": {"bg_color": "#FFEB9C", "font_color": "#9C5700"}}
# Excel paper code, and the short and long side in points.
PAPER = {"A4": (9, 595, 842), "A3": (8, 842, 1191)}
SHRINK_LIMIT = 0.7      # shrink a table to one page only down to this scale
# Stacked tables get one print scale (below), so their fit depends on the fonts at hand. Measured
# with LibreOffice on a machine without Carlito (Calibri's metrics) and Noto CJK: columns come out
# 1.35× as wide as Excel draws them, and row heights up to 4% taller than planned.
WIDTH_MARGIN = 1.4
HEIGHT_MARGIN = 1.05
MAX_COMMENT = 32767     # characters of one cell comment
MIN_SCALE = 40          # below this, a tall stacked table rather runs over two pages


@dataclass(frozen=True)
class Note:
    """A reviewer's finding on a cell: shown as the cell's comment, the cell painted by severity."""

    row: int
    col: int
    severity: str           # error | warning
    text: str


@dataclass
class SheetPlan:
    name: str
    tables: list[TablePlan]
    protect: str | None = None      # None: not protected; "" protected without a password
    form: Template | None = None    # the sheet's own form, when not the workbook's
    notes: list[Note] = field(default_factory=list)


@dataclass
class ReviewSheet:
    """A sheet listing findings, each row linked to its cell: (sheet, cell or None, texts...)."""

    name: str
    header: list[str]
    rows: list[tuple[str, str | None, list[str]]]
    widths: list[float]


def _formats(book: xlsxwriter.Workbook, template: Template) -> dict:
    styles = template.styles
    font = {"font_name": styles["font"], "font_charset": styles["font_charset"],
            "font_size": styles["size"], "valign": "vcenter", "text_wrap": True}
    boxed = {**font, "border": 1}
    unlocked = {"locked": False}
    spec = {
        "title": {**font, **styles["title"], "font_name": styles["title"].get("font", styles["font"]),
                  "font_size": styles["title"].get("size", 18), "align": "center", "text_wrap": False},
        "unit_line": {**font, "align": "left", "text_wrap": False},
        "amount_unit_line": {**font, "align": "right", "text_wrap": False},
        "label": {**boxed, **styles["label"], "align": "center"},
        "header": {**boxed, **styles["label"], "align": "center"},
        # Merged down beside the rows (a block's or flat table's label, 一级, 二级): unlocked, for
        # LibreOffice deletes a locked merge a clerk inserts a row into on a protected sheet,
        # and grows an unlocked one.
        "side_label": {**boxed, **styles["label"], "align": "center", **unlocked},
        "level": {**boxed, "align": "center", **unlocked},
        "boxed": {**boxed, "align": "center"},
        "field": {**boxed, **unlocked, "align": "left"},
        "long_text": {**boxed, **unlocked, "align": "left"},
        "money": {**boxed, **unlocked, "align": "center", "num_format": styles["money_format"]},
        "total": {**boxed, "align": "center", "num_format": styles["money_format"]},     # a live SUM: locked
        "center": {**boxed, **unlocked, "align": "center"},
        "number": {**boxed, **unlocked, "align": "center", "num_format": "General"},
        "mark": {**font, "font_size": 9, "font_color": "#C00000", "valign": "top"},
        "count": {**font, "font_size": 9},
        "status": {**font, "bold": True, "font_color": "#C00000"},
    }
    out = {name: book.add_format(props) for name, props in spec.items()}
    for severity, props in CF_FORMATS.items():
        out["cf:" + severity] = book.add_format(props)
    return out


def _write_cell(ws, cell, fmt):
    if cell.merged:
        ws.merge_range(cell.row, cell.col, cell.last_row or cell.row, cell.last_col or cell.col, "", fmt)
    if cell.array:
        ws.write_array_formula(cell.row, cell.col, cell.row, cell.col, "{=" + cell.formula + "}", fmt, cell.value)
    elif cell.formula is not None:
        ws.write_formula(cell.row, cell.col, "=" + cell.formula, fmt, cell.value)
    elif not cell.merged or (cell.value is not None and cell.value != ""):
        write_value(ws, cell.row, cell.col, cell.value, fmt)


def write_value(ws, row, col, value, fmt):
    """One plain value: empty, a number, or text (user text is data, never a formula)."""
    if value is None or value == "":
        ws.write_blank(row, col, None, fmt)
    elif isinstance(value, bool):
        ws.write_string(row, col, str(value), fmt)
    elif isinstance(value, (int, float)):
        ws.write_number(row, col, value, fmt)
    else:
        ws.write_string(row, col, str(value), fmt)   # user text is data, never a formula


def column_runs(cells: list[tuple[int, int]]) -> list[tuple[int, int, int]]:
    """Contiguous (first_row, last_row, col) runs of cells in one column."""
    runs: list[list[int]] = []
    for row, col in sorted(cells, key=lambda rc: (rc[1], rc[0])):
        if runs and runs[-1][2] == col and runs[-1][1] == row - 1:
            runs[-1][1] = row
        else:
            runs.append([row, row, col])
    return [tuple(r) for r in runs]


def _page_size(template: Template) -> tuple[float, float]:
    """Printable width and height in points of the template's paper, orientation and margins."""
    setup, m = template.print, template.print["margins"]
    _, short, long = PAPER.get(setup["paper"], PAPER["A4"])
    width, height = (long, short) if setup.get("landscape", True) else (short, long)
    return width - 72 * (m["left"] + m["right"]), height - 72 * (m["top"] + m["bottom"])


def _table_width(template: Template) -> float:
    """Points: Excel shows a column of width w as 7w+5 pixels of the default 11 pt font."""
    return sum((w * 7 + 5) * 0.75 for w in template.widths.values())


def _print_fit(ws, template: Template, tables: list[TablePlan]):
    """One page wide always; one page tall too where a mild shrink gets each table onto a page.

    A single table uses fit-to-page. Excel ignores manual page breaks under fit-to-page, so
    stacked tables (a page each, by page breaks) get one print scale, from the tallest table.
    """
    room_w, room_h = _page_size(template)
    auto = template.styles["line_height"] + 6       # a row without a set height, at its optimal height
    tallest = max(sum(t.heights.get(r, auto) for r in range(t.first_row, t.last_row + 1)) for t in tables)
    if len(tables) == 1:
        ws.fit_to_pages(1, 1 if room_h / tallest >= SHRINK_LIMIT else 0)
        return
    scale = min(1.0, room_h / (tallest * HEIGHT_MARGIN), room_w / (_table_width(template) * WIDTH_MARGIN))
    ws.set_print_scale(max(int(scale * 100), MIN_SCALE))


def _page(ws, template: Template):
    """The form's paper, orientation and margins."""
    setup, m = template.print, template.print["margins"]
    ws.set_paper(PAPER.get(setup["paper"], PAPER["A4"])[0])
    if setup.get("landscape", True):
        ws.set_landscape()
    ws.set_margins(left=m["left"], right=m["right"], top=m["top"], bottom=m["bottom"])


def _setup_sheet(ws, template: Template, tables: list[TablePlan]):
    last_row = max(t.last_row for t in tables)
    for col, width in template.widths.items():
        ws.set_column(col, col, width)
    ws.set_column(template.mark_col, template.mark_col, template.checks["width"])
    for col in template.check_cols[1:]:
        ws.set_column(col, col, 4, None, {"hidden": True})
    _page(ws, template)
    _print_fit(ws, template, tables)
    ws.center_horizontally()
    ws.set_footer("&C" + template.print["footer"])
    ws.print_area(0, 0, last_row, template.ncols - 1)
    if len(tables) > 1:
        ws.set_h_pagebreaks([t.first_row for t in tables[1:]])


def write_workbook(path: str | os.PathLike, template: Template, sheets: Iterable[SheetPlan],
                   extra_text_sheet: tuple[str, list[str]] | None = None, mark: str | None = None,
                   review: ReviewSheet | None = None) -> None:
    """Write the sheets to `path` atomically (perfxl.output): complete, or not at all. `mark`
    becomes the custom document property `perfxl`; `review` adds a sheet of findings."""
    write_xlsx(path, lambda tmp, parts: _write_book(tmp, template, sheets, extra_text_sheet, parts, mark, review))


def write_xlsx(path: str | os.PathLike, build: Callable[[str, str], None]) -> None:
    """`build(temporary path, parts folder)` writes an XlsxWriter workbook (its part files go to the
    private parts folder, removed whatever happens); the file then moves to `path` atomically.

    Written without the cyclic garbage collector's passes (perfxl.gcpause): XlsxWriter keeps
    millions of small objects, no cycles among them; collections made 10,000 tables ~1.5× slower."""
    def write(tmp: str):
        parts = temporary_name(tempfile.gettempdir())
        try:
            with paused_gc():
                os.mkdir(parts, 0o700)
                build(tmp, parts)
        except FileCreateError as exc:                  # XlsxWriter's wrapper of the OSError (a full disk)
            cause = exc.args[0] if exc.args and isinstance(exc.args[0], OSError) else OSError(str(exc))
            raise cause from None
        finally:
            shutil.rmtree(parts, ignore_errors=True)
    write_atomically(path, write)


# Functions of every Excel version: XlsxWriter never prefixes them with _xlfn.
PLAIN_FUNCTIONS = frozenset({"IF", "AND", "OR", "NOT", "TRIM", "ISNUMBER", "ISBLANK", "LEN", "SUBSTITUTE", "SUM",
                             "CELL", "LEFT", "ROUND", "ABS", "IFERROR", "MID", "RIGHT", "FIND", "VALUE", "ISERROR",
                             "SUMPRODUCT"})
CALL = re.compile(r"([\w.]+)\(")


class _Worksheet(Worksheet):
    """XlsxWriter's Worksheet, skipping its formula rewriting where there is nothing to rewrite.

    XlsxWriter runs ~30 regex passes over every cell formula (~230 over a conditional format's)
    to prefix Excel 2010+ functions with _xlfn.; over our long live-check formulas that was most
    of the rendering time. A formula calling only PLAIN_FUNCTIONS comes out of those passes
    unchanged but for its leading "=", so it is returned as such; any other goes through them.
    """

    def _prepare_formula(self, formula, *args, **kwargs):
        body = formula[1:] if formula.startswith("{") else formula     # as XlsxWriter strips them:
        body = body[1:] if body.startswith("=") else body               # an array formula's braces
        body = body[:-1] if body.endswith("}") else body                # and the leading "="
        if not set(CALL.findall(body)) <= PLAIN_FUNCTIONS:
            return super()._prepare_formula(formula, *args, **kwargs)
        return body


class _Workbook(xlsxwriter.Workbook):
    """XlsxWriter's Workbook with a linear check of sheet names, making _Worksheet sheets.

    XlsxWriter compares each new sheet name with every sheet before it: 10,000 sheets cost ~10 s.
    Here its own check runs against no sheets (length, characters, quotes) and a set of the
    names taken so far does the rest. If XlsxWriter renames these internals, its full check runs.
    """

    def __init__(self, *args, **kwargs):
        self._taken: set[str] = set()
        super().__init__(*args, **kwargs)
        self.worksheet_class = _Worksheet

    def _check_sheetname(self, sheetname, is_chartsheet=False):
        if (sheetname or "").lower() in self._taken:
            raise DuplicateWorksheetName(f"Sheetname '{sheetname}', with case ignored, is already in use.")
        sheets, self.worksheets_objs = self.worksheets_objs, []
        try:
            name = super()._check_sheetname(sheetname, is_chartsheet)
        finally:
            self.worksheets_objs = sheets
        self._taken.add(name.lower())
        return name


def _write_book(path: str, template: Template, sheets: Iterable[SheetPlan], extra_text_sheet, parts: str,
                mark: str | None, review: ReviewSheet | None = None):
    book = _Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False,
                            "strings_to_numbers": False, "tmpdir": parts})
    # the mark also in Keywords, which LibreOffice carries into a PDF printed from the workbook
    book.set_properties({"created": FIXED_DATE, "title": template.form, **({"keywords": f"perfxl:{mark}"} if mark else {})})
    if mark:
        book.set_custom_property("perfxl", mark)
    styles: dict[int, dict] = {}                 # id(form) → its formats
    lists_of = _ValueLists(template)
    for sheet in sheets:
        form = sheet.form or template
        if id(form) not in styles:
            styles[id(form)] = _formats(book, form)
        fmt = styles[id(form)]
        v = form.validation
        lists_of.add(form)
        ws = book.add_worksheet(sheet.name)
        for table in sheet.tables:
            for cell in table.cells:
                _write_cell(ws, cell, fmt[cell.style])
            for row, height in table.heights.items():
                ws.set_row(row, height)
            for first, last, col in column_runs(table.type_cells):
                ws.data_validation(first, col, last, col, {
                    "validate": "list",
                    "source": f"='{template.validation['list_sheet']}'!{lists_of.range(form)}",
                    "input_title": v["input_title"], "input_message": v["input_message"],
                    "error_title": v["error_title"], "error_message": v["error_message"],
                    "error_type": "stop", "ignore_blank": True,
                })
            for hl in table.highlights:
                first_row, first_col, last_row, last_col = hl.ranges[0]
                options = {"type": "formula", "criteria": "=" + hl.formula, "format": fmt["cf:" + hl.severity]}
                if len(hl.ranges) > 1:
                    options["multi_range"] = " ".join(
                        _range(*r) for r in hl.ranges)
                ws.conditional_format(first_row, first_col, last_row, last_col, options)
        _write_notes(ws, sheet.notes, fmt)
        _setup_sheet(ws, form, sheet.tables)
        if sheet.protect is not None:
            ws.protect(sheet.protect, {"insert_rows": True, "delete_rows": True, "format_cells": True,
                            "format_rows": True, "format_columns": True})
    if extra_text_sheet:
        name, lines = extra_text_sheet
        ws = book.add_worksheet(name)
        # as wide as the page holds at 100 %, with the margin stacked tables allow for wider fonts
        # (a wider column was cut at the page's right edge by LibreOffice)
        room_w, _ = _page_size(template)
        width = int((room_w / 0.75 - 5) / 7 / WIDTH_MARGIN)
        ws.set_column(0, 0, width)
        wrap = book.add_format({"font_name": template.styles["font"],
                                "font_charset": template.styles["font_charset"], "text_wrap": True,
                                "valign": "top", "font_size": 11})
        heading = book.add_format({"font_name": template.styles["font"],
                                   "font_charset": template.styles["font_charset"], "bold": True,
                                   "font_size": 14})
        ws.set_column(1, 1, None, None, {"hidden": True})       # each line's digest (perfxl.textsheets)
        for i, line in enumerate(lines):
            is_heading = line.startswith("# ")
            text = line[2:] if is_heading else line
            if is_heading:
                ws.write_string(i, 0, text, heading)
                ws.set_row(i, 24)
            else:
                ws.write_string(i, 0, text, wrap)
                ws.set_row(i, lines_needed(text, width) * template.styles["line_height"] + 3)
            ws.write_string(i, 1, digest([text]))
        _page(ws, template)
        ws.fit_to_pages(1, 0)
    if review is not None:
        _write_review(book, review, template)
    lists = book.add_worksheet(template.validation["list_sheet"])
    lists_of.write(lists)
    lists.hide()
    book.close()


def _write_notes(ws, notes: list[Note], fmt: dict):
    """Each noted cell gets one comment (its findings, one per line) and the paint of the worst."""
    by_cell: dict[tuple[int, int], list[Note]] = {}
    for note in notes:
        by_cell.setdefault((note.row, note.col), []).append(note)
    for (row, col), found in sorted(by_cell.items()):
        text = "\n".join(n.text for n in found)[:MAX_COMMENT]
        ws.write_comment(row, col, text, {"author": "审核", "x_scale": 2.5, "y_scale": 1 + len(found) / 2})
        worst = "error" if any(n.severity == "error" for n in found) else "warning"
        ws.conditional_format(row, col, row, col, {"type": "formula", "criteria": "=TRUE", "format": fmt["cf:" + worst]})


def _write_review(book, review: ReviewSheet, template: Template):
    ws = book.add_worksheet(review.name)
    font = {"font_name": template.styles["font"], "font_charset": template.styles["font_charset"],
            "font_size": 11, "valign": "top", "text_wrap": True, "border": 1}
    head = book.add_format({**font, "bold": True, "bg_color": "#DDEBF7"})
    plain = book.add_format(font)
    link = book.add_format({**font, "font_color": "#0563C1", "underline": 1})
    for col, (label, width) in enumerate(zip(review.header, review.widths)):
        ws.write_string(0, col, label, head)
        ws.set_column(col, col, width)
    marks = len(review.header)                                   # each row's digest (perfxl.textsheets)
    ws.set_column(marks, marks, None, None, {"hidden": True})
    ws.write_string(0, marks, digest(list(review.header)))
    for r, (sheet, cell, texts) in enumerate(review.rows, 1):
        place = f"{sheet}!{cell}" if cell else sheet
        if cell:
            quoted = "'" + sheet.replace("'", "''") + "'"
            ws.write_url(r, 0, f"internal:{quoted}!{cell}", link, place)
        else:
            ws.write_string(r, 0, place, plain)
        for col, text in enumerate(texts, 1):
            ws.write_string(r, col, text, plain)
        ws.write_string(r, marks, digest([place, *texts]))
    ws.freeze_panes(1, 0)
    ws.autofilter(0, 0, len(review.rows), len(review.header) - 1)
    _page(ws, template)
    ws.fit_to_pages(1, 0)
    ws.repeat_rows(0)
    ws.activate()


class _ValueLists:
    """The hidden list sheet: column A holds the workbook's form's 指标值类型 (the dropdowns'
    source), column B its tag (row 1), for the reader. A workbook of several forms tags each one
    in column B, the workbook's form first; a form with other 指标值类型 gets a column of its own
    (C, D …)."""

    def __init__(self, template: Template):
        self.forms: dict[str, Template] = {template.name: template}
        self.columns: dict[tuple[str, ...], int] = {tuple(template.value_types): 0}

    def add(self, form: Template):
        self.forms.setdefault(form.name, form)

    def range(self, form: Template) -> str:
        types = tuple(form.value_types)
        col = self.columns.setdefault(types, len(self.columns) + 1)
        letter = col_letter(col)
        return f"${letter}$1:${letter}${len(types)}"

    def write(self, ws):
        for types, col in self.columns.items():
            for i, value_type in enumerate(types):
                ws.write_string(i, col, value_type)
        several = len(self.forms) > 1
        tags = [tag_text(f, always=several) for f in self.forms.values()]
        for i, tag in enumerate(t for t in tags if t):
            ws.write_string(i, 1, tag)


def _range(first_row, first_col, last_row, last_col) -> str:
    from xlsxwriter.utility import xl_range
    return xl_range(first_row, first_col, last_row, last_col)
