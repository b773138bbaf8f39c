"""The budget system's flat layout (预算管理一体化): one row per indicator, no merges.

Its columns are data (templates/flat.yaml): each names a project field (`project:name`), the
indicator's place (block, level1, level2) or an indicator column. `flat_table` lays a spec out
that way (with `merge_value`, 计算符号 + 年度指标值 + 计量单位 as one text: ≥95%); `write_flat`
writes it as .xlsx or as CSV (UTF-8 with BOM, so Excel opens it; a text Excel would take for a
formula gets a leading ' there, which `read_flat` takes off again). `find_header` tells a flat
sheet (its header row names the project and the three levels in one row) and `read_flat` turns
its rows back into projects on a form, each cell it does not use named in a warning.
"""
from __future__ import annotations

import csv
import functools
import io
import os
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, PerfxlError, TemplateError, short
from .model import Indicator, Project, Spec
from .template import MAIN_BLOCK, Template, col_letter, form_of, label_key, shipped_dir
from .values import is_finite_number, normalise_number, parse_number, percent_shown

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
MAX_CSV_BYTES = 64 << 20
PROJECT = "project:"
MERGED = "merged"
ABSENT = "absent:"          # a flat column the form has no place for


@dataclass(frozen=True)
class FlatColumn:
    key: str
    label: str
    aliases: tuple[str, ...] = ()
    only_with_blocks: bool = False


@dataclass(frozen=True)
class FlatLayout:
    name: str
    sheet: str
    columns: tuple[FlatColumn, ...]
    merged: FlatColumn
    replaces: tuple[str, ...]

    @functools.cached_property
    def roles(self) -> dict[str, str]:
        """label_key of every label and alias → column key (MERGED for the merged value)."""
        out: dict[str, str] = {}
        for column in self.columns:
            for text in (column.label, *column.aliases):
                out.setdefault(label_key(text), column.key)
        out[label_key(self.merged.label)] = MERGED        # 指标值: the value, merged or not
        return out


@functools.lru_cache(maxsize=1)
def flat_layout() -> FlatLayout:
    """The shipped flat layout (templates/flat.yaml)."""
    from .yamlnodes import compose_yaml, to_data

    path = shipped_dir() / "flat.yaml"
    try:
        data = to_data(compose_yaml(path.read_text(encoding="utf-8")), {})
        columns = tuple(FlatColumn(c["key"], c["label"], tuple(c.get("aliases", ())), bool(c.get("only_with_blocks")))
                        for c in data["columns"])
        merged = data["merged_value"]
        return FlatLayout(data["layout"], data["sheet"], columns, FlatColumn(MERGED, merged["label"]),
                          tuple(merged["replaces"]))
    except (OSError, KeyError, TypeError, ValueError) as exc:
        raise TemplateError(f"平铺格式文件无法使用：{exc}", str(path)) from None


PLACES = ("block", "level1", "level2", MERGED)


def form_key(column: FlatColumn, form: Template) -> str | None:
    """The form's key for a flat column: a project field or place as it is; an indicator column
    the form's column of the same label or alias (指标解释 is project-declaration's `explain`
    and, by its alias 指标值内容, project-expenditure's `content`), else its own key if the form
    has it; None when the form has no such column."""
    if column.key.startswith(PROJECT) or column.key in PLACES:
        return column.key
    words = {label_key(t) for t in (column.label, *column.aliases)}
    for c in form.columns[2:]:
        if words & {label_key(t) for t in (c.label, *c.aliases)}:
            return c.key
    return column.key if column.key in ("name", *form.row_keys) else None


# -- writing -------------------------------------------------------------------------------------
def flat_table(spec: Spec, merge_value: bool = False) -> tuple[list[FlatColumn], list[list], list[str]]:
    """(columns, rows, notes): one row per indicator (a project without any, one row of its
    own); notes name the fields the layout has no column for, which are not in the rows."""
    layout = flat_layout()
    forms = [form_of(spec, p) for p in spec.projects]
    blocks = any(f.more_blocks for f in forms)
    columns = [c for c in layout.columns if blocks or not c.only_with_blocks]
    if merge_value:
        first = next(i for i, c in enumerate(columns) if c.key in layout.replaces)
        columns = [c for c in columns if c.key not in layout.replaces]
        columns.insert(first, layout.merged)
    rows, left_out = [], {}
    for project, form in zip(spec.projects, forms):
        start = len(rows)
        for block, label in form.blocks():
            for level1, level2, item in project.rows(block):
                rows.append([_value(form_key(c, form), project, form, label, level1, level2, item) for c in columns])
        if len(rows) == start:
            rows.append([_value(form_key(c, form), project, form, None, None, None, None) for c in columns])
        for key in form.field_keys:
            if key not in ("name", "unit") and project.get(key) not in (None, ""):
                left_out.setdefault(form.key_label(key), 0)
                left_out[form.key_label(key)] += 1
        for key, entries in project.tables.items():
            if entries:
                left_out.setdefault(form.table(key).label, 0)
                left_out[form.table(key).label] += 1
    notes = [f"平铺格式只有指标，{len(spec.projects)} 张表的这些栏目没有导出：" +
             "、".join(f"{label}（{n} 张表有）" for label, n in left_out.items())] if left_out else []
    return columns, rows, notes


def _value(key: str | None, project: Project, form: Template, block_label, level1, level2, item):
    if key is None:
        return None
    if key.startswith(PROJECT):
        return project.get(key[len(PROJECT):])
    if item is None and key not in ("block",):
        return None
    if key == "block":
        return block_label
    if key == "level1":
        return level1
    if key == "level2":
        return level2
    if key == MERGED:
        return merged_text(item, form)
    return item.get(key)


def merged_text(item: Indicator, form: Template):
    """计算符号, value and unit as the system stores them: ≥95%; a 定性 value as it is."""
    if item.value is None or not form.is_quantitative(item.type):
        return item.value
    number = item.value
    return f"{item.type}{number}{item.unit or ''}"


def write_flat(spec: Spec, out: str | os.PathLike, merge_value: bool = False) -> list[str]:
    """Write the flat layout to `out` (.xlsx or .csv), atomically; returns the notes."""
    from .output import check_output, write_atomically

    suffix = Path(out).suffix.lower()
    if suffix not in (".xlsx", ".csv"):
        raise PerfxlError(f"平铺格式写成 .xlsx 或 .csv，不是 {suffix or '无扩展名'}", os.fspath(out))
    check_output(out, [spec.source] if spec.source else [], kind="workbook" if suffix == ".xlsx" else "text")
    columns, rows, notes = flat_table(spec, merge_value)
    if suffix == ".csv":
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow([c.label for c in columns])
        writer.writerows([[_csv_text(v) for v in row] for row in rows])
        data = ("\ufeff" + buffer.getvalue()).encode("utf-8")

        def dump(tmp: str):
            with open(tmp, "wb") as fh:
                fh.write(data)
        write_atomically(out, dump)
        return notes
    from .office.tablebook import Column, Table, write_tables

    form = form_of(spec)
    wide = {"project:name": 30, "name": 26, "content": 30, "score": 24, "note": 16}
    table = Table(flat_layout().sheet, [Column(c.label, wide.get(c.key, 12)) for c in columns], rows)
    write_tables(out, [table], font=form.styles["font"], charset=form.styles["font_charset"],
                 title=flat_layout().name)
    return notes


def _csv_text(value):
    if value is None:
        return ""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_START) else value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


# -- reading -------------------------------------------------------------------------------------
def find_header(rows: list[list]) -> tuple[int, dict[int, str]] | None:
    """(row index, column → key) of a flat header: the first non-empty row, naming the project
    and the three levels of an indicator in one row."""
    roles = flat_layout().roles
    for r, row in enumerate(rows[:20]):
        texts = [(c, v) for c, v in enumerate(row) if isinstance(v, str) and v.strip()]
        if not texts:
            continue
        keys = {c: roles[label_key(v)] for c, v in texts if label_key(v) in roles}
        if {"project:name", "level1", "level2", "name"} <= set(keys.values()):
            return r, keys
        return None
    return None


def read_csv_rows(path: str) -> list[list]:
    """A flat CSV file's rows; a ' before a formula-like text is taken off again."""
    from .csvfile import read_csv

    return [[_csv_cell(v) for v in row] for row in read_csv(path, MAX_CSV_BYTES)]


def _csv_cell(text: str):
    if text.startswith("'") and text[1:].startswith(FORMULA_START):
        return text[1:]
    return text if text.strip() else None


def read_flat(path: str, sheet: str | None, rows: list[list], header: tuple[int, dict[int, str]],
              form: Template, percent: set = frozenset()) -> tuple[list[Project], list[tuple[str, str]]]:
    """The projects of a flat sheet (sheet None: a CSV file), with (place, message) warnings.
    `percent`: the (row, col) of percent-formatted cells (0.95 shown as 95%)."""
    top, flat_keys = header
    by_key = {c.key: c for c in (*flat_layout().columns, flat_layout().merged)}
    keys = {c: form_key(by_key[k], form) or ABSENT + k for c, k in flat_keys.items()}
    warnings: list[tuple[str, str]] = []

    def place(r: int, c: int) -> str:
        if sheet is None:
            return str(Location(path, r + 1, c + 1))
        return str(Location(path, sheet=sheet, cell=f"{col_letter(c)}{r + 1}"))

    merged = MERGED in keys.values() and not ({"type", "unit"} & set(keys.values()))
    if not merged and MERGED in keys.values():
        keys = {c: ("value" if k == MERGED and "value" not in keys.values() else k) for c, k in keys.items()}
    blocks = {label_key(label): key for key, label in form.blocks()}
    row_keys = {"name", *form.row_keys}
    usable = {k for k in keys.values() if k.startswith(PROJECT) and k[len(PROJECT):] in ("name", "unit")}
    usable |= {"block", "level1", "level2", MERGED} | row_keys
    width = max((len(r) for r in rows), default=0)
    header_row = rows[top]
    for c in range(width):
        key = keys.get(c)
        filled = [r for r in range(top + 1, len(rows)) if c < len(rows[r]) and _filled(rows[r][c])]
        if filled and (key is None or key not in usable):
            label = header_row[c] if c < len(header_row) and header_row[c] is not None else ""
            why = (f"表样「{form.name}」没有「{short(str(label))}」这一栏" if key is not None
                   else f"「{short(str(label))}」不是平铺格式的列")
            span = place(filled[0], c) + (f"…{col_letter(c)}{filled[-1] + 1}" if len(filled) > 1 else "")
            warnings.append((span, f"{why}，这一列的 {len(filled)} 个单元格未读入"))
    projects: dict[tuple, Project] = {}
    for r in range(top + 1, len(rows)):
        row = rows[r]
        cells = {key: (row[c], c) for c, key in keys.items() if c < len(row) and _filled(row[c]) and key in usable}
        if not cells:
            continue
        name = _text(cells.get("project:name", (None, 0))[0])
        unit = _text(cells.get("project:unit", (None, 0))[0])
        if not name:
            warnings.append((place(r, min(c for _, c in cells.values())), "这一行没有项目名称，未读入"))
            continue
        project = projects.get((unit, name))
        if project is None:
            project = projects[(unit, name)] = Project(name=name, unit=unit, indicators={})
            project.where["project"] = Location(path, r + 1) if sheet is None else Location(path, sheet=sheet, cell=f"A{r + 1}")
        indicator_cells = {k: v for k, v in cells.items() if not k.startswith(PROJECT) and k != "block"}
        if not indicator_cells:
            continue
        level1, level2 = _text(cells.get("level1", (None, 0))[0]), _text(cells.get("level2", (None, 0))[0])
        item_name = _text(cells.get("name", (None, 0))[0])
        if not (level1 and level2 and item_name):
            missing = "、".join(w for w, v in (("一级指标", level1), ("二级指标", level2), ("三级指标名称", item_name)) if not v)
            warnings.append((place(r, min(c for _, c in indicator_cells.values())), f"这一行缺{missing}，未读入"))
            continue
        block = MAIN_BLOCK
        if "block" in cells:
            block = blocks.get(label_key(cells["block"][0]))
            if block is None:
                warnings.append((place(r, cells["block"][1]), f"「{short(str(cells['block'][0]))}」不是表样「{form.name}」"
                                                               "的指标块，这一行未读入"))
                continue
        item = Indicator(item_name)
        item.where["name"] = Location(path, r + 1) if sheet is None else Location(path, sheet=sheet, cell=f"{col_letter(cells['name'][1])}{r + 1}")
        for key in sorted(row_keys - {"name"}):
            if key in cells:
                raw, c = cells[key]
                if key == "value" and (r, c) in percent and is_finite_number(raw):
                    raw = percent_shown(raw)
                    warnings.append((place(r, c), f"单元格是百分比格式，按 {raw} 读取"
                                                  + ("，计量单位补为 %" if "unit" not in cells else "")))
                    if "unit" not in cells:
                        item.unit = "%"
                item.set(key, _cell_value(key, raw, form, place(r, c), warnings, item.type == form.qualitative))
        if MERGED in cells:
            _split(item, cells[MERGED][0], form, place(r, cells[MERGED][1]), warnings)
        tree = project.indicators if block == MAIN_BLOCK else project.blocks.setdefault(block, {})
        tree.setdefault(level1, {}).setdefault(level2, []).append(item)
    return list(projects.values()), warnings


def _filled(value) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _cell_value(key: str, raw, form: Template, where: str, warnings: list, qualitative: bool = False):
    if key == "type":
        text = _text(raw)
        canonical = form.normalise_type(text)
        if canonical is None:
            warnings.append((where, f"计算符号「{short(text)}」不是表样「{form.name}」的指标值类型，按原文读入"))
            return text
        if canonical != text:
            warnings.append((where, f"计算符号「{short(text)}」按「{canonical}」读入"))
        return canonical
    if key == "value":
        if is_finite_number(raw):
            return normalise_number(raw)
        text = _text(raw)
        number = parse_number(text) if text and not qualitative else None
        if number is not None:
            warnings.append((where, f"年度指标值是文本「{short(text)}」，按数字 {number} 读取"))
            return number
        return text
    return _text(raw)


def _split(item: Indicator, raw, form: Template, where: str, warnings: list):
    """A merged 指标值 ('≥95%', '=100%', '定性' values as written) into type, value and unit."""
    from .reader import COMPARED, _glued

    if is_finite_number(raw):
        item.value = normalise_number(raw)
        return
    text = _text(raw)
    if "type" not in form.col:            # a form whose 指标值 holds the comparison too: as written
        item.value = text
        return
    compared = COMPARED.fullmatch(unicodedata.normalize("NFKC", text))
    op = form.normalise_type(compared.group("op")) if compared else None
    if op is None or not form.is_quantitative(op):
        item.value = text
        if item.type is None:
            item.type = form.qualitative
            warnings.append((where, f"指标值「{short(text)}」没有计算符号，按{form.qualitative}指标读入"))
        return
    rest = compared.group("rest")
    number = parse_number(rest)
    unit = None
    if number is None:
        split = _glued(rest)
        if split is None:
            item.type, item.value = op, text
            warnings.append((where, f"指标值「{short(text)}」拆不出数值，按原文读入"))
            return
        number, unit = split
    item.type, item.value, item.unit = op, number, unit
    warnings.append((where, f"指标值「{short(text)}」拆分为计算符号 {op}、数值 {number}"
                            + (f"、计量单位 {unit}" if unit else "")))
