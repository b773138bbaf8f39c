"""An input workbook: what the reader gets from a file, and nothing about tables.

The file is read once into memory (perfxl.safety.read_input) and every check and library sees
those bytes: perfxl.safety.inspect (bombs, encryption, not a workbook; for .xls the facts of perfxl.xls:
each sheet's extent, hidden rows) and, for .ods, the extent of the sheets with
repeated non-empty rows, so that a file calamine would need gigabytes for is refused first.
python-calamine then reads the values, from those bytes (so it reads by content, whatever the
file's name or name encoding; through an in-memory file where Linux has them), each .xlsx sheet only after check_sheet_area has bounded it.

What calamine cannot tell comes from the package itself: for .xlsx (parts resolved through the
relationships, perfxl.package) formulas without a cached value, error cells, percent-formatted
cells and hidden rows and columns, found by parsing the start tags' attributes in any order,
quoting and namespace prefix; for .ods percent cells and hidden rows and columns; for .xls hidden
rows (percent formats there cannot be told apart). Also the document's own date and the
`perfxl` custom property that marks perfxl's own outputs.
"""
from __future__ import annotations

import io
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field

import python_calamine
from defusedxml import DefusedXmlException, ElementTree

from .errors import Location, WorkbookError
from .package import OoxmlParts, Package, local
from .safety import MAX_BOOK_CELLS, cell_places, check_sheet_area, inspect, read_input

PERCENT_BUILTIN = {9, 10}
ODS_REPEAT_CAP = 1024       # repeated rows/columns beyond this are no table of ours
MAX_HIDDEN = 10_000         # hidden rows or columns remembered per sheet
PACKAGE_ERRORS = (zipfile.BadZipFile, KeyError, ValueError, ElementTree.ParseError,
                  DefusedXmlException, zlib.error, OSError, EOFError)
KIND_NAMES = {"xlsx": ".xlsx/.xlsm", "xls": ".xls", "ods": ".ods"}
SUFFIX_KIND = {".xlsx": "xlsx", ".xlsm": "xlsx", ".xltx": "xlsx", ".xltm": "xlsx", ".xls": "xls", ".ods": "ods"}


@dataclass
class Extras:
    """What calamine cannot tell about a sheet: cells without a usable value, percent cells,
    hidden rows and columns (0-based)."""

    unusable: dict[tuple[int, int], str] = field(default_factory=dict)
    percent: set[tuple[int, int]] = field(default_factory=set)
    formats_known: bool = True          # False for .xls: percent cells cannot be told apart
    hidden_rows: set[int] = field(default_factory=set)
    hidden_cols: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class SheetInfo:
    name: str
    hidden: bool


class Book:
    """An open workbook: calamine for values, the package parts for what calamine leaves out."""

    def __init__(self, path: str, data: bytes, calamine, kind: str, xls=None):
        self.path = path
        self.data = data
        self.calamine = calamine
        self.kind = kind
        self.notes: list[str] = []          # about the file as a whole, e.g. a misleading name
        self.metadata = list(calamine.sheets_metadata)      # read once: calamine is not shared across threads
        self._xls = xls
        self._xlsx: _XlsxParts | None = None
        self._ods: _OdsFacts | None = None
        suffix = os.path.splitext(path)[1].lower()
        if SUFFIX_KIND.get(suffix, kind) != kind:
            self.notes.append(f"文件扩展名是 {suffix}，但内容是 {KIND_NAMES[kind]} 工作簿；已按内容读取，"
                              "建议改正扩展名")

    def sheets(self) -> list[SheetInfo]:
        """The worksheets, hidden ones included, in workbook order."""
        return [SheetInfo(m.name, m.visible != python_calamine.SheetVisibleEnum.Visible)
                for m in self.metadata if m.typ == python_calamine.SheetTypeEnum.WorkSheet]

    def rows(self, name: str) -> list[list]:
        try:
            return self.calamine.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except BaseException as exc:
            if not _calamine_failed(exc):
                raise
            raise WorkbookError(f"无法读取工作表：{one_line(exc)}", Location(self.path, sheet=name)) from None

    def extras(self, name: str) -> Extras:
        if self.kind == "xlsx":
            return self._parts().extras(name)
        if self.kind == "ods":
            if self._ods is None:
                self._ods = _guard(lambda: _OdsFacts(self.data), self.path)
            return self._ods.extras(name)
        extras = Extras(formats_known=False)
        index = [m.name for m in self.metadata].index(name)
        if self._xls is not None and index < len(self._xls.sheets):
            extras.hidden_rows = set(self._xls.sheets[index].hidden_rows)
        return extras

    def properties(self) -> tuple[str | None, str | None]:
        """(the document's last-saved date as ISO text, perfxl's own mark) from its properties."""
        try:
            if self.kind == "xlsx":
                return self._parts().properties()
            if self.kind == "ods":
                return _ods_properties(self.data)
        except PACKAGE_ERRORS:
            pass
        return None, None

    def _parts(self) -> _XlsxParts:
        if self._xlsx is None:
            self._xlsx = _guard(lambda: _XlsxParts(self.data, self.path), self.path)
        return self._xlsx


def open_book(path: str | os.PathLike) -> Book:
    """Read the file, check it (perfxl.safety, perfxl.xls), then open it with calamine."""
    path = os.fspath(path)
    data = read_input(path)
    kind, xls = inspect(data, path)
    if kind == "ods":
        _guard(lambda: _check_ods_area(data, path), path)
    try:
        book = _calamine(data)
    except BaseException as exc:
        if not _calamine_failed(exc):
            raise
        raise WorkbookError(f"无法打开{KIND_NAMES[kind]}工作簿：{one_line(exc)}", path) from None
    return Book(path, data, book, kind, xls)


def _calamine(data: bytes):
    """calamine on these very bytes. Where Linux gives an anonymous in-memory file, calamine opens
    it by path and reads it in Rust without the GIL (through a Python file object every read
    needs the GIL, which the scan thread holds: 1,000 sheets took 1.5 s instead of 0.2 s)."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        try:
            fd = os.memfd_create("perfxl-input", getattr(os, "MFD_CLOEXEC", 0))
        except OSError:
            fd = None
        if fd is not None:
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                return python_calamine.CalamineWorkbook.from_path(f"/proc/self/fd/{fd}")
            except OSError:         # e.g. a file-size limit (ulimit -f) counts memory files too
                pass
            finally:
                os.close(fd)        # calamine holds its own descriptor of the same memory file
    return python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))


def _guard(make, path: str):
    try:
        return make()
    except PACKAGE_ERRORS as exc:
        raise WorkbookError(f"工作簿结构损坏：{one_line(exc)}", path) from None


def _calamine_failed(exc: BaseException) -> bool:
    """calamine's own error, or a panic in its Rust code: pyo3 raises that as PanicException, a
    BaseException (so `except Exception` misses it), seen on fuzzed files with python-calamine 0.5."""
    return isinstance(exc, python_calamine.CalamineError) or type(exc).__name__ == "PanicException"


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


# -- .xlsx: start tags and their attributes ------------------------------------------------------
PREFIX = rb"(?:[\w.-]+:)?"
ATTRS = rb"((?:\s+[^\s=>/]+\s*=\s*(?:\"[^\"]*\"|'[^']*'))*)\s*(/?)>"
ATTR = re.compile(rb"([^\s=]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
CELL_START = re.compile(rb"<" + PREFIX + rb"c(?=[\s/>])")
CELL_TAG = re.compile(rb"<" + PREFIX + rb"c(?=[\s/>])" + ATTRS)
ROW_TAG = re.compile(rb"<(/?)" + PREFIX + rb"row(?=[\s/>])" + ATTRS)
# a formula element's end not followed by a value element (<v/> and <v /> are none): never recalculated
UNCACHED = re.compile(rb"(?:</" + PREFIX + rb"f\s*>|<" + PREFIX + rb"f(?=[\s/])[^>]*/>)(?!\s*<" + PREFIX
                      + rb"v\s*>)")
ERROR_T = re.compile(rb"t\s*=\s*[\"']e[\"']")                # literal first: fast; the attribute is checked after
HIDDEN = re.compile(rb"hidden\s*=\s*[\"'](?:1|true)[\"']")
TAG_NAME = re.compile(rb"<" + PREFIX + rb"(row|col)(?=[\s/>])")
VALUE = re.compile(rb"<" + PREFIX + rb"v\s*>([^<]*)<")
CELL_REF = re.compile(rb"([A-Za-z]{1,3})([0-9]{1,7})")


def attributes(raw: bytes) -> dict[bytes, bytes]:
    """b' r="A1" s=\\'3\\'' → {b'r': b'A1', b's': b'3'} (names without a namespace prefix)."""
    return {m.group(1).rsplit(b":", 1)[-1]: m.group(2) if m.group(2) is not None else m.group(3)
            for m in ATTR.finditer(raw)}


def cell_ref(ref: bytes) -> tuple[int, int] | None:
    """b'AB12' → (11, 27), 0-based; None for anything else."""
    match = CELL_REF.fullmatch(ref)
    if match is None:
        return None
    col = 0
    for ch in match.group(1).upper():
        col = col * 26 + ch - 64
    return int(match.group(2)) - 1, col - 1


class _XlsxParts:
    """The parts of an .xlsx package read directly: sheet parts, percent styles, sheet XML."""

    UNCACHED_TEXT = "公式没有计算结果（文件从未重新计算），按空值读取；请在 Excel、WPS 或 LibreOffice 中打开并保存后再读"

    def __init__(self, data: bytes, path: str):
        self.path = path
        self.package = Package(data)
        self.parts = OoxmlParts(self.package)
        self.sheet_parts = {s.name: s.part for s in self.parts.sheets()}
        self.percent_styles = self._percent_styles()

    def _percent_styles(self) -> set[bytes]:
        """Indexes (as text) of the cell formats that show a percentage, read without a tree."""
        if not self.package.has(self.parts.styles):
            return set()
        custom: dict[int, str] = {}
        out, index, in_xfs = set(), 0, False
        for event, elem in ElementTree.iterparse(io.BytesIO(self.package.read(self.parts.styles)),
                                                 events=("start", "end")):
            name = local(elem.tag)
            if event == "start":
                if name == "cellXfs":
                    in_xfs = True
                elif name == "numFmt":
                    custom[_int(elem.get("numFmtId"), -1)] = elem.get("formatCode", "")
                elif name == "xf" and in_xfs:
                    fmt = _int(elem.get("numFmtId"), 0)
                    if fmt in PERCENT_BUILTIN or _is_percent_format(custom.get(fmt, "")):
                        out.add(str(index).encode())
                    index += 1
            else:
                if name == "cellXfs":
                    in_xfs = False
                elem.clear()
        return out

    def properties(self) -> tuple[str | None, str | None]:
        modified = mark = None
        core = self.parts.property_part("core-properties")
        if core:
            for elem in self.package.xml(core).iter():
                if local(elem.tag) == "modified" and (elem.text or "").strip():
                    modified = elem.text.strip()
        custom = self.parts.property_part("custom-properties")
        if custom:
            for prop in self.package.xml(custom).iter():
                if local(prop.tag) == "property" and prop.get("name") == "perfxl":
                    mark = "".join(prop.itertext()).strip() or None
        return modified, mark

    def extras(self, name: str) -> Extras:
        member = self.sheet_parts.get(name)
        if member is None:
            raise WorkbookError("工作表的数据部件缺失或无法定位，未读取", Location(self.path, sheet=name))
        try:
            data = self.package.read(member)
        except PACKAGE_ERRORS as exc:
            raise WorkbookError(f"工作表数据损坏：{one_line(exc)}", Location(self.path, sheet=name)) from None
        check_sheet_area(data, name, self.path)
        return _SheetScan(data).extras(self.percent_styles, self.UNCACHED_TEXT)


class _SheetScan:
    """One sheet's XML, searched for the few cells that need a word; cells are located by their
    r attribute, or, in a sheet whose cells omit it, by counting as calamine counts."""

    def __init__(self, data: bytes):
        self.data = data
        self._positions: dict[int, tuple[int, int]] | None = None
        self._implicit: bool | None = None

    @property
    def implicit(self) -> bool:
        """Whether some cell omits its r attribute (then cells are placed by counting)."""
        if self._implicit is None:
            self._implicit = re.search(rb"<" + PREFIX + rb"c(?=[\s/>])(?![^>]*?\sr\s*=)", self.data) is not None
        return self._implicit

    def position(self, start: int, raw_attrs: bytes) -> tuple[int, int] | None:
        if not self.implicit:
            return cell_ref(attributes(raw_attrs).get(b"r", b""))
        if self._positions is None:
            self._positions = {start: (row, col) for start, row, col, _ in cell_places(self.data)}
        return self._positions.get(start)

    def cell_around(self, pos: int):
        """The <c> start tag at or before `pos` (a formula's cell), as a match of CELL_TAG."""
        window = 4096
        while True:
            low = max(0, pos - window)
            starts = list(CELL_START.finditer(self.data, low, pos))
            if starts or low == 0:
                return CELL_TAG.match(self.data, starts[-1].start()) if starts else None
            window *= 16

    def extras(self, percent_styles: set[bytes], uncached: str) -> Extras:
        data, extras = self.data, Extras()
        for match in UNCACHED.finditer(data):
            cell = self.cell_around(match.start())
            where = cell and self.position(cell.start(), cell.group(1))
            if where:
                extras.unusable[where] = uncached
        if ERROR_T.search(data):
            for cell in CELL_TAG.finditer(data):
                if ERROR_T.search(cell.group(1)) and attributes(cell.group(1)).get(b"t") == b"e":
                    where = self.position(cell.start(), cell.group(1))
                    value = VALUE.match(data, cell.end())
                    if where:
                        error = (value.group(1) if value else b"").decode(errors="replace")
                        extras.unusable[where] = f"单元格是错误值 {error}，按空值读取"
        if percent_styles and _uses_style(data, percent_styles):
            for cell in CELL_TAG.finditer(data):
                if attributes(cell.group(1)).get(b"s") in percent_styles:
                    where = self.position(cell.start(), cell.group(1))
                    if where:
                        extras.percent.add(where)
        if HIDDEN.search(data):
            self.hidden(extras)
        return extras

    def hidden(self, extras: Extras):
        """Rows and columns whose start tag says hidden (the few tags around each "hidden")."""
        data, counting = self.data, False
        for match in HIDDEN.finditer(data):
            start = data.rfind(b"<", 0, match.start())
            tag = TAG_NAME.match(data, start)
            if tag is None:
                continue
            attrs = attributes(data[tag.end():data.find(b">", match.end())])
            if tag.group(1) == b"col":
                first, last = _int(attrs.get(b"min"), 1), _int(attrs.get(b"max"), 1)
                extras.hidden_cols.update(range(first - 1, min(last, first + MAX_HIDDEN)))
            elif attrs.get(b"r", b"").isdigit():
                if len(extras.hidden_rows) < MAX_HIDDEN:
                    extras.hidden_rows.add(int(attrs[b"r"]) - 1)
            else:
                counting = True             # a hidden row without its number: count the rows
        if counting:
            row = -1
            for end, raw, _ in ROW_TAG.findall(data):
                if end:
                    continue
                attrs = attributes(raw)
                number = attrs.get(b"r", b"")
                row = int(number) - 1 if number.isdigit() else row + 1
                if attrs.get(b"hidden") in (b"1", b"true") and len(extras.hidden_rows) < MAX_HIDDEN:
                    extras.hidden_rows.add(row)


STYLE_ATTR = re.compile(rb"\bs\s*=\s*[\"']([0-9]+)[\"']")


def _uses_style(data: bytes, styles: set[bytes]) -> bool:
    """Whether some cell may carry one of `styles` (a quick search; one pattern for a few styles)."""
    if len(styles) <= 64:
        return re.search(rb"\bs\s*=\s*[\"'](?:" + b"|".join(sorted(styles)) + rb")[\"']", data) is not None
    return any(m.group(1) in styles for m in STYLE_ATTR.finditer(data))


def _int(text, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _is_percent_format(code: str) -> bool:
    """A number format that shows a percentage: '%' outside quotes, brackets and escapes."""
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.', "", code)
    return "%" in bare


# -- .ods ------------------------------------------------------------------------------------------
TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
BIG_REPEAT = re.compile(rb"number-columns-repeated\s*=\s*[\"']([0-9]{4,})[\"']")
ROW_REPEAT = re.compile(rb"number-rows-repeated\s*=\s*[\"']([0-9]{1,9})[\"']")
ODS_CHEAP_REPEATS = 100_000     # repeated rows that, whatever they hold, cost calamine little


class _OdsFacts:
    """Percent cells and hidden rows and columns of an .ods, by sheet; one walk of content.xml,
    only when it has any of them."""

    def __init__(self, data: bytes):
        package = Package(data)
        content = package.read("content.xml")
        self.sheets: dict[str, Extras] = {}
        if b"percentage" in content or b"collapse" in content or b"filter" in content:
            self._walk(content)

    def extras(self, name: str) -> Extras:
        return self.sheets.get(name, Extras())

    def _walk(self, content: bytes):
        sheet: Extras | None = None
        row, col, col_def, found = -1, 0, 0, []
        for event, elem in ElementTree.iterparse(io.BytesIO(content), events=("start", "end")):
            tag = elem.tag
            if event == "start" and tag == f"{TABLE}table":
                sheet = self.sheets.setdefault(elem.get(f"{TABLE}name", ""), Extras())
                row, col_def = -1, 0
            elif event == "start" and tag == f"{TABLE}table-row":
                row, col, found = row + 1, 0, []
            elif event == "end" and tag == f"{TABLE}table-column" and sheet is not None:
                repeat = min(_int(elem.get(f"{TABLE}number-columns-repeated"), 1), ODS_REPEAT_CAP)
                if elem.get(f"{TABLE}visibility") in ("collapse", "filter"):
                    sheet.hidden_cols.update(range(col_def, col_def + repeat))
                col_def += repeat
            elif event == "end" and tag == f"{TABLE}table-row" and sheet is not None:
                repeat = min(_int(elem.get(f"{TABLE}number-rows-repeated"), 1), ODS_REPEAT_CAP)
                sheet.percent.update((row + k, c) for k in range(repeat) for c in found)
                if elem.get(f"{TABLE}visibility") in ("collapse", "filter"):
                    sheet.hidden_rows.update(range(row, row + repeat))
                row += repeat - 1
                elem.clear()
            elif event == "end" and tag in (f"{TABLE}table-cell", f"{TABLE}covered-table-cell"):
                repeat = min(_int(elem.get(f"{TABLE}number-columns-repeated"), 1), ODS_REPEAT_CAP)
                if elem.get(f"{OFFICE}value-type") == "percentage":
                    found.extend(range(col, col + repeat))
                col += repeat


def _check_ods_area(data: bytes, path: str):
    """Refuse an .ods whose repeated non-empty rows or columns would make calamine allocate more
    than MAX_BOOK_CELLS cells (it expands them all, for every sheet, when it opens the file, and
    perfxl pads each sheet from A1; repeated empty rows and columns after the last value, as
    LibreOffice writes at a sheet's end, cost nothing). Walked only when repeats add up."""
    content = Package(data).read("content.xml")
    if _filled_row_repeats(content) <= ODS_CHEAP_REPEATS and not BIG_REPEAT.search(content):
        return
    total = 0
    for event, elem in ElementTree.iterparse(io.BytesIO(content), events=("start", "end")):
        tag = elem.tag
        if event == "start" and tag == f"{TABLE}table":
            position, rows, width = 0, 0, 0
        elif event == "start" and tag == f"{TABLE}table-row":
            col, row_width = 0, 0
        elif event == "end" and tag in (f"{TABLE}table-cell", f"{TABLE}covered-table-cell"):
            col += _int(elem.get(f"{TABLE}number-columns-repeated"), 1)
            if elem.get(f"{OFFICE}value-type") or len(elem):
                row_width = col
            elem.clear()
        elif event == "end" and tag == f"{TABLE}table-row":
            position += _int(elem.get(f"{TABLE}number-rows-repeated"), 1)
            if row_width:
                rows, width = position, max(width, row_width)
            elem.clear()
        elif event == "end" and tag == f"{TABLE}table":
            total += rows * min(width, 16384)
            if total > MAX_BOOK_CELLS:
                raise WorkbookError(f"重复的非空行列展开后超过 {MAX_BOOK_CELLS} 个单元格，疑似恶意文件，已拒绝；"
                                    "请删除多余的行列后另存再试", path)
            elem.clear()


def _filled_row_repeats(content: bytes) -> int:
    """The repeats of rows that hold a value, found without parsing (an upper bound)."""
    total = 0
    for match in ROW_REPEAT.finditer(content):
        end = content.find(b"table-row>", match.end())
        row = content[match.end():end if end >= 0 else len(content)]
        if b"value-type" in row or b":p" in row:
            total += int(match.group(1))
    return total


def _ods_properties(data: bytes) -> tuple[str | None, str | None]:
    package = Package(data)
    if not package.has("meta.xml"):
        return None, None
    modified = mark = None
    for elem in package.xml("meta.xml").iter():
        name = local(elem.tag)
        if name == "date" and (elem.text or "").strip():
            modified = elem.text.strip()
        elif name == "user-defined" and any(local(k) == "name" and v == "perfxl" for k, v in elem.attrib.items()):
            mark = (elem.text or "").strip() or None
    return modified, mark
