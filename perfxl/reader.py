"""The reverse reader: a filled workbook (.xlsx/.xlsm/.xls/.ods) back to a Spec, with warnings.

perfxl.workbook opens the file (after perfxl.safety's checks) and gives each sheet's values plus
what calamine cannot tell (uncached formulas, error cells, percent formats, hidden rows); this
module finds the tables in them by the form's labels and aliases, never by fixed coordinates
(the form: given, tagged in the workbook, or recognised, perfxl.recognise), and turns them into
projects, each indicator block into its own tree. The two are the only code that reads input
workbooks. Every non-empty cell of a table that nothing read is named in a warning.
Percentage formats in .xls cannot be read: a value of at most 1 with the unit % gets a warning.

Every normalisation of what a person typed ("95%", "1,500", ">=", stray spaces and line breaks)
becomes a ReadWarning naming book!sheet!cell. Decisions for input a spec cannot hold:
an unknown 指标值类型 or a budget that is not a number is left out (type/budget None) with a
warning quoting it; a data row without a 三级 name is kept with name "" and a warning, so that
`perfxl check` reports it (its YAML fails to load until the name is filled in). Not reported,
because nobody typed them: whole numbers coming back as floats (a file stores 100 and 100.0
alike) and numbers in text fields (a 实施期 of 2025 reads as "2025", as the spec loader does).
"""
from __future__ import annotations

import datetime
import operator
import os
import re
import unicodedata
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from .errors import Location, WorkbookError, short
from .gcpause import paused_gc
from .model import INDICATOR_KEYS, Entry, Indicator, Project, Spec, block_prefix
from .rules import column_sum
from .spec import AMOUNT_UNITS, MAX_CELL_TEXT, complete_tree
from .recognise import TAG, recognise
from . import textsheets
from .template import MAIN_BLOCK, FlatTable, Template, col_letter, label_key, load_template
from .values import is_finite_number, normalise_number, parse_number, percent_shown
from .workbook import Extras, open_book

GLUED = re.compile(r"(?P<number>[+-]?[\d,.]+)\s*(?P<unit>[^\d\s.,+-][^\d]{0,7})")
# the attachment mark of an official document above its table: '附件2', '附表 3：'
ATTACHMENT = re.compile(r"\s*附[件表]\s*[\d一二三四五六七八九十-]*\s*[:：]?\s*")
STARS = "★☆"          # core indicators marked in front of their names (★★★ in some forms)
# a year on its own line under a title: '（2022年度）', '(2022年)', '2022年度'
YEAR_LINE = re.compile(r"\s*\(?\s*(?P<year>(?:19|20)\d\d)\s*年度?\s*\)?\s*")
# a comparator written into the value: '≥95%', '>=95 %', '不低于90%' (NFKC: '＜' is '<')
COMPARED = re.compile(r"\s*(?P<op>[^\d\s+\-.,]{1,4}?)\s*(?P<rest>[+-]?\d.*?)\s*", re.S)


def _glued(text: str) -> tuple[float | int, str] | None:
    """(number, unit) of '95%' or '1600元/亩' (NFKC text), else None."""
    match = GLUED.fullmatch(text)
    number = parse_number(match.group("number")) if match else None
    return None if number is None else (number, match.group("unit").strip())
LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


@dataclass(frozen=True)
class ReadWarning:
    """Something the reader normalised or could not use, and where."""

    location: str
    message: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message}"

    def to_dict(self) -> dict:
        return {"location": self.location, "message": self.message}


@dataclass
class ReadResult:
    """The spec read, what was normalised, and the workbook's own last-saved date and perfxl mark
    (`perfxl collect` writes "collect" into its bundles, so that it never collects them again)."""

    spec: Spec
    warnings: list[ReadWarning] = field(default_factory=list)
    modified: str | None = None
    mark: str | None = None


def read(path: str | os.PathLike, template: str | None = None) -> ReadResult:
    """Read every project table on every sheet of a workbook back into a Spec.

    The form is `template` (a form name or .yaml path) when given, for every sheet; else the one
    the workbook's tag names (perfxl writes it for forms with a `version`), else the known form
    whose labels most of the workbook's sheets show best (perfxl.recognise). A sheet that fits
    another of the tagged or known forms better is read as that one: its projects name their form
    (Project.template), so a workbook holding tables of several forms is read whole. Hidden
    sheets are read too, and so are hidden rows and columns: people "delete" rows by hiding them,
    so each one read is named in a warning. On perfxl's own hidden list sheet, every cell that is
    not one of the forms' 指标值类型 or tags is named (a table found there is read).
    """
    path = os.fspath(path)
    if path.lower().endswith(".csv"):
        return _read_flat_csv(path, template)
    book = open_book(path)
    warnings = [ReadWarning(path, note) for note in book.notes]
    projects: list[Project] = []
    sheets = book.sheets()
    names = [s.name for s in sheets]
    with paused_gc():       # millions of small objects, no cycles: collections only cost time
        # The raw-XML scan runs in a second thread, a sheet ahead of calamine (which releases the
        # GIL); calamine reads a sheet only once its scan has checked the sheet's size.
        pool = ThreadPoolExecutor(max_workers=1)
        try:
            scans = [pool.submit(book.extras, name) for name in names]
            read_sheets = [(info, scan.result(), book.rows(info.name)) for info, scan in zip(sheets, scans)]
            flat = _read_flat_sheets(path, read_sheets, template, warnings)
            if flat is not None:
                modified, mark = book.properties()
                return ReadResult(flat, warnings, modified, mark)
            if template is None:
                form, notes, scorer = recognise(path, [(info.name, info.hidden, rows) for info, _, rows in read_sheets])
                warnings.extend(ReadWarning(where, message) for where, message in notes)
            else:
                form, scorer = load_template(template), None
            labels = {id(form): _Labels(form)}
            lists = form.validation["list_sheet"]
            for info, extras, rows in read_sheets:
                # a sheet that fits another form better is read as that form: its projects name it
                own = (scorer.other_form(rows, form) if scorer else None) or form
                if id(own) not in labels:
                    labels[id(own)] = _Labels(own)
                list_sheet = info.hidden and info.name == lists
                if list_sheet or info.name in (own.instructions_sheet, own.review_sheet):
                    # perfxl's own sheets (its text sheets name the form's parts in passing): read for
                    # tables, and what was said about them kept only where a table was found there
                    # after all; else whatever is not perfxl's own on them is named
                    found = _Sheet(path, info.name, rows, extras, labels[id(own)], []).tables()
                    if not found:
                        warnings.extend(_lists_unread(path, info.name, rows, [form, *(scorer.forms if scorer else ())])
                                        if list_sheet else _own_text_unread(path, info.name, rows))
                        continue
                sheet = _Sheet(path, info.name, rows, extras, labels[id(own)], warnings)
                found = sheet.tables()
                if not found:
                    sheet.nothing_found()
                if own is not form:
                    for project in found:
                        project.template, project.form = own.name, own
                if found and info.hidden:
                    warnings.append(ReadWarning(f"{path}!{info.name}", f"工作表「{info.name}」是隐藏的，"
                                                f"其中的 {len(found)} 张表已照常读入；如不应报送，请删除该工作表"))
                projects.extend(found)
        finally:
            pool.shutdown(cancel_futures=True)
    if not projects:
        raise WorkbookError(_nothing_found(form), path)
    modified, mark = book.properties()
    return ReadResult(Spec(projects, template or form.name, path), warnings, modified, mark)


def _own_text_unread(path: str, name: str, rows: list[list]) -> list[ReadWarning]:
    """Warnings for what someone typed on one of perfxl's text sheets (it is not read)."""
    cells, area = textsheets.unread(rows)
    if area is not None:
        r, c = cells[0]
        return [ReadWarning(f"{path}!{name}!{col_letter(c)}{r + 1}",
                            f"「{name}」页是说明，不读入：{area} 中 {len(cells)} 个非空单元格未读入")]
    return [ReadWarning(f"{path}!{name}!{col_letter(c)}{r + 1}",
                        f"「{short(str(rows[r][c]))}」写在「{name}」页上，这一页是说明，不读入；"
                        "要改的内容请改在表中") for r, c in cells]


def _lists_unread(path: str, name: str, rows: list[list], forms: list[Template]) -> list[ReadWarning]:
    """Warnings for what is on perfxl's hidden list sheet besides what perfxl writes there: the
    forms' 指标值类型 (the dropdowns' source) in any column but B, and the forms' tags in column B."""
    types = {t for form in forms for t in form.value_types}
    out = []
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if value == "" or (c == 1 and value.__class__ is str and value.startswith(TAG)) or (
                    c != 1 and value in types):
                continue
            out.append(ReadWarning(f"{path}!{name}!{col_letter(c)}{r + 1}",
                                   f"「{short(str(value))}」写在隐藏的「{name}」页（perfxl 的下拉列表）上，不读入；"
                                   "要改的内容请改在表中"))
    return out


def read_drawn(path: str, sheet: str, rows: list[list], form: Template) -> list[Project]:
    """The tables of a grid of values as a sheet shows them (`rows`, as calamine gives a sheet's
    values; merged cells hold their value in the top-left cell), read as `form`, each value's
    place `path!sheet!cell`: what perfxl.check.findings_as_drawn reads a layout plan with,
    without writing the workbook."""
    return _Sheet(path, sheet, rows, Extras(), _Labels(form), []).tables()


def _read_flat_sheets(path: str, read_sheets, template: str | None, warnings: list) -> Spec | None:
    """A workbook in the budget system's flat layout (perfxl.flat), read on `template` (default:
    the default form); None when its first sheet is no flat sheet."""
    from .flat import find_header, read_flat

    visible = [s for s in read_sheets if not s[0].hidden] or read_sheets
    if not visible or find_header(visible[0][2]) is None:
        return None
    form = load_template(template) if template else load_template()
    projects = []
    for info, extras, rows in read_sheets:
        header = find_header(rows)
        if header is None:
            if any(v not in (None, "") for row in rows for v in row):
                warnings.append(ReadWarning(f"{path}!{info.name}", f"工作表「{info.name}」不是平铺格式的指标表，未读入"))
            continue
        found, notes = read_flat(path, info.name, rows, header, form, extras.percent)
        projects += found
        warnings.extend(ReadWarning(where, message) for where, message in notes)
    if not projects:
        raise WorkbookError("平铺格式的表中没有指标行", path)
    for project in projects:
        _complete_flat(project, form)
    return Spec(projects, form.name, path)


def _read_flat_csv(path: str, template: str | None) -> ReadResult:
    from .flat import find_header, read_csv_rows, read_flat

    rows = read_csv_rows(path)
    header = find_header(rows)
    if header is None:
        raise WorkbookError("CSV 文件的第一行不是平铺格式的表头（项目名称、一级指标、二级指标、三级指标名称 …）", path)
    form = load_template(template) if template else load_template()
    projects, notes = read_flat(path, None, rows, header, form)
    if not projects:
        raise WorkbookError("平铺格式的表中没有指标行", path)
    for project in projects:
        _complete_flat(project, form)
    return ReadResult(Spec(projects, form.name, path), [ReadWarning(w, m) for w, m in notes])


def _complete_flat(project: Project, form: Template):
    project.indicators = complete_tree(project.indicators, form)
    project.blocks = {b.key: complete_tree(project.blocks.get(b.key, {}), form) for b in form.more_blocks}
    project.tables = {t.key: [] for t in form.tables}


def _nothing_found(form: Template) -> str:
    block = "、".join((form.block_label, *form.block_aliases))
    columns = "、".join(c.label for c in form.columns)
    return f"没有找到项目表：在各工作表中查找了「{block}」所在的表头行（{columns}）"


# -- labels -----------------------------------------------------------------------------------
class _Labels:
    """The template's words as lookup tables: what a cell's text is, if it is a label.

    One per read: it caches the role of every distinct text it is asked about.
    """

    def __init__(self, form: Template):
        self.form = form
        self.roles = form.label_roles
        self.kinds = form.field_kinds
        self.field_names = {k: c.label for k, c in form.field_labels().items()}
        # where a field's value sits after its label in the template (past the label's merge)
        self.value_offsets = {c.field: c.first - form.field_labels()[c.field].first for c in form.fields()}
        self.header_fields = {c.field for row in form.header for c in row if c.field}
        # (template row, position in it) of each field: a label-like word right after a label is
        # that label's value unless its own label follows on the same template row
        self.places = {c.field: (i, j) for i, row in enumerate(form.header + form.footer)
                       for j, c in enumerate(row) if c.field}
        self.title = form.title_pattern()
        self.form_key = label_key(form.form)
        self.unit_prefix = _prefix_keys(form.unit_line(unit="\x00"))
        self.amount_prefix = _prefix_keys(form.amount_unit_line(amount_unit="\x00"))
        # '单位：万元' (a form's other words for 金额单位), alone or after the unit line's text
        words = "|".join(re.escape(w) for w in sorted(form.amount_unit_words, key=len, reverse=True))
        units = "|".join(re.escape(u) for u in sorted(AMOUNT_UNITS, key=len, reverse=True))
        self.amount_words = re.compile(rf"(?:^|(?<=\s))(?:{words})\s*[:：]\s*(?P<unit>{units})\s*$") if words else None
        self.longest = 2 * max(len(k) for k in self.roles) + 8
        self._cache: dict[str, tuple | None] = {}
        self._types: dict[str, str | None] = {}

    def value_type(self, text: str) -> str | None:
        """template.normalise_type, remembered: a workbook repeats a handful of types."""
        try:
            return self._types[text]
        except KeyError:
            found = self._types[text] = self.form.normalise_type(text)
            return found

    def label(self, text: str) -> tuple | None:
        """The role of a text short enough to be a label (values are skipped cheaply)."""
        return self.role(text) if len(text) <= self.longest else None

    def role(self, text: str) -> tuple | None:
        """What a cell's text is: ('field', name), BLOCK, ('column', key), ('unit', unit, amount),
        ('amount', amount), ('title', year, None), ('title', year, text) for a title in other
        words than the template's, or None for anything else."""
        try:
            return self._cache[text]
        except KeyError:
            role = self._cache[text] = self._role(text) if len(text) < 300 else self._long_role(text)
            return role

    def _long_role(self, text: str) -> tuple | None:
        """A long text is no label, but may be a unit line with a long 填报单位 (split from no 金额单位)."""
        if _has_prefix(label_key(text[:60]), self.unit_prefix):
            return ("unit", after_prefix(text, self.unit_prefix), None)
        return None

    def _role(self, text: str) -> tuple | None:
        key = label_key(text)
        if key in self.roles:
            return self.roles[key]
        if _has_prefix(key, self.unit_prefix):
            unit_text, amount = self._split_amount(text)
            return ("unit", after_prefix(unit_text, self.unit_prefix), amount)
        if _has_prefix(key, self.amount_prefix):
            return ("amount", after_prefix(text, self.amount_prefix))
        if self.amount_words is not None:
            words = self.amount_words.fullmatch(text.strip())
            if words:
                return ("amount", words.group("unit"))
        match = self.title.match(key)
        if match:
            return ("title", match.group("year"), None)
        if self.form_key in key:          # another title: '2025年度项目支出绩效目标表'
            year = re.search(r"(?<!\d)(?:19|20)\d\d(?!\d)", key)
            return ("title", year.group() if year else None, text)
        return None

    def _split_amount(self, text: str) -> tuple[str, str | None]:
        """'填报单位：X  金额单位：元' (or '… 单位：万元') in one cell → ('填报单位：X', '元')."""
        for i in range(1, len(text)):
            if _has_prefix(label_key(text[i:]), self.amount_prefix):
                return text[:i], after_prefix(text[i:], self.amount_prefix)
        if self.amount_words is not None:
            words = self.amount_words.search(text)
            if words and words.start() > 0:
                return text[:words.start()], words.group("unit")
        return text, None


BLOCK = ("block",)


def _prefix_keys(line: str) -> frozenset[str]:
    """'填报单位（盖章）：\x00' → {'填报单位(盖章)', '填报单位'}: the label with or without its aside."""
    key = label_key(line.split("\x00")[0])
    return frozenset({key, re.sub(r"\(.*?\)", "", key)})


def _has_prefix(key: str, prefixes: frozenset[str]) -> bool:
    return any(key.startswith(p) for p in prefixes)


def after_prefix(text: str, prefixes: frozenset[str]) -> str | None:
    """The text after a label prefix ('填报单位（盖章）：X' → 'X'), or None without the prefix."""
    best = None
    for i in range(1, len(text) + 1):
        key = label_key(text[:i])
        if key in prefixes and text[i - 1] not in "*＊":     # a marker label_key drops, not a colon
            best = i
        elif not any(p.startswith(key) for p in prefixes):
            break
    return None if best is None else text[best:].strip()


# -- where things are -------------------------------------------------------------------------
class _Where(Mapping):
    """key → Location on one sheet, each Location made only when asked for.

    Readers of `where` (perfxl check) use it as a read-only mapping, like the spec's dicts.
    """

    __slots__ = ("path", "sheet", "cells")

    def __init__(self, path: str, sheet: str, cells: dict[str, tuple[int, int]]):
        self.path, self.sheet, self.cells = path, sheet, cells

    def __getitem__(self, key: str) -> Location:
        row, col = self.cells[key]
        return Location(self.path, sheet=self.sheet, cell=f"{col_letter(col)}{row + 1}")

    def __iter__(self):
        return iter(self.cells)

    def __len__(self) -> int:
        return len(self.cells)


class _RowWhere(_Where):
    """The cells of one indicator row: the columns are shared by all rows of a block."""

    __slots__ = ("row",)

    def __init__(self, path: str, sheet: str, row: int, cols: dict[str, int]):
        super().__init__(path, sheet, cols)
        self.row = row

    def __getitem__(self, key: str) -> Location:
        return Location(self.path, sheet=self.sheet, cell=f"{col_letter(self.cells[key])}{self.row + 1}")


# -- one sheet --------------------------------------------------------------------------------
class _Header:
    """The indicator block's header row: where each column is, and so the table's width."""

    __slots__ = ("row", "cols", "label_col", "left", "right", "block", "role")

    def __init__(self, row: int, cols: dict[str, int], label_col: int | None, role: tuple = ("block",)):
        self.row, self.cols, self.label_col = row, cols, label_col
        self.role = role                                    # the block label's role (BLOCK: the main one)
        self.block = role[1] if len(role) > 1 else MAIN_BLOCK
        self.left = label_col if label_col is not None else min(cols.values())
        self.right = max(cols.values())


@dataclass
class _Table:
    """What has been seen of one table while walking down a sheet."""

    title: tuple[int, int, tuple] | None = None        # (row, col, role)
    unit: tuple[int, int, tuple] | None = None
    amount: tuple[int, int, str | None] | None = None
    year_line: tuple[int, int, str] | None = None       # '（2022年度）' on its own row under the title
    field_rows: list[tuple[int, list, int | None]] = field(default_factory=list)  # (row, [(col, field)], values row)
    fields: set[str] = field(default_factory=set)
    header: _Header | None = None                       # the first block's header row
    trees: dict = field(default_factory=dict)           # block key → 一级 → 二级 → rows
    headers: list = field(default_factory=list)         # every block's header row
    block_rows: list = field(default_factory=list)      # (first, end) rows of each block's data
    flat: dict = field(default_factory=dict)            # flat table key → [Entry]
    flat_read: set = field(default_factory=set)         # (row, col) of the flat tables' labels and totals
    cells: dict[str, tuple[int, int]] = field(default_factory=dict)
    first: int | None = None                            # rows the table spans so far
    last: int = -1

    @property
    def started(self) -> bool:
        return bool(self.fields) or self.header is not None or bool(self.flat)

    def reach(self, row: int):
        if self.first is None:
            self.first = row
        self.last = max(self.last, row)


class _Sheet:
    """Finds and reads the tables of one sheet, top to bottom."""

    def __init__(self, path: str, name: str, rows: list[list], extras: Extras, labels: _Labels,
                 warnings: list[ReadWarning]):
        self.path, self.name, self.rows = path, name, rows
        self.extras = extras
        self.labels = labels
        self.form = labels.form
        self.warnings = warnings
        self.out: list[Project] = []
        self.spans: list[tuple[int, int, int, int]] = []     # (first row, last row, left, right) of read tables
        self.warned: set[tuple[int, int]] = set()           # cells a warning names

    def warn(self, row: int, col: int, message: str):
        self.warned.add((row, col))
        self.warnings.append(ReadWarning(f"{self.path}!{self.name}!{col_letter(col)}{row + 1}", message))

    # -- finding tables -----------------------------------------------------------------------
    def tables(self) -> list[Project]:
        table = _Table()
        r, n = 0, len(self.rows)
        while r < n:
            col, role = self.first_label(self.rows[r])
            kind = role[0] if role else None
            if kind in ("title", "unit", "amount"):
                if table.started or getattr(table, kind) is not None:
                    table = self.finish(table)
                value = role[1] if kind == "amount" else role
                setattr(table, kind, (r, col, value))
                table.reach(r)
                if kind == "unit":
                    self.amount_cell(table, r, col, role)
            elif kind == "field":
                every = self.label_cells(self.rows[r], col)
                below = self.values_below(r, every)
                marks = every if below is not None else self.row_fields(self.rows[r], col)
                found = {name for _, name in marks}
                if table.fields & found or (table.header and found & self.labels.header_fields):
                    table = self.finish(table)
                table.fields |= found
                table.field_rows.append((r, marks, below))
                table.reach(r)
                if below is not None:
                    table.reach(below)
                    r = below + 1
                    continue
            elif kind == "table":
                if role[1] in table.flat:
                    table = self.finish(table)              # the same table again: the next project
                end = self.flat_table(table, r, col, self.form.table(role[1]))
                table.reach(r)
                table.reach(end - 1)
                r = end
                continue
            elif kind in ("block", "column"):
                header = self.header_row(r, col)
                if header is not None:
                    if table.header is not None and header.block in table.trees:
                        table = self.finish(table)          # a block seen again: the next table
                    if table.header is None:
                        table.header = header
                    table.trees.setdefault(header.block, {})
                    table.headers.append(header)
                    table.reach(r)
                    r = self.block(table, header)
                    table.block_rows.append((header.row + 1, r))
                    table.reach(r - 1)
                    continue
            elif kind is None and not table.started:
                value = self.rows[r][col]
                year = YEAR_LINE.fullmatch(unicodedata.normalize("NFKC", value)) if value.__class__ is str else None
                if year and table.title is not None and not (table.title[2][1] or "").strip() \
                        and table.year_line is None:
                    table.year_line = (r, col, year.group("year"))          # the title's year, a line below
                    table.reach(r)
                elif table.amount is None:
                    self.amount_cell(table, r, col, ("unit", None, None))   # '单位：万元' after other text
            r += 1
        self.finish(table)
        if self.extras.hidden_rows or self.extras.hidden_cols:
            self.hidden_cells()
        if self.spans:
            self.outside_cells()
        return self.out

    def outside_cells(self):
        """Name every non-empty cell outside the tables read: above, between and below them, and
        left of a table on its rows (right of it: unread_cells)."""
        spans = sorted(self.spans)
        covered = {r: left for first, last, left, _ in spans for r in range(first, last + 1)}
        for r, row in enumerate(self.rows):
            left = covered.get(r)
            end = len(row) if left is None else min(left, len(row))
            for c in range(end):
                value = row[c]
                if value != "" and (r, c) not in self.warned and not (
                        value.__class__ is str and ATTACHMENT.fullmatch(value)):
                    self.warn(r, c, f"表格之外的内容「{short(str(value))}」不属于任何一张表，未读入")

    def nothing_found(self):
        """One warning for a sheet with content where no table of the form was found: how many
        cells, and where."""
        filled = [(r, c) for r, row in enumerate(self.rows) for c, value in enumerate(row) if value != ""]
        if not filled:
            return
        top, bottom = min(r for r, _ in filled), max(r for r, _ in filled)
        left, right = min(c for _, c in filled), max(c for _, c in filled)
        area = f"{col_letter(left)}{top + 1}:{col_letter(right)}{bottom + 1}"
        message = f"工作表中没有找到「{self.form.form}」的表：{area} 中 {len(filled)} 个非空单元格未读入"
        first = min(filled)
        self.warn(first[0], first[1], message)

    def hidden_cells(self):
        """Name every hidden row and column that holds something a table read."""
        rows = self.rows
        for first, last, left, right in self.spans:
            for r in sorted(h for h in self.extras.hidden_rows if first <= h <= last and h < len(rows)):
                filled = [c for c in range(left, min(right + 1, len(rows[r]))) if rows[r][c] != ""]
                if filled:
                    self.warn(r, filled[0], f"第 {r + 1} 行是隐藏行（可能是想删除的行），其内容已照常读入；"
                                            "如不需要，请删除这一行")
            for c in sorted(h for h in self.extras.hidden_cols if left <= h <= right):
                filled = [r for r in range(first, min(last + 1, len(rows))) if c < len(rows[r]) and rows[r][c] != ""]
                if filled:
                    self.warn(filled[0], c, f"{col_letter(c)} 列是隐藏列，其内容已照常读入；如不需要，请删除这一列")

    def first_label(self, row: list) -> tuple[int, tuple | None]:
        for col, value in enumerate(row):
            if value != "":
                return col, (self.labels.role(value) if value.__class__ is str else None)
        return 0, None

    def label_cells(self, row: list, start: int) -> list[tuple[int, str]]:
        """Every field label of a row, [(column, field name)], the first of each field."""
        out: dict[str, int] = {}
        label = self.labels.label
        for c in range(start, len(row)):
            value = row[c]
            role = label(value) if value.__class__ is str and value else None
            if role is not None and role[0] == "field":
                out.setdefault(role[1], c)
        return sorted(((c, name) for name, c in out.items()))

    def row_fields(self, row: list, start: int) -> list[tuple[int, str]]:
        """The field labels of a header/footer row: [(column, field name)].

        The first cell after a label is its value even when it reads like a label (a project
        named 预算金额), unless it is the label that follows on the same row of the template
        and that label does not come again further on.
        """
        found: list[tuple[int, str, bool]] = []      # (column, field, right after a label)
        label = self.labels.label
        after_label = False
        for c in range(start, len(row)):
            value = row[c]
            if value == "":
                continue
            role = label(value) if value.__class__ is str else None
            is_label = role is not None and role[0] == "field"
            if is_label:
                found.append((c, role[1], after_label))
            after_label = is_label
        places = self.labels.places
        marks: list[tuple[int, str]] = []
        for i, (c, name, after) in enumerate(found):
            if after and marks:
                before, here = places.get(marks[-1][1]), places.get(name)
                again = any(other == name for _, other, _ in found[i + 1:])
                if again or not (here and before and here[0] == before[0] and here[1] > before[1]):
                    continue                         # the previous label's value
            marks.append((c, name))
        return marks

    def amount_cell(self, table: _Table, r: int, col: int, role: tuple):
        """金额单位 in the unit line's own cell, or in a later cell of the same row."""
        if role[2] is not None:
            table.amount = (r, col, role[2])
            return
        row = self.rows[r]
        for c in range(col + 1, len(row)):
            value = row[c]
            if value.__class__ is str and value:
                found = self.labels.role(value)
                if found and found[0] == "amount":
                    table.amount = (r, c, found[1])
                    return

    def header_row(self, r: int, start: int, quiet: bool = False) -> _Header | None:
        row = self.rows[r]
        cols: dict[str, int] = {}
        label_col, extra, block = None, [], BLOCK
        for c in range(start, len(row)):
            value = row[c]
            if value.__class__ is not str or not value:
                continue
            role = self.labels.label(value)
            if role and role[0] == "block" and label_col is None and not cols:
                label_col, block = c, role
            elif role and role[0] == "column":
                cols.setdefault(role[1], c)
            else:
                extra.append(c)
        if "level1" not in cols or "name" not in cols:
            return None
        for c in extra if not quiet else ():
            self.warn(r, c, f"表头「{short(str(row[c]))}」不是模板中的列，这一列未读入")
        return _Header(r, cols, label_col, block)

    # -- the indicator block ------------------------------------------------------------------
    def block(self, table: _Table, header: _Header) -> int:
        """Read the indicator rows under `header`; return the first row after the block.

        The block ends at a row with other text in the block label's column or left of the table,
        or with a label (title, field, unit line) where the 一级 goes.
        """
        rows, role = self.rows, self.labels.role
        a, left = header.label_col, header.left
        c1, c2 = header.cols["level1"], header.cols.get("level2")
        groups = _Groups(self, table, header)
        dcols = groups.dcols
        pick = (operator.itemgetter(*dcols) if len(dcols) > 1
                else (lambda row: (row[dcols[0]],)))
        unusable = self.extras.unusable
        for r in range(header.row + 1, len(rows)):
            row = rows[r]
            if a is not None:
                head = row[a]
                if head != "" and role(head if head.__class__ is str else str(head)) != header.role:
                    return r
            if left and row[:left].count("") != left:
                return r
            v1 = row[c1]
            if v1.__class__ is str and v1:
                found = role(v1)
                if found is not None:
                    ends = self.ends_block(r, found, header, dcols)
                    if ends is True:
                        return r
                    if ends == "repeated":
                        continue
            v2 = row[c2] if c2 is not None else ""
            values = pick(row)
            if blanks(values) or blanks((v1, v2)):
                v1, v2, values = self.blank_out(r, (c1, c2), (v1, v2), dcols, values)
            if unusable:
                v1, v2 = self.usable(v1, r, c1), self.usable(v2, r, c2)
                values = tuple([self.usable(v, r, c) for v, c in zip(values, dcols)])
            groups.row(r, v1, v2, values)
        return len(rows)

    def ends_block(self, r: int, found: tuple, header: _Header, dcols: tuple) -> bool | str:
        """A label word in the 一级 column: True when a new part of the form starts there (a
        title; a unit line or a footer field with nothing in the indicator columns; another
        header row), "repeated" for a repeat of this block's header row (named in a warning),
        False when it is a 一级 that happens to be a label word (备注, 单位, 绩效指标)."""
        kind = found[0]
        if kind in ("title", "table"):
            return True
        row = self.rows[r]
        if kind in ("field", "unit", "amount"):
            others = [c for c in dcols if c != header.cols["level1"] and c != header.cols.get("level2")]
            return all(row[c] == "" for c in others)
        if found != ("column", "level1"):       # a header row has 一级指标 in the 一级 column
            return False
        start = header.label_col if header.label_col is not None else header.left
        again = self.header_row(r, start, quiet=True)
        if again is None or len(again.cols) < max(2, len(header.cols) - 1):
            return False                        # a data row whose 一级 and 三级 read like labels
        if again.cols == header.cols:
            self.warn(r, header.cols["level1"], "重复的指标表头行，已跳过")
            return "repeated"
        return True

    def blank_out(self, r: int, level_cols: tuple, levels: tuple, dcols: tuple, values: tuple):
        """Cells holding only white space (non-breaking, full-width, zero-width) read as empty,
        each with a warning: never a phantom indicator row."""
        def clean(value, c):
            if c is not None and value.__class__ is str and value and not _stripped(value):
                self.warn(r, c, f"单元格只有空白字符（{_codepoints(value)}），按空读取")
                return ""
            return value
        v1, v2 = (clean(v, c) for v, c in zip(levels, level_cols))
        return v1, v2, tuple([clean(v, c) for v, c in zip(values, dcols)])

    # -- flat tables --------------------------------------------------------------------------
    def flat_table(self, table: _Table, r: int, col: int, declared: FlatTable) -> int:
        """Read a flat table whose label is at (r, col); return the first row after it.

        Its header row (the label's row, or the next) places the columns by their labels; rows
        follow until the 合计 row, a row with text in the label's column (the label is merged
        down beside its rows), or a row starting with another label of the form.
        """
        rows = self.rows
        table.flat[declared.key] = entries = []
        table.flat_read.add((r, col))
        header, cols = None, {}
        for hr in (r, r + 1):
            if hr < len(rows):
                cols = self.flat_header(hr, col, declared)
                if cols:
                    header = hr
                    break
        if header is None:
            self.warn(r, col, f"找到「{declared.label}」，但没有它的表头行（{'、'.join(c.label for c in declared.columns)}），"
                              "未读取")
            return r + 1
        table.flat_read.update((header, c) for c in cols.values())
        label_left = col < min(cols.values())
        for rr in range(header + 1, len(rows)):
            row = rows[rr]
            if label_left and row[col] != "":
                return rr
            first = next((c for c in range(min(cols.values()) if label_left else 0, len(row)) if row[c] != ""), None)
            if first is None:
                continue
            role = self.labels.label(row[first]) if row[first].__class__ is str else None
            if role is not None and role[0] == "total" and role[1] == declared.key:
                self.flat_total(table, rr, first, declared, cols, entries)
                return rr + 1
            if role is not None and role[0] in ("title", "field", "block", "table", "unit", "amount") \
                    or role == ("column", "level1"):
                return rr
            entry = Entry(where=_RowWhere(self.path, self.name, rr, cols))
            for key, c in cols.items():
                raw = self.usable(row[c], rr, c)
                column = declared.column(key)
                if raw == "":
                    continue
                if column.kind == "money":
                    entry.set(key, self.money(raw, rr, c, column.label))
                else:
                    entry.set(key, self.text(raw, rr, c, single=column.kind != "long_text"))
            if entry.values:
                entries.append(entry)
        return len(rows)

    def flat_header(self, r: int, start: int, declared: FlatTable) -> dict[str, int]:
        """The columns of a flat table's header row: {column key: sheet column}, by label."""
        cols: dict[str, int] = {}
        row = self.rows[r]
        roles = declared.column_roles
        for c in range(start, len(row)):
            value = row[c]
            if value.__class__ is str and value:
                key = roles.get(label_key(value))
                if key is not None:
                    cols.setdefault(key, c)
        return cols

    def flat_total(self, table: _Table, r: int, c: int, declared: FlatTable, cols: dict, entries: list):
        """The 合计 row: its sums are computed from the rows; a cell saying otherwise is named."""
        table.flat_read.add((r, c))
        row = self.rows[r]
        for column, key in declared.sums:
            at = cols.get(column)
            if at is None:
                continue
            table.cells[key] = (r, at)
            table.flat_read.add((r, at))
            shown, total = row[at], column_sum(entries, column)
            if shown == "":
                continue
            number = shown if shown.__class__ in (int, float) else parse_number(str(shown))
            if number is None or abs(number - total) > 0.005 + 1e-9 * abs(total):
                label = declared.column(column).label
                self.warn(r, at, f"{declared.total_label}（{label}）写的是「{short(str(shown))}」，各行之和为 "
                                 f"{normalise_number(total)}；perfxl 按各行计算合计，请核对")

    # -- finishing a table --------------------------------------------------------------------
    def finish(self, table: _Table) -> _Table:
        if table.header is None:
            if table.fields:
                self.warn(table.field_rows[0][0], 0, "找到表头字段，但下方没有指标表头行（一级指标、三级指标……），未读取")
            return _Table()
        self.spans.append((table.first if table.first is not None else table.header.row, table.last,
                           table.header.left, table.header.right))
        project = Project()
        project.where = _Where(self.path, self.name, table.cells)
        self.shared(table, project)
        for r, marks, below in table.field_rows:
            self.fields(project, table, r, marks, below)
        project.indicators = complete_tree(table.trees.get(MAIN_BLOCK, {}), self.form)
        for more in self.form.more_blocks:
            project.blocks[more.key] = complete_tree(table.trees.get(more.key, {}), self.form)
        for flat in self.form.tables:
            project.tables[flat.key] = table.flat.get(flat.key, [])
        self.unread_cells(table, project)
        self.out.append(project)
        return _Table()

    def unread_cells(self, table: _Table, project: Project):
        """Name, in a warning, every non-empty cell of the table's span that nothing read: not a
        value the project holds, not one of the form's labels, not already named in a warning;
        and every cell right of the table on its rows (perfxl's own check columns aside)."""
        first, last, left, right = self.spans[-1]
        read = set(table.cells.values()) | self.warned
        for header in table.headers:
            read.update((header.row, c) for c in header.cols.values())
            if header.label_col is not None:
                read.add((header.row, header.label_col))
        for r, marks, _ in table.field_rows:
            read.update((r, c) for c, _ in marks)
        read |= table.flat_read
        for entries in table.flat.values():
            for entry in entries:
                read.update((entry.where.row, c) for c in entry.where.cells.values())
        for block in table.trees:
            for _, _, item in project.rows(block):
                where = item.where
                if isinstance(where, _RowWhere):
                    read.update((where.row, c) for c in where.cells.values())
        groups = {label_key(g) for tree in table.trees.values() for l1, l2s in tree.items() for g in (l1, *l2s)}
        group_cols = {table.header.cols.get("level1"), table.header.cols.get("level2")}
        for r in range(first, min(last, len(self.rows) - 1) + 1):
            row = self.rows[r]
            for c in range(left, min(right + 1, len(row))):
                value = row[c]
                if value == "" or (r, c) in read:
                    continue
                if value.__class__ is str:
                    role = self.labels.label(value)
                    if role is not None and role[0] in ("block", "column", "field"):
                        continue                # the form's own words (a repeated header, a label)
                    if c in group_cols and label_key(value) in groups and any(a <= r < b for a, b in table.block_rows):
                        continue                # a 一级/二级 name repeated down its block's rows
                self.warn(r, c, f"未识别的内容「{short(str(value))}」，未读入")
            checks = self.form.check_cols
            for c in range(right + 1, len(row)):
                value = row[c]
                if value != "" and c not in checks and (r, c) not in read:
                    self.warn(r, c, f"表格右侧的内容「{short(str(value))}」不属于表格，未读入")

    def shared(self, table: _Table, project: Project):
        cells = table.cells
        if table.title:
            r, c, role = table.title
            year = (role[1] or "").strip()
            year = "" if year == self.form.blank_year else year
            project.year = int(year) if year.isdigit() else (year or None)
            cells["year"] = cells["project"] = (r, c)
            if table.year_line is not None:
                yr, yc, year = table.year_line
                project.year = int(year)
                cells["year"] = (yr, yc)
            if role[2] is not None:
                self.warn(r, c, f"标题「{short(role[2])}」与模板不同，年度按 {project.year} 读取")
        else:
            cells["project"] = (table.header.row, table.header.left)
        if table.unit:
            r, c, role = table.unit
            project.unit = self.text(role[1] or "", r, c, single=True)
            cells["unit"] = (r, c)
        if table.amount:
            r, c, amount = table.amount
            cells["amount_unit"] = (r, c)
            amount = (amount or "").strip()
            if amount in AMOUNT_UNITS:
                project.amount_unit = amount
            elif amount:
                self.warn(r, c, f"金额单位「{amount}」无效（可选：{'、'.join(AMOUNT_UNITS)}），按 {AMOUNT_UNITS[0]} 读取")

    def fields(self, project: Project, table: _Table, r: int, marks: list[tuple[int, str]], below: int | None):
        """The project fields named on one header/footer row: each label, then its value (beside
        it, or under it on row `below`, from the label's column to the next label's).

        Anything else on the row inside the table is named in a warning: it is not read.
        """
        at = r if below is None else below
        row = self.rows[at]
        end_col = min(table.header.right + 1, len(row))
        marks = [m for m in marks if m[0] < end_col] + [(end_col, None)]
        for (c, name), (end, _) in zip(marks, marks[1:]):
            first = c + 1 if below is None else c
            value_col = self.field(project, table, at, first, name, end, c) if name not in table.cells else None
            for col in range(first, end):
                if col != value_col and row[col] != "":
                    self.warn(at, col, f"「{short(str(row[col]))}」不属于任何字段，未读入")

    def values_below(self, r: int, marks: list[tuple[int, str]]) -> int | None:
        """The next row, when the values of row r's labels are written under them: nothing but
        labels on row r from its first label on, and on the next row text under the labels that
        is no label of the form (a blank form's next row of labels is not its values)."""
        if not marks or r + 1 >= len(self.rows):
            return None
        row, start = self.rows[r], marks[0][0]
        labels = {c for c, _ in marks}
        if any(row[c] != "" and c not in labels for c in range(start, len(row))):
            return None
        under = self.rows[r + 1]
        filled = [c for c in range(len(under)) if under[c] != ""]
        if not filled or filled[0] < start:
            return None
        label = self.labels.label
        if any(under[c].__class__ is str and label(under[c]) is not None for c in filled):
            return None
        return r + 1

    def field(self, project: Project, table: _Table, r: int, first: int, name: str, end: int, c: int) -> int:
        """Read the first non-empty cell of row r from column `first` before `end` (the label is at
        column c); its column."""
        row = self.rows[r]
        col = first
        while col < end and row[col] == "":
            col += 1
        raw = self.usable(row[col], r, col) if col < end else ""
        table.cells[name] = (r, col if col < end else min(c + self.labels.value_offsets.get(name, 1), end - 1))
        kind = self.labels.kinds.get(name)
        if kind == "money":
            project.set(name, self.money(raw, r, col, self.labels.field_names.get(name, name)))
        else:
            project.set(name, self.text(raw, r, col, single=kind != "long_text"))
        return col

    def money(self, raw, r: int, c: int, label: str):
        """A money field: a number; numeric text as its number (with a warning); else not read."""
        if raw == "":
            return None
        if raw.__class__ in (int, float):
            if not is_finite_number(raw):
                self.warn(r, c, f"{label}是无效的数字（{raw}），未读入")
                return None
            return normalise_number(raw)
        text = self.text(raw, r, c, single=True) or ""
        number = parse_number(text)
        if number is None:
            self.warn(r, c, f"{label}「{short(text)}」不是数字，未读入")
        else:
            self.warn(r, c, f"{label}是文本「{short(text)}」，按数字 {number} 读取")
        return number

    # -- cell values --------------------------------------------------------------------------
    def usable(self, raw, r: int, c: int | None):
        """A cell's value, or '' (with a warning) when the file holds no usable value for it."""
        reason = self.extras.unusable.get((r, c))
        if reason:
            self.warn(r, c, reason)
            return ""
        return raw

    def text(self, raw, r: int, c: int, single: bool) -> str | None:
        """A cell as text: numbers without '.0', ends stripped, line breaks dropped if single."""
        if raw == "":
            return None
        if raw.__class__ is not str:
            return self.non_text(raw, r, c)
        text = raw.strip()
        if text and (text[0] in ZERO_WIDTH or text[-1] in ZERO_WIDTH):
            text = _stripped(text)
        if text is raw and not (single and ("\n" in raw or "\r" in raw)):
            if len(raw) > MAX_CELL_TEXT:
                self.warn(r, c, f"有 {len(raw)} 个字符，超过 Excel 单元格上限 {MAX_CELL_TEXT}；"
                                "照原样读入，但无法再写成 .xlsx，请缩短")
            return raw
        if single:
            text = LINE_BREAKS.sub("", text)
        if text:
            self.warn(r, c, f"去掉了多余的空白或换行：「{short(raw)}」→「{short(text)}」")
        else:
            self.warn(r, c, f"单元格只有空白字符（{_codepoints(raw)}），按空读取")
        return text or None

    def non_text(self, raw, r: int, c: int) -> str | None:
        if raw.__class__ in (int, float):
            if not is_finite_number(raw):
                self.warn(r, c, f"单元格是无效的数字（{raw}），未读入")
                return None
            if self.extras.percent and (r, c) in self.extras.percent:
                shown = f"{percent_shown(raw)}%"     # typed 95%: stored 0.95
                self.warn(r, c, f"单元格是百分比格式（存 {normalise_number(raw)}，显示 {shown}），按「{shown}」读取")
                return shown
            return str(normalise_number(raw))
        if isinstance(raw, bool):
            text = "TRUE" if raw else "FALSE"
        elif isinstance(raw, (datetime.datetime, datetime.date, datetime.time)):
            text = raw.isoformat()
        else:
            text = str(raw)
        self.warn(r, c, f"单元格不是文字（{type(raw).__name__}），按「{text}」读取")
        return text


ZERO_WIDTH = "\u200b\u200c\u200d\u2060\ufeff"
BLANK_TEXT = re.compile(f"[\\s{ZERO_WIDTH}]+")
EDGE_BLANKS = re.compile(f"^[\\s{ZERO_WIDTH}]+|[\\s{ZERO_WIDTH}]+$")


def _stripped(text: str) -> str:
    """White space, zero-width spaces and byte-order marks off both ends."""
    return EDGE_BLANKS.sub("", text)


def blanks(values) -> bool:
    """Whether some value is a non-empty text of white space only (cheap for ordinary cells)."""
    for v in values:
        if v.__class__ is str and v and (v[0].isspace() or v[0] in ZERO_WIDTH) and BLANK_TEXT.fullmatch(v):
            return True
    return False


def _codepoints(text: str) -> str:
    shown = " ".join(f"U+{ord(ch):04X}" for ch in text[:4])
    return shown + (" …" if len(text) > 4 else "")


class _Groups:
    """The 一级/二级 state while walking an indicator block: merged, repeated or blank-as-above."""

    def __init__(self, sheet: _Sheet, table: _Table, header: _Header):
        self.sheet = sheet
        self.table = table
        self.tree = table.trees.setdefault(header.block, {})
        self.prefix = block_prefix(header.block)
        self.form = sheet.form
        self.cols = header.cols
        common = tuple(k for k in INDICATOR_KEYS if k in header.cols)
        # the form's other columns (指标解释, 评(扣)分标准 …), read as text, after the common ones
        self.extra_keys = tuple(c.key for c in self.form.columns[2:]
                                if c.key not in INDICATOR_KEYS and c.key in header.cols)
        self.keys = common + self.extra_keys
        self.n_common = len(common)
        self.dcols = tuple(header.cols[k] for k in self.keys)
        self.row_cols = dict(zip(self.keys, self.dcols))
        self.full_cols = tuple(header.cols.get(k) for k in INDICATOR_KEYS)
        self.index = tuple(common.index(k) if k in common else None for k in INDICATOR_KEYS)
        self.missing = len(common) < len(INDICATOR_KEYS)
        self.blank = ("",) * len(self.keys)
        self.level1: str | None = None
        self.level2: str | None = None

    def row(self, r: int, v1, v2, values: tuple):
        cols = self.cols
        new1 = self.sheet.text(v1, r, cols["level1"], single=True) if v1 != "" else None
        new2 = self.sheet.text(v2, r, cols["level2"], single=True) if v2 != "" else None
        if new1 is not None and new1 != self.level1:
            self.level1, self.level2 = new1, None
            self.table.cells.setdefault(f"{self.prefix}l1:{new1}", (r, cols["level1"]))
        if new2 is not None:
            self.level2 = new2
        if values == self.blank:
            if new1 is not None or new2 is not None:
                self.under_level1(r)
                self.group(r)
            return
        self.under_level1(r)
        if self.level2 is None:
            self.level2 = ""
            if "level2" in cols:
                self.sheet.warn(r, cols["level2"], "指标行没有二级指标，归入空白的二级指标")
        extra = values[self.n_common:]
        values = values[:self.n_common]
        if self.missing:
            values = tuple([values[i] if i is not None else "" for i in self.index])
        item = self.indicator(r, values)
        for key, raw in zip(self.extra_keys, extra):
            if raw != "":
                item.set(key, self.sheet.text(raw, r, self.row_cols[key], False))
        self.group(r).append(item)

    def under_level1(self, r: int):
        """A row with nothing above it in the 一级 column goes under an empty 一级, with a warning."""
        if self.level1 is None:
            self.level1 = ""
            self.sheet.warn(r, self.cols["level1"], "这一行上方没有一级指标，归入空白的一级指标")

    def group(self, r: int) -> list:
        """The rows of the current 二级 (created, and located, on first sight)."""
        groups = self.tree.setdefault(self.level1, {})
        if self.level2 is None:
            return []
        rows = groups.get(self.level2)
        if rows is None:
            rows = groups[self.level2] = []
            if "level2" in self.cols:
                self.table.cells.setdefault(f"{self.prefix}l2:{self.level1}/{self.level2}", (r, self.cols["level2"]))
        return rows

    def indicator(self, r: int, values: tuple) -> Indicator:
        """One 三级 row; `values` in the order of INDICATOR_KEYS, '' for a missing column."""
        text, (cn, ct, cv, cc, cu, co) = self.sheet.text, self.full_cols
        name, value_type, value, content, unit, note = values
        item = Indicator(
            text(name, r, cn, True) or "" if name != "" else "",
            content=text(content, r, cc, False) if content != "" else None,
            unit=text(unit, r, cu, True) if unit != "" else None,
            note=text(note, r, co, False) if note != "" else None)
        if item.name and item.name[0] in STARS and item.name.lstrip(STARS + " "):
            marked, item.name = item.name, item.name.lstrip(STARS + " ")
            self.sheet.warn(r, cn, f"三级指标「{short(marked)}」前的 ★ 是核心指标的标记，名称按「{short(item.name)}」读取")
        if value_type != "":
            item.type = self.value_type(value_type, r, ct)
        if value != "":
            self.value(item, value, r, cv)
        if not item.name:
            self.sheet.warn(r, cn, "这一行填了内容，但三级指标名称为空；请补填名称")
        item.where = _RowWhere(self.sheet.path, self.sheet.name, r, self.row_cols)
        return item

    def value_type(self, raw, r: int, c: int) -> str | None:
        text = raw.strip() if raw.__class__ is str else self.sheet.non_text(raw, r, c)
        canonical = self.sheet.labels.value_type(text)
        if canonical is None:
            choices = " ".join(self.form.value_types)
            self.sheet.warn(r, c, f"指标值类型「{short(text)}」无法识别（可选 {choices}），未读入")
        elif canonical != raw:
            self.sheet.warn(r, c, f"指标值类型「{short(text)}」按「{canonical}」读取")
        return canonical

    def value(self, item: Indicator, raw, r: int, c: int):
        """指标值: numbers as they are, percent cells ×100, numeric text as numbers ('95%' too)."""
        sheet = self.sheet
        if raw.__class__ in (int, float) and not is_finite_number(raw):
            sheet.warn(r, c, f"指标值是无效的数字（{raw}），未读入")
            return
        if raw.__class__ in (int, float):
            item.value = normalise_number(raw)
            if sheet.extras.percent and (r, c) in sheet.extras.percent:
                self.percent(item, raw, r, c)
            elif not sheet.extras.formats_known and item.unit == "%" and 0 < abs(raw) <= 1:
                shown = percent_shown(raw)
                sheet.warn(r, c, f"指标值 {item.value} 以 % 为单位：若单元格显示为 {shown}%，应为 {shown}"
                                 "（.xls 文件里的百分比格式读不出），请核实")
            return
        if raw.__class__ is not str:
            item.value = sheet.non_text(raw, r, c)
            return
        item.value = text = sheet.text(raw, r, c, single=True)
        if text is None or item.type == self.form.qualitative:
            return
        number = parse_number(text)
        if number is not None:
            item.value = number
            sheet.warn(r, c, f"指标值是文本「{short(text)}」，按数字 {number} 读取")
            return
        if "type" not in self.form.col:
            return                  # a form whose 指标值 holds the comparison too: '≥95%' as written
        compared = COMPARED.fullmatch(unicodedata.normalize("NFKC", text))
        op = self.sheet.labels.value_type(compared.group("op")) if compared else None
        if op is not None and self.form.is_quantitative(op):
            self.compared(item, text, op, compared.group("rest"), r, c)
        elif self.form.is_quantitative(item.type):
            self.glued(item, text, r, c)

    def compared(self, item: Indicator, text: str, op: str, rest: str, r: int, c: int):
        """'≥95%' → 指标值类型 ≥, 指标值 95, 度量单位 %: only where the type cell is empty or says
        the same, and the unit cell is empty or says the same; else the text stays as typed (and
        perfxl check reports a quantitative value that is no number)."""
        if item.type is not None and item.type != op:
            return
        number = parse_number(rest)
        unit = None
        if number is None:
            split = _glued(rest)
            if split is None:
                return
            number, unit = split
        if unit and item.unit and unicodedata.normalize("NFKC", item.unit) != unit:
            self.sheet.warn(r, c, f"指标值「{short(text)}」带的单位与度量单位「{item.unit}」不一致，按原文保留")
            return
        parts = [] if item.type is not None else [f"指标值类型 {op}"]
        item.type, item.value = op, number
        parts.append(f"指标值 {number}")
        if unit and not item.unit:
            item.unit = unit
            parts.append(f"度量单位 {unit}")
        self.sheet.warn(r, c, f"指标值「{short(text)}」拆分为{'、'.join(parts)}")

    def percent(self, item: Indicator, raw: float, r: int, c: int):
        item.value = percent_shown(raw)
        message = f"单元格是百分比格式（存 {raw}，显示 {item.value}%），按 {item.value} 读取"
        if not item.unit:
            item.unit = "%"
            message += "，度量单位补为 %"
        self.sheet.warn(r, c, message)

    def glued(self, item: Indicator, text: str, r: int, c: int):
        """'95%' → 95 with unit %, when the unit cell is empty or says the same."""
        split = _glued(unicodedata.normalize("NFKC", text))
        if split is None:
            return
        number, unit = split
        if item.unit and unicodedata.normalize("NFKC", item.unit) != unit:
            self.sheet.warn(r, c, f"指标值「{short(text)}」带的单位与度量单位「{item.unit}」不一致，按原文保留")
            return
        item.value = number
        message = f"指标值「{short(text)}」按数字 {number} 读取"
        if not item.unit:
            item.unit = unit
            message += f"，度量单位补为 {unit}"
        self.sheet.warn(r, c, message)
