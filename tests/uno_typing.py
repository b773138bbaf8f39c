"""Type into a workbook through LibreOffice's UNO API, as a clerk does, and save it.

Run by a Python that has LibreOffice's `uno` module (Debian's python3-uno), not by the test's
own interpreter: `python3 uno_typing.py SRC OUT PROFILE_DIR PORT SHEET!CELL=TEXT ...`. Each TEXT
is entered as typed input (XCell.setFormula: "1400" becomes a number, "一千五百" text, "" empties
the cell); a place ending in `~` (`B7~=95%`) is typed as at the keyboard, through the input line
(.uno:EnterString), so that LibreOffice recognises what was typed and formats the cell as it does
for a clerk (95% becomes 0.95 shown as a percentage); a place `SHEET!+N` inserts an empty row
above row N, as a clerk's 插入行 does. Edits run in
order; LibreOffice recalculates the live checks, and the workbook is saved as .xlsx (as .ods
when OUT ends so). After saving, the cells LibreOffice paints by conditional formatting are
written to OUT.painted.json as [sheet, cell, fill colour] for every condition that holds there
(evaluated by LibreOffice at each cell; nothing of it is saved).
"""
import json
import re
import subprocess
import sys
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


REF = re.compile(r"(?<![A-Za-z0-9_.$])(\$?)([A-Z]{1,3})(\$?)(\d+)(?![\d(A-Za-z_])")
STRING = re.compile(r'("(?:[^"]|"")*")')


SCRATCH = 100                                       # probes go right of this column (0-based)


def at_cell(formula: str, rows: int, cols: int) -> str:
    """`formula` (a conditional format's, relative to its range's top-left cell) as it reads at the
    cell `rows` down and `cols` right of there, in UNO's separators (;), strings left alone."""
    def shift(m):
        col, row = m.group(2), int(m.group(4))
        if not m.group(1):
            n = 0
            for ch in col:
                n = n * 26 + ord(ch) - 64
            n += cols
            col = ""
            while n:
                n, r = divmod(n - 1, 26)
                col = chr(65 + r) + col
        return f"{m.group(1)}{col}{m.group(3)}{row if m.group(3) else row + rows}"
    parts = STRING.split(formula)
    return "".join(p if i % 2 else REF.sub(shift, p).replace(",", ";") for i, p in enumerate(parts))


def painted(doc) -> list:
    """[sheet, cell, fill colour] for each conditional format's condition that holds at a cell,
    evaluated by LibreOffice in a scratch cell far to the right of the cell's row."""
    styles = doc.StyleFamilies.getByName("CellStyles")
    doc.enableAutomaticCalculation(False)          # one recalculation, once every probe is in
    probes = []
    for sheet in doc.Sheets:
        if sheet.isProtected():
            sheet.unprotect("")
        used: dict[int, int] = {}                  # row → scratch cells taken on it
        for cf in sheet.ConditionalFormats.ConditionalFormats:
            ranges = cf.Range.RangeAddresses
            top, left = min(r.StartRow for r in ranges), min(r.StartColumn for r in ranges)
            for i in range(cf.Count):
                entry = cf.getByIndex(i)
                formula = getattr(entry, "Formula1", "")
                if not formula:
                    continue
                colour = "%06X" % styles.getByName(entry.StyleName).CellBackColor
                for r in ranges:
                    for row in range(r.StartRow, r.EndRow + 1):
                        for col in range(r.StartColumn, r.EndColumn + 1):
                            used[row] = used.get(row, 0) + 1
                            cell = sheet.getCellByPosition(SCRATCH + used[row], row)
                            cell.setFormula("=" + at_cell(formula, row - top, col - left))
                            name = sheet.getCellByPosition(col, row).AbsoluteName.rsplit(".", 1)[1]
                            probes.append((sheet.Name, name.replace("$", ""), colour, cell))
    doc.calculateAll()
    return [[s, c, colour] for s, c, colour, cell in probes if cell.getError() == 0 and cell.getValue() != 0]


def main(src, out, profile, port, *edits):
    office = subprocess.Popen(["soffice", f"-env:UserInstallation=file://{profile}", "--headless", "--norestore",
                               "--nologo", f"--accept=socket,host=127.0.0.1,port={port};urp;"])
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        for _ in range(120):
            try:
                ctx = resolver.resolve(f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext")
                break
            except Exception:
                time.sleep(0.5)
        else:
            raise SystemExit("LibreOffice did not answer on its UNO socket")
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (prop("Hidden", True),))
        controller = doc.getCurrentController()
        dispatcher = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.DispatchHelper", ctx)
        for edit in edits:
            place, _, text = edit.partition("=")
            sheet_name, _, cell = place.rpartition("!")
            sheet = doc.Sheets.getByName(sheet_name) if sheet_name else doc.Sheets.getByIndex(0)
            if cell.startswith("+"):
                sheet.Rows.insertByIndex(int(cell[1:]) - 1, 1)
            elif cell.endswith("~"):
                controller.setActiveSheet(sheet)
                controller.select(sheet.getCellRangeByName(cell[:-1]))
                dispatcher.executeDispatch(controller.getFrame(), ".uno:EnterString", "", 0,
                                           (prop("StringName", text),))
            else:
                sheet.getCellRangeByName(cell).setFormula(text)
        doc.calculateAll()
        kind = "calc8" if out.lower().endswith(".ods") else "Calc MS Excel 2007 XML"
        doc.storeToURL(uno.systemPathToFileUrl(out), (prop("FilterName", kind),))
        doc.close(True)
        saved = desktop.loadComponentFromURL(uno.systemPathToFileUrl(out), "_blank", 0, (prop("Hidden", True),))
        with open(out + ".painted.json", "w", encoding="utf-8") as f:
            json.dump(painted(saved), f, ensure_ascii=False)
        saved.close(True)
    finally:
        office.terminate()
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    main(*sys.argv[1:])
