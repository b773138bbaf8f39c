"""The form template: one YAML description of a form variant (templates/, or an office's own).

Everything about the form's words, geometry and review rules comes from here: the writer, the
blank form and the reader derive their layout from a Template, the spec loader its value types,
and `perfxl check` and the live formulas its rules. Files are found and checked by
perfxl.formfile; one-line texts are format strings ({year}); the 填表说明 text is Jinja2 run in
its sandbox, so a form file shared between offices cannot run code.
"""
from __future__ import annotations

import functools
import re
import string
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from .errors import Location, TemplateError
from .formfile import FormData, col_index, col_letter, find_form, load_checked, shipped_dir  # noqa: F401 (col_letter: re-exported)

DEFAULT_TEMPLATE = "project-expenditure"
MAIN_BLOCK = "indicators"
DEFAULT_REVIEW_SHEET = "审核意见"      # a form without `review_sheet`: the sheet of findings in 退回 files


def col_span(cols: str) -> tuple[int, int]:
    """'B:I' → (1, 8); 'A' → (0, 0)."""
    first, _, last = str(cols).partition(":")
    return col_index(first), col_index(last or first)


def label_key(text: object) -> str:
    """How labels compare: NFKC, no white space, no colon. '项目 名称：' matches '项目名称'."""
    text = unicodedata.normalize("NFKC", str(text))
    return re.sub(r"[\s:：*＊]", "", text)


@dataclass(frozen=True)
class Cell:
    """A cell of a header or footer row: a fixed label, or a project field."""

    first: int
    last: int
    label: str | None = None
    field: str | None = None
    kind: str = "text"          # text | money | long_text
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class Block:
    """An indicator block beyond the main one: its spec key, label and where it is drawn."""

    key: str
    label: str
    aliases: tuple[str, ...] = ()
    place: str = "after"


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    col: int
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlatColumn:
    """A column of a flat table, spanning sheet columns first..last."""

    key: str
    label: str
    first: int
    last: int
    kind: str = "text"          # text | money | long_text
    aliases: tuple[str, ...] = ()


@dataclass(frozen=True)
class FlatTable:
    """A table of plain rows (年度主要任务, 项目实施进度计划): its spec key, label, columns, where it
    is drawn, and an optional 合计 row whose sums are fields the rules can name (`sums`)."""

    key: str
    label: str
    label_col: int
    columns: tuple[FlatColumn, ...]
    aliases: tuple[str, ...] = ()
    place: str = "before"                   # before the indicator blocks, or after them
    after_header_row: int | None = None     # place before: after this many header rows (None: all)
    blank_rows: int = 3
    total_label: str | None = None
    total_aliases: tuple[str, ...] = ()
    sums: tuple[tuple[str, str], ...] = ()  # (column key, the sum's field key)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(c.key for c in self.columns)

    def column(self, key: str) -> FlatColumn:
        return next(c for c in self.columns if c.key == key)

    @functools.cached_property
    def column_roles(self) -> dict[str, str]:
        """The table's column labels by label_key → column key."""
        roles: dict[str, str] = {}
        for c in self.columns:
            for text in (c.label, *c.aliases):
                roles.setdefault(label_key(text), c.key)
        return roles


class Template:
    """A parsed, checked form."""

    def __init__(self, name: str, form: FormData):
        data = form.data
        self.name = name
        self.source = form.path
        self.form: str = data["form"]
        self.version: str = str(data.get("version", ""))
        self._title = data["title"]
        self._unit_line = data["unit_line"]
        self._amount_unit_line = data["amount_unit_line"]
        self.amount_unit_words = tuple(data.get("amount_unit_words", ()))
        self.instructions_name: str = data["instructions"]
        self._instructions_dir = Path(form.files.get(("instructions",), form.path)).parent
        self.blank_year: str = data.get("blank_year", "")
        self.instructions_sheet: str = data["instructions_sheet"]
        self.review_sheet: str = data.get("review_sheet", DEFAULT_REVIEW_SHEET)    # in the 退回 files
        self._project_sheet = data["project_sheet"]
        # what rosters and summaries call year, unit and amount_unit (first word shown)
        self.shared_labels: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in (data.get("shared_labels") or {}).items()}
        self.widths = {col_index(k): float(v) for k, v in data["columns"].items()}
        self.ncols = max(self.widths) + 1
        self.unit_line_cols = col_span(data["unit_line_cols"])
        self.amount_unit_line_cols = col_span(data["amount_unit_line_cols"])
        self.header = [self._row(r) for r in data["header"]]
        self.footer = [self._row(r) for r in data["footer"]]
        block = data["indicators"]
        self.block_label: str = block["label"]
        self.block_aliases = tuple(block.get("aliases", ()))
        self.block_label_col = col_index(block["label_col"])
        self.columns = [
            Column(c["key"], c["label"], col_index(c["col"]), tuple(c.get("aliases", ())))
            for c in block["columns"]
        ]
        self.col = {c.key: c.col for c in self.columns}
        self.field_keys = tuple(c.field for c in self.fields())          # every field the form draws
        self.field_kinds = {c.field: c.kind for c in self.fields()}
        self.row_keys = tuple(c.key for c in self.columns[2:])           # an indicator row's columns
        # further indicator blocks with the same columns (中期绩效指标 beside 年度绩效指标)
        self.more_blocks = tuple(Block(b["key"], b["label"], tuple(b.get("aliases", ())), b.get("place", "after"))
                                 for b in data.get("more_blocks") or ())
        self.tables = tuple(self._table(t) for t in data.get("tables") or ())
        self.sum_fields = {field_key: (table.key, column) for table in self.tables for column, field_key in table.sums}
        self.skeleton: dict[str, list[str]] = {k: list(v) for k, v in data["skeleton"].items()}
        types = data["value_types"]
        self.quantitative: list[str] = list(types["quantitative"])
        self.qualitative: str = types["qualitative"]
        self.value_types = self.quantitative + [self.qualitative]
        self._type_aliases = {label_key(k): v for k, v in types.get("aliases", {}).items()}
        self._type_aliases.update({label_key(t): t for t in self.value_types})
        self.print = data["print"]
        checks = data["checks"]
        self.mark_col = col_index(checks["mark_col"])
        self.count_col = col_index(checks["count_col"])
        # hidden: 指标值 and 度量单位 as perfxl reads a typed percentage (95% → 95, unit %)
        self.typed_cols = {k: col_index(checks[f"{k}_col"]) for k in ("value", "unit", "rest") if f"{k}_col" in checks}
        self.check_cols = (self.mark_col, self.count_col, *self.typed_cols.values())
        self.checks = checks
        self.validation = data["validation"]
        self.styles = data["styles"]
        from .ruleload import build_rules

        self.rules = build_rules(self, form)

    @functools.cached_property
    def label_roles(self) -> dict[str, tuple]:
        """Every label of the form by its label_key: ('field', key), ('block',) for the main
        indicator block, ('block', key) for a further one, ('table', key) for a flat table and
        ('total', key) for its 合计 row, ('column', key) for an indicator column."""
        roles: dict[str, tuple] = {}
        for field_name, label in self.field_labels().items():
            for text in (label.label, *label.aliases):
                roles.setdefault(label_key(text), ("field", field_name))
        for text in (self.block_label, *self.block_aliases):
            roles[label_key(text)] = ("block",)
        for more in self.more_blocks:
            for text in (more.label, *more.aliases):
                roles[label_key(text)] = ("block", more.key)
        for table in self.tables:
            for text in (table.label, *table.aliases):
                roles[label_key(text)] = ("table", table.key)
            for text in (table.total_label, *table.total_aliases) if table.total_label else ():
                roles.setdefault(label_key(text), ("total", table.key))
        for column in self.columns:
            for text in (column.label, *column.aliases):
                roles.setdefault(label_key(text), ("column", column.key))
        return roles

    def key_label(self, key: str) -> str:
        """What a roster or a summary calls a field: its label on the form, a shared label, else the key."""
        cell = self.field_labels().get(key)
        if cell is not None:
            return cell.label
        return (self.shared_labels.get(key) or (key,))[0]

    def blocks(self) -> list[tuple[str, str]]:
        """(key, label) of every indicator block in drawing order; the main one is "indicators"."""
        before = [(b.key, b.label) for b in self.more_blocks if b.place == "before"]
        after = [(b.key, b.label) for b in self.more_blocks if b.place == "after"]
        return [*before, (MAIN_BLOCK, self.block_label), *after]

    @functools.cached_property
    def parts(self) -> tuple[tuple, ...]:
        """The parts of a table in drawing order, for the layout and for `perfxl check` alike:
        ("fields", header or footer rows), ("table", FlatTable), ("block", key, label)."""
        out: list[tuple] = []
        drawn = 0
        for table in self.tables:
            if table.place == "before" and table.after_header_row is not None:
                out.append(("fields", self.header[drawn:table.after_header_row]))
                drawn = max(drawn, table.after_header_row)
                out.append(("table", table))
        out.append(("fields", self.header[drawn:]))
        out += [("table", t) for t in self.tables if t.place == "before" and t.after_header_row is None]
        out += [("block", key, label) for key, label in self.blocks()]
        out += [("table", t) for t in self.tables if t.place == "after"]
        out.append(("fields", self.footer))
        return tuple(out)

    def live_rules(self, scope: str) -> list:
        """The rules of a scope that carry a formula (field, row, group), in form order."""
        return self._live.get(scope, [])

    @functools.cached_property
    def _live(self) -> dict:
        out: dict[str, list] = {}
        for rule in self.rules:
            if rule.test is not None:
                out.setdefault(rule.scope, []).append(rule)
        return out

    @staticmethod
    def _table(t: dict) -> FlatTable:
        columns = tuple(FlatColumn(c["key"], c["label"], *col_span(c["cols"]), c.get("kind", "text"),
                                   tuple(c.get("aliases", ()))) for c in t["columns"])
        total = t.get("total") or {}
        return FlatTable(t["key"], t["label"], col_index(t["label_col"]), columns, tuple(t.get("aliases", ())),
                         t.get("place", "before"), t.get("after_header_row"), t.get("blank_rows", 3),
                         total.get("label"), tuple(total.get("aliases", ())), tuple((total.get("sums") or {}).items()))

    def table(self, key: str) -> FlatTable:
        return next(t for t in self.tables if t.key == key)

    @staticmethod
    def _row(cells: list[dict]) -> list[Cell]:
        out = []
        for c in cells:
            first, last = col_span(c["cols"])
            out.append(Cell(first, last, c.get("label"), c.get("field"), c.get("kind", "text"),
                            tuple(c.get("aliases", ()))))
        return out

    # -- text ---------------------------------------------------------------------------
    def title(self, **ctx) -> str:
        return _fill(self._title, ctx)

    def unit_line(self, **ctx) -> str:
        return _fill(self._unit_line, ctx)

    def amount_unit_line(self, **ctx) -> str:
        return _fill(self._amount_unit_line, ctx)

    def project_sheet(self, n: int) -> str:
        return _fill(self._project_sheet, {"n": n})

    def instructions(self, **ctx) -> str:
        """The 填表说明 text: the form's Jinja2 file, run in Jinja2's immutable sandbox."""
        import jinja2
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        folder = self._instructions_dir if (self._instructions_dir / self.instructions_name).is_file() else shipped_dir()
        env = ImmutableSandboxedEnvironment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=False,
                                            keep_trailing_newline=True)
        try:
            return env.get_template(self.instructions_name).render(template=self, **ctx)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"填表说明模板语法错误：{exc.message}",
                                Location(str(folder / self.instructions_name), exc.lineno)) from None
        except jinja2.TemplateNotFound:
            raise TemplateError(f'找不到填表说明文件 "{self.instructions_name}"', self.source) from None
        except (jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError) as exc:
            raise TemplateError(f"填表说明模板无法生成：{exc}", str(folder / self.instructions_name)) from None

    def title_pattern(self) -> re.Pattern:
        """A regex for a rendered title, capturing the year: '2025年项目支出绩效目标表'."""
        marker = "\x00YEAR\x00"
        text = re.escape(label_key(self.title(year=marker)))
        return re.compile("^" + text.replace(re.escape(label_key(marker)), r"(?P<year>.*?)") + "$")

    # -- value types --------------------------------------------------------------------
    def normalise_type(self, text: object) -> str | None:
        """The canonical 指标值类型 for what a user typed, or None when it is not one."""
        return self._type_aliases.get(label_key(text))

    def is_quantitative(self, value_type: str | None) -> bool:
        return value_type in self.quantitative

    # -- layout helpers -----------------------------------------------------------------
    def fields(self) -> list[Cell]:
        return [c for row in self.header + self.footer for c in row if c.field]

    def field_labels(self) -> dict[str, Cell]:
        """Each project field → the label cell that names it (the cell just before it)."""
        out = {}
        for row in self.header + self.footer:
            for label, value in zip(row, row[1:]):
                if label.label and value.field:
                    out[value.field] = label
        return out


def form_of(spec, project=None) -> Template:
    """The form a Spec is on, or one of its projects: the one its loader found (a path is
    relative to the spec), else by name."""
    if project is not None and project.template:
        return project.form if project.form is not None else load_template(project.template)
    return spec.form if spec.form is not None else load_template(spec.template)


def _fill(text: str, values: dict) -> str:
    """A one-line text's {placeholders} filled (checked at load: only offered names, no format specs)."""
    return string.Formatter().vformat(text, (), values)



def load_template(name: str = DEFAULT_TEMPLATE, forms: tuple[str, ...] = (), base: str | None = None) -> Template:
    """The form `name` (a form name found in `forms` dirs, $PERFXL_FORMS, ./forms or the shipped
    forms; or a .yaml path, relative to `base`). Raises TemplateError naming file:line."""
    path = find_form(name, tuple(forms), base)
    info = path.stat()
    return _load(str(path.resolve()), info.st_mtime_ns, info.st_size, tuple(forms))


@functools.lru_cache(maxsize=64)
def _load(path: str, mtime: int, size: int, forms: tuple[str, ...]) -> Template:
    """Keyed by the file's identity and time: an edited form file is read again."""
    return Template(Path(path).stem, load_checked(Path(path), forms))
