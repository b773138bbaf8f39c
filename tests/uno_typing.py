"""Type into a workbook through LibreOffice's UNO API, as a clerk does, and save it.

Run by a Python that has LibreOffice's `uno` module (Debian's python3-uno), not by the test's
own interpreter: `python3 uno_typing.py SRC OUT PROFILE_DIR PORT SHEET!CELL=TEXT ...`. Each TEXT
is entered as typed input (XCell.setFormula: "1400" becomes a number, "一千五百" text, "" empties
the cell); a place ending in `~` (`B7~=95%`) is typed as at the keyboard, through the input line
(.uno:EnterString), so that LibreOffice recognises what was typed and formats the cell as it does
for a clerk (95% becomes 0.95 shown as a percentage); a place `SHEET!+N` inserts an empty row
above row N, as a clerk's 插入行 does. Edits run in
order; LibreOffice recalculates the live checks, and the workbook is saved as .xlsx (as .ods
when OUT ends so).
"""
import subprocess
import sys
import time

import uno
from com.sun.star.beans import PropertyValue


def prop(name, value):
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


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
    finally:
        office.terminate()
        try:
            office.wait(timeout=30)
        except subprocess.TimeoutExpired:
            office.kill()


if __name__ == "__main__":
    main(*sys.argv[1:])
