"""Which form a workbook is on: its tag, else the known form whose labels it shows best.

perfxl writes `perfxl:form=<id>@<version>` into the hidden list sheet of every form that has a
`version` (a cell of text, so it survives LibreOffice re-saving as .xlsx, .xls and .ods). A workbook
without one is scored against every form that can be used (perfxl.formfile.available): each of a
form's labels found on the first rows of a sheet counts, a label no other form has counts three
times, a title that matches the form's title counts five; the form that fits most of the first
sheets wins. A tie is a warning naming both forms. The reader then judges every sheet: a sheet that
fits another form better (of the known forms, or of those a mixed workbook's tags name) is read as
that form.
"""
from __future__ import annotations

from collections.abc import Iterable

from .errors import TemplateError
from .formfile import available
from .template import DEFAULT_TEMPLATE, Template, label_key, load_template

TAG = "perfxl:form="
SCAN_ROWS = 80          # rows per sheet looked at for labels
SCAN_SHEETS = 5
MAX_TAGS = 16          # forms named on the hidden list sheet

Sheet = tuple[str, bool, list]      # (name, hidden, rows of cell values)


def tags_of(sheets: Iterable[Sheet]) -> list[tuple[str, str, str]]:
    """(sheet, form id, version) of every tag in a hidden sheet's column B (row 1, and the rows
    below it in a workbook of several forms)."""
    found = []
    for name, hidden, rows in sheets:
        if not hidden:
            continue
        for row in rows[:MAX_TAGS]:
            value = row[1] if len(row) > 1 else None
            if isinstance(value, str) and value.startswith(TAG):
                form, _, version = value[len(TAG):].partition("@")
                found.append((name, form.strip(), version.strip()))
        if found:
            return found
    return found


def tag_text(template: Template, always: bool = False) -> str | None:
    """The tag perfxl writes for a form: None for a form without a version, unless `always` (a
    workbook of several forms names each of them)."""
    if template.version or always:
        return f"{TAG}{template.name}@{template.version or ''}"
    return None


def form_labels(template: Template) -> set[str]:
    """The form's labels, as the reader knows them (Template.label_roles)."""
    return set(template.label_roles)


def recognise(path: str, sheets: list[Sheet]) -> tuple[Template, list[tuple[str, str]], Scorer | None]:
    """The workbook's form, what to say about how it was found ([(where, message)]) and, when it
    was chosen by labels among several forms, the Scorer that chose it (to judge each sheet)."""
    notes: list[tuple[str, str]] = []
    tagged = []
    for sheet, name, version in tags_of(sheets):
        try:
            form = load_template(name)
        except TemplateError as exc:
            notes.append((f"{path}!{sheet}", f"工作簿标明的表样「{name}」无法使用（{exc.message}）；按标签识别"))
            continue
        if (form.version or "") != version:
            notes.append((f"{path}!{sheet}", f"工作簿按表样「{name}」的 {version or '无版本'}版生成，"
                          f"现有的是 {form.version or '无版本'}版；按现有的读取，请核对"))
        tagged.append(form)
    if tagged:          # perfxl's own workbook: its first tag is its form, further tags its sheets' others
        return tagged[0], notes, Scorer(tagged) if len(tagged) > 1 else None
    forms = _known_forms()
    if len(forms) <= 1:
        return (forms[0] if forms else load_template(DEFAULT_TEMPLATE)), notes, None
    scorer = Scorer(forms)
    best = scorer.workbook(sheets)
    if len(best) > 1 and best[0][0] == best[1][0]:
        notes.append((path, f"工作簿与表样「{best[0][1].name}」和「{best[1][1].name}」同样相符，"
                      f"按「{best[0][1].name}」读取；如不对，请用 --form 指定表样"))
    return best[0][1], notes, scorer


def _known_forms() -> list[Template]:
    forms = []
    for name in available():
        try:
            forms.append(load_template(name))
        except TemplateError:
            continue            # a broken form in a forms folder: `perfxl forms` says why
    return forms


class Scorer:
    """Scores sheets against forms: each of a form's labels found on a sheet's first rows counts
    1, a label no other form has 3, a text matching the form's title 5. One per read: it keeps
    what it learnt about each distinct text, since most texts repeat from sheet to sheet."""

    def __init__(self, forms: list[Template]):
        self.forms = forms
        labels = [form_labels(f) for f in forms]
        counts: dict[str, int] = {}
        for words in labels:
            for w in words:
                counts[w] = counts.get(w, 0) + 1
        self.weights: dict[str, list[tuple[int, int]]] = {}     # label → [(form index, points)]
        for i, words in enumerate(labels):
            for w in words:
                self.weights.setdefault(w, []).append((i, 3 if counts[w] == 1 else 1))
        self.patterns = [f.title_pattern() for f in forms]
        self.known: dict[str, tuple[str, tuple[int, ...]]] = {}    # text → (key, forms whose title it is)

    def sheet(self, rows: list) -> list[int]:
        """Points per form (in self.forms order) for one sheet."""
        points = [0] * len(self.forms)
        seen: set[str] = set()
        titled: set[int] = set()
        texts = 0
        for row in rows[:SCAN_ROWS]:
            for value in row:
                if value.__class__ is not str or not value.strip():
                    continue
                known = self.known.get(value)
                if known is None:
                    key = label_key(value)
                    known = self.known[value] = (key, tuple(i for i, p in enumerate(self.patterns) if p.match(key)))
                seen.add(known[0])
                if texts < 200:
                    titled.update(known[1])
                texts += 1
        for key in seen:
            for i, p in self.weights.get(key, ()):
                points[i] += p
        for i in titled:
            points[i] += 5
        return points

    def workbook(self, sheets: list[Sheet]) -> list[tuple[tuple[int, int], Template]]:
        """The forms, best first, by how many of the first visible sheets each one fits best, then
        by points over those sheets: two sheets of one form outweigh one sheet of a form with
        rarer labels. Stable: the search order breaks ties."""
        wins = [0] * len(self.forms)
        total = [0] * len(self.forms)
        for _, _, rows in [s for s in sheets if not s[1]][:SCAN_SHEETS]:
            points = self.sheet(rows)
            top = max(points)
            if top > 0 and points.count(top) == 1:
                wins[points.index(top)] += 1
            total = [a + b for a, b in zip(total, points)]
        ranked = [((wins[i], total[i]), f) for i, f in enumerate(self.forms)]
        return sorted(ranked, key=lambda item: (-item[0][0], -item[0][1]))

    def other_form(self, rows: list, read_as: Template) -> Template | None:
        """Another form that one sheet's labels match better than the form it is read as."""
        points = self.sheet(rows)
        top = max(points)
        mine = next(p for p, f in zip(points, self.forms) if f is read_as)
        return self.forms[points.index(top)] if top > mine else None
