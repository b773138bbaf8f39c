"""The .xls container: the OLE compound file (CFB) and the BIFF records of its Workbook stream.

`inspect_xls(data)` reads, before python-calamine opens the file, what calamine either does not
report or reports only after it has allocated: whether the workbook is encrypted, its sheets in
BOUNDSHEET order (name, kind, visibility), each sheet's extent and its hidden rows.

The compound file [MS-CFB]: header, DIFAT (header and DIFAT sectors), FAT, the directory chain, the
mini stream (streams under 4096 bytes) with its mini FAT, and regular streams, for 512- and
4096-byte sectors (version 3 sizes: the low 32 bits only). The stream read is the one calamine
reads (src/cfb.rs, `Cfb::new`, `Cfb::get_stream`; `Xls::parse_workbook`): "Workbook", "Book",
"WORKBOOK", "BOOK" in turn, anywhere in the directory; then, where calamine finds none, any
other spelling (CFB names compare case-insensitively), the root's streams first. Every sector
number, chain and directory is bounded by the file: a chain longer than the sectors that exist
is a cycle, and nothing larger than the file is built.

The Workbook stream [MS-XLS]: the globals substream (BOF, CODEPAGE, FILEPASS, BOUNDSHEET, SST) up
to its EOF, then each sheet's substream from the BOF at its BOUNDSHEET's offset to its EOF.
Nested substreams (embedded charts) are skipped, as calamine skips them.

Extents follow calamine's xls reader (src/xls.rs, `Xls::parse_workbook`; `Range::from_sparse` in
src/lib.rs): a cell is every NUMBER, RK, each value of a MULRK, LABEL, RSTRING, BOOLERR, LABELSST
whose index is inside the SST (as many strings as calamine parses there, whatever the SST's
declared counts), a FORMULA whose cached value is a number, boolean, error or
empty string, and a STRING record (a formula's string value, placed at the last FORMULA's
position). BLANK, MULBLANK, ROW and everything else make no cell, whatever their position. The
range spans all kept cells whatever their values, and python-calamine pads it from A1 when asked
for `to_python(skip_empty_area=False)`; so `rows` = 1 + the largest row index of a kept cell and
`cols` likewise. Records calamine refuses (a cell record too short for its fields, an unknown
error code, a BOUNDSHEET with an unknown state or type) raise XlsError here too, so a file is
refused before calamine can fail or panic on it.

Corrupt or unsupported input raises XlsError (a ValueError) with a short Chinese reason; an OLE
file without a Workbook/Book stream raises NotAWorkbook. Nothing else escapes.
"""
from __future__ import annotations

import array
import codecs
import struct
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterator

__all__ = ["MAX_HIDDEN_ROWS", "NotAWorkbook", "XlsError", "XlsFacts", "XlsSheet", "inspect_xls"]

MAX_HIDDEN_ROWS = 10_000            # hidden row indexes kept per sheet (the smallest ones)

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
MAX_REGULAR_SECTOR = 0xFFFFFFFA     # sector numbers at or above are special markers
DIFAT_SECTOR = 0xFFFFFFFC
END_OF_CHAIN = 0xFFFFFFFE
MINI_SECTOR = 64
MINI_CUTOFF = 4096                  # calamine uses 4096, not the header's field ([MS-CFB]: it must be 4096)
DIR_ENTRY = 128
STORAGE, ROOT = 1, 5
WORKBOOK_NAMES = ("Workbook", "Book")           # BIFF8, BIFF5; any case
CALAMINE_NAMES = ("Workbook", "Book", "WORKBOOK", "BOOK")   # what calamine looks for, in this order
ENCRYPTED_PACKAGE = ("EncryptionInfo", "EncryptedPackage")

BOF, EOF, CONTINUE = 0x0809, 0x000A, 0x003C
FILEPASS, CODEPAGE, BOUNDSHEET, SST = 0x002F, 0x0042, 0x0085, 0x00FC
DIMENSIONS, ROW, FORMULA, STRING = 0x0200, 0x0208, 0x0006, 0x0207
NUMBER, RK, MULRK, LABEL, RSTRING, LABELSST, BOOLERR = 0x0203, 0x027E, 0x00BD, 0x0204, 0x00D6, 0x00FD, 0x0205
MERGECELLS = 0x00E5
ROW_HIDDEN = 0x0020                 # fDyZero in ROW.grbit
ERROR_CODES = frozenset((0x00, 0x07, 0x0F, 0x17, 0x1D, 0x24, 0x2A, 0x2B))
MIN_LENGTH = {NUMBER: 14, RK: 10, LABELSST: 10, LABEL: 6, RSTRING: 6, BOOLERR: 8, MULRK: 6, FORMULA: 20}

VISIBILITY = {0: "visible", 1: "hidden", 2: "veryhidden"}
KINDS = {0: "worksheet", 1: "macro", 2: "chart", 6: "vbmodule"}
CODECS = {367: "ascii", 1200: "latin-1", 10000: "mac_roman", 32768: "mac_roman", 32769: "cp1252",
          65001: "utf-8", 1361: "johab"}

_U16 = struct.Struct("<H")
_U32 = struct.Struct("<L")
_HEAD = struct.Struct("<HH")
_I32 = struct.Struct("<l")
_SST_HEAD = struct.Struct("<HB")


class XlsError(ValueError):
    """A corrupt or unsupported .xls; the message is a short reason in Chinese."""


class NotAWorkbook(XlsError):
    """An OLE compound file without a Workbook or Book stream; `word`: it is a Word document
    (it has a WordDocument stream)."""

    def __init__(self, word: bool):
        super().__init__("OLE 文件中没有 Workbook 流")
        self.word = word


@dataclass(frozen=True)
class XlsSheet:
    """One BOUNDSHEET and what its substream holds.

    `reserved_cells`: calamine reserves 40 bytes a cell for the rectangle a DIMENSIONS record
    declares, before reading any cell, with u32 arithmetic that wraps (a record saying rows 5 to
    3 reserves 4,294,967,294 rows). The memory is only touched as cells are read, but a
    reservation the system refuses aborts the whole process (SIGABRT, no Python exception):
    1,048,576 × 16,384 cells asks for 687 GB. Check it along with rows × cols.

    Sheets with the same name each have their own facts here; calamine keeps only the last of
    them and returns its values for every sheet of that name.
    """

    name: str                       # NUL characters removed, as calamine does
    kind: str                       # "worksheet", "macro", "chart", "vbmodule"
    visibility: str                 # "visible", "hidden", "veryhidden"
    rows: int                       # 1 + largest 0-based row of a cell calamine keeps; 0 if none
    cols: int                       # likewise for columns
    hidden_rows: tuple[int, ...]    # 0-based rows whose ROW record is hidden, sorted, at most MAX_HIDDEN_ROWS
    reserved_cells: int = 0         # largest DIMENSIONS rectangle, as calamine computes it (see above)


@dataclass(frozen=True)
class XlsFacts:
    """What `inspect_xls` found; `sheets` is empty when the workbook is encrypted.

    `biff` 5 with a double-byte `codepage` (932, 936, 949, 950: Japanese, Chinese, Korean) is a
    workbook whose text calamine garbles: it widens each byte of a BIFF5 string to a UTF-16
    unit before decoding, so GBK 预算表 comes out as six U+FFFD, in sheet names and cells alike.
    """

    encrypted: bool
    sheets: tuple[XlsSheet, ...]    # BOUNDSHEET order, the order of python-calamine's sheets_metadata
    biff: int = 8                   # the globals BOF's version: 8 (Excel 97+) or 5 (Excel 5/95); 2-4 rare
    codepage: int | None = None     # the CODEPAGE record's value (1200 in BIFF8), None without one


def inspect_xls(data: bytes) -> XlsFacts:
    """The facts of an .xls file (an OLE compound file holding a BIFF5 or BIFF8 workbook)."""
    try:
        stream = _workbook_data(_Compound(data))
        if stream is None:
            return XlsFacts(encrypted=True, sheets=())
        return _read_workbook(stream)
    except (struct.error, IndexError, OverflowError, MemoryError, RecursionError) as exc:
        # Every read above is checked first; this is a net, not a path.
        raise XlsError(f"文件结构无效（{type(exc).__name__}）") from None


def _workbook_data(compound: _Compound) -> bytes | None:
    """The Workbook stream's bytes, as calamine finds them; None for an encrypted OOXML package
    (a password-protected .xlsx is a compound file too).

    calamine looks anywhere in the directory, whatever the entry's type, for "Workbook",
    "Book", "WORKBOOK" and "BOOK" in turn, and moves on to the next when a stream cannot be read
    (a BIFF5/BIFF8 dual file has both a Workbook and a Book). Then any other spelling, the
    root's streams first. A Word document is not a workbook even when it embeds one."""
    top, everything = compound.top(), compound.everything()
    if _named(everything, ENCRYPTED_PACKAGE):
        return None
    if _named(top, ("WordDocument",)) and not _named(top, WORKBOOK_NAMES):
        raise NotAWorkbook(word=True)
    failure = None
    for name in CALAMINE_NAMES:
        entry = _exactly_named([compound.entry(0), *everything], name)
        if entry is not None:
            try:
                return compound.read_stream(entry)
            except XlsError as exc:
                failure = failure or exc
    entry = _named(top, WORKBOOK_NAMES) or _named(everything, WORKBOOK_NAMES)
    if entry is not None:
        return compound.read_stream(entry)
    if failure is not None:
        raise failure
    raise NotAWorkbook(word=_named(everything, ("WordDocument",)) is not None)


# --- the compound file -----------------------------------------------------------------------

@dataclass(frozen=True)
class _Entry:
    """A directory entry: what the lookup and the stream reader need."""

    index: int
    name: str
    kind: int
    left: int
    right: int
    child: int
    start: int
    size: int


class _Compound:
    """An OLE compound file held in memory: its FAT, directory and mini stream."""

    def __init__(self, data: bytes):
        if len(data) < 512 or data[:8] != OLE_MAGIC:
            raise XlsError("不是 OLE 复合文件")
        shift, mini_shift = struct.unpack_from("<HH", data, 30)
        if shift not in (9, 12):
            raise XlsError("OLE 扇区大小无效")
        if mini_shift != 6:
            raise XlsError("OLE 小扇区大小无效")
        self.data = data
        self.sector_size = 1 << shift
        if len(data) < self.sector_size:
            raise XlsError("OLE 文件头不完整")
        # calamine accepts sector numbers up to len / sector size; those past the end read as empty
        self.sectors = len(data) // self.sector_size + 1
        dir_start, _, _, mini_fat_start, mini_fat_sectors, difat_start = struct.unpack_from("<6L", data, 48)
        self.fat = _u32_array(b"".join(self._sector(s) for s in self._fat_sectors(difat_start)))
        self.directory = self._chain(dir_start, self.fat, self._sector, self.sectors, None)
        if self.sector_size == 512 and len(self.directory) % DIR_ENTRY >= 124:
            # a truncated last entry still has its start and size: calamine reads it
            self.directory += bytes(DIR_ENTRY - len(self.directory) % DIR_ENTRY)
        self.entries = len(self.directory) // DIR_ENTRY
        if self.entries == 0:
            raise XlsError("OLE 目录为空")
        self._top: list[_Entry] | None = None
        self.mini_fat, self.mini_stream = _u32_array(b""), b""
        if mini_fat_sectors:
            root = self.entry(0)
            self.mini_stream = self._chain(root.start, self.fat, self._sector, self.sectors, root.size)
            limit = min(mini_fat_sectors, self.sectors) * self.sector_size
            self.mini_fat = _u32_array(self._chain(mini_fat_start, self.fat, self._sector, self.sectors, limit))

    def _sector(self, number: int) -> bytes:
        """A regular sector (short or empty at the end of a truncated file)."""
        offset = (number + 1) * self.sector_size
        return self.data[offset:offset + self.sector_size]

    def _mini_sector(self, number: int) -> bytes:
        return self.mini_stream[number * MINI_SECTOR:(number + 1) * MINI_SECTOR]

    def _fat_sectors(self, difat_start: int) -> list[int]:
        """The FAT's sector numbers: the header's 109 DIFAT entries, then the DIFAT sectors'.

        Like calamine, every entry that names a sector counts, whatever the header's FAT count."""
        fat: list[int] = []
        entries, sector, seen = _u32_array(self.data[76:512]), difat_start, 0
        while True:
            named = [s for s in entries if s < DIFAT_SECTOR]
            if len(fat) + len(named) > self.sectors or any(s >= self.sectors for s in named):
                raise XlsError("OLE 分配表（FAT）扇区无效")
            fat += named
            if sector >= MAX_REGULAR_SECTOR:
                return fat
            seen += 1
            if sector >= self.sectors or seen > self.sectors:
                raise XlsError("OLE 扩展分配表（DIFAT）链无效")
            entries = _u32_array(self._sector(sector))
            if len(entries) != self.sector_size // 4:
                raise XlsError("OLE 扩展分配表（DIFAT）不完整")
            sector = entries.pop()

    @staticmethod
    def _chain(start: int, fat: array.array, sector: Callable[[int], bytes], available: int,
               size: int | None) -> bytes:
        """The bytes of a sector chain, at most `size` of them (None: up to ENDOFCHAIN).

        A chain that ends early gives fewer bytes, as in calamine; a sector outside the file, a
        free or special sector inside the chain, or more steps than there are sectors is corrupt.
        """
        if size == 0:
            return b""
        parts, got, steps = [], 0, 0
        while start != END_OF_CHAIN:
            steps += 1
            if start >= available or steps > available:
                raise XlsError("OLE 扇区链无效")
            part = sector(start)
            parts.append(part)
            got += len(part)
            if size is not None and got >= size:
                break
            if start >= len(fat):
                raise XlsError("OLE 扇区链超出分配表")
            start = fat[start]
        out = b"".join(parts)
        return out if size is None else out[:size]

    def entry(self, index: int) -> _Entry:
        """Directory entry `index` (0 is the root)."""
        at = index * DIR_ENTRY
        raw = self.directory[at:at + DIR_ENTRY]
        name = raw[:64].decode("utf-16-le", "replace").split("\0", 1)[0]
        left, right, child = struct.unpack_from("<3L", raw, 68)
        start = _U32.unpack_from(raw, 116)[0]
        size = struct.unpack_from("<L" if self.sector_size == 512 else "<Q", raw, 120)[0]
        return _Entry(index, name, raw[66], left, right, child, start, size)

    def _tree(self, index: int, seen: set[int]) -> Iterator[_Entry]:
        """The entries of one storage's red-black tree from `index` (bad links and cycles ignored)."""
        stack = [index]
        while stack:
            index = stack.pop()
            if index >= self.entries or index in seen:
                continue
            seen.add(index)
            entry = self.entry(index)
            yield entry
            stack += (entry.right, entry.left)

    def top(self) -> list[_Entry]:
        """The root storage's children."""
        if self._top is None:
            self._top = list(self._tree(self.entry(0).child, set()))
        return self._top

    def everything(self) -> list[_Entry]:
        """Every directory entry but the root, in directory order."""
        return [self.entry(i) for i in range(1, self.entries)]

    def read_stream(self, entry: _Entry) -> bytes:
        """A stream's bytes: from the mini stream when under 4096 bytes, else from the FAT."""
        if entry.size < MINI_CUTOFF:
            available = -(-len(self.mini_stream) // MINI_SECTOR)
            return self._chain(entry.start, self.mini_fat, self._mini_sector, available, entry.size)
        return self._chain(entry.start, self.fat, self._sector, self.sectors, entry.size)


def _named(entries: list[_Entry], names: tuple[str, ...]) -> _Entry | None:
    """The first stream named like one of `names`, in that order, case-insensitively (as CFB
    compares names). Any entry but a storage counts as a stream: calamine ignores the type."""
    streams = [e for e in entries if e.kind not in (STORAGE, ROOT)]
    for name in names:
        for entry in streams:
            if entry.name.upper() == name.upper():
                return entry
    return None


def _exactly_named(entries: list[_Entry], name: str) -> _Entry | None:
    """calamine's lookup: the first entry of exactly this name, whatever its type."""
    return next((entry for entry in entries if entry.name == name), None)


def _u32_array(raw: bytes) -> array.array:
    """Little-endian u32s (a trailing partial one dropped), compact: 4 bytes an entry."""
    out = array.array("I")
    if out.itemsize != 4:
        out = array.array("L")
    out.frombytes(raw[:len(raw) - len(raw) % 4])
    if sys.byteorder == "big":
        out.byteswap()
    return out


# --- the BIFF records ------------------------------------------------------------------------

def _records(stream: bytes, at: int) -> Iterator[tuple[int, int, int]]:
    """(type, payload start, payload end) of each record from `at` to the end of the stream."""
    end = len(stream)
    head = _HEAD.unpack_from
    while at < end:
        if at + 4 > end:
            raise XlsError("BIFF 记录被截断")
        typ, length = head(stream, at)
        at += 4
        if at + length > end:
            raise XlsError(f"BIFF 记录 0x{typ:04X} 被截断")
        yield typ, at, at + length
        at += length


@dataclass
class _Globals:
    """What the globals substream says."""

    biff: int = 8
    codepage: int | None = None
    codec: str = "latin-1"
    encrypted: bool = False
    sst_strings: int = 0
    sheets: list[tuple[int, str, str, str]] = field(default_factory=list)  # (BOF offset, name, kind, visibility)


def _read_workbook(stream: bytes) -> XlsFacts:
    """The globals substream, then every sheet's substream."""
    info = _read_globals(stream)
    if info.encrypted:
        return XlsFacts(encrypted=True, sheets=(), biff=info.biff, codepage=info.codepage)
    walked, done = 0, {}
    sheets = []
    for offset, name, kind, visibility in info.sheets:
        if offset not in done:
            done[offset] = _read_sheet(stream, offset, info)
            walked += done[offset][-1]
            if walked > 2 * len(stream) + 4096:
                raise XlsError("工作表子流相互重叠")
        rows, cols, reserved, hidden, _ = done[offset]
        sheets.append(XlsSheet(name, kind, visibility, rows, cols, hidden, reserved))
    return XlsFacts(encrypted=False, sheets=tuple(sheets), biff=info.biff, codepage=info.codepage)


def _read_globals(stream: bytes) -> _Globals:
    """Walk the globals substream up to its EOF (calamine reads it the same way)."""
    info = _Globals()
    for typ, a, b in _records(stream, 0):
        if typ == BOF:
            info.biff = _biff_version(stream[a:b])
        elif typ == FILEPASS:
            info.encrypted = True       # what follows is encrypted: nothing more to learn
            break
        elif typ == CODEPAGE and b - a >= 2:
            info.codepage = _U16.unpack_from(stream, a)[0]
            info.codec = _codec(info.codepage)
        elif typ == BOUNDSHEET:
            info.sheets.append(_bound_sheet(stream[a:b], info))
        elif typ == SST:
            info.sst_strings = _count_sst(_with_continues(stream, a, b))
        elif typ == EOF:
            break
    return info


def _biff_version(bof: bytes) -> int:
    """The BIFF version a BOF record announces, as calamine reads it (unknown: BIFF8)."""
    if len(bof) < 2:
        raise XlsError("BOF 记录过短")
    version = _U16.unpack_from(bof)[0]
    kind = _U16.unpack_from(bof, 2)[0] if len(bof) >= 4 else 0
    if version == 0:
        return 5 if kind == 0x1000 else 8
    return {0x0200: 2, 0x0002: 2, 0x0007: 2, 0x0300: 3, 0x0400: 4, 0x0500: 5}.get(version, 8)


def _codec(codepage: int) -> str:
    """A Python codec for a CODEPAGE value (best effort; cp1252 when unknown).

    Codepage 1200 (UTF-16) says BIFF8 strings are Unicode; for BIFF5's byte strings calamine
    then widens each byte, which is Latin-1."""
    name = CODECS.get(codepage, f"cp{codepage}")
    try:
        return codecs.lookup(name).name
    except LookupError:
        return "cp1252"


def _bound_sheet(record: bytes, info: _Globals) -> tuple[int, str, str, str]:
    """(BOF offset, name, kind, visibility) of a BOUNDSHEET record."""
    if len(record) < 6 + (2 if info.biff == 8 else 1):
        raise XlsError("BOUNDSHEET 记录过短")
    offset = _U32.unpack_from(record)[0]
    visibility = VISIBILITY.get(record[4] & 0x3F)
    kind = KINDS.get(record[5])
    if visibility is None or kind is None:
        raise XlsError("工作表的可见性或类型无效")
    count = record[6]
    if info.biff != 8:
        name = record[7:7 + count].decode(info.codec, "replace")
    elif record[7] & 1:
        count = min(count, (len(record) - 8) // 2)
        name = record[8:8 + 2 * count].decode("utf-16-le", "replace")
    else:
        name = record[8:8 + count].decode("latin-1")
    return offset, name.replace("\0", ""), kind, visibility


def _with_continues(stream: bytes, a: int, b: int) -> list[bytes]:
    """A record's payload and the payloads of the CONTINUE records right after it."""
    parts, at = [stream[a:b]], b
    while len(stream) - at > 4 and _U16.unpack_from(stream, at)[0] == CONTINUE:
        length = _U16.unpack_from(stream, at + 2)[0]
        if at + 4 + length > len(stream):
            raise XlsError("CONTINUE 记录被截断")
        parts.append(stream[at + 4:at + 4 + length])
        at += 4 + length
    return parts


def _count_sst(parts: list[bytes]) -> int:
    """How many strings calamine finds in an SST record (it reads until the data ends and
    ignores the declared counts): LABELSST cells pointing past them make no cell."""
    if len(parts[0]) < 8:
        raise XlsError("共享字符串表（SST）过短")
    sst = _Chunks(parts)
    sst.at = 8
    head, u16, i32 = _SST_HEAD.unpack_from, _U16.unpack_from, _I32.unpack_from
    count = 0
    while sst.left() or sst.next_part():
        count += 1
        part, at = sst.part, sst.at
        if len(part) - at >= 3:         # the usual case: the whole string inside this part
            chars, flags = head(part, at)
            fields = at + 3 + (2 if flags & 0x08 else 0) + (4 if flags & 0x04 else 0)
            if fields <= len(part):
                runs = u16(part, at + 3)[0] if flags & 0x08 else 0
                extra = i32(part, fields - 4)[0] if flags & 0x04 else 0
                end = fields + chars * (2 if flags & 0x01 else 1) + 4 * runs + extra
                if extra >= 0 and end <= len(part):
                    sst.at = end
                    continue
        _skip_string(sst)
    return count


def _skip_string(sst: _Chunks) -> None:
    """One XLUnicodeRichExtendedString, read as calamine reads it, across CONTINUE records."""
    if not sst.left():
        return                          # an empty CONTINUE: calamine counts an empty string
    if sst.left() < 3:
        raise XlsError("共享字符串表（SST）已损坏")
    chars, flags = _SST_HEAD.unpack_from(sst.part, sst.at)
    sst.at += 3
    runs = sst.take("<H") if flags & 0x08 else 0
    extra = sst.take("<l") if flags & 0x04 else 0
    sst.skip_chars(chars, bool(flags & 0x01))
    sst.skip(4 * runs)
    if extra < 0:
        raise XlsError("共享字符串表（SST）已损坏")
    sst.skip(extra)


class _Chunks:
    """A cursor over a record's payload and its CONTINUE payloads (for the SST)."""

    def __init__(self, parts: list[bytes]):
        self.parts, self.index, self.part, self.at = parts, 0, parts[0], 0

    def left(self) -> int:
        return len(self.part) - self.at

    def next_part(self) -> bool:
        if self.index + 1 >= len(self.parts):
            return False
        self.index += 1
        self.part, self.at = self.parts[self.index], 0
        return True

    def take(self, fmt: str) -> int:
        size = struct.calcsize(fmt)
        if self.left() < size:
            raise XlsError("共享字符串表（SST）已损坏")
        value = struct.unpack_from(fmt, self.part, self.at)[0]
        self.at += size
        return value

    def skip_chars(self, chars: int, wide: bool) -> None:
        """A string's characters; a CONTINUE in the middle starts with a new flags byte."""
        while True:
            fit = min(self.left() // 2 if wide else self.left(), chars)
            self.at += fit * (2 if wide else 1)
            chars -= fit
            if not chars:
                return
            if not self.next_part() or not self.part:
                raise XlsError("共享字符串表（SST）已损坏")
            wide, self.at = bool(self.part[0] & 1), 1

    def skip(self, size: int) -> None:
        while size:
            if not self.left() and not self.next_part():
                raise XlsError("共享字符串表（SST）已损坏")
            step = min(size, self.left())
            self.at += step
            size -= step


def _read_sheet(stream: bytes, offset: int, info: _Globals) -> tuple[int, int, int, tuple[int, ...], int]:
    """(rows, cols, reserved cells, hidden rows, bytes walked) of the substream at `offset`.

    One loop over the records, without a generator: this is the hot path (a record a few
    hundred nanoseconds). Records of no interest cost a header unpack and a set lookup."""
    size = len(stream)
    if offset > size:
        raise XlsError("工作表位置超出 Workbook 流")
    head, u16, u32 = _HEAD.unpack_from, _U16.unpack_from, _U32.unpack_from
    max_row = max_col = -1
    formula_at = (0, 0)
    hidden: list[int] = []
    reserved = 0
    seen_bof, depth, at = False, 0, offset
    while at < size:
        if at + 4 > size:
            raise XlsError("BIFF 记录被截断")
        typ, length = head(stream, at)
        a = at + 4
        at = b = a + length
        if b > size:
            raise XlsError(f"BIFF 记录 0x{typ:04X} 被截断")
        if typ not in _SHEET_RECORDS:
            continue
        if depth:                   # inside a nested substream: only its BOF/EOF count
            depth += (typ == BOF) - (typ == EOF)
            continue
        if typ == EOF:
            break
        if typ == BOF:              # the sheet's own BOF, then nested ones (embedded charts)
            depth, seen_bof = int(seen_bof), True
            continue
        if length < MIN_LENGTH.get(typ, 0):
            raise XlsError(f"BIFF 记录 0x{typ:04X} 过短")
        if typ in _CELL_AT_START:
            cell = head(stream, a)
            if typ == LABEL or typ == RSTRING:
                _check_string(stream[a + 6:b], info.biff)
            elif typ == BOOLERR:
                _check_bool_err(stream[a + 6:a + 8])
            elif typ == LABELSST and u32(stream, a + 6)[0] >= info.sst_strings:
                continue
        elif typ == FORMULA:
            formula_at = head(stream, a)
            if not _formula_has_value(stream[a + 6:a + 14]):
                continue
            cell = formula_at
        elif typ == STRING:
            _check_string(stream[a:b], info.biff)
            cell = formula_at
        elif typ == MULRK:
            cell = _mul_rk_last(stream, a, b)
            if cell is None:
                continue
        else:
            if typ == ROW and length >= 14 and u16(stream, a + 12)[0] & ROW_HIDDEN:
                hidden.append(u16(stream, a)[0])
            elif typ == DIMENSIONS:
                reserved = max(reserved, _dimension_cells(stream[a:b]))
            elif typ == MERGECELLS:
                _check_merge_cells(stream, a, b)
            continue
        if cell[0] > max_row:
            max_row = cell[0]
        if cell[1] > max_col:
            max_col = cell[1]
    rows_hidden = tuple(sorted(set(hidden))[:MAX_HIDDEN_ROWS])
    return max_row + 1, max_col + 1, reserved, rows_hidden, at - offset


_CELL_AT_START = frozenset((NUMBER, RK, LABEL, RSTRING, BOOLERR, LABELSST))   # row, column first
_SHEET_RECORDS = _CELL_AT_START | {BOF, EOF, FORMULA, STRING, MULRK, ROW, DIMENSIONS, MERGECELLS}


def _mul_rk_last(stream: bytes, a: int, b: int) -> tuple[int, int] | None:
    """The last cell of a MULRK (row, first column, 6-byte RKs, last column), or None if empty.

    calamine checks the length against its u16 column arithmetic and then numbers the cells
    from the first column on, so the last cell's column is first + count - 1."""
    row, first = struct.unpack_from("<HH", stream, a)
    last = _U16.unpack_from(stream, b - 2)[0]
    count = (last - first + 1) & 0xFFFF
    if b - a != 6 + 6 * count:
        raise XlsError("MULRK 记录长度无效")
    return (row, first + count - 1) if count else None


def _check_string(record: bytes, biff: int) -> None:
    """calamine's XLUnicodeString needs its length and (BIFF8) flags bytes."""
    need = 3 if biff == 8 else 2
    if len(record) < need and not (len(record) == 2 and record == b"\0\0"):
        raise XlsError("字符串记录过短")


def _check_bool_err(value: bytes) -> None:
    """BOOLERR's value and fError bytes as calamine accepts them."""
    code, is_error = value
    if is_error > 1 or (is_error and code not in ERROR_CODES):
        raise XlsError("BOOLERR 记录的值无效")


def _formula_has_value(value: bytes) -> bool:
    """Whether a FORMULA's cached value makes a cell in calamine: a number, boolean, error or
    empty string does; a string result does not (its STRING record follows)."""
    if value[6:8] != b"\xff\xff":
        return True
    if value[0] == 2 and value[2] not in ERROR_CODES or value[0] > 3:
        raise XlsError("FORMULA 记录的缓存值无效")
    return value[0] != 0


def _dimension_cells(record: bytes) -> int:
    """The cells calamine reserves for a DIMENSIONS record (BIFF5: 10 bytes, BIFF8: 14; it
    refuses any other length): first row, row after the last, first column, column after the
    last; a first column over 255 or after the last counts as 0; sizes in wrapping u32."""
    if len(record) == 10:
        first_row, end_row, first_col, end_col = struct.unpack_from("<4H", record)
    elif len(record) == 14:
        first_row, end_row, first_col, end_col = struct.unpack_from("<LLHH", record)
    else:
        raise XlsError("DIMENSIONS 记录长度无效")
    if first_col > 0xFF or end_col < first_col:
        first_col = 0
    if end_row < 1 or end_col < 1:
        return 1
    return ((end_row - first_row) & 0xFFFFFFFF) * (end_col - first_col)


def _check_merge_cells(stream: bytes, a: int, b: int) -> None:
    """calamine reads MERGECELLS' ranges without checking the length (it would panic)."""
    if b - a < 2 or b - a < 2 + 8 * _U16.unpack_from(stream, a)[0]:
        raise XlsError("MERGECELLS 记录过短")
