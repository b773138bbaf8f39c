"""A roster: which 填报单位 gets which projects, with the fields the office fills in beforehand.

One row per project. Its columns are named by the form's labels (项目名称, 年度本级预算金额 … and
their aliases), by the form's shared labels (填报单位, 年度, 金额单位) or by the spec keys (name,
budget, unit); a column 上年 (or 上年规格, 上年工作簿) may point at last year's spec or workbook of the
project, relative to the roster, whose indicators are pre-filled. Read from .xlsx/.xlsm/.xls/.ods
(the first visible sheet, the header on its first non-empty row), .csv (UTF-8 with or without BOM,
else GB18030, as Excel in China saves it) or YAML (a list of mappings, or `projects:` holding one).

Every mistake — a missing 填报单位 or 项目名称 column, an empty one, the same project twice, an amount
or year that is no number, a last-year file without the project — is one PerfxlError naming the
roster's row and column. A column the form has no place for is a warning naming its header cell.
"""
from __future__ import annotations

import copy
import datetime as dt
import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Location, PerfxlError, short
from ..model import Project, Spec
from ..template import Template, col_letter, label_key
from ..values import is_finite_number, normalise_number, parse_number

LAST_YEAR_WORDS = ("上年", "上年规格", "上年工作簿", "上年度", "last_year")
LAST_YEAR = "last_year"
AMOUNT_UNITS = ("元", "万元")
ROSTER_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".yaml", ".yml")
MAX_ROSTER_BYTES = 16 << 20


@dataclass
class RosterEntry:
    """One project of the roster: its pre-filled record, the roster row, last year's source."""

    project: Project
    where: Location
    last_year: str | None = None


@dataclass
class Roster:
    path: str
    form: Template
    entries: list[RosterEntry] = field(default_factory=list)
    warnings: list[tuple[Location, str]] = field(default_factory=list)

    def units(self) -> dict[str, list[RosterEntry]]:
        """填报单位 → its projects, both in roster order."""
        out: dict[str, list[RosterEntry]] = {}
        for entry in self.entries:
            out.setdefault(entry.project.unit, []).append(entry)
        return out

    def spec(self) -> Spec:
        """Every pre-filled project, as one spec (what was sent)."""
        return Spec([e.project for e in self.entries], self.form.name, self.path, self.form)


@dataclass
class _Cell:
    value: object
    where: Location


def read_roster_file(path: str | os.PathLike) -> tuple[list, list]:
    """The roster's cells (header row, records), before they are matched to a form: what
    `perfxl collect --roster` checks before it reads any return."""
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix not in ROSTER_SUFFIXES:
        raise PerfxlError(f"名册应为 .xlsx .xls .ods .csv 或 .yaml 文件，不是 {suffix or '无扩展名的文件'}", path)
    if not os.path.isfile(path):
        raise PerfxlError("名册文件不存在", path)
    if suffix in (".yaml", ".yml"):
        return _yaml_table(path)
    if suffix == ".csv":
        return _csv_table(path)
    return _book_table(path)


def load_roster(path: str | os.PathLike, form: Template, *, last_year: bool = True) -> Roster:
    """Read and check a roster against a form; last year's indicators are filled in (with
    last_year=False, as collect reads a roster for the projects it expects, they are not looked at)."""
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    header, records = read_roster_file(path)
    roster = Roster(path, form)
    names = _column_names(form)
    above, header, records = _find_header(header, records, names)
    for cell in above:
        roster.warnings.append((cell.where, f"表头之上的「{short(_text(cell.value))}」不是名册的数据，未使用"))
    keys = _column_keys(header, names, form, roster, same_allowed=suffix in (".yaml", ".yml"))
    for need in ("unit", "name"):
        if need not in keys.values():
            where = header[0].where if header else Location(path)
            raise PerfxlError(f"名册缺少「{form.key_label(need)}」列（第一行应为各列的名称）", where)
    seen: dict[tuple, Location] = {}
    last_years: dict[str, Spec] = {}
    for row_where, cells in records:
        values: dict[str, _Cell] = {}
        for i, cell in enumerate(cells):
            if i in keys and not _empty(cell.value):
                if keys[i] in values:
                    raise PerfxlError(f"「{form.key_label(keys[i])}」写了两次（另一处在 {values[keys[i]].where}）",
                                      cell.where)
                values[keys[i]] = cell
        if not values:
            continue
        project = Project(amount_unit="元")
        project.where["project"] = row_where
        previous = None
        for key, cell in values.items():
            if key == LAST_YEAR:
                previous = cell
                continue
            project.set(key, _convert(key, cell, form))
            project.where[key] = cell.where
        for need in ("unit", "name"):
            if project.get(need) in (None, ""):
                raise PerfxlError(f"「{form.key_label(need)}」是空的；名册的每一行都要写明", _place_of(cells, keys, need, row_where))
        key = (project.unit, project.name)
        if key in seen:
            raise PerfxlError(f"项目「{project.name}」（{project.unit}）在名册中出现了两次，另一次在 {seen[key]}",
                              project.where["name"])
        seen[key] = project.where["name"]
        source = None
        if previous is not None and last_year:
            source = _last_year_path(path, previous)
            _prefill(project, source, previous.where, last_years, form)
        _complete(project, form)
        roster.entries.append(RosterEntry(project, row_where, source))
    if not roster.entries:
        raise PerfxlError("名册中没有项目（第一行为列名，以下每行一个项目）", path)
    return roster


def _empty(value) -> bool:
    return value is None or isinstance(value, str) and not value.strip()


def _place_of(cells: list[_Cell], keys: dict[int, str], key: str, row_where: Location) -> Location:
    for i, cell in enumerate(cells):
        if keys.get(i) == key:
            return cell.where
    return row_where


# -- the columns --------------------------------------------------------------------------------
def _find_header(first: list[_Cell], records: Records, names: dict[str, str]):
    """(cells above the header, the header, the rows below): the header is the first row that
    names both the 填报单位 and the 项目名称 column (a title row may stand above it), else the first row."""
    rows = [first, *(cells for _, cells in records)]
    for i, cells in enumerate(rows[:50]):
        keys = {names.get(label_key(c.value)) for c in cells if not _empty(c.value)}
        if {"unit", "name"} <= keys:
            above = [c for row in rows[:i] for c in row if not _empty(c.value)]
            return above, cells, records[i:]
    return [], first, records


def _column_names(form: Template) -> dict[str, str]:
    """What a roster column may be called (by label_key) → the field key, or LAST_YEAR."""
    names: dict[str, str] = {}
    for key in (*form.field_keys, "unit", "year", "amount_unit"):
        names.setdefault(label_key(key), key)
    for key, words in form.shared_labels.items():
        for word in words:
            names.setdefault(label_key(word), key)
    for text, role in form.label_roles.items():
        if role[0] == "field":
            names.setdefault(text, role[1])
    for word in LAST_YEAR_WORDS:
        names[label_key(word)] = LAST_YEAR
    return names


def _column_keys(header: list[_Cell], names: dict[str, str], form: Template, roster: Roster,
                 same_allowed: bool = False) -> dict[int, str]:
    """Column index → field key (or LAST_YEAR); an unknown column is a warning, a repeated one
    refused (in YAML, where each project names its own keys, only within one project)."""
    out: dict[int, str] = {}
    taken: dict[str, Location] = {}
    for i, cell in enumerate(header):
        if _empty(cell.value):
            continue
        key = names.get(label_key(cell.value))
        if key is None or key in form.sum_fields:
            roster.warnings.append((cell.where, f"名册的「{short(str(cell.value))}」列不是表样「{form.name}」的栏目，未使用"))
        elif key in taken and not same_allowed:
            raise PerfxlError(f"名册的「{short(str(cell.value))}」列与 {taken[key]} 是同一栏目；请只留一列", cell.where)
        else:
            out[i], taken[key] = key, cell.where
    return out


def _convert(key: str, cell: _Cell, form: Template):
    value, label = cell.value, form.key_label(key)
    if form.field_kinds.get(key) == "money":
        number = value if is_finite_number(value) else parse_number(str(value)) if isinstance(value, str) else None
        if number is None:
            raise PerfxlError(f"「{label}」应为金额（数字），不是「{short(str(value))}」", cell.where)
        return normalise_number(number)
    if key == "year":
        year = value if is_finite_number(value) else parse_number(str(value)) if isinstance(value, str) else None
        if year is None or year != int(year) or not 1900 <= year <= 2999:
            raise PerfxlError(f"「{label}」应为四位数的年份，不是「{short(str(value))}」", cell.where)
        return int(year)
    text = _text(value)
    if key == "amount_unit" and text not in AMOUNT_UNITS:
        raise PerfxlError(f"「{label}」应为 元 或 万元，不是「{short(text)}」", cell.where)
    return text


def _text(value) -> str:
    """A cell as the text a clerk sees: 2026.0 → '2026', a date → '2026-01-15'."""
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return str(value).strip()


# -- last year ----------------------------------------------------------------------------------
def _last_year_path(roster_path: str, cell: _Cell) -> str:
    given = _text(cell.value)
    path = given if os.path.isabs(given) else os.path.join(os.path.dirname(roster_path), given)
    if not os.path.isfile(path):
        raise PerfxlError(f"上年的文件「{short(given, 60)}」不存在（相对名册所在的文件夹）", cell.where)
    return path


def _prefill(project: Project, source: str, where: Location, cache: dict, form: Template):
    """Last year's indicator rows of the same project (same 填报单位 and 项目名称, else the one
    project of that name) into `project`."""
    from ..check import load_source

    if source not in cache:
        cache[source] = load_source(source)[0]
    candidates = [p for p in cache[source].projects if p.name == project.name]
    same_unit = [p for p in candidates if p.unit == project.unit]
    found = same_unit or candidates
    if len(found) != 1:
        why = "没有" if not found else f"有 {len(found)} 个"
        raise PerfxlError(f"上年的文件 {source} 中{why}项目「{project.name}」", where)
    last = found[0]
    project.indicators = _fresh(last.indicators)
    project.blocks = {b.key: _fresh(last.blocks.get(b.key, {})) for b in form.more_blocks}


def _fresh(tree: dict) -> dict:
    """A copy of an indicator tree without the places it was read from."""
    out = copy.deepcopy(tree)
    for groups in out.values():
        for items in groups.values():
            for item in items:
                item.where = {}
    return out


def _complete(project: Project, form: Template):
    """Every group of the form present (pre-filled rows first), every flat table."""
    from ..spec import complete_tree

    project.indicators = complete_tree(project.indicators, form)
    project.blocks = {b.key: complete_tree(project.blocks.get(b.key, {}), form) for b in form.more_blocks}
    project.tables = {t.key: list(project.tables.get(t.key, ())) for t in form.tables}


# -- the files ------------------------------------------------------------------------------------
Records = list[tuple[Location, list[_Cell]]]


def _book_table(path: str) -> tuple[list[_Cell], Records]:
    from ..workbook import open_book

    book = open_book(path)
    sheets = [s for s in book.sheets() if not s.hidden] or book.sheets()
    if not sheets:
        raise PerfxlError("名册工作簿中没有工作表", path)
    name = sheets[0].name

    def at(r: int, c: int) -> Location:
        return Location(path, sheet=name, cell=f"{col_letter(c)}{r + 1}")
    return _grid(book.rows(name), at, lambda r: Location(path, sheet=name, cell=f"A{r + 1}"))


def _csv_table(path: str) -> tuple[list[_Cell], Records]:
    from ..csvfile import read_csv

    rows = [[_csv_value(v) for v in row] for row in read_csv(path, MAX_ROSTER_BYTES, "名册")]
    return _grid(rows, lambda r, c: Location(path, r + 1, c + 1), lambda r: Location(path, r + 1))


def _csv_value(text: str):
    return text.strip() or None


def _grid(rows: list[list], at, row_at) -> tuple[list[_Cell], Records]:
    top = next((r for r, row in enumerate(rows) if any(not _empty(v) for v in row)), None)
    if top is None:
        return [], []
    header = [_Cell(v, at(top, c)) for c, v in enumerate(rows[top])]
    records = [(row_at(r), [_Cell(v, at(r, c)) for c, v in enumerate(rows[r])]) for r in range(top + 1, len(rows))]
    return header, records


def _yaml_table(path: str) -> tuple[list[_Cell], Records]:
    import yaml

    from ..csvfile import read_limited
    from ..yamlnodes import compose_yaml, to_data

    marks: dict = {}
    try:
        data = to_data(compose_yaml(read_limited(path, MAX_ROSTER_BYTES, "名册").decode("utf-8-sig")), marks)
    except UnicodeDecodeError:
        raise PerfxlError("名册不是 UTF-8 文本", path) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        raise PerfxlError(f"名册不是有效的 YAML：{exc.problem}", Location(path, mark.line + 1, mark.column + 1)
                          if mark else path) from None
    except yaml.YAMLError as exc:
        raise PerfxlError(f"名册不是有效的 YAML：{exc}", path) from None
    prefix: tuple = ()
    if isinstance(data, dict) and "projects" in data:
        data, prefix = data["projects"], ("projects",)
    if not isinstance(data, list) or not all(isinstance(item, dict) for item in data):
        raise PerfxlError("YAML 名册应为项目的列表（每项一个“列名: 值”的映射）", path)

    def at(*keys) -> Location:
        line, col = marks.get(prefix + keys, marks.get(prefix + keys[:1], (None, None)))
        return Location(path, line, col)
    columns: dict[str, Location] = {}
    for i, item in enumerate(data):
        for key in item:
            columns.setdefault(str(key), at(i, key, "<key>"))
    names = list(columns)
    header = [_Cell(name, columns[name]) for name in names]
    records = [(at(i), [_Cell(item.get(name), at(i, name)) for name in names]) for i, item in enumerate(data)]
    return header, records

