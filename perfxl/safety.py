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
MAX_SHEET_CELLS = 16 << 20          # rows × columns of a sheet's used area: 512 MB in calamine

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEET_TYPES = ("spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml",
                     "ms-excel.sheet.macroEnabled.main+xml", "ms-excel.template.macroEnabled.main+xml")
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"

CORRUPT = "工作簿文件已损坏或不完整（{}）；请在 Excel 中重新保存，或重新下载后再试"
PASSWORD = "工作簿设有打开密码（已加密），无法读取；请在 Excel 中取消密码（文件 › 信息 › 保护工作簿）后另存再试"


def preflight(path: str | os.PathLike) -> str:
    """Check a workbook file before it is opened; returns "xlsx", "xls" or "ods"."""
    path = os.fspath(path)
    try:
        info = os.stat(path)
        if not stat.S_ISREG(info.st_mode):
            raise WorkbookError("不是普通文件；请给出一个 .xlsx 工作簿", path)
        if info.st_size == 0:
            raise WorkbookError("文件为空（0 字节）；请给出一个 .xlsx 工作簿", path)
        if info.st_size > MAX_FILE_BYTES:
            raise WorkbookError(f"文件过大（{info.st_size >> 20} MB，上限 {MAX_FILE_BYTES >> 20} MB）；"
                                "请拆分成几个工作簿", path)
        with open(path, "rb") as fh:
            head = fh.read(8)
            if head.startswith(ZIP_MAGIC):
                return _check_zip(fh, info.st_size, path)
            if head == OLE_MAGIC:
                return _check_ole(fh, info.st_size, path)
            fh.seek(0)
            raise WorkbookError(_unknown(fh.read(4096)), path)
    except FileNotFoundError:
        raise WorkbookError("文件不存在", path) from None
    except IsADirectoryError:
        raise WorkbookError("这是一个目录；请给出一个 .xlsx 工作簿", path) from None
    except OSError as exc:
        raise WorkbookError(f"无法读取：{exc.strerror or exc}", path) from None


def _unknown(head: bytes) -> str:
    """What an unrecognised file looks like: text (CSV, HTML saved as .xls) or nothing known."""
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
    names = set(archive.namelist())
    if "mimetype" in names and _read_small(archive, "mimetype", path).strip() == ODS_MIMETYPE:
        if "META-INF/manifest.xml" in names:
            manifest = _read_small(archive, "META-INF/manifest.xml", path)
            _parse_safely(manifest, "META-INF/manifest.xml", path)
            if b"encryption-data" in manifest:
                raise WorkbookError(PASSWORD, path)
        return "ods"
    if "[Content_Types].xml" not in names:
        raise WorkbookError("这是 zip 文件，但不是 Excel 工作簿（缺少 [Content_Types].xml）；请给出 .xlsx 文件", path)
    types = _parse_safely(_read_small(archive, "[Content_Types].xml", path), "[Content_Types].xml", path)
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


def seek_data(archive: zipfile.ZipFile, member: zipfile.ZipInfo):
    """The archive's file, at a member's compressed bytes (past its local header), for inflating
    it without zipfile's CRC pass; only one thread may use the archive meanwhile."""
    fh = archive.fp
    fh.seek(member.header_offset)
    local = fh.read(30)
    if local[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{member.filename} 的本地文件头无效")
    fh.seek(member.header_offset + 30 + int.from_bytes(local[26:28], "little")
            + int.from_bytes(local[28:30], "little"))
    return fh


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
        b"<".decode(declared.group(1))
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
    rows, cols = _used_area(data)
    if rows * cols > MAX_SHEET_CELLS:
        raise WorkbookError(f"已用区域过大（{rows} 行 × {cols} 列，上限 {MAX_SHEET_CELLS} 个单元格），"
                            "疑似恶意文件，已拒绝；请删除多余的行列后另存再试", Location(path, sheet=sheet))


def _used_area(data: bytes) -> tuple[int, int]:
    """(last row, last column), 1-based, of the <c> elements with content, placed as calamine
    places them: by their r, else after the previous cell of the row (<x/> counts as <x></x>)."""
    row = col = rows = cols = 0
    for end, name, attrs, empty in TAG.findall(data):
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
            if not empty:
                rows, cols = max(rows, row_at + 1), max(cols, col + 1)
            col += 1
    return rows, cols


def _number(digits: bytes) -> int:
    return int(digits) if digits else 0


def _column(letters: bytes) -> int:
    col = 0
    for ch in letters.upper():
        col = col * 26 + ch - 64
    return col


# -- OLE compound files: .xls, and the wrapper of password-protected .xlsx ------------------------
FREE_LIMIT = 0xFFFFFFFA             # sector numbers at or above this end a chain
FILEPASS = 0x002F                   # BIFF record of an encrypted .xls


class _Cfb:
    """Just enough of [MS-CFB] to list directory names and read a stream's first sector."""

    def __init__(self, fh, size: int):
        self.fh, self.size = fh, size
        fh.seek(0)
        head = fh.read(512)
        if len(head) < 512 or head[28:30] != b"\xfe\xff":
            raise ValueError("OLE 文件头无效")
        shift = struct.unpack_from("<H", head, 30)[0]
        if shift not in (9, 12):
            raise ValueError("OLE 扇区大小无效")
        self.ssize = 1 << shift
        nfat, self.dir_start = struct.unpack_from("<LL", head, 44)
        self.mini_cutoff = struct.unpack_from("<L", head, 56)[0]
        difat_start, ndifat = struct.unpack_from("<LL", head, 68)
        if nfat > size // self.ssize + 1:
            raise ValueError("OLE 分配表过大")
        fat_sectors = list(struct.unpack_from("<109L", head, 76))[:min(nfat, 109)]
        for _ in range(min(ndifat, size // self.ssize)):
            if difat_start >= FREE_LIMIT or len(fat_sectors) >= nfat:
                break
            entries = struct.unpack(f"<{self.ssize // 4}L", self.sector(difat_start))
            fat_sectors += entries[:-1]
            difat_start = entries[-1]
        self.fat: list[int] = []
        for s in fat_sectors[:nfat]:
            self.fat += struct.unpack(f"<{self.ssize // 4}L", self.sector(s))

    def sector(self, number: int) -> bytes:
        offset = (number + 1) * self.ssize
        if number >= FREE_LIMIT or offset >= self.size:
            raise ValueError("OLE 扇区越界")
        self.fh.seek(offset)
        return self.fh.read(self.ssize).ljust(self.ssize, b"\x00")

    def chain(self, start: int) -> list[int]:
        out: list[int] = []
        while start < FREE_LIMIT:
            if start >= len(self.fat) or len(out) > len(self.fat):
                raise ValueError("OLE 扇区链无效")
            out.append(start)
            start = self.fat[start]
        return out

    def entries(self) -> dict[str, tuple[int, int]]:
        """Directory name → (start sector, size) of every storage and stream."""
        out = {}
        for s in self.chain(self.dir_start):
            data = self.sector(s)
            for at in range(0, self.ssize, 128):
                length, kind = struct.unpack_from("<HB", data, at + 64)
                if kind in (1, 2, 5) and 2 <= length <= 64:
                    name = data[at:at + length - 2].decode("utf-16-le", "replace")
                    out[name] = struct.unpack_from("<LL", data, at + 116)
        return out


def _check_ole(fh, size: int, path: str) -> str:
    try:
        cfb = _Cfb(fh, size)
        entries = cfb.entries()
        if "EncryptionInfo" in entries or "EncryptedPackage" in entries:
            raise WorkbookError(PASSWORD, path)
        stream = entries.get("Workbook") or entries.get("Book")
        if stream is None:
            what = "Word 文档" if "WordDocument" in entries else "其他 OLE 文件"
            raise WorkbookError(f"这是{what}，不是 Excel 工作簿；请给出 .xlsx 或 .xls 文件", path)
        if _xls_encrypted(cfb, *stream):
            raise WorkbookError(PASSWORD, path)
        return "xls"
    except WorkbookError:
        raise
    except (ValueError, struct.error, IndexError, OverflowError) as exc:
        raise WorkbookError(CORRUPT.format(exc), path) from None


def _xls_encrypted(cfb: _Cfb, start: int, size: int) -> bool:
    """A FILEPASS record among the first BIFF records of the Workbook stream."""
    if size < cfb.mini_cutoff:
        return False
    data, at = cfb.sector(start), 0
    for _ in range(16):
        if at + 4 > len(data):
            break
        kind, length = struct.unpack_from("<HH", data, at)
        if kind == FILEPASS:
            return True
        at += 4 + length
    return False
