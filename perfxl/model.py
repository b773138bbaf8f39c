"""The plain objects a spec describes: a spec holds projects (records of a form); a project holds
its fields, indicator trees (one per block) and the rows of the form's flat tables.

Parsing, reading and checking produce and consume these; nothing here knows about files.
Locations (YAML line or sheet!cell) ride along for messages but never take part in equality.
A form may declare fields and indicator columns beyond the common ones: their values live in
`extra`, and `get`/`set` reach every field by its key alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Location

Number = int | float
Value = Number | str | None

INDICATOR_KEYS = ("name", "type", "value", "content", "unit", "note")
PROJECT_KEYS = ("name", "category", "budget", "period", "goal", "basis")
SHARED_KEYS = ("year", "unit", "amount_unit")
OWN_KEYS = PROJECT_KEYS + SHARED_KEYS


def block_prefix(block: str) -> str:
    """Where-keys of a further block's groups start with its key ('mid_indicators:l1:产出指标')."""
    return "" if block == "indicators" else f"{block}:"


def _get(record, key: str) -> Value:
    """A field by its key: a common one (record.OWN) or one of the form's others (record.extra)."""
    return getattr(record, key) if key in record.OWN else record.extra.get(key)


def _set(record, key: str, value: Value) -> None:
    if key in record.OWN:
        setattr(record, key, value)
    elif value is None:
        record.extra.pop(key, None)
    else:
        record.extra[key] = value


@dataclass
class Indicator:
    """One 三级 indicator row."""

    name: str
    type: str | None = None
    value: Value = None
    content: str | None = None
    unit: str | None = None
    note: str | None = None
    extra: dict[str, Value] = field(default_factory=dict)    # the form's other columns
    where: dict[str, Location] = field(default_factory=dict, compare=False, repr=False)

    get, set = _get, _set
    OWN = INDICATOR_KEYS

    def to_dict(self) -> dict:
        out: dict = {"name": self.name}
        for key in INDICATOR_KEYS[1:]:
            value = getattr(self, key)
            if value is not None and value != "":
                out[key] = value
        out.update((k, v) for k, v in self.extra.items() if v is not None and v != "")
        return out


@dataclass
class Entry:
    """One row of a flat table (年度主要任务, 项目实施进度计划): its values by the form's column keys."""

    values: dict[str, Value] = field(default_factory=dict)
    where: dict[str, Location] = field(default_factory=dict, compare=False, repr=False)

    def get(self, key: str) -> Value:
        return self.values.get(key)

    def set(self, key: str, value: Value) -> None:
        if value is None:
            self.values.pop(key, None)
        else:
            self.values[key] = value

    def to_dict(self) -> dict:
        return {k: v for k, v in self.values.items() if v is not None and v != ""}


# 一级 → 二级 → rows, in drawing order (dicts keep insertion order).
IndicatorTree = dict[str, dict[str, list[Indicator]]]


@dataclass
class Project:
    """One record of a form (a 项目支出绩效目标表, a 部门整体支出绩效目标表 …). year/unit/amount_unit
    are resolved (spec default or own value). `template` names the project's own form where it
    differs from its spec's (a workbook holding tables of several forms); `form` is that form, loaded.
    """

    name: str | None = None
    category: str | None = None
    budget: Number | None = None
    period: str | None = None
    goal: str | None = None
    basis: str | None = None
    year: int | str | None = None
    unit: str | None = None
    amount_unit: str = "元"
    indicators: IndicatorTree = field(default_factory=dict)
    blocks: dict[str, IndicatorTree] = field(default_factory=dict)   # the form's further blocks
    tables: dict[str, list[Entry]] = field(default_factory=dict)     # the form's flat tables
    extra: dict[str, Value] = field(default_factory=dict)    # the form's other fields
    where: dict[str, Location] = field(default_factory=dict, compare=False, repr=False)
    template: str | None = None                             # its own form, when not the spec's
    form: object = field(default=None, compare=False, repr=False)   # that form's Template, loaded

    get, set = _get, _set
    OWN = OWN_KEYS

    def tree(self, block: str = "indicators") -> IndicatorTree:
        """The indicator tree of a block ("indicators": the main one)."""
        return self.indicators if block == "indicators" else self.blocks.get(block, {})

    def rows(self, block: str = "indicators"):
        """Yield (level1, level2, indicator) for every 三级 row of a block, in order."""
        for level1, groups in self.tree(block).items():
            for level2, items in groups.items():
                for item in items:
                    yield level1, level2, item

    def to_dict(self) -> dict:
        out: dict = {}
        for key in PROJECT_KEYS:
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        out.update((k, v) for k, v in self.extra.items() if v is not None)
        for key, entries in self.tables.items():
            if entries:
                out[key] = [e.to_dict() for e in entries]
        for key, tree in (("indicators", self.indicators), *self.blocks.items()):
            out[key] = {
                l1: {l2: [i.to_dict() for i in items] for l2, items in groups.items()}
                for l1, groups in tree.items()
            }
        return out


@dataclass
class Spec:
    """A set of projects on a form (`template`; a project may name its own)."""

    projects: list[Project]
    template: str = "project-expenditure"
    source: str | None = field(default=None, compare=False)
    form: object = field(default=None, compare=False, repr=False)   # the loaded Template, when known

    def to_dict(self) -> dict:
        """The spec format: shared year/unit/amount_unit on top where all projects agree."""
        out = self.top_dict()
        out["projects"] = list(self.project_dicts(out))
        return out

    def top_dict(self) -> dict:
        """What to_dict puts above `projects`: the shared values and the form."""
        out: dict = {}
        for key in SHARED_KEYS:
            values = {getattr(p, key) for p in self.projects}
            if len(values) == 1 and None not in values:
                out[key] = values.pop()
        out["template"] = self.template
        return out

    def project_dicts(self, top: dict):
        """Each project as to_dict lists it under `top` (made one at a time, as they are written)."""
        for project in self.projects:
            item = {"template": project.template} if project.template else {}
            for key in SHARED_KEYS:
                value = getattr(project, key)
                if key not in top and value is not None:
                    item[key] = value
            item.update(project.to_dict())
            yield item
