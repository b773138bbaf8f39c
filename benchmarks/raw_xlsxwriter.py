"""The floor for rendering: a plain XlsxWriter script, no perfxl code.

It writes what `ops` lists (cells, merges, row heights, dropdowns, conditional formats, sheet
setup) with direct XlsxWriter calls, as a hand-written script would. `run.py` takes the ops
from perfxl's layout plans, so both sides write the same workbook.

ops: {"sheets": [sheet, ...], "list_sheet": name, "value_types": [...], "validation": {...},
      "widths": {col: width}}
sheet: {"name", "last_row", "strings": [(r, c, text, fmt)], "numbers": [...],
        "blanks": [(r, c, fmt)], "formulas": [(r, c, formula, fmt, cached)],
        "arrays": [(r, c, formula, fmt, cached)],
        "merges": [(r1, c1, r2, c2, value, fmt)], "heights": [(r, h)],
        "validations": [(r1, c, r2)], "cfs": [(r1, c1, r2, c2, criteria, severity, multi_range)]}
"""
from __future__ import annotations

import xlsxwriter

FONT = {"font_name": "宋体", "font_charset": 134, "font_size": 11, "valign": "vcenter", "text_wrap": True}
BOXED = {**FONT, "border": 1}
FORMATS = {
    "title": {**FONT, "bold": True, "font_size": 18, "align": "center", "text_wrap": False},
    "unit_line": {**FONT, "align": "left", "text_wrap": False},
    "amount_unit_line": {**FONT, "align": "right", "text_wrap": False},
    "label": {**BOXED, "bold": True, "align": "center"},
    "header": {**BOXED, "bold": True, "align": "center"},
    "side_label": {**BOXED, "bold": True, "align": "center", "locked": False},
    "level": {**BOXED, "align": "center", "locked": False},
    "boxed": {**BOXED, "align": "center"},
    "total": {**BOXED, "align": "center", "num_format": "#,##0.00"},
    "field": {**BOXED, "locked": False, "align": "left"},
    "long_text": {**BOXED, "locked": False, "align": "left"},
    "money": {**BOXED, "locked": False, "align": "center", "num_format": "#,##0.00"},
    "center": {**BOXED, "locked": False, "align": "center"},
    "number": {**BOXED, "locked": False, "align": "center", "num_format": "General"},
    "mark": {**FONT, "font_size": 9, "font_color": "#C00000", "valign": "top"},
    "count": {**FONT, "font_size": 9},
    "status": {**FONT, "bold": True, "font_color": "#C00000"},
    "cf:error": {"bg_color": "#FFC7CE", "font_color": "#9C0006"},
    "cf:warning": {"bg_color": "#FFEB9C", "font_color": "#9C5700"},
}


def write(ops: dict, path: str) -> None:
    book = xlsxwriter.Workbook(path, {"strings_to_formulas": False, "strings_to_urls": False,
                                      "strings_to_numbers": False})
    fmt = {name: book.add_format(props) for name, props in FORMATS.items()}
    for sheet in ops["sheets"]:
        ws = book.add_worksheet(sheet["name"])
        write_sheet(ws, sheet, fmt, ops)
    lists = book.add_worksheet(ops["list_sheet"])
    for i, value_type in enumerate(ops["value_types"]):
        lists.write_string(i, 0, value_type)
    lists.hide()
    book.close()


def write_sheet(ws, sheet: dict, fmt: dict, ops: dict) -> None:
    for r1, c1, r2, c2, value, f in sheet["merges"]:
        if isinstance(value, str):
            ws.merge_range(r1, c1, r2, c2, value, fmt[f])
        else:
            ws.merge_range(r1, c1, r2, c2, "", fmt[f])
            if value is not None:
                ws.write_number(r1, c1, value, fmt[f])
    for r, c, text, f in sheet["strings"]:
        ws.write_string(r, c, text, fmt[f])
    for r, c, number, f in sheet["numbers"]:
        ws.write_number(r, c, number, fmt[f])
    for r, c, f in sheet["blanks"]:
        ws.write_blank(r, c, None, fmt[f])
    for r, c, formula, f, cached in sheet["formulas"]:
        ws.write_formula(r, c, formula, fmt[f], cached)
    for r, c, formula, f, cached in sheet["arrays"]:
        ws.write_array_formula(r, c, r, c, formula, fmt[f], cached)
    for r, height in sheet["heights"]:
        ws.set_row(r, height)
    source = f"='{ops['list_sheet']}'!$A$1:$A${len(ops['value_types'])}"
    for r1, c, r2 in sheet["validations"]:
        ws.data_validation(r1, c, r2, c, {"validate": "list", "source": source, **ops["validation"]})
    for r1, c1, r2, c2, criteria, severity, multi_range in sheet["cfs"]:
        options = {"type": "formula", "criteria": criteria, "format": fmt["cf:" + severity]}
        if multi_range:
            options["multi_range"] = multi_range
        ws.conditional_format(r1, c1, r2, c2, options)
    setup(ws, sheet, ops["widths"])


def setup(ws, sheet: dict, widths: dict) -> None:
    for col, width in widths.items():
        ws.set_column(col, col, width)
    ws.set_column(9, 9, 36)
    ws.set_column(10, 10, 4, None, {"hidden": True})
    ws.set_paper(9)
    ws.set_landscape()
    ws.fit_to_pages(1, 1)
    ws.center_horizontally()
    ws.set_margins(left=0.5, right=0.5, top=0.6, bottom=0.6)
    ws.set_footer("&C第 &P 页 共 &N 页")
    ws.print_area(0, 0, sheet["last_row"], 8)
