"""An input workbook on disk: what the reader gets from a file, and nothing about tables.

perfxl.safety.preflight checks each file first (bombs, encryption, not a workbook); python-calamine
then gives the cell values of each visible sheet, each only after perfxl.safety.check_sheet_area
has bounded the area its grid will span (.xlsx: the sheet XML is inflated for the scan below
anyway). For .xlsx the raw sheet XML is scanned once (regular expressions on bytes, no XML tree)
for what calamine cannot tell: formulas without a cached value, error cells, and, when
styles.xml has a percentage format at all, which cells carry it. For .ods the content is walked
only when it has percentage cells. Percentage formats in .xls cannot be told apart.
"""
from __future__ import annotations

import io
import re
import zipfile
import zlib
from dataclasses import dataclass, field

import python_calamine
from defusedxml import DefusedXmlException, ElementTree

from .errors import Location, WorkbookError
from .safety import check_sheet_area, preflight, seek_data

MAIN_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
PKG_REL_NS = "{http://schemas.openxmlformats.org/package/2006/relationships}"
PERCENT_BUILTIN = {9, 10}
ODS_REPEAT_CAP = 1024       # repeated rows/columns beyond this are no table of ours
PACKAGE_ERRORS = (zipfile.BadZipFile, KeyError, ValueError, ElementTree.ParseError,
                  DefusedXmlException, zlib.error, OSError)


@dataclass
class Extras:
    """What calamine cannot tell about a sheet: cells without a usable value, percent cells."""

    unusable: dict[tuple[int, int], str] = field(default_factory=dict)
    percent: set[tuple[int, int]] = field(default_factory=set)
    formats_known: bool = True          # False for .xls: percent cells cannot be told apart


class Book:
    """An open workbook: calamine for values, the package parts for what calamine leaves out."""

    def __init__(self, path: str, calamine, kind: str):
        self.path = path
        self.calamine = calamine
        self.kind = kind
        self._xlsx: _XlsxParts | None = None
        self._ods: dict[str, set] | None = None

    def visible_sheets(self) -> list[str]:
        return [m.name for m in self.calamine.sheets_metadata
                if m.visible == python_calamine.SheetVisibleEnum.Visible
                and m.typ == python_calamine.SheetTypeEnum.WorkSheet]

    def rows(self, name: str) -> list[list]:
        try:
            return self.calamine.get_sheet_by_name(name).to_python(skip_empty_area=False)
        except BaseException as exc:
            if not _calamine_failed(exc):
                raise
            raise WorkbookError(f"无法读取工作表：{one_line(exc)}", Location(self.path, sheet=name)) from None

    def extras(self, name: str) -> Extras:
        if self.kind == "xlsx":
            if self._xlsx is None:
                self._xlsx = _XlsxParts(self.path)
            return self._xlsx.extras(name)
        if self.kind == "ods":
            if self._ods is None:
                try:
                    self._ods = _ods_percent_cells(self.path)
                except PACKAGE_ERRORS as exc:
                    raise WorkbookError(f"工作簿结构损坏：{one_line(exc)}", self.path) from None
            return Extras(percent=self._ods.get(name, set()))
        return Extras(formats_known=False)


def open_book(path: str) -> Book:
    """Check the file (perfxl.safety: bombs, encryption, not a workbook), then open it."""
    kind = preflight(path)
    try:
        book = python_calamine.CalamineWorkbook.from_path(path)
    except BaseException as exc:
        if not _calamine_failed(exc):
            raise
        raise WorkbookError(f"无法打开工作簿：{one_line(exc)}", path) from None
    return Book(path, book, kind)


def _calamine_failed(exc: BaseException) -> bool:
    """calamine's own error, or a panic in its Rust code: pyo3 raises that as PanicException, a
    BaseException (so `except Exception` misses it), seen on fuzzed files with python-calamine 0.5."""
    return isinstance(exc, python_calamine.CalamineError) or type(exc).__name__ == "PanicException"


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _cell(ref: bytes) -> tuple[int, int]:
    """b'AB12' → (11, 27), 0-based."""
    letters = ref.rstrip(b"0123456789")
    col = 0
    for ch in letters:
        col = col * 26 + ch - 64
    return int(ref[len(letters):]) - 1, col - 1


class _XlsxParts:
    """The parts of an .xlsx package read directly: sheet paths, percent styles, sheet XML."""

    # A formula without a cached value (no <v>, or an empty <v/>); an error cell. Two passes:
    # one pattern with both alternatives is eight times slower.
    UNCACHED_F = re.compile(rb'</f>(?!<v>)|<f [^>]*/>(?!<v>)')
    ERROR_T = re.compile(rb' t="e"')
    CELL = re.compile(rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*>(?:<f\b[^>]*/>|<f\b[^>]*>[^<]*</f>)?(?:<v>([^<]*)</v>)?')
    UNCACHED = "公式没有计算结果（文件从未重新计算），按空值读取；请在 Excel、WPS 或 LibreOffice 中打开并保存后再读"

    def __init__(self, path: str):
        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
            self.sheet_paths = self._sheet_paths()
            self.percent_styles = self._percent_styles()
        except PACKAGE_ERRORS as exc:
            raise WorkbookError(f"工作簿结构损坏：{one_line(exc)}", path) from None

    def _xml(self, name: str):
        return ElementTree.fromstring(self.zip.read(name))

    def _sheet_paths(self) -> dict[str, str]:
        rels = {r.get("Id"): r.get("Target", "")
                for r in self._xml("xl/_rels/workbook.xml.rels").iter(f"{PKG_REL_NS}Relationship")}
        out = {}
        for sheet in self._xml("xl/workbook.xml").iter(f"{MAIN_NS}sheet"):
            target = rels.get(sheet.get(f"{REL_NS}id"), "")
            out[sheet.get("name")] = target.lstrip("/") if target.startswith("/") else "xl/" + target
        return out

    def _percent_styles(self) -> list[bytes]:
        if "xl/styles.xml" not in self.zip.namelist():
            return []
        styles = self._xml("xl/styles.xml")
        custom = {int(f.get("numFmtId", -1)): f.get("formatCode", "")
                  for f in styles.iter(f"{MAIN_NS}numFmt")}
        xfs = styles.find(f"{MAIN_NS}cellXfs")
        out = []
        for index, xf in enumerate(xfs if xfs is not None else ()):
            fmt_id = int(xf.get("numFmtId", 0))
            if fmt_id in PERCENT_BUILTIN or _is_percent_format(custom.get(fmt_id, "")):
                out.append(str(index).encode())
        return out

    def _member(self, name: str) -> bytes:
        """A member's bytes, inflated without zipfile's CRC pass (the reader only searches them),
        but refused when they are more or fewer than its declared size (checked by preflight)."""
        info = self.zip.getinfo(name)
        if info.compress_type != zipfile.ZIP_DEFLATED:
            return self.zip.read(name)
        fh = seek_data(self.zip, info)          # only this thread uses the package
        inflate = zlib.decompressobj(-15)
        data = inflate.decompress(fh.read(info.compress_size), info.file_size)
        if len(data) != info.file_size or inflate.unconsumed_tail or not inflate.eof:
            raise zipfile.BadZipFile(f"{name} 的实际大小与声明的 {info.file_size} 字节不符")
        return data

    def _cell_at(self, data: bytes, pos: int):
        """The <c> element around byte `pos` (its reference and cached value), or None."""
        start = data.rfind(b"<c ", 0, pos)
        return self.CELL.match(data, start) if start >= 0 else None

    def extras(self, name: str) -> Extras:
        member = self.sheet_paths.get(name)
        if member is None or member not in self.zip.NameToInfo:
            return Extras()
        try:
            data = self._member(member)
        except PACKAGE_ERRORS as exc:
            raise WorkbookError(f"工作表数据损坏：{one_line(exc)}", Location(self.path, sheet=name)) from None
        check_sheet_area(data, name, self.path)
        extras = Extras()
        for match in self.UNCACHED_F.finditer(data):
            cell = self._cell_at(data, match.start())
            if cell:
                extras.unusable[_cell(cell.group(1))] = self.UNCACHED
        if self.ERROR_T.search(data):           # re finds a literal faster than bytes.find
            for match in self.ERROR_T.finditer(data):
                cell = self._cell_at(data, match.start())
                if cell:
                    error = (cell.group(2) or b"").decode(errors="replace")
                    extras.unusable[_cell(cell.group(1))] = f"单元格是错误值 {error}，按空值读取"
        if self.percent_styles:
            styled = re.compile(rb'<c\b[^>]*?\br="([A-Z]+[0-9]+)"[^>]*?\ss="(?:'
                                + b"|".join(self.percent_styles) + rb')"')
            extras.percent = {_cell(m.group(1)) for m in styled.finditer(data)}
        return extras


def _is_percent_format(code: str) -> bool:
    """A number format that shows a percentage: '%' outside quotes, brackets and escapes."""
    bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\\.|_.|\*.', "", code)
    return "%" in bare


def _ods_percent_cells(path: str) -> dict[str, set[tuple[int, int]]]:
    """Sheet name → (row, col) of cells whose value type is percentage, in an .ods file."""
    with zipfile.ZipFile(path) as zf:
        data = zf.read("content.xml")
    if b'value-type="percentage"' not in data:
        return {}
    table = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
    office = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
    out: dict[str, set] = {}
    sheet, row, col, found = None, -1, 0, []
    for event, elem in ElementTree.iterparse(io.BytesIO(data), events=("start", "end")):
        tag = elem.tag
        if event == "start" and tag == f"{table}table":
            sheet, row = elem.get(f"{table}name"), -1
        elif event == "start" and tag == f"{table}table-row":
            row, col, found = row + 1, 0, []
        elif event == "end" and tag == f"{table}table-row":
            repeat = min(int(elem.get(f"{table}number-rows-repeated", 1)), ODS_REPEAT_CAP)
            out.setdefault(sheet, set()).update((row + k, c) for k in range(repeat) for c in found)
            row += repeat - 1
            elem.clear()
        elif event == "end" and tag in (f"{table}table-cell", f"{table}covered-table-cell"):
            repeat = min(int(elem.get(f"{table}number-columns-repeated", 1)), ODS_REPEAT_CAP)
            if elem.get(f"{office}value-type") == "percentage":
                found.extend(range(col, col + repeat))
            col += repeat
    return out
