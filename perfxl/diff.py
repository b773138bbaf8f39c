"""`perfxl diff`: what changed between two specs or workbooks, project by project.

Projects are matched by 填报单位 and 项目名称 (by 项目名称 alone where the 填报单位 differs, as when a
unit was renamed, and the name is left once on each side; the 填报单位 is then a changed field), indicator rows by block, 一级, 二级 and 三级 name (the n-th row of a name
with the n-th), flat-table rows by their first column. A change names the field or column by
the form's label: `产出指标/数量指标/铁路运输业务重箱量: 指标值 80000 → 90000`.

Two readings of a diff an office asks for:
- `sent`: NEW came back for OLD as sent (OLD's projects of the units NEW holds: one unit's return
  compares with what that unit was sent). A field or row the office filled in and the unit
  changed or removed is flagged (⚠); what the unit filled into empty places is listed unflagged.
- `last_year`: NEW is this year, OLD last year. Flagged: a target lowered on a ≥/> row or raised on
  a ≤/< row, an indicator dropped, a long text (a goal) copied word for word, and amounts with
  their change in percent.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from .errors import short
from .model import SHARED_KEYS, Project, Spec
from .template import MAIN_BLOCK, Template, form_of

WAN = 10000
LOWER_BOUNDS = ("≥", ">")       # a target the result must reach: lowering it is easier
UPPER_BOUNDS = ("≤", "<")


@dataclass(frozen=True)
class Change:
    """One difference. kind: added | removed | changed, or copied (a long text the same as last
    year's, pointed out); what: project | field | indicator | entry."""

    project: str | None
    unit: str | None
    kind: str
    what: str
    path: str = ""              # 一级/二级/三级, or the table and row, or the field's label
    column: str = ""            # the label of the changed column or field
    old: object = None
    new: object = None
    flag: str = ""              # why a reading of the diff points this out ("" : nothing to flag)

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v not in ("", None)}

    def __str__(self) -> str:
        head = f"项目「{self.project or ''}」" + (f"（{self.unit}）" if self.unit else "")
        mark = f"⚠ {self.flag}：" if self.flag else ""
        if self.what == "project":
            return f"{head}：{mark}{'新增的项目' if self.kind == 'added' else '删除的项目'}"
        if self.kind == "copied":
            return f"{head}：{mark}{self.column}"
        if self.kind == "changed":
            where = f"{self.path}: " if self.path and self.path != self.column else ""
            return f"{head}：{mark}{where}{self.column} {_show(self.old)} → {_show(self.new)}"
        word = {"added": "新增", "removed": "删除"}[self.kind]
        thing = {"field": "", "indicator": "指标 ", "entry": ""}[self.what]
        value = self.new if self.kind == "added" else self.old
        return f"{head}：{mark}{word}{thing}{self.path}" + (f"（{_show(value)}）" if value not in (None, "") else "")


def _show(value) -> str:
    return "（空）" if value is None or value == "" else short(str(value), 40)


def diff(old: Spec, new: Spec, reading: str | None = None) -> list[Change]:
    """The changes from `old` to `new`; reading: None, "sent" or "last_year" flags what it asks."""
    changes: list[Change] = []
    before_all = old.projects
    if reading == "sent":           # one unit's return against everything sent: only that unit's projects
        units = {p.unit for p in new.projects}
        before_all = [p for p in old.projects if p.unit in units or p.unit is None or None in units]
    for before, after in _match(before_all, new.projects):
        if after is None:
            changes.append(Change(before.name, before.unit, "removed", "project"))
        elif before is None:
            changes.append(Change(after.name, after.unit, "added", "project"))
        else:
            changes += _project(before, after, form_of(new, after), form_of(old, before), reading == "last_year")
    return [_sent(c) for c in changes] if reading == "sent" else changes


def differs(changes: list[Change]) -> bool:
    """Whether anything differs (a text copied from last year is the same, only pointed out)."""
    return any(c.kind != "copied" for c in changes)


def _match(old: list[Project], new: list[Project]) -> list[tuple[Project | None, Project | None]]:
    by_key: dict[tuple, list[Project]] = {}
    for p in new:
        by_key.setdefault((p.unit, p.name), []).append(p)
    pairs, left = [], []
    for p in old:
        same = by_key.get((p.unit, p.name))
        if same:
            pairs.append((p, same.pop(0)))
        else:
            left.append(p)
    rest = [p for ps in by_key.values() for p in ps]
    for p in left:           # a unit renamed, or not written on one side: the one project of the name
        named = [q for q in rest if q.name == p.name]
        if len(named) == 1 and sum(o.name == p.name for o in left) == 1:
            pairs.append((p, named[0]))
            rest.remove(named[0])
        else:
            pairs.append((p, None))
    pairs += [(None, q) for q in new if q in rest]
    return pairs


def _project(old: Project, new: Project, form: Template, old_form: Template, last_year: bool) -> list[Change]:
    name, unit = new.name, new.unit
    out: list[Change] = []
    keys = list(dict.fromkeys([*form.field_keys, *old_form.field_keys, *SHARED_KEYS, *old.extra, *new.extra]))
    for key in keys:
        a, b = old.get(key), new.get(key)
        label = form.key_label(key) if key in form.field_keys or key in SHARED_KEYS else old_form.key_label(key)
        kind = form.field_kinds.get(key)
        if not _same(a, b):
            flag = _percent(a, b, old.amount_unit, new.amount_unit) if last_year and kind == "money" else ""
            out.append(Change(name, unit, "changed", "field", label, label, a, b, flag))
        elif last_year and kind == "long_text" and a not in (None, ""):
            out.append(Change(name, unit, "copied", "field", label, label, a, b, "与去年的一字不差"))
    labels = {key: label for key, label in form.blocks()}
    columns = {c.key: c.label for c in form.columns[2:]}
    for block in dict.fromkeys([MAIN_BLOCK, *old.blocks, *new.blocks]):
        prefix = "" if block == MAIN_BLOCK or len(labels) == 1 else f"{labels.get(block, block)}/"
        out += _rows(name, unit, old, new, block, prefix, columns, last_year)
    for table in dict.fromkeys([*old.tables, *new.tables]):
        out += _entries(name, unit, old.tables.get(table, []), new.tables.get(table, []), table, form)
    return out


def _same(a, b) -> bool:
    if a in (None, "") and b in (None, ""):
        return True
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    return a == b


def _occurrences(rows) -> dict[tuple, object]:
    out: dict[tuple, object] = {}
    seen: dict[tuple, int] = {}
    for level1, level2, item in rows:
        key = (level1, level2, item.name)
        n = seen[key] = seen.get(key, 0) + 1
        out[(*key, n)] = item
    return out


def _rows(name, unit, old: Project, new: Project, block: str, prefix: str, columns: dict,
          last_year: bool) -> list[Change]:
    before, after = _occurrences(old.rows(block)), _occurrences(new.rows(block))
    out = []
    for key in dict.fromkeys([*before, *after]):
        path = prefix + "/".join(key[:3]) + (f"（第 {key[3]} 个）" if key[3] > 1 else "")
        a, b = before.get(key), after.get(key)
        if b is None:
            out.append(Change(name, unit, "removed", "indicator", path, old=_row_text(a),
                              flag="去年有的指标今年没有了" if last_year else ""))
        elif a is None:
            out.append(Change(name, unit, "added", "indicator", path, new=_row_text(b)))
        else:
            for column, label in columns.items():
                if column != "name" and not _same(a.get(column), b.get(column)):
                    flag = _target_flag(a, b) if last_year and column == "value" else ""
                    out.append(Change(name, unit, "changed", "indicator", path, label, a.get(column), b.get(column),
                                      flag))
    return out


def _target_flag(old, new) -> str:
    """A target made easier: lowered where it must be reached (≥ >), raised where it caps (≤ <)."""
    a, b = old.value, new.value
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b)):
        return ""
    kind = new.type or old.type
    if kind in LOWER_BOUNDS and b < a:
        return f"目标值比去年降低（{kind}）"
    if kind in UPPER_BOUNDS and b > a:
        return f"目标值比去年提高（{kind}）"
    return ""


def _row_text(item) -> str:
    return " ".join(str(v) for v in (item.type, item.value, item.unit) if v not in (None, ""))


def _entries(name, unit, old: list, new: list, table: str, form: Template) -> list[Change]:
    declared = next((t for t in form.tables if t.key == table), None)
    label = declared.label if declared else table
    keys = declared.keys if declared else list(dict.fromkeys(k for e in old + new for k in e.values))
    labels = {c.key: c.label for c in declared.columns} if declared else {k: k for k in keys}

    def keyed(entries):
        out, seen = {}, {}
        for entry in entries:
            first = str(entry.get(keys[0]) or "") if keys else ""
            n = seen[first] = seen.get(first, 0) + 1
            out[(first, n)] = entry
        return out
    before, after = keyed(old), keyed(new)
    changes = []
    for key in dict.fromkeys([*before, *after]):
        path = f"{label}/{key[0] or '（空）'}" + (f"（第 {key[1]} 个）" if key[1] > 1 else "")
        a, b = before.get(key), after.get(key)
        if b is None:
            changes.append(Change(name, unit, "removed", "entry", path))
        elif a is None:
            changes.append(Change(name, unit, "added", "entry", path))
        else:
            for column in keys:
                if not _same(a.get(column), b.get(column)):
                    changes.append(Change(name, unit, "changed", "entry", path, labels[column], a.get(column),
                                          b.get(column)))
    return changes


# -- the two readings -----------------------------------------------------------------------------
def _sent(change: Change) -> Change:
    """As sent: the unit changed or removed what the office had filled in."""
    if change.kind == "removed":
        return _flag(change, "删除了下发时已有的内容")
    if change.kind == "changed" and change.old not in (None, ""):
        return _flag(change, "改动了下发时已填的内容")
    return change


def _flag(change: Change, flag: str) -> Change:
    return Change(**{**asdict(change), "flag": flag})


def _percent(old, new, old_unit: str, new_unit: str) -> str:
    if not all(isinstance(v, (int, float)) for v in (old, new)) or not old:
        return ""
    new = new * WAN if (new_unit, old_unit) == ("万元", "元") else new / WAN if (new_unit, old_unit) == ("元", "万元") else new
    return f"比去年{'增加' if new >= old else '减少'} {abs(new - old) / abs(old) * 100:.1f}%"
