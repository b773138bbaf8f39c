"""Form files: where they are found, `extends:`, and the check of every key before use.

A form file (the shipped ones under templates/, an office's own under `--forms DIR`,
$PERFXL_FORMS, ./forms, or a path beside the spec) is YAML data and nothing else. It is checked
once, when loaded: an unknown key, a value of the wrong kind, a rule naming a field or column the
form does not have, a formula outside perfxl.formula's language, overlapping cells, a check column
on the table, a text placeholder that is not offered. Each mistake is one TemplateError naming
file:line:col and what to do; nothing in a form file can run code.
"""
from __future__ import annotations

import os
import re
import string
from importlib import resources
from pathlib import Path

import yaml

from .errors import Location, TemplateError
from .model import SHARED_KEYS
from .yamlnodes import compose_yaml, to_data

FORMS_ENV = "PERFXL_FORMS"
MAX_FORM_BYTES = 1 << 20
NAME = re.compile(r"[A-Za-z0-9_.-]+")
MAX_EXTENDS = 8


# -- where forms come from ------------------------------------------------------------------------
def form_dirs(extra: tuple[str, ...] = ()) -> list[Path]:
    """The folders searched for form files, first match wins: `extra` (--forms), $PERFXL_FORMS
    (separated by os.pathsep), ./forms, then the forms shipped with perfxl."""
    dirs = [Path(d) for d in extra]
    dirs += [Path(d) for d in os.environ.get(FORMS_ENV, "").split(os.pathsep) if d]
    dirs.append(Path("forms"))
    return dirs


def shipped_dir() -> Path:
    return Path(str(resources.files("perfxl.templates")))


def find_form(name: str, extra: tuple[str, ...] = (), base: str | None = None) -> Path:
    """The file of form `name`: a path (absolute, or relative to `base`, the spec's folder) when it
    ends in .yaml or .yml, else `name`.yaml in the form folders."""
    if name.endswith((".yaml", ".yml")):
        path = Path(name)
        if not path.is_absolute() and base is not None:
            path = Path(base) / path
        if not path.is_file():
            raise TemplateError(f'表样文件 "{name}" 不存在（{path}）')
        return path
    if not NAME.fullmatch(name or ""):
        raise TemplateError(f'表样名 "{name}" 无效：只能含字母、数字、点、横线和下划线；或给出 .yaml 文件的路径')
    for folder in [*form_dirs(extra), shipped_dir()]:
        path = folder / f"{name}.yaml"
        if path.is_file():
            return path
    known = "、".join(sorted(available(extra)))
    raise TemplateError(f'未知表样 "{name}"；可选：{known}（或用 --forms 目录、环境变量 {FORMS_ENV} 指定表样所在的目录）')


def available(extra: tuple[str, ...] = ()) -> dict[str, Path]:
    """Every form name that can be used, with the file it comes from (first match wins)."""
    out: dict[str, Path] = {}
    for folder in [*form_dirs(extra), shipped_dir()]:
        if folder.is_dir():
            for path in sorted(folder.glob("*.yaml")):
                if NAME.fullmatch(path.stem) and not path.name.endswith(".example.yaml") and _looks_like_form(path):
                    out.setdefault(path.stem, path)
    return out


FORM_KEY = re.compile(rb"^(?:form|extends)\s*:", re.M)


def _looks_like_form(path: Path) -> bool:
    """A form file says `form:` or `extends:` at its top level (a spec beside it does not)."""
    try:
        with open(path, "rb") as fh:
            return bool(FORM_KEY.search(fh.read(MAX_FORM_BYTES)))
    except OSError:
        return False


# -- reading, extends -----------------------------------------------------------------------------
class FormData:
    """A form file's values, merged over what it extends, with the place of every value."""

    def __init__(self, data: dict, marks: dict, files: dict, path: str):
        self.data, self.marks, self.files, self.path = data, marks, files, path

    def where(self, *path) -> Location:
        """The file:line:col of a value (or of the nearest enclosing value that has one)."""
        path = tuple(path)
        while path and path not in self.marks:
            path = path[:-1]
        line, col = self.marks.get(path, (None, None))
        return Location(self.files.get(path, self.path), line, col)

    def fail(self, message: str, *path):
        raise TemplateError(message, self.where(*path))


def read_form(path: Path, extra: tuple[str, ...] = (), chain: tuple[str, ...] = ()) -> FormData:
    """The form file at `path`, with `extends:` resolved (the base's values, overridden key by key)."""
    where = str(path)
    try:
        raw = path.read_bytes()[:MAX_FORM_BYTES + 1]
    except OSError as exc:
        raise TemplateError(f"无法读取表样文件：{exc.strerror}", where) from None
    if len(raw) > MAX_FORM_BYTES:
        raise TemplateError("表样文件过大（超过 1 MB）", where)
    try:
        text = raw.decode("utf-8-sig")
        marks: dict = {}
        data = to_data(compose_yaml(text), marks)
    except UnicodeDecodeError as exc:
        raise TemplateError(f"不是 UTF-8 文本（第 {exc.start} 字节）", where) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        raise TemplateError(f"YAML 语法错误：{exc.problem or exc.context}",
                            Location(where, mark.line + 1, mark.column + 1) if mark else where) from None
    except (yaml.YAMLError, RecursionError) as exc:
        raise TemplateError(f"YAML 错误：{' '.join(str(exc).split()) or '嵌套过深'}", where) from None
    if not isinstance(data, dict):
        raise TemplateError("表样文件应为“键: 值”的映射", where)
    files = dict.fromkeys(marks, where)
    form = FormData(data, marks, files, where)
    base_name = data.pop("extends", None)
    if base_name is None:
        return form
    if not isinstance(base_name, str):
        form.fail("extends 应为表样名或表样文件路径", "extends")
    if len(chain) >= MAX_EXTENDS or str(path.resolve()) in chain:
        form.fail(f'extends 形成循环或层数过多：{" → ".join((*chain, base_name))}', "extends")
    base_path = find_form(base_name, extra, str(path.parent))
    base = read_form(base_path, extra, (*chain, str(path.resolve())))
    return _merge(base, form)


def _merge(base: FormData, child: FormData) -> FormData:
    """child over base: mappings merge key by key (the skeleton is replaced whole), other values
    (lists included) are replaced; `rules:` given as {add: [...], disable: [ids]} adds to and
    removes from the base's rules."""
    data = _merge_values(base.data, child.data, ())
    rules = child.data.get("rules")
    if isinstance(rules, dict):
        unknown = set(rules) - {"add", "disable"}
        if unknown:
            child.fail(f'rules 下未知的键 "{sorted(unknown)[0]}"；可用：add、disable', "rules", sorted(unknown)[0])
        kept = list(base.data.get("rules", []))
        ids = [r.get("id") if isinstance(r, dict) else None for r in kept]
        for i, rid in enumerate(rules.get("disable", []) or []):
            if rid not in ids:
                child.fail(f'disable：基础表样没有规则 "{rid}"', "rules", "disable", i)
        disabled = set(rules.get("disable", []) or [])
        marks, files = {}, {}
        out = []
        for i, rule in enumerate(kept):
            if ids[i] not in disabled:
                _move(base, ("rules", i), ("rules", len(out)), marks, files)
                out.append(rule)
        for i, rule in enumerate(rules.get("add", []) or []):
            _move(child, ("rules", "add", i), ("rules", len(out)), marks, files)
            out.append(rule)
        data["rules"] = out
    else:
        marks, files = {}, {}
    all_marks = {k: v for k, v in base.marks.items() if k[:1] != ("rules",)} | {
        k: v for k, v in child.marks.items() if k[:1] != ("rules",)}
    all_files = {k: v for k, v in base.files.items() if k[:1] != ("rules",)} | {
        k: v for k, v in child.files.items() if k[:1] != ("rules",)}
    if not isinstance(rules, dict):
        source = child if "rules" in child.data else base
        all_marks |= {k: v for k, v in source.marks.items() if k[:1] == ("rules",)}
        all_files |= {k: v for k, v in source.files.items() if k[:1] == ("rules",)}
    return FormData(data, all_marks | marks, all_files | files, child.path)


def _move(form: FormData, old: tuple, new: tuple, marks: dict, files: dict):
    for key, mark in form.marks.items():
        if key[:len(old)] == old:
            marks[new + key[len(old):]] = mark
            files[new + key[len(old):]] = form.files.get(key, form.path)


WHOLE = {("skeleton",)}        # mappings a variant gives whole: its 一级 and their order replace the base's


def _merge_values(base, child, path):
    if isinstance(base, dict) and isinstance(child, dict):
        out = dict(base)
        for key, value in child.items():
            if path + (key,) in WHOLE:
                out[key] = value
            elif path == () and key == "rules":
                out[key] = value if not isinstance(value, dict) else base.get("rules", [])
            else:
                out[key] = _merge_values(base.get(key), value, path + (key,)) if key in base else value
        return out
    return child


# -- the checks -----------------------------------------------------------------------------------
KEY = re.compile(r"[a-z][a-z0-9_]{0,30}")
RESERVED = frozenset({*SHARED_KEYS, "indicators", "template", "projects", "warnings", "extra", "where"})
COLUMN_RESERVED = frozenset({"level1", "level2", "extra", "where"})
COLUMN = re.compile(r"[A-Z]{1,2}")
COLS = re.compile(r"[A-Z]{1,2}(?::[A-Z]{1,2})?")
KINDS = ("text", "money", "long_text")


def _text(v):
    return isinstance(v, str) and v.strip() != ""


def _number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _texts(v):
    return isinstance(v, list) and all(_text(x) for x in v)


CHECKS = {                              # what a value must be, and how to say so
    "text": (_text, "应为文字"),
    "any_text": (lambda v: isinstance(v, str), "应为文字"),
    "number": (_number, "应为数字"),
    "bool": (lambda v: isinstance(v, bool), "应为 true 或 false"),
    "texts": (_texts, "应为文字的列表，如 [甲, 乙]"),
    "column": (lambda v: isinstance(v, str) and bool(COLUMN.fullmatch(v)), "应为列字母，如 B"),
    "cols": (lambda v: isinstance(v, str) and bool(COLS.fullmatch(v)), "应为列或列范围，如 B 或 B:I"),
    "kind": (lambda v: v in KINDS, f"应为 {'、'.join(KINDS)} 之一"),
}

# The keys of a form file: name → check, a nested schema, or [schema] for a list of them.
# A key ending in "?" may be left out; "*" stands for any key.
CELL = {"label?": "text", "field?": "text", "cols": "cols", "aliases?": "texts", "kind?": "kind"}
SCHEMA = {
    "form": "text", "version?": "any_text", "title": "text", "unit_line": "text",
    "amount_unit_line": "text", "amount_unit_words?": "texts", "instructions": "text", "blank_year?": "any_text",
    "instructions_sheet": "text", "review_sheet?": "text", "project_sheet": "text", "shared_labels?": {"*": "texts"},
    "columns": {"*": "number"}, "unit_line_cols": "cols", "amount_unit_line_cols": "cols",
    "header": [[CELL]], "footer": [[CELL]],
    "indicators": {"label": "text", "aliases?": "texts", "label_col": "column",
                   "columns": [{"key": "text", "label": "text", "col": "column", "aliases?": "texts"}]},
    "more_blocks?": [{"key": "text", "label": "text", "aliases?": "texts", "place?": "text"}],
    "tables?": [{"key": "text", "label": "text", "aliases?": "texts", "label_col": "column", "place?": "text",
                 "after_header_row?": "number", "blank_rows?": "number",
                 "columns": [{"key": "text", "label": "text", "cols": "cols", "aliases?": "texts", "kind?": "kind"}],
                 "total?": {"label": "text", "aliases?": "texts", "sums": {"*": "text"}}}],
    "skeleton": {"*": "texts"},
    "value_types": {"quantitative": "texts", "qualitative": "text", "aliases?": {"*": "text"}},
    "print": {"paper": "text", "landscape": "bool",
              "margins": {"left": "number", "right": "number", "top": "number", "bottom": "number"},
              "footer?": "any_text"},
    "styles": {"font": "text", "font_charset": "number", "size": "number",
               "title": {"font?": "text", "size?": "number", "bold?": "bool", "italic?": "bool"},
               "label": {"font?": "text", "size?": "number", "bold?": "bool", "italic?": "bool"},
               "line_height": "number", "blank_text_lines": "number", "money_format": "text"},
    "checks": {"mark_col": "column", "count_col": "column", "width": "number", "passed": "text", "failed": "text",
               "inserted?": "text", "value_col?": "column", "unit_col?": "column", "rest_col?": "column"},
    "validation": {"list_sheet": "text", "input_title": "text", "input_message": "text",
                   "error_title": "text", "error_message": "text"},
    "names?": {"*": "text"},
    "rules?": [{"id": "text", "severity": "text", "scope": "text", "message": "text", "when?": "text",
                "blame?": "texts", "under?": "text", "at?": "text", "table?": "text", "paint?": "bool", "builtin?": "text",
                "params?": {"*": None}}],
}
PAPERS = ("A4", "A3", "Letter")
# The placeholders each text may use (format strings: {year}; nothing else is evaluated).
PLACEHOLDERS = {("title",): {"year"}, ("unit_line",): {"unit"}, ("amount_unit_line",): {"amount_unit"},
                ("project_sheet",): {"n"}, ("checks", "failed"): {"n"},
                ("checks", "inserted"): {"n"}}


def check_schema(form: FormData, value=None, schema=SCHEMA, path: tuple = ()):
    """Every key known, every required key given, every value of its kind."""
    value = form.data if not path else value
    if isinstance(schema, str):
        test, say = CHECKS[schema]
        if not test(value):
            form.fail(f"{_name(path)} {say}，不是 {_show(value)}", *path)
        return
    if isinstance(schema, list):
        if not isinstance(value, list):
            form.fail(f"{_name(path)} 应为列表", *path)
        for i, item in enumerate(value):
            check_schema(form, item, schema[0], path + (i,))
        return
    if not isinstance(value, dict):
        form.fail(f"{_name(path)} 应为“键: 值”的映射", *path)
    keys = {k.rstrip("?"): k for k in schema}
    for key, item in value.items():
        if key not in keys and "*" not in keys:
            form.fail(f'未知的键 "{key}"{" （在 " + _name(path) + " 下）" if path else ""}；'
                      f'可用：{"、".join(k for k in keys if k != "*")}', *path, key, "<key>")
        sub = schema.get(keys.get(key, "*"))
        if sub is not None:
            check_schema(form, item, sub, path + (key,))
    for key, raw in keys.items():
        if key != "*" and not raw.endswith("?") and key not in value:
            form.fail(f'缺少 {_name(path + (key,))}', *path)


def check_texts(form: FormData):
    """Format placeholders only where offered; `{{`/`}}` for a literal brace."""
    data = form.data
    for path, allowed in PLACEHOLDERS.items():
        text = data
        for key in path:
            text = text[key]
        check_placeholders(form, text, allowed, path)


def check_placeholders(form: FormData, text: str, allowed: set[str], path: tuple):
    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as exc:
        form.fail(f"{_name(path)}：花括号不成对（{exc}）；文字中的花括号请写成 {{{{ 或 }}}}", *path)
    for _, name, spec, conversion in parts:
        if name is None:
            continue
        if name not in allowed or spec or conversion:
            offer = "、".join("{" + a + "}" for a in sorted(allowed)) or "无"
            form.fail(f"{_name(path)}：不能使用 {{{name}{'!' + conversion if conversion else ''}"
                      f"{':' + spec if spec else ''}}}；可用的占位符：{offer}", *path)


def check_geometry(form: FormData):
    """Cells of a row must not overlap or leave the form's columns; the check columns lie right of it."""
    data = form.data
    width = max(col_index(c) for c in data["columns"]) if data["columns"] else 0
    for name in data["columns"]:
        if not COLUMN.fullmatch(str(name)):
            form.fail(f'columns 的键应为列字母，不是 "{name}"', "columns", name, "<key>")
    used_fields: dict[str, tuple] = {}
    for part in ("header", "footer"):
        for r, row in enumerate(data[part]):
            taken: dict[int, int] = {}
            for c, cell in enumerate(row):
                path = (part, r, c)
                if ("label" in cell) == ("field" in cell):
                    form.fail("每个单元格要么是 label（文字），要么是 field（项目的栏目），二者取一", *path)
                first, _, last = cell["cols"].partition(":")
                lo, hi = col_index(first), col_index(last or first)
                if hi < lo:
                    form.fail(f'cols "{cell["cols"]}" 的起止列颠倒', *path, "cols")
                if hi > width:
                    form.fail(f'cols "{cell["cols"]}" 超出 columns 给出的列（到 {col_letter(width)}）', *path, "cols")
                for i in range(lo, hi + 1):
                    if i in taken:
                        form.fail(f'cols "{cell["cols"]}" 与本行第 {taken[i] + 1} 个单元格重叠', *path, "cols")
                    taken[i] = c
                if "field" in cell:
                    if not KEY.fullmatch(cell["field"]) or cell["field"] in RESERVED:
                        form.fail(f'栏目名 "{cell["field"]}" 不可用：应为小写英文字母开头的字母、数字、下划线，'
                                  f'且不是 {"、".join(sorted(RESERVED))}', *path, "field")
                    if cell["field"] in used_fields:
                        form.fail(f'栏目 "{cell["field"]}" 出现了两次', *path, "field")
                    used_fields[cell["field"]] = path
                    if c == 0 or "label" not in row[c - 1]:
                        form.fail(f'栏目 "{cell["field"]}" 前面应有它的 label 单元格', *path)
    block = data["indicators"]
    cols = [col_index(c["col"]) for c in block["columns"]]
    keys = [c["key"] for c in block["columns"]]
    for i, col in enumerate(cols):
        if cols.index(col) != i:
            form.fail(f'指标列 "{keys[i]}" 与 "{keys[cols.index(col)]}" 在同一列', "indicators", "columns", i, "col")
        if keys.index(keys[i]) != i:
            form.fail(f'指标列的 key "{keys[i]}" 重复', "indicators", "columns", i, "key")
        if col > width:
            form.fail("指标列超出 columns 给出的列", "indicators", "columns", i, "col")
    if keys[:2] != ["level1", "level2"] or "name" not in keys:
        form.fail("indicators.columns 应以 level1（一级）、level2（二级）开头，并有 name（三级指标）",
                  "indicators", "columns")
    for i, key in enumerate(keys[2:], 2):
        if not KEY.fullmatch(key) or key in COLUMN_RESERVED:
            form.fail(f'指标列名 "{key}" 不可用：应为小写英文字母开头的字母、数字、下划线，且不是 '
                      f'{"、".join(sorted(COLUMN_RESERVED))}', "indicators", "columns", i, "key")
    if col_index(block["label_col"]) in cols:
        form.fail("label_col 与指标列重叠", "indicators", "label_col")
    seen_blocks = {"indicators"}
    for i, more in enumerate(data.get("more_blocks") or []):
        path = ("more_blocks", i)
        if not KEY.fullmatch(more["key"]) or more["key"] in RESERVED - {"indicators"} or more["key"] in used_fields \
                or more["key"] in seen_blocks:
            form.fail(f'指标块的 key "{more["key"]}" 不可用：应为小写字母开头，且不与栏目或其他指标块同名', *path, "key")
        seen_blocks.add(more["key"])
        if more.get("place", "after") not in ("before", "after"):
            form.fail("place 应为 before（画在主指标块之前）或 after（之后）", *path, "place")
    check_tables(form, width, set(used_fields) | seen_blocks)
    for key in data.get("shared_labels") or {}:
        if key not in SHARED_KEYS:
            form.fail(f'shared_labels 只给共有栏目起名：{"、".join(SHARED_KEYS)}，不是 "{key}"', "shared_labels", key)
    checks = data["checks"]
    seen_checks: dict[str, str] = {}
    for key in ("mark_col", "count_col", "value_col", "unit_col", "rest_col"):
        if key not in checks:
            continue
        if col_index(checks[key]) <= width:
            form.fail(f"检查列 {key} = {checks[key]} 落在表格的列内（到 {col_letter(width)}）；"
                      "检查列应在表格右侧、打印区域以外", "checks", key)
        if checks[key] in seen_checks:
            form.fail(f"{seen_checks[checks[key]]} 与 {key} 不能是同一列", "checks", key)
        seen_checks[checks[key]] = key
    helpers = [k for k in ("value_col", "unit_col", "rest_col") if k in checks]
    if helpers and len(helpers) != 3:
        form.fail("value_col、unit_col 与 rest_col 应同时给出（或都不给）", "checks", helpers[0])
    if "value_col" in checks and not {"type", "value", "unit"} <= {c["key"] for c in data["indicators"]["columns"]}:
        form.fail("value_col 与 unit_col 只用于有指标值类型、指标值和度量单位三列（type、value、unit）的表样",
                  "checks", "value_col")
    if data["print"]["paper"] not in PAPERS:
        form.fail(f'print.paper 应为 {"、".join(PAPERS)} 之一', "print", "paper")
    for key in ("unit_line_cols", "amount_unit_line_cols"):
        first, _, last = data[key].partition(":")
        if col_index(last or first) > width:
            form.fail(f"{key} 超出 columns 给出的列", key)


def check_tables(form: FormData, width: int, taken: set[str]):
    """Flat tables (年度主要任务, 项目实施进度计划): their keys, columns, place and 合计 row."""
    data = form.data
    for i, table in enumerate(data.get("tables") or []):
        path = ("tables", i)
        key = table["key"]
        if not KEY.fullmatch(key) or key in RESERVED or key in taken:
            form.fail(f'表格的 key "{key}" 不可用：应为小写字母开头，且不与栏目、指标块或其他表格同名', *path, "key")
        taken.add(key)
        if table.get("place", "before") not in ("before", "after"):
            form.fail("place 应为 before（画在指标块之前）或 after（指标块之后、表尾之前）", *path, "place")
        split = table.get("after_header_row")
        if split is not None:
            if table.get("place", "before") != "before":
                form.fail("after_header_row 只用于 place: before 的表格", *path, "after_header_row")
            if not (isinstance(split, int) and 0 <= split <= len(data["header"])):
                form.fail(f"after_header_row 应为 0 到 {len(data['header'])} 的整数（画在表头第几行之后）",
                          *path, "after_header_row")
        rows = table.get("blank_rows", 3)
        if not (isinstance(rows, int) and 1 <= rows <= 100):
            form.fail("blank_rows 应为 1 到 100 的整数（空白表中的空行数）", *path, "blank_rows")
        label_col = col_index(table["label_col"])
        if label_col > width:
            form.fail("label_col 超出 columns 给出的列", *path, "label_col")
        spans: dict[int, int] = {}
        keys: dict[str, int] = {}
        for j, column in enumerate(table["columns"]):
            where = (*path, "columns", j)
            ckey = column["key"]
            if not KEY.fullmatch(ckey) or ckey in COLUMN_RESERVED:
                form.fail(f'列名 "{ckey}" 不可用：应为小写英文字母开头的字母、数字、下划线', *where, "key")
            if ckey in keys:
                form.fail(f'列名 "{ckey}" 重复', *where, "key")
            keys[ckey] = j
            first, _, last = column["cols"].partition(":")
            lo, hi = col_index(first), col_index(last or first)
            if hi < lo or hi > width:
                form.fail(f'cols "{column["cols"]}" 应在 columns 给出的列内（到 {col_letter(width)}），起止不颠倒',
                          *where, "cols")
            for c in range(lo, hi + 1):
                if c == label_col:
                    form.fail(f'cols "{column["cols"]}" 与 label_col 重叠', *where, "cols")
                if c in spans:
                    form.fail(f'cols "{column["cols"]}" 与第 {spans[c] + 1} 列重叠', *where, "cols")
                spans[c] = j
        if not keys:
            form.fail("表格至少需要一列", *path, "columns")
        total = table.get("total")
        if total:
            kinds = {c["key"]: c.get("kind", "text") for c in table["columns"]}
            for column, field_key in total["sums"].items():
                where = (*path, "total", "sums", column)
                if kinds.get(column) != "money":
                    form.fail(f'合计的 "{column}" 应为本表 kind: money 的列', *where, "<key>")
                if not KEY.fullmatch(field_key) or field_key in RESERVED or field_key in taken:
                    form.fail(f'合计的名字 "{field_key}" 不可用：应为小写字母开头，且不与栏目、表格同名', *where)
                taken.add(field_key)
                if keys[column] == 0:
                    form.fail("第一列不能求合计：合计行的文字写在求和的列之前", *where, "<key>")


def col_index(letter: str) -> int:
    """'A' → 0, 'I' → 8, 'AA' → 26."""
    n = 0
    for ch in str(letter).strip().upper():
        n = n * 26 + ord(ch) - 64
    return n - 1


def col_letter(index: int) -> str:
    """0 → 'A', 26 → 'AA'."""
    out, index = "", index + 1
    while index:
        index, rem = divmod(index - 1, 26)
        out = chr(65 + rem) + out
    return out


def _name(path: tuple) -> str:
    return ".".join(str(p) if not isinstance(p, int) else f"[{p + 1}]" for p in path).replace(".[", "[") or "表样"


def _show(value) -> str:
    if value is None:
        return "空值"
    text = repr(value) if not isinstance(value, str) else f'"{value}"'
    return text if len(text) < 40 else text[:40] + "…"


def load_checked(path: Path, extra: tuple[str, ...] = ()) -> FormData:
    """A form file read, merged and checked: schema, texts, geometry. Rules are checked when built."""
    form = read_form(path, extra)
    check_schema(form)
    check_texts(form)
    check_geometry(form)
    return form

