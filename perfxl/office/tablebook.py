"""Writing plain tables (the 汇总 workbook) with XlsxWriter: header rows, typed columns, links,
formulas with their cached values, Excel tables and filters, frozen headers, A4 print setup.

The only module of perfxl.office that touches XlsxWriter; files are written through
perfxl.writer.write_xlsx (atomically, XlsxWriter's part files in a private folder) and values
through its write_value, so text is always written as text (a return's "=1+1" stays a string).
A link Excel cannot hold (too long, or a `#` in the file name, which Excel reads as the start of
the place inside the file) is written as plain text; document dates are fixed (the same tables
give the same bytes).
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field

import xlsxwriter

from ..writer import write_value, write_xlsx

MAX_LINKS = 65_530          # Excel's hyperlinks per worksheet
MAX_LINK = 2_000            # characters of a link, kept below Excel's 2,079
LINE_HEIGHT = 14            # points of a line of 10 pt text
MAX_LINES = 20              # a row grows for wrapped text up to this many lines


@dataclass(frozen=True)
class Formula:
    text: str               # without the leading "="
    cached: object


@dataclass(frozen=True)
class Link:
    """A hyperlink shown as `text`: to a place in another file (relative to the workbook), or in
    this workbook when `file` is None. place: "'Sheet'!B7"."""

    text: str
    file: str | None = None
    place: str | None = None

    def target(self) -> str | None:
        """XlsxWriter's URL, or None where Excel cannot hold the link."""
        if self.file is None:
            url = f"internal:{self.place}"
        elif "#" in self.file:          # Excel would take what follows # as the place
            return None
        else:
            url = f"external:{self.file}" + (f"#{self.place}" if self.place else "")
        return url if len(url) <= MAX_LINK else None


@dataclass(frozen=True)
class Column:
    header: str
    width: float
    kind: str = "text"      # text | money | count | date
    money_format: str = "#,##0.00"


@dataclass
class Table:
    """One sheet: a header row, the rows, an optional total row (Formula cells), as an Excel table
    (`table_name`) or with a plain filter."""

    sheet: str
    columns: list[Column]
    rows: list[list] = field(default_factory=list)
    total: list | None = None
    table_name: str | None = None


def write_tables(path: str | os.PathLike, tables: list[Table], *, font: str, charset: int = 134,
                 mark: str | None = None, title: str = "") -> None:
    """Write the tables, one sheet each, to `path` atomically."""
    write_xlsx(path, lambda tmp, parts: _write(tmp, tables, font, charset, mark, title, parts))


def _write(path, tables, font, charset, mark, title, parts):
    import datetime

    book = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False,
                                      "strings_to_numbers": False, "tmpdir": parts})
    book.set_properties({"created": datetime.datetime(2000, 1, 1), "title": title})
    if mark:
        book.set_custom_property("perfxl", mark)
    base = {"font_name": font, "font_charset": charset, "font_size": 10, "valign": "top", "text_wrap": True}
    formats = {
        "head": book.add_format({**base, "bold": True, "bg_color": "#DDEBF7", "border": 1, "align": "center"}),
        "text": book.add_format(base),
        "count": book.add_format({**base, "num_format": "0", "align": "right"}),
        "link": book.add_format({**base, "font_color": "#0563C1", "underline": 1}),
        "total": book.add_format({**base, "bold": True, "top": 1}),
    }
    money: dict[str, object] = {}
    for table in tables:
        ws = book.add_worksheet(table.sheet)
        fmts = []
        for col, column in enumerate(table.columns):
            if column.kind == "money":
                fmt = money.setdefault(column.money_format, book.add_format({**base, "num_format": column.money_format}))
            else:
                fmt = formats["count" if column.kind == "count" else "text"]
            fmts.append(fmt)
            ws.set_column(col, col, max(column.width, _text_width(column.header) + 2))     # as `widths` below
        widths = [max(c.width, _text_width(c.header) + 2) for c in table.columns]
        links = 0
        for r, row in enumerate(table.rows, 1):
            lines = 1
            for c, value in enumerate(row):
                links += _cell(ws, r, c, value, fmts[c], formats["link"], links < MAX_LINKS)
                if isinstance(value, (str, Link)):
                    text = value.text if isinstance(value, Link) else value
                    lines = max(lines, min(MAX_LINES, -(-_text_width(text) // max(int(widths[c]) - 1, 1))))
            if lines > 1:
                ws.set_row(r, LINE_HEIGHT * lines)       # wrapped text: Excel grows no row by itself
        last = len(table.rows)
        if table.total is not None:
            last += 1
            for c, value in enumerate(table.total):
                fmt = book.add_format({**base, "bold": True, "top": 1, "num_format": table.columns[c].money_format}) \
                    if table.columns[c].kind == "money" else formats["total"]
                _cell(ws, last, c, value, fmt, fmt, False)
        ncols = len(table.columns)
        if table.table_name:
            ws.add_table(0, 0, max(len(table.rows), 1), ncols - 1, {
                "name": table.table_name, "style": "Table Style Light 9", "autofilter": True,
                "columns": [{"header": c.header, "header_format": formats["head"]} for c in table.columns]})
        else:
            for c, column in enumerate(table.columns):
                ws.write_string(0, c, column.header, formats["head"])
            ws.autofilter(0, 0, max(len(table.rows), 1), ncols - 1)
        ws.freeze_panes(1, 0)
        ws.set_paper(9)
        ws.set_landscape()
        ws.fit_to_pages(1, 0)
        ws.repeat_rows(0)
        ws.set_footer("&C第 &P 页，共 &N 页")
    book.close()


def _cell(ws, r: int, c: int, value, fmt, link_fmt, links_left: bool) -> int:
    """Write one value; 1 when a hyperlink was written."""
    if isinstance(value, Link):
        target = value.target() if links_left else None
        if target is not None:
            ws.write_url(r, c, target, link_fmt, value.text)
            return 1
        ws.write_string(r, c, value.text, fmt)
    elif isinstance(value, Formula):
        ws.write_formula(r, c, "=" + value.text, fmt, value.cached)
    else:
        write_value(ws, r, c, value, fmt)
    return 0



def _text_width(text: str) -> int:
    """Excel character units: a CJK character takes two."""
    return sum(2 if ord(ch) > 0x2E80 else 1 for ch in text)
