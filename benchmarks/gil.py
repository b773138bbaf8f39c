"""What the interpreter lock does to python-calamine beside other Python work (issue 13).

    python benchmarks/gil.py BOOK.xlsx

Reads every sheet of BOOK with python-calamine (values, as `perfxl read` asks for them) three
times, each in this one process: alone; beside a second thread running plain Python (as perfxl's
table finding would, were it overlapped with calamine); and beside a second thread searching every
sheet's XML with `re` and with the `regex` module (which releases the lock while it matches), as
perfxl's scan of the XML does. calamine releases the lock while it parses a sheet and must take it
back for every sheet; how long that waits is what decides whether perfxl's own work can run beside
it. Prints seconds per case.
"""
from __future__ import annotations

import re
import sys
import threading
import time
import zipfile

from python_calamine import CalamineWorkbook

# the scan's kind of pattern: a formula's end not followed by a value (perfxl.workbook.UNCACHED)
UNCACHED = rb"(?:</(?:[\w.-]+:)?f\s*>|<(?:[\w.-]+:)?f(?=[\s/])[^>]*/>)(?!\s*<(?:[\w.-]+:)?v\s*>)"


def calamine_all(book: CalamineWorkbook) -> float:
    start = time.perf_counter()
    for name in book.sheet_names:
        book.get_sheet_by_name(name).to_python(skip_empty_area=False)
    return time.perf_counter() - start


def beside(book: CalamineWorkbook, work) -> tuple[float, int]:
    """calamine's time while `work(stop)` runs in a second thread; and how far the work got."""
    stop = threading.Event()
    done = [0]
    thread = threading.Thread(target=work, args=(stop, done))
    thread.start()
    try:
        return calamine_all(book), done[0]
    finally:
        stop.set()
        thread.join()


def python_loop(stop, done):
    while not stop.is_set():
        for _ in range(1000):
            done[0] += 1


def scanning(sheets: list[bytes], matcher):
    def work(stop, done):
        while not stop.is_set():
            for data in sheets:
                if stop.is_set():
                    return
                sum(1 for _ in matcher.finditer(data))
                done[0] += 1
    return work


def main(path: str) -> None:
    book = CalamineWorkbook.from_path(path)
    with zipfile.ZipFile(path) as archive:
        sheets = [archive.read(n) for n in archive.namelist() if n.startswith("xl/worksheets/sheet")]
    print(f"{len(book.sheet_names)} sheets, {sum(map(len, sheets)) >> 20} MB of sheet XML")
    print(f"calamine alone: {calamine_all(book):.2f} s")
    seconds, _ = beside(book, python_loop)
    print(f"calamine beside a thread running Python: {seconds:.2f} s")
    seconds, scanned = beside(book, scanning(sheets, re.compile(UNCACHED)))
    print(f"calamine beside a thread searching the XML with re: {seconds:.2f} s ({scanned} sheets searched)")
    try:
        import regex
    except ImportError:
        return
    seconds, scanned = beside(book, scanning(sheets, regex.compile(UNCACHED)))
    print(f"calamine beside a thread searching the XML with regex: {seconds:.2f} s ({scanned} sheets searched)")


if __name__ == "__main__":
    main(sys.argv[1])
