"""Hostile workbooks: cheap checks on a file before any spreadsheet library opens it.

`preflight(path)` reads only what it must: the first bytes, a zip's end record and central
directory (declared sizes and ratios are checked before anything is inflated), an OLE file's
directory. It then streams every zip member through hard limits (the CRC check catches sizes
that lie) looking for DOCTYPE/ENTITY declarations, and parses the manifest with defusedxml.
It refuses, with a one-line WorkbookError saying what to do: empty, huge or unknown files,
text named .xlsx, truncated or corrupt zips, password-protected workbooks, zip bombs and XML
entity bombs. It returns the container kind: "xlsx", "xls" or "ods".
"""
from __future__ import annotations

import os
import stat
import struct
import zipfile
import zlib
from xml.etree.ElementTree import ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from .errors import WorkbookError

MAX_FILE_BYTES = 256 << 20          # on disk
MAX_MEMBERS = 10_000                # zip entries
MAX_CENTRAL_DIR = 8 << 20           # bytes of zip central directory
MAX_MEMBER_BYTES = 1 << 30          # one inflated member (a 1,000-table form is ~400 MB of XML)
MAX_TOTAL_BYTES = 1 << 30           # all inflated members
MAX_RATIO = 250                     # inflated : compressed, for members over RATIO_FLOOR
RATIO_FLOOR = 1 << 20
MAX_MANIFEST = 4 << 20              # [Content_Types].xml, META-INF/manifest.xml
CHUNK = 1 << 20

ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
SPREADSHEET_TYPES = ("spreadsheetml.sheet.main+xml", "spreadsheetml.template.main+xml",
                     "ms-excel.sheet.macroEnabled.main+xml", "ms-excel.template.macroEnabled.main+xml")
ODS_MIMETYPE = b"application/vnd.oasis.opendocument.spreadsheet"
DECLARATIONS = [word.encode(enc) for word in ("<!doctype", "<!entity")
                for enc in ("ascii", "utf-16-le", "utf-16-be")]

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
            kind = _zip_kind(archive, path)
            for member in members:
                _scan_member(archive, member, path)
            return kind
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


def _scan_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, path: str):
    """Inflate one member in chunks (bounded by its checked declared size; a lying size fails the
    CRC) and refuse DOCTYPE/ENTITY declarations, which no spreadsheet part needs."""
    tail = b""
    with archive.open(member) as fh:
        while chunk := fh.read(CHUNK):
            window = (tail + chunk).lower()
            if any(word in window for word in DECLARATIONS):
                raise WorkbookError(f"{member.filename} 含有 DOCTYPE/ENTITY 声明（可能是 XML 实体炸弹），"
                                    "已拒绝；请检查文件来源", path)
            tail = window[-24:]


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
