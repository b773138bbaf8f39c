"""Hostile input: files from many offices, some broken, some malicious.

Every command that reads a file answers a bad one with one line, exit 2, no traceback, no output
file, in bounded time. Text that looks like a formula never becomes one. A bounded fuzz run
mutates workbooks (bytes and zip members) and specs.
"""
from __future__ import annotations

import io
import random
import re
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import openpyxl
import pytest
from defusedxml import ElementTree as SafeET
from hypothesis import HealthCheck, given, settings, strategies as st

import perfxl
from perfxl.errors import PerfxlError, WorkbookError
from perfxl.safety import MAX_MEMBERS, OLE_MAGIC, check_sheet_area, preflight

END, FREE, FATSECT = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
EXAMPLE_SPEC = Path(__file__).parent.parent / "specs" / "example.yaml"
_EXAMPLE_XLSX: list[bytes] = []


def example_xlsx() -> bytes:
    """The rendered example workbook, made once."""
    if not _EXAMPLE_XLSX:
        with tempfile.TemporaryDirectory() as tmp:
            _EXAMPLE_XLSX.append(perfxl.render(EXAMPLE_SPEC, Path(tmp) / "ex.xlsx").read_bytes())
    return _EXAMPLE_XLSX[0]


def members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return {name: z.read(name) for name in z.namelist()}


def rezip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return out.getvalue()


def with_part(name: str, transform) -> bytes:
    parts = members(example_xlsx())
    parts[name] = transform(parts[name])
    return rezip(parts)


def cfb(streams: dict[str, bytes]) -> bytes:
    """A minimal OLE compound file (512-byte sectors, streams padded past the mini-stream cutoff)."""
    size = 512
    data = [s.ljust(max(4096, -(-len(s) // size) * size), b"\0") for s in streams.values()]
    fat, starts = [FATSECT, END], []
    for d in data:
        starts.append(len(fat))
        n = len(d) // size
        fat += [len(fat) + i + 1 for i in range(n - 1)] + [END]
    fat += [FREE] * (128 - len(fat))

    def entry(name: str, kind: int, start: int, length: int, right=FREE, child=FREE) -> bytes:
        raw = name.encode("utf-16-le") + b"\0\0"
        return (raw.ljust(64, b"\0") + struct.pack("<HBBLLL", len(raw), kind, 1, FREE, right, child)
                + b"\0" * 36 + struct.pack("<LQ", start, length))

    names = list(streams)
    directory = entry("Root Entry", 5, END, 0, child=1) + b"".join(
        entry(n, 2, starts[i], len(streams[n]), right=i + 2 if i + 1 < len(names) else FREE)
        for i, n in enumerate(names))
    header = (OLE_MAGIC + b"\0" * 16 + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6) + b"\0" * 6
              + struct.pack("<9L", 0, 1, 1, 0, 4096, END, 0, END, 0) + struct.pack("<109L", 0, *[FREE] * 108))
    return header + struct.pack("<128L", *fat) + directory.ljust(size, b"\0") + b"".join(data)


def patch_sizes(data: bytes, name: str, size: int) -> bytes:
    """Rewrite the declared inflated size of a member in its local and central headers."""
    raw = bytearray(data)
    encoded = name.encode()
    for signature, field in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = raw.find(signature)
        while at >= 0:
            name_at = at + (30 if signature == b"PK\x03\x04" else 46)
            if raw[name_at:name_at + len(encoded)] == encoded:
                raw[at + field:at + field + 4] = struct.pack("<L", size)
            at = raw.find(signature, at + 4)
    return bytes(raw)


BIFF_BOF = struct.pack("<HH", 0x0809, 16) + b"\0" * 16
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
                  + b"".join(f'<!ENTITY lol{i} "{("&lol" + str(i - 1 or "") + ";") * 10}">'.encode()
                             for i in range(1, 10))
                  + b']><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>&lol9;</t></si></sst>')


def hostile_files() -> dict[str, tuple[bytes, str]]:
    """name → (file bytes, a phrase of the one-line error)."""
    good = example_xlsx()
    many = io.BytesIO()
    with zipfile.ZipFile(many, "w") as z:
        for i in range(MAX_MEMBERS + 1):
            z.writestr(f"x/{i}", b"")
    docx = rezip({"[Content_Types].xml": b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
                  b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
                  b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'})
    xlsb = rezip({"[Content_Types].xml": b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-'
                  b'types"><Override PartName="/xl/workbook.bin" ContentType="application/vnd.ms-excel.sheet.binary.'
                  b'macroEnabled.main"/></Types>'})
    ods = rezip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>",
                 "META-INF/manifest.xml": b'<m:manifest xmlns:m="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
                 b'<m:file-entry m:full-path="content.xml"><m:encryption-data/></m:file-entry></m:manifest>'})
    flagged = bytearray(good)
    for signature, flag in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = flagged.find(signature)
        flagged[at + flag] |= 1                 # the first member says it is encrypted
    bomb = rezip({**members(good), "xl/worksheets/sheet9.xml": b"<" + b" " * (4 << 20) + b">"})
    lying = patch_sizes(rezip({**members(good), "xl/worksheets/sheet1.xml": b"<worksheet/>" + b" " * (2 << 20)}),
                        "xl/worksheets/sheet1.xml", 1000)
    unknown = lambda d: d.replace(b'encoding="UTF-8"', b'encoding="TF-8"', 1)  # noqa: E731
    return {
        "empty.xlsx": (b"", "文件为空"),
        "random.xlsx": (random.Random(4).randbytes(5000), "无法识别的文件格式"),
        "csv.xlsx": ("项目名称,资金投入率\n培训,100\n".encode(), "文本文件"),
        "html.xls": (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "文本文件"),
        "truncated.xlsx": (good[: len(good) // 2], "被截断"),
        "truncated-tail.xlsx": (good[:-30], "被截断"),
        "encrypted.xlsx": (cfb({"EncryptionInfo": b"\x04\x00\x04\x00", "EncryptedPackage": b"\x01" * 600}), "密码"),
        "encrypted.xls": (cfb({"Workbook": (BIFF_BOF + struct.pack("<HH", 0x002F, 4) + b"\x01\x00\x01\x00")
                                           .ljust(5000, b"\x00")}), "密码"),
        "word.doc": (cfb({"WordDocument": b"\xec\xa5"}), "Word 文档"),
        "broken-ole.xls": (OLE_MAGIC + b"\x00" * 100, "已损坏"),
        "docx.xlsx": (docx, "Word 文档"),
        "xlsb.xlsx": (xlsb, ".xlsb"),
        "encrypted.ods": (ods, "密码"),
        "encrypted-member.xlsx": (bytes(flagged), "密码"),
        "zip-bomb.xlsx": (bomb, "zip 炸弹"),
        "declared-huge.xlsx": (patch_sizes(good, "xl/styles.xml", 3 << 30), "zip 炸弹"),
        "lying-sizes.xlsx": (lying, "损坏"),
        "many-entries.xlsx": (many.getvalue(), "条目过多"),
        "entity-bomb.xlsx": (with_part("xl/sharedStrings.xml", lambda _: BILLION_LAUGHS), "实体炸弹"),
        "doctype-in-types.xlsx": (with_part("[Content_Types].xml",
                                            lambda d: d.replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "b">]>', 1)),
                                  "实体炸弹"),
        "utf16-doctype.xlsx": (with_part("xl/worksheets/sheet1.xml",
                                         lambda _: '\ufeff<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x>'
                                         '<worksheet/>'.encode("utf-16-le")), "实体炸弹"),
        "doctype-after-comment.xlsx": (with_part("xl/styles.xml", lambda d: d.replace(
            b"?>", b'?><!-- <styleSheet> --><?pi x?>\r\n<!DOCTYPE x [<!ENTITY a "b">]>', 1)), "实体炸弹"),
        "long-prolog.xlsx": (with_part("xl/workbook.xml", lambda d: d.replace(b"?>", b"?>" + b" " * (200 << 10), 1)),
                             "开头过长"),
        "unknown-encoding.xlsx": (with_part("[Content_Types].xml", unknown), "未知的字符编码「TF-8」"),
        "unknown-encoding-styles.xlsx": (with_part("xl/styles.xml", unknown), "未知的字符编码"),
        "not-a-text-encoding.xlsx": (with_part("xl/workbook.xml", lambda d: d.replace(b"UTF-8", b"rot13", 1)),
                                     "未知的字符编码"),
    }


HOSTILE = hostile_files()


@pytest.mark.parametrize("name", HOSTILE)
def test_read_refuses_with_one_line_quickly(tmp_path, name):
    data, phrase = HOSTILE[name]
    path = tmp_path / name
    path.write_bytes(data)
    start = time.monotonic()
    with pytest.raises(WorkbookError) as caught:
        perfxl.read(path)
    assert time.monotonic() - start < 2
    assert phrase in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(path))


def test_preflight_passes_real_workbooks(tmp_path):
    assert preflight(write(tmp_path / "ok.xlsx", example_xlsx())) == "xlsx"
    perfxl.blank(tmp_path / "blank.xlsx", projects=3)
    assert preflight(tmp_path / "blank.xlsx") == "xlsx"
    openpyxl.load_workbook(tmp_path / "ok.xlsx").save(tmp_path / "openpyxl.xlsx")
    assert preflight(tmp_path / "openpyxl.xlsx") == "xlsx"


def test_preflight_passes_what_libreoffice_saves(tmp_path, libreoffice):
    source = write(tmp_path / "ok.xlsx", example_xlsx())
    assert preflight(libreoffice.convert(source, "xls", tmp_path / "xls")) == "xls"
    assert preflight(libreoffice.convert(source, "ods", tmp_path / "ods")) == "ods"
    assert preflight(libreoffice.convert(source, "xlsx", tmp_path / "xlsx")) == "xlsx"


def test_preflight_refuses_directories_and_missing_files(tmp_path):
    with pytest.raises(WorkbookError, match="目录|普通文件"):
        preflight(tmp_path)
    with pytest.raises(WorkbookError, match="文件不存在"):
        preflight(tmp_path / "nope.xlsx")


def write(path, data: bytes):
    path.write_bytes(data)
    return path


# -- every command, as a user runs it --------------------------------------------------------------
def run(*args, cwd):
    start = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "perfxl.cli", *map(str, args)], capture_output=True,
                            text=True, cwd=cwd, timeout=60)
    return result, time.monotonic() - start


def assert_refused(result, elapsed, tmp_path, inputs):
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("perfxl: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr and elapsed < 30
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(inputs)


@pytest.mark.parametrize("name", HOSTILE)
@pytest.mark.parametrize("command", ["check", "read", "collect"])
def test_commands_refuse_hostile_workbooks(tmp_path, name, command):
    write(tmp_path / name, HOSTILE[name][0])
    extra = ["-o", "out.yaml"] if command != "check" else []
    result, elapsed = run(command, name, *extra, cwd=tmp_path)
    assert_refused(result, elapsed, tmp_path, [name])
    assert result.stdout == ""


# Sheets whose cells span a huge rectangle: calamine would allocate 32 bytes a cell and abort the
# process (exit 134, no Python exception), so these run only in child processes.
FAR = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
AREA_BOMBS = {
    "far-cell.xlsx": FAR,
    "far-cell-quoted.xlsx": FAR.replace(b'"', b"'"),
    "far-cell-prefixed.xlsx": FAR.replace(b"<c ", b'<x:c xmlns:x="http://schemas.openxmlformats.org/'
                                          b'spreadsheetml/2006/main" ').replace(b"</c>", b"</x:c>"),
    "far-cell-lowercase.xlsx": FAR.replace(b"XFD", b"xfd"),
    "cells-without-r.xlsx": b'<row r="999999">' + b"<c><v>1</v></c>" * 20 + b"</row>",
}


def area_bomb(name: str) -> bytes:
    return with_part("xl/worksheets/sheet1.xml", lambda d: d.replace(b"</sheetData>", AREA_BOMBS[name] + b"</sheetData>"))


@pytest.mark.parametrize("name", AREA_BOMBS)
@pytest.mark.parametrize("command", ["check", "read", "collect"])
def test_commands_refuse_huge_sheet_areas(tmp_path, name, command):
    write(tmp_path / name, area_bomb(name))
    extra = ["-o", "out.yaml"] if command != "check" else []
    result, elapsed = run(command, name, *extra, cwd=tmp_path)
    assert_refused(result, elapsed, tmp_path, [name])
    assert "已用区域过大" in result.stderr, result.stderr
    assert command == "collect" or result.stderr.startswith(f"perfxl: {name}!"), result.stderr


@pytest.mark.parametrize("body, ok", [
    (b'<row r="220000"><c r="K220000"><v>1</v></c><c r="XFD220000"/></row>', True),     # empty cells span nothing
    (b'<row r="999999"><c r="P999999"><v>1</v></c></row>', True),
    (b'<row r="2"><c r="A2"><v>1</v></c><c r="AA700000" t="s"><v>1</v></c></row>', False),
    (b'<row r="2"><c r="A2"><v>1</v></c><c r="B1048576"><v>1</v></c></row>', True),
    (b'<row r="900000"><c r="P900000"/>' + b"<c/>" * 20 + b"<c><v>1</v></c></row>", False),
    (b"<row><c s=' r=\"'><v>1</v></c></row>" * 2 + b'<row r="999999"><c t="n"><v>1</v></c></row>', True),
])
def test_sheet_area_follows_calamine(body, ok):
    data = b"<worksheet><sheetData>" + body + b"</sheetData></worksheet>"
    if ok:
        check_sheet_area(data, "表1", "a.xlsx")
    else:
        with pytest.raises(WorkbookError, match="^a.xlsx!表1: 已用区域过大"):
            check_sheet_area(data, "表1", "a.xlsx")


ALIAS_BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi")) + "projects: *i\n"
PROJECT_BOMB = ("projects:\n  - &p {name: a, indicators: {成本指标: {经济成本指标: [&i {name: b}, *i, *i, *i, *i, *i,"
                " *i, *i, *i, *i]}}}\n" + "  - *p\n" * 30_000)
HOSTILE_SPECS = {
    "alias-bomb.yaml": (ALIAS_BOMB, "未知的键"),
    "project-bomb.yaml": (PROJECT_BOMB, "别名炸弹"),
    "list.yaml": ("- name: a\n- name: b\n", "规格文件应为键值映射"),
    "long-goal.yaml": ("projects:\n  - name: a\n    goal: " + "长" * 40_000 + "\n", "超过 Excel 单元格上限 32767"),
    "deep.yaml": ("projects: " + "[" * 50_000 + "]" * 50_000, "嵌套过深"),
    "huge.yaml": ("projects:\n" + "#" * (65 << 20) + "\n", "文件过大"),
    "latin1.yaml": ("projects:\n  - name: caf\xe9\n".encode("latin-1"), "不是 UTF-8"),
    "binary.yaml": (random.Random(5).randbytes(3000), "UTF-8"),
    "big-int.yaml": ("projects:\n  - name: a\n    budget: " + "9" * 5000 + "\n", "有限的数字"),
    "python-tag.yaml": ("projects:\n  - name: !!python/name:os.system\n", "不支持的 YAML 标签"),
}


@pytest.mark.parametrize("name", HOSTILE_SPECS)
@pytest.mark.parametrize("command", ["render", "check"])
def test_commands_refuse_hostile_specs(tmp_path, name, command):
    text, phrase = HOSTILE_SPECS[name]
    write(tmp_path / name, text if isinstance(text, bytes) else text.encode("utf-8"))
    extra = ["-o", "out.xlsx"] if command == "render" else []
    result, elapsed = run(command, name, *extra, cwd=tmp_path)
    assert_refused(result, elapsed, tmp_path, [name])
    assert phrase in result.stderr


# -- formula-looking text stays text ----------------------------------------------------------------
MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
FORMULAS = ["=1+1", "+SUM(A1:A9)", "-2+3", "@SUM(1)", '=HYPERLINK("http://example.com","x")', "=cmd|'/c calc'!A0"]


def formula_spec() -> str:
    f = iter(FORMULAS * 4)
    q = lambda: "'" + next(f).replace("'", "''") + "'"   # noqa: E731 - one quoted formula-looking text
    return f"""year: {q()}
unit: {q()}
projects:
  - name: {q()}
    category: {q()}
    budget: 100
    period: {q()}
    goal: {q()}
    basis: {q()}
    indicators:
      成本指标:
        经济成本指标:
          - {{name: {q()}, type: 定性, value: {q()}, content: {q()}, unit: {q()}, note: {q()}}}
      {q()}:
        {q()}:
          - {{name: {q()}, type: =, value: {q()}, content: {q()}, unit: {q()}, note: {q()}}}
"""


def formula_cells(path) -> list[tuple[str, str, str]]:
    """(sheet part, cell, formula) of every cell with a formula, from the sheet XML."""
    out = []
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            if name.startswith("xl/worksheets/"):
                for cell in SafeET.fromstring(z.read(name)).iter(f"{MAIN}c"):
                    formula = cell.find(f"{MAIN}f")
                    if formula is not None:
                        out.append((name, cell.get("r"), formula.text or ""))
    return out


def test_formula_looking_text_never_becomes_a_formula(tmp_path):
    spec = perfxl.parse_spec(formula_spec(), "formulas.yaml")
    template = perfxl.load_template()
    allowed = set(template.check_cols)      # perfxl's own check columns
    outputs = [perfxl.render(spec, tmp_path / "a.xlsx"), perfxl.render(spec, tmp_path / "b.xlsx", one_sheet=True),
               perfxl.blank(tmp_path / "c.xlsx", unit="=1+1", year=None)]
    read_back = perfxl.read(outputs[0]).spec
    outputs.append(perfxl.render(read_back, tmp_path / "d.xlsx"))
    for path in outputs:
        cells = formula_cells(path)
        assert cells, path
        for part, cell, formula in cells:
            column = openpyxl.utils.cell.column_index_from_string(re.match(r"[A-Z]+", cell).group()) - 1
            assert column in allowed, (path, part, cell, formula)
            assert not any(text.lstrip("=") in formula for text in FORMULAS), formula
    values = {c.value for ws in openpyxl.load_workbook(outputs[0]).worksheets for row in ws.iter_rows() for c in row}
    assert set(FORMULAS) <= values
    assert read_back.projects[0].name == spec.projects[0].name == FORMULAS[2]


# -- fuzzing ---------------------------------------------------------------------------------------
FUZZ = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture],
                derandomize=True)


def survive_workbook(path):
    """A workbook either is refused with a PerfxlError or reads, checks and renders."""
    try:
        spec = perfxl.read(path).spec
    except PerfxlError as exc:
        assert "\n" not in str(exc)
        return
    perfxl.check(spec)
    perfxl.render(spec, path.with_suffix(".out.xlsx"))


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 255)), min_size=1, max_size=8),
       st.one_of(st.none(), st.integers(0, 10**9)))
def test_fuzz_workbook_bytes(tmp_path, flips, cut):
    data = bytearray(example_xlsx())
    for at, value in flips:
        data[at % len(data)] = value
    if cut is not None:
        data = data[: cut % len(data)]
    survive_workbook(write(tmp_path / "fuzz.xlsx", bytes(data)))


PART_NAMES = sorted(members(example_xlsx()))


@FUZZ
@given(st.sampled_from(PART_NAMES), st.integers(0, 10**9), st.integers(0, 64),
       st.binary(max_size=24) | st.sampled_from([b"<", b">", b'"', b"</c>", b"<row>", b"&amp;", b"\xff\xfe", b"",
                                            b'<?xml version="1.0" encoding="TF-8"?>']),
       st.booleans())
def test_fuzz_workbook_members(tmp_path, name, at, cut, insert, drop):
    parts = members(example_xlsx())
    if drop:
        del parts[name]
    else:
        part = parts[name]
        at %= len(part) + 1
        parts[name] = part[:at] + insert + part[at + cut:]
    survive_workbook(write(tmp_path / "fuzz.xlsx", rezip(parts)))


SPEC_TEXT = EXAMPLE_SPEC.read_text(encoding="utf-8")


@FUZZ
@given(st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 12),
                          st.sampled_from(["", ":", "-", " ", "\n", "[", "{", "}", "&a", "*a", "!!", "'", '"',
                                           "~", "=", "≤", "  - ", "0", "1e999", "\t", "%"])),
                min_size=1, max_size=6))
def test_fuzz_specs(tmp_path, edits):
    text = SPEC_TEXT
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut:]
    try:
        spec = perfxl.parse_spec(text, "fuzz.yaml")
    except PerfxlError as exc:
        assert "\n" not in str(exc)
        return
    perfxl.check(spec)
    perfxl.render(spec, tmp_path / "fuzz.xlsx")


class PanicException(BaseException):
    """Stands in for pyo3's PanicException: a panic in calamine's Rust code, not an Exception."""


@pytest.mark.parametrize("where", ["open", "sheet"])
def test_a_panic_inside_calamine_is_a_one_line_refusal(tmp_path, monkeypatch, capsys, where):
    from perfxl.cli import main

    import perfxl.workbook

    real = perfxl.workbook._calamine

    class Panicking:
        def __init__(self, book):
            self.sheets_metadata = book.sheets_metadata

        def get_sheet_by_name(self, name):
            raise PanicException("index out of bounds: the len is 0 but the index is 0")

    def from_filelike(data):
        if where == "open":
            raise PanicException("called `Option::unwrap()` on a `None` value")
        return Panicking(real(data))

    monkeypatch.setattr(perfxl.workbook, "_calamine", from_filelike)
    book = write(tmp_path / "book.xlsx", example_xlsx())
    with pytest.raises(WorkbookError, match="index out of bounds|unwrap"):
        perfxl.read(book)
    assert main(["read", str(book)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("perfxl: ") and err.count("\n") == 1
    result = perfxl.collect([book], jobs=1)
    assert not result.spec.projects and [p for p, _ in result.failures] == [str(book)]
