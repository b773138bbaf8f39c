"""Which form a workbook is on: its tag, else the known form whose labels it shows best.

perfxl writes `perfxl:form=<id>@<version>` into the hidden list sheet of every form that has a
`version` (a cell of text, so it survives LibreOffice re-saving as .xlsx, .xls and .ods). A workbook
without one is scored against every form that can be used (perfxl.formfile.available): each of a
form's labels found on the first rows of a sheet counts, a label no other form has counts three
times, a title that matches the form's title counts five. A tie is a warning naming both forms.
"""
from __future__ import annotations

from collections.abc import Iterable

from .errors import TemplateError
from .formfile import available
from .template import DEFAULT_TEMPLATE, Template, label_key, load_template

TAG = "perfxl:form="
SCAN_ROWS = 80          # rows per sheet looked at for labels
SCAN_SHEETS = 5

Sheet = tuple[str, bool, list]      # (name, hidden, rows of cell values)


def tag_of(sheets: Iterable[Sheet]) -> tuple[str, str, str] | None:
    """(sheet, form id, version) of the first tag in a hidden sheet's column B (row 1)."""
    for name, hidden, rows in sheets:
        if not hidden:
            continue
        for row in rows[:1]:
            for value in row[:4]:
                if isinstance(value, str) and value.startswith(TAG):
                    form, _, version = value[len(TAG):].partition("@")
                    return name, form.strip(), version.strip()
    return None


def tag_text(template: Template) -> str | None:
    """The tag perfxl writes for a form (None for a form without a version)."""
    return f"{TAG}{template.name}@{template.version}" if template.version else None


def form_labels(template: Template) -> set[str]:
    """The form's labels, as the reader knows them (Template.label_roles)."""
    return set(template.label_roles)


def recognise(path: str, sheets: list[Sheet]) -> tuple[Template, list[tuple[str, str]]]:
    """The workbook's form and what to say about how it was found: [(where, message)]."""
    notes: list[tuple[str, str]] = []
    tagged = tag_of(sheets)
    if tagged:
        sheet, name, version = tagged
        try:
            form = load_template(name)
        except TemplateError as exc:
            notes.append((f"{path}!{sheet}", f"工作簿标明的表样「{name}」无法使用（{exc.message}）；按标签识别"))
        else:
            if form.version != version:
                notes.append((f"{path}!{sheet}", f"工作簿按表样「{name}」的 {version or '无版本'}版生成，"
                              f"现有的是 {form.version or '无版本'}版；按现有的读取，请核对"))
            return form, notes
    names = list(available())
    if len(names) <= 1:
        return load_template(names[0] if names else DEFAULT_TEMPLATE), notes
    forms = []
    for name in names:
        try:
            forms.append(load_template(name))
        except TemplateError:
            continue            # a broken form in a forms folder: `perfxl forms` says why
    best = score(forms, sheets)
    if len(best) > 1 and best[0][0] == best[1][0]:
        notes.append((path, f"工作簿与表样「{best[0][1].name}」和「{best[1][1].name}」同样相符，"
                      f"按「{best[0][1].name}」读取；如不对，请用 --form 指定表样"))
    return best[0][1], notes


def score(forms: list[Template], sheets: list[Sheet]) -> list[tuple[int, Template]]:
    """The forms, best first (stable: the search order breaks ties)."""
    seen: set[str] = set()
    texts: list[str] = []
    for name, hidden, rows in [s for s in sheets if not s[1]][:SCAN_SHEETS]:
        for row in rows[:SCAN_ROWS]:
            for value in row:
                if isinstance(value, str) and value.strip():
                    key = label_key(value)
                    seen.add(key)
                    texts.append(key)
    labels = {id(f): form_labels(f) for f in forms}
    counts: dict[str, int] = {}
    for words in labels.values():
        for w in words:
            counts[w] = counts.get(w, 0) + 1
    scored = []
    for form in forms:
        points = sum(3 if counts[w] == 1 else 1 for w in labels[id(form)] if w in seen)
        pattern = form.title_pattern()
        if any(pattern.match(t) for t in texts[:200]):
            points += 5
        scored.append((points, form))
    return sorted(scored, key=lambda item: -item[0])
