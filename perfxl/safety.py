"""Hostile workbooks: cheap checks on a file before any spreadsheet library opens it.

`preflight(path)` reads only what it must: the first bytes, a zip's end record and central
directory (declared sizes and ratios are checked before anything is inflated), an OLE file's
directory. Of every zip member it inflates only the prolog, up to the root element (where a
DOCTYPE/ENTITY declaration would have to be, in UTF-8 or UTF-16), and checks the declared
encoding; it parses the manifest with defusedxml. Members are never inflated whole here: the
reader's own inflation of sheet XML, zipfile's and calamine's all refuse a member larger than
its declared size. It refuses, with a one-line WorkbookError saying what to do: empty, huge or
unknown files, text named .xlsx, truncated or corrupt zips, password-protected workbooks, zip
bombs, XML entity bombs and unknown encodings. It returns the container kind: "xlsx", "xls" or
"ods".

`check_sheet_area(data, sheet, path)` is the reader's check of a sheet's XML before calamine
reads that sheet: calamine allocates 32 bytes for every cell of the rectangle spanned by the
sheet's cells with values, so a sheet with values in A1 and XFD1048576 would abort the process.
"""
from __future__ import annotations

import io
import os
import re
import stat
import struct
import zipfile
import zlib
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .errors import Location, WorkbookError
from .package import normalise, seek_data

MAX_FILE_BYTES = 256 << 20          # on disk
MAX_MEMBERS = 100_000               # zip entries (a 10,000-sheet workbook has 10,010)
MAX_CENTRAL_DIR = 16 << 20          # bytes of zip central directory
MAX_MEMBER_BYTES = 1 << 30          # one inflated member (10,000 tables on one sheet: ~280 MB of XML)
MAX_TOTAL_BYTES = 1 << 30           # all inflated members
MAX_RATIO = 250                     # inflated : compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1 << 20
MAX_MANIFEST = 4 << 20              # [Content_Types].xml, META-INF/manifest.xml
MAX_PROLOG = 64 << 10               # inflated bytes of a part before its root element
PROLOG_STEP = 1024                  # bytes first read and inflated while looking for it (then doubled)
MAX_SHEET_CELLS = 4 << 20           # rows × columns of a sheet's used area: 128 MB in calamine, as much again in Python

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEET_TYPES = ("spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml",
                     "ms-excel.sheet.macroEnabled.main+xml", "ms-excel.template.macroEnabled.main+xml")
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

CORRUPT = "工作簿文件已损坏或不完整（{}）；请在 Excel 中重新保存，或重新下载后再试"
PASSWORD = "工作簿设有打开密码（已加密），无法读取；请在 Excel 中取消密码（文件 › 信息 › 保护工作簿）后另存再试"


def read_input(path: str | os.PathLike) -> bytes:
    """A workbook file's bytes, read once: every check and library then sees the same bytes
    (a file swapped after the checks cannot reach calamine). Refused: not a regular file, empty,
    over MAX_FILE_BYTES."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            info = os.fstat(fh.fileno())
            if not stat.S_ISREG(info.st_mode):
                raise WorkbookError("不是普通文件；请给出一个 .xlsx 工作簿", path)
            if info.st_size > MAX_FILE_BYTES:
                raise WorkbookError(f"文件过大（{info.st_size >> 20} MB，上限 {MAX_FILE_BYTES >> 20} MB）；"
                                    "请拆分成几个工作簿", path)
            data = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise WorkbookError("文件不存在", path) from None
    except IsADirectoryError:
        raise WorkbookError("这是一个目录；请给出一个 .xlsx 工作簿", path) from None
    except OSError as exc:
        raise WorkbookError(f"无法读取：{exc.strerror or exc}", path) from None
    if not data:
        raise WorkbookError("文件为空（0 字节）；请给出一个 .xlsx 工作簿", path)
    if len(data) > MAX_FILE_BYTES:
        raise WorkbookError(f"文件过大（上限 {MAX_FILE_BYTES >> 20} MB）；请拆分成几个工作簿", path)
    return data


def preflight(path: str | os.PathLike) -> str:
    """Check a workbook file before it is opened; returns "xlsx", "xls" or "ods"."""
    return preflight_data(read_input(path), os.fspath(path))


def preflight_data(data: bytes, path: str) -> str:
    """Check a workbook's bytes before any library opens them; returns "xlsx", "xls" or "ods"."""
    if data.startswith(ZIP_MAGIC):
        return _check_zip(io.BytesIO(data), len(data), path)
    if data.startswith(OLE_MAGIC):
        _check_ole(data, path)
        return "xls"
    raise WorkbookError(_unknown(data[:4096]), path)


BIFF_BOF = {0x0009: "Excel 2.x", 0x0209: "Excel 3.0", 0x0409: "Excel 4.0", 0x0809: "Excel 5.0 以后"}


def _unknown(head: bytes) -> str:
    """What an unrecognised file looks like: an old Excel file, text (CSV, HTML saved as .xls) or
    nothing known."""
    if len(head) >= 4 and struct.unpack_from("<H", head)[0] in BIFF_BOF:
        version = BIFF_BOF[struct.unpack_from("<H", head)[0]]
        return (f"这是 {version} 的旧式工作簿（BIFF 格式，没有 OLE 外壳），无法读取；"
                "请在 Excel 或 LibreOffice 中打开后另存为 .xlsx")
    if b"\x00" not in head.lstrip(b"\xff\xfe\xef\xbb\xbf"):
        for encoding in ("utf-8", "gb18030"):
            try:
                head.decode(encoding)
            except UnicodeDecodeError:
                continue
            return "这是文本文件（如 CSV 或网页），不是 Excel 工作簿；请在 Excel 中打开后另存为 .xlsx"
    return "无法识别的文件格式，不是 Excel 工作簿；请给出 .xlsx（或 .xls、.ods）文件"


# -- zip: .xlsx and .ods ---------------------------------------------------------------------------
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError, RuntimeError,
              struct.error, OverflowError, IndexError, KeyError, UnicodeError, ParseError)


def _check_zip(fh, size: int, path: str) -> str:
    _check_end_record(fh, size, path)
    try:
        with zipfile.ZipFile(fh) as archive:
            members = archive.infolist()
            _check_sizes(members, path)
            if any(m.flag_bits & 0x1 for m in members):
                raise WorkbookError(PASSWORD, path)
            for member in members:
                _scan_prolog(archive, member, path)
            return _zip_kind(archive, path)
    except WorkbookError:
        raise
    except ZIP_ERRORS as exc:
        raise WorkbookError(CORRUPT.format(_reason(exc)), path) from None


def _reason(exc: Exception) -> str:
    text = " ".join(str(exc).split())[:80]
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _check_end_record(fh, size: int, path: str):
    """Count entries and central-directory bytes from the end record, before zipfile reads them."""
    tail_size = min(size, 22 + 65535)
    fh.seek(size - tail_size)
    tail = fh.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise WorkbookError(CORRUPT.format("缺少 zip 目录，文件可能被截断"), path)
    entries, cd_size = struct.unpack_from("<HL", tail, at + 10)
    if entries == 0xFFFF or cd_size == 0xFFFFFFFF:
        entries, cd_size = _zip64_counts(tail, at, fh, path)
    if entries > MAX_MEMBERS or cd_size > MAX_CENTRAL_DIR:
        raise WorkbookError(f"zip 中条目过多（{entries} 个），不像工作簿；请检查文件来源", path)


def _zip64_counts(tail: bytes, at: int, fh, path: str) -> tuple[int, int]:
    locator = tail[at - 20:at] if at >= 20 else b""
    if not locator.startswith(b"PK\x06\x07"):
        raise WorkbookError(CORRUPT.format("zip64 目录无效"), path)
    (offset,) = struct.unpack("<Q", locator[8:16])
    fh.seek(offset)
    record = fh.read(56)
    if len(record) < 56 or not record.startswith(b"PK\x06\x06"):
        raise WorkbookError(CORRUPT.format("zip64 目录无效"), path)
    _, entries, cd_size = struct.unpack("<QQQ", record[24:48])
    return entries, cd_size


def _check_sizes(members: list[zipfile.ZipInfo], path: str):
    """Zip bombs: declared inflated sizes and ratios, before anything is inflated."""
    total = 0
    for m in members:
        total += m.file_size
        ratio = m.file_size / max(m.compress_size, 1)
        if m.file_size > MAX_MEMBER_BYTES or total > MAX_TOTAL_BYTES or (
                m.file_size > RATIO_FLOOR and ratio > MAX_RATIO):
            raise WorkbookError(f"zip 成员 {m.filename} 解压后过大（{m.file_size >> 20} MB，压缩比 {ratio:.0f}），"
                                "疑似 zip 炸弹，已拒绝；请检查文件来源", path)


def _zip_kind(archive: zipfile.ZipFile, path: str) -> str:
    names = {normalise(n): n for n in archive.namelist()}     # as calamine finds them: any case, \\ or /
    mimetype, manifest, types = (names.get(n) for n in ("mimetype", "meta-inf/manifest.xml", "[content_types].xml"))
    if mimetype and _read_small(archive, mimetype, path).strip() == ODS_MIMETYPE:
        if manifest:
            data = _read_small(archive, manifest, path)
            _parse_safely(data, manifest, path)
            if b"encryption-data" in data:
                raise WorkbookError(PASSWORD, path)
        return "ods"
    if types is None:
        raise WorkbookError("这是 zip 文件，但不是 Excel 工作簿（缺少 [Content_Types].xml）；请给出 .xlsx 文件", path)
    types = _parse_safely(_read_small(archive, types, path), types, path)
    declared = " ".join(e.get("ContentType", "") for e in types.iter())
    if not any(t in declared for t in SPREADSHEET_TYPES):
        what = ("Excel 二进制工作簿（.xlsb）" if "sheet.binary" in declared else
                "Word 文档" if "wordprocessingml" in declared else
                "PowerPoint 演示文稿" if "presentationml" in declared else "其他 Office 文件")
        raise WorkbookError(f"这是{what}，不是 .xlsx 工作簿；请在 Excel 中另存为 .xlsx", path)
    return "xlsx"


def _read_small(archive: zipfile.ZipFile, name: str, path: str) -> bytes:
    info = archive.getinfo(name)
    if info.file_size > MAX_MANIFEST:
        raise WorkbookError(CORRUPT.format(f"{name} 过大"), path)
    with archive.open(info) as fh:
        return fh.read(MAX_MANIFEST + 1)


def _parse_safely(data: bytes, name: str, path: str):
    try:
        return SafeET.fromstring(data)
    except DefusedXmlException:
        raise WorkbookError(f"{name} 含有 DTD/实体声明（可能是 XML 实体炸弹），已拒绝；请检查文件来源", path) from None
    except ParseError as exc:
        raise WorkbookError(CORRUPT.format(f"{name} 无法解析：{exc}"), path) from None


def _scan_prolog(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: str):
    """Inflate a member only up to its root element (a DOCTYPE/ENTITY declaration, which no
    spreadsheet part needs, can only come before it) and check its declared encoding."""
    head, state = b"", "more"
    for head in _heads(archive, member):
        state = _prolog(_as_text(head))
        if state != "more":
            break
    if state == "declaration":
        raise WorkbookError(f"{member.filename} 含有 DOCTYPE/ENTITY 声明（可能是 XML 实体炸弹），"
                            "已拒绝；请检查文件来源", path)
    if state == "more" and len(head) >= MAX_PROLOG:
        raise WorkbookError(f"{member.filename} 的 XML 开头过长（{MAX_PROLOG >> 10} KB 内没有根元素），"
                            "已拒绝；请检查文件来源", path)
    _check_encoding(_as_text(head), member.filename, path)


def _heads(archive: zipfile.ZipFile, member: zipfile.ZipInfo):
    """Ever longer beginnings of a member's inflated bytes (each about twice the last), up to
    MAX_PROLOG."""
    if member.compress_type != zipfile.ZIP_DEFLATED:
        with archive.open(member) as fh:
            yield fh.read(MAX_PROLOG)
        return
    fh = seek_data(archive, member)
    inflate, head, left, pending = zlib.decompressobj(-15), b"", member.compress_size, b""
    while len(head) < MAX_PROLOG and not inflate.eof and (pending or left > 0):
        if not pending:
            pending = fh.read(min(max(PROLOG_STEP, len(head)), left))
            if not pending:
                raise EOFError(f"{member.filename} 被截断")
            left -= len(pending)
        head += inflate.decompress(pending, min(max(PROLOG_STEP, len(head)), MAX_PROLOG - len(head)))
        pending = inflate.unconsumed_tail
        yield head


def _as_text(head: bytes) -> str:
    """A part's first bytes as text: UTF-16 by its byte-order mark or its first '<', else
    byte for byte (every encoding an XML parser takes without a BOM keeps markup ASCII)."""
    for bom, lt, encoding in ((b"\xff\xfe", b"<\x00", "utf-16-le"), (b"\xfe\xff", b"\x00<", "utf-16-be")):
        if head.startswith((bom, lt)):
            return head[:len(head) // 2 * 2].decode(encoding, "replace").lstrip("\ufeff")
    return head.decode("latin-1").removeprefix("\xef\xbb\xbf")


PROLOG_ITEM = re.compile(r"\s*(?:<\?.*?\?>|<!--.*?-->)", re.S)
XML_ENCODING = re.compile(r"<\?xml\s[^>]*?\bencoding\s*=\s*[\"']([^\"']*)[\"']")


def _prolog(text: str) -> str:
    """Where a part's beginning ends: "root" when the root element starts after only declarations,
    comments and space (or the text is no XML at all), "declaration" at a <!DOCTYPE (or any
    other <!), "more" when the text is cut off before either."""
    pos = 0
    while item := PROLOG_ITEM.match(text, pos):
        pos = item.end()
    rest = text[pos:].lstrip()
    if rest.startswith(("<?", "<!--")) or rest in ("", "<", "<!", "<!-"):
        return "more"
    return "declaration" if rest.startswith("<!") else "root"


def _check_encoding(text: str, name: str, path: str):
    declared = XML_ENCODING.match(text)
    if declared is None:
        return
    try:
        "<".encode(declared.group(1))       # a text encoding (utf-16 too; not rot13 or zlib)
    except LookupError:
        raise WorkbookError(f"{name} 声明了未知的字符编码「{declared.group(1)[:40]}」，无法读取；"
                            "请在 Excel 中重新保存", path) from None


# -- sheet size: calamine's grid ------------------------------------------------------------------
# Fast path: sheets written the usual way (every <c> or <x:c> starting with r="A1", no cell past
# column P or row 999,999) span at most 16 × 999,999 cells. Anything else
# is walked as calamine walks it. Each pattern starts with a literal, which keeps the search fast.
UNUSUAL = (re.compile(rb' r="(?:[A-Za-z]{2}|[Q-Zq-z]|[A-Za-z]*[0-9]{7})'),
           re.compile(rb'<c(?=[\s/>])(?! r="[A-Za-z])'), re.compile(rb':c(?=[\s/>])(?! r="[A-Za-z])'))
TAG = re.compile(rb'<(/?)(?:[^\s>/:!?]+:)?(row|c)((?:\s+[^\s=>/]+\s*=\s*(?:"[^"]*"|\'[^\']*\'))*)\s*(/?)>')
R_ATTR = re.compile(rb'(?:^|\s)r\s*=\s*["\']([A-Za-z]*)([0-9]*)["\']')


def check_sheet_area(data: bytes, sheet: str, path: str):
    """Refuse a sheet whose cells span more than MAX_SHEET_CELLS, before calamine reads it."""
    if not any(pattern.search(data) for pattern in UNUSUAL):
        return
    elements = data.count(b"<c") + data.count(b":c")      # an upper bound of the cells, counted fast
    if elements > MAX_SHEET_CELLS:
        raise WorkbookError(f"单元格过多（约 {elements} 个，上限 {MAX_SHEET_CELLS} 个），疑似恶意文件，已拒绝；"
                            "请删除多余的行列后另存再试", Location(path, sheet=sheet))
    rows, cols = _used_area(data)
    if rows * cols > MAX_SHEET_CELLS:
        raise WorkbookError(f"已用区域过大（{rows} 行 × {cols} 列，上限 {MAX_SHEET_CELLS} 个单元格），"
                            "疑似恶意文件，已拒绝；请删除多余的行列后另存再试", Location(path, sheet=sheet))


def _used_area(data: bytes) -> tuple[int, int]:
    """(last row, last column), 1-based, of the <c> elements with content (<x/> counts as <x></x>)."""
    rows = cols = 0
    for _, row, col, empty in cell_places(data):
        if not empty:
            rows, cols = max(rows, row + 1), max(cols, col + 1)
    return rows, cols


def cell_places(data: bytes):
    """Each <c> start tag as (byte offset, row, column, empty), 0-based, placed as calamine places
    it: by its r, else after the previous cell of the row, in the row after the previous one."""
    row = col = 0
    for match in TAG.finditer(data):
        end, name, attrs, empty = match.groups()
        ref = R_ATTR.search(attrs)
        if name == b"row":
            if not end and ref:
                row = _number(ref.group(2)) - 1
            if end or empty:
                row, col = row + 1, 0
        elif not end:
            if ref:
                row_at, col = _number(ref.group(2)) - 1, _column(ref.group(1)) - 1
            else:
                row_at = row
            yield match.start(), row_at, col, bool(empty)
            col += 1


def _number(digits: bytes) -> int:
    return int(digits) if digits else 0


def _column(letters: bytes) -> int:
    col = 0
    for ch in letters.upper():
        col = col * 26 + ch - 64
    return col


# -- OLE compound files: .xls, and the wrapper of password-protected .xlsx ------------------------
MAX_BOOK_CELLS = 2 * MAX_SHEET_CELLS    # calamine holds every sheet of an .xls at once
MAX_RESERVED_CELLS = 8 << 20            # cells calamine reserves (40 bytes each) for a DIMENSIONS record
DOUBLE_BYTE_CODEPAGES = {932: "日文", 936: "简体中文", 949: "韩文", 950: "繁体中文"}


def inspect(data: bytes, path: str):
    """(kind, facts): preflight_data's kind, and for an .xls perfxl.xls's facts (else None)."""
    if data.startswith(OLE_MAGIC):
        return "xls", _check_ole(data, path)
    return preflight_data(data, path), None


def _check_ole(data: bytes, path: str):
    """An OLE file: encrypted (.xlsx or .xls), a Word document, or an .xls whose sheets calamine
    can hold; the facts of perfxl.xls, checked."""
    from .xls import NotAWorkbook, XlsError, inspect_xls

    try:
        facts = inspect_xls(data)
    except NotAWorkbook as exc:
        what = "Word 文档" if exc.word else "其他 OLE 文件"
        raise WorkbookError(f"这是{what}，不是 Excel 工作簿；请给出 .xlsx 或 .xls 文件", path) from None
    except XlsError as exc:
        raise WorkbookError(CORRUPT.format(exc), path) from None
    if facts.encrypted:
        raise WorkbookError(PASSWORD, path)
    if facts.biff == 5 and facts.codepage in DOUBLE_BYTE_CODEPAGES:
        raise WorkbookError(f"这是 Excel 5.0/95 格式的{DOUBLE_BYTE_CODEPAGES[facts.codepage]}工作簿，其中的文字无法正确读出；"
                            "请在 Excel 或 LibreOffice 中打开后另存为 .xlsx", path)
    names = [s.name for s in facts.sheets]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise WorkbookError(f"有同名的工作表「{twice[0]}」，无法分别读取；请改名后另存再试", path)
    total = 0
    for sheet in facts.sheets:
        cells = sheet.rows * sheet.cols
        total += cells
        if cells > MAX_SHEET_CELLS or sheet.reserved_cells > MAX_RESERVED_CELLS:
            rows, cols = (sheet.rows, sheet.cols) if cells > MAX_SHEET_CELLS else ("声明的", "声明的")
            raise WorkbookError(f"已用区域过大（{rows} 行 × {cols} 列，上限 {MAX_SHEET_CELLS} 个单元格），"
                                "疑似恶意文件，已拒绝；请删除多余的行列后另存再试", Location(path, sheet=sheet.name))
    if total > MAX_BOOK_CELLS:
        raise WorkbookError(f"各工作表的已用区域合计 {total} 个单元格，超过上限 {MAX_BOOK_CELLS}，疑似恶意文件，"
                            "已拒绝；请删除多余的行列后另存再试", path)
    return facts
