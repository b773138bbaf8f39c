"""The form template: one YAML description of a form variant under templates/.

Everything about the form's words and geometry comes from here: the writer, the blank form
and the reader derive their layout from a Template, and the spec loader its value types.
"""
from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from importlib import resources

import jinja2
import yaml

from .errors import PerfxlError

DEFAULT_TEMPLATE = "project-expenditure"


def col_index(letter: str) -> int:
    """'A' → 0, 'I' → 8, 'AA' → 26."""
    n = 0
    for ch in letter.strip().upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letter(index: int) -> str:
    out = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


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
class Column:
    key: str
    label: str
    col: int
    aliases: tuple[str, ...] = ()


class Template:
    """A parsed form template."""

    def __init__(self, name: str, data: dict, loader: jinja2.BaseLoader):
        self.name = name
        self.form: str = data["form"]
        self._env = jinja2.Environment(loader=loader, autoescape=False, keep_trailing_newline=True)
        self._title = self._env.from_string(data["title"])
        self._unit_line = self._env.from_string(data["unit_line"])
        self._amount_unit_line = self._env.from_string(data["amount_unit_line"])
        self.instructions_name: str = data["instructions"]
        self.blank_year: str = data.get("blank_year", "")
        self.instructions_sheet: str = data["instructions_sheet"]
        self._project_sheet = self._env.from_string(data["project_sheet"])
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
        self.skeleton: dict[str, list[str]] = {k: list(v) for k, v in data["skeleton"].items()}
        types = data["value_types"]
        self.quantitative: list[str] = list(types["quantitative"])
        self.qualitative: str = types["qualitative"]
        self.value_types = self.quantitative + [self.qualitative]
        self._type_aliases = {label_key(k): v for k, v in types["aliases"].items()}
        self._type_aliases.update({label_key(t): t for t in self.value_types})
        self.print = data["print"]
        checks = data["checks"]
        self.mark_col = col_index(checks["mark_col"])
        self.count_col = col_index(checks["count_col"])
        self.checks = checks
        self.validation = data["validation"]
        self.styles = data["styles"]

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
        return self._title.render(**ctx)

    def unit_line(self, **ctx) -> str:
        return self._unit_line.render(**ctx)

    def amount_unit_line(self, **ctx) -> str:
        return self._amount_unit_line.render(**ctx)

    def project_sheet(self, n: int) -> str:
        return self._project_sheet.render(n=n)

    def instructions(self, **ctx) -> str:
        return self._env.get_template(self.instructions_name).render(template=self, **ctx)

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


@functools.lru_cache(maxsize=None)
def load_template(name: str = DEFAULT_TEMPLATE) -> Template:
    """Load templates/<name>.yaml (shipped as the perfxl.templates package)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or ""):
        raise PerfxlError(f'模板名 "{name}" 无效')
    package = resources.files("perfxl.templates")
    path = package / f"{name}.yaml"
    if not path.is_file():
        known = sorted(p.name[:-5] for p in package.iterdir() if p.name.endswith(".yaml"))
        raise PerfxlError(f'未知模板 "{name}"；可选：{"、".join(known)}')
    # libyaml's loader where PyYAML has it: the template costs ~3 ms instead of ~30 ms per process
    data = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    loader = jinja2.FunctionLoader(
        lambda n: (package / n).read_text(encoding="utf-8") if (package / n).is_file() else None
    )
    return Template(name, data, loader)
