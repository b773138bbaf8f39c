"""Zip packages (.xlsx, .xlsm, .ods) held in memory: members found the way calamine finds them.

Member names compare case-insensitively with `\\` read as `/` (a real Chinese export writes
`xl\\workbook.xml`); two members that compare equal are refused, so perfxl and calamine can
never pick different ones. An .xlsx's parts are resolved through its relationships as calamine
does: the folder of the package's officeDocument target (`xl/`, the root, a Strict package's
absolute paths) holds workbook.xml, its relationships and styles.xml. XML is matched by local
names, so Strict OOXML and prefixed elements (`<x:c>`) read like transitional ones.
"""
from __future__ import annotations

import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass

from defusedxml import ElementTree


ID_ATTRIBUTE = re.compile(r"\{[^}]+\}id")


def local(tag: str) -> str:
    """'{http://…/main}sheet' → 'sheet'."""
    return tag.rsplit("}", 1)[-1]


@dataclass(frozen=True)
class SheetPart:
    name: str
    state: str          # visible | hidden | veryHidden
    kind: str           # worksheet | chartsheet | dialogsheet | macrosheet
    part: str | None    # the member holding its XML, None when the package lacks it


class Package:
    """A zip package in memory, members by normalised name."""

    def __init__(self, data: bytes):
        self.zip = zipfile.ZipFile(io.BytesIO(data))
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in self.zip.infolist():
            key = normalise(info.filename)
            if key in self.members:
                raise zipfile.BadZipFile(f"zip 中有两个同名成员（只差大小写或斜杠）：{info.filename}")
            self.members[key] = info

    def has(self, name: str) -> bool:
        return normalise(name) in self.members

    def info(self, name: str) -> zipfile.ZipInfo | None:
        return self.members.get(normalise(name))

    def read(self, name: str) -> bytes:
        """A member's bytes, inflated without zipfile's CRC pass, but refused when they are more
        or fewer than its declared size (the preflight checked the declared sizes)."""
        info = self.members.get(normalise(name))
        if info is None:
            raise KeyError(f"缺少 {name}")
        if info.compress_type != zipfile.ZIP_DEFLATED:
            return self.zip.read(info)
        fh = seek_data(self.zip, info)
        inflate = zlib.decompressobj(-15)
        data = inflate.decompress(fh.read(info.compress_size), info.file_size)
        if len(data) != info.file_size or inflate.unconsumed_tail or not inflate.eof:
            raise zipfile.BadZipFile(f"{info.filename} 的实际大小与声明的 {info.file_size} 字节不符")
        return data

    def xml(self, name: str):
        return ElementTree.fromstring(self.read(name))

    def relationships(self, name: str) -> dict[str, tuple[str, str]]:
        """Id → (type, target) of a relationships part; {} when there is none."""
        if not self.has(name):
            return {}
        return {r.get("Id", ""): (r.get("Type", ""), r.get("Target", ""))
                for r in self.xml(name).iter() if local(r.tag) == "Relationship"}


def normalise(name: str) -> str:
    """How calamine compares member names: `\\` as `/`, ASCII case ignored."""
    return name.replace("\\", "/").lstrip("/").lower()


def seek_data(archive: zipfile.ZipFile, member: zipfile.ZipInfo):
    """The archive's file, at a member's compressed bytes (past its local header), for inflating
    it without zipfile's CRC pass; only one thread may use the archive meanwhile."""
    fh = archive.fp
    fh.seek(member.header_offset)
    head = fh.read(30)
    if head[:4] != b"PK\x03\x04":
        raise zipfile.BadZipFile(f"{member.filename} 的本地文件头无效")
    fh.seek(member.header_offset + 30 + int.from_bytes(head[26:28], "little")
            + int.from_bytes(head[28:30], "little"))
    return fh


class OoxmlParts:
    """Where an .xlsx keeps its workbook, sheets, styles and document properties."""

    def __init__(self, package: Package):
        self.package = package
        self.root_rels = package.relationships("_rels/.rels")
        document = self.target("/officeDocument")
        folder = document.rsplit("/", 1)[0] + "/" if document and "/" in document else ("" if document else "xl/")
        self.folder = folder.lstrip("/")
        self.workbook = self.folder + "workbook.xml"
        self.styles = self.folder + "styles.xml"

    def target(self, type_suffix: str) -> str | None:
        """The target of the package relationship whose type ends with type_suffix."""
        for rel_type, target in self.root_rels.values():
            if rel_type.endswith(type_suffix):
                return target
        return None

    def sheets(self) -> list[SheetPart]:
        """Every sheet of workbook.xml in order, with its part resolved as calamine resolves it."""
        rels = self.package.relationships(self.folder + "_rels/workbook.xml.rels")
        out = []
        for sheet in self.package.xml(self.workbook).iter():
            if local(sheet.tag) != "sheet":
                continue
            rel_id = next((v for k, v in sheet.attrib.items() if ID_ATTRIBUTE.fullmatch(k)), "")
            rel_type, target = rels.get(rel_id, ("", ""))
            part = target[1:] if target.startswith("/") else self.folder + target if target else None
            if part is not None and not self.package.has(part):
                part = None
            out.append(SheetPart(sheet.get("name", ""), sheet.get("state", "visible"),
                                 rel_type.rsplit("/", 1)[-1] or "worksheet", part))
        return out

    def property_part(self, kind: str) -> str | None:
        """docProps/core.xml ("core-properties") or docProps/custom.xml ("custom-properties")."""
        target = self.target("/" + kind)
        if target is None:
            return None
        part = posixpath.normpath(target.lstrip("/"))
        return part if self.package.has(part) else None
