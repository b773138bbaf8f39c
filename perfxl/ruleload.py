"""A form file's `names:` and `rules:` turned into checked Rule objects.

Each rule's formula is parsed (perfxl.formula) against the names its scope offers: a field rule
sees the form's fields and its flat tables' sums, a row rule the indicator columns of its row (or,
with `table`, that flat table's columns), a group rule `column[]` over one 一级's rows. A built-in (scope record) is one of rules.BUILTINS, with its parameters checked
against their kinds. Any mistake is a TemplateError at the rule's file:line:col.
"""
from __future__ import annotations

import string
from typing import TYPE_CHECKING

from .formfile import FormData, check_placeholders
from .formula import FormulaError, names_used, parse
from .rules import BUILTINS, ERROR, SCOPES, WARNING, Rule

if TYPE_CHECKING:
    from .template import Template


def build_rules(template: Template, form: FormData) -> tuple[Rule, ...]:
    data = form.data
    fields, columns = list(template.field_keys), list(template.row_keys)
    all_columns = [c.key for c in template.columns]
    sums = list(template.sum_fields)
    tables = {t.key: list(t.keys) for t in template.tables}
    defined = {}
    for key, text in (data.get("names") or {}).items():
        if key in fields or key in all_columns or key in sums or any(key in keys for keys in tables.values()):
            form.fail(f'names 中的 "{key}" 与栏目或列同名；请换一个名字', "names", key, "<key>")
        defined[key] = _parse(form, text, None, defined, ("names", key))
    out: list[Rule] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data.get("rules") or []):
        at = ("rules", i)
        rid = item["id"]
        if rid in seen:
            form.fail(f'规则 id "{rid}" 与第 {seen[rid] + 1} 条规则重复', *at, "id")
        seen[rid] = i
        if item["severity"] not in (ERROR, WARNING):
            form.fail(f'severity 应为 {ERROR} 或 {WARNING}，不是 "{item["severity"]}"', *at, "severity")
        scope = item["scope"]
        if scope not in SCOPES:
            form.fail(f'scope 应为 {"、".join(SCOPES)} 之一，不是 "{scope}"', *at, "scope")
        check_placeholders(form, item["message"], {"level1"} if scope == "group" else set(), at + ("message",))
        if scope == "record":
            out.append(_builtin_rule(form, item, at, fields, all_columns, template))
            continue
        for key in ("builtin", "params"):
            if key in item:
                form.fail(f"{key} 只用于 scope: record 的规则", *at, key)
        if "when" not in item:
            form.fail(f"规则 {rid} 缺少 when（公式）", *at)
        table = item.get("table")
        if table is not None and (scope != "row" or table not in tables):
            form.fail(f'table 只用于 scope: row 的规则，且应为本表样的表格之一：{"、".join(tables) or "（本表样没有表格）"}',
                      *at, "table")
        if scope == "field":
            names = dict.fromkeys(fields + sums, "cell")
            if item.get("at") not in fields + sums:
                form.fail(f'字段规则需要 at：检查标记所在的栏目，为 {"、".join(fields + sums)} 之一', *at, "at")
        else:
            if "at" in item:
                form.fail("at 只用于 scope: field 的规则", *at, "at")
            names = dict.fromkeys(tables[table] if table else columns, "column" if scope == "group" else "cell")
        if "under" in item and (scope != "row" or table):
            form.fail("under 只用于指标行（scope: row，没有 table）的规则", *at, "under")
        test = _parse(form, item["when"], names, defined, at + ("when",))
        unknown = sorted(names_used(test) - set(names))
        if unknown:
            form.fail(f'规则 {rid} 通过 names 用到了本范围没有的名称 {"、".join(unknown)}', *at, "when")
        blame = tuple(item.get("blame", ()))
        allowed_blame = fields + sums if scope == "field" else tables[table] if table else all_columns
        for j, key in enumerate(blame):
            if key not in allowed_blame:
                form.fail(f'blame 中的 "{key}" 不是{"栏目" if scope == "field" else f"表格 {table} 的列" if table else "指标列"}；'
                          f'可用：{"、".join(allowed_blame)}', *at, "blame", j)
        out.append(Rule(rid, item["severity"], item["message"], scope, test, blame, item.get("under"),
                        item.get("at"), item.get("paint", True), table=table))
    return tuple(out)


def _parse(form: FormData, text: str, names, defined, path):
    try:
        return parse(text, names, defined=defined)
    except FormulaError as exc:
        where = form.where(*path)
        col = where.col + exc.offset if where.col is not None and "\n" not in text else where.col
        from .errors import Location, TemplateError

        raise TemplateError(f"公式错误：{exc.message}（公式：{text.strip()[:80]}）",
                            Location(where.path, where.line, col)) from None


def _builtin_rule(form: FormData, item: dict, at: tuple, fields, columns, template) -> Rule:
    name = item.get("builtin")
    if name not in BUILTINS:
        form.fail(f'scope: record 的规则需要 builtin，为 {"、".join(BUILTINS)} 之一', *at, "builtin")
    for key in ("when", "blame", "under", "at", "table"):
        if key in item:
            form.fail(f"{key} 不用于 builtin 规则", *at, key)
    builtin = BUILTINS[name]
    params = dict(item.get("params") or {})
    for key in builtin.required:
        if key not in params:
            form.fail(f'builtin {name} 需要参数 {key}', *at, "params")
    for key, value in params.items():
        kind = builtin.params.get(key)
        where = at + ("params", key)
        if kind is None:
            offer = "、".join(builtin.params) or "无"
            form.fail(f'builtin {name} 没有参数 "{key}"；可用：{offer}', *where, "<key>")
        if kind == "column" and value not in columns:
            form.fail(f'参数 {key} 应为指标列之一：{"、".join(columns)}', *where)
        if kind == "field" and value not in fields:
            form.fail(f'参数 {key} 应为栏目之一：{"、".join(fields)}', *where)
        if kind == "text" and not isinstance(value, str):
            form.fail(f"参数 {key} 应为文字", *where)
        if kind == "words":
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
                form.fail(f"参数 {key} 应为 [一级, 二级] 两个文字", *where)
            if value[1] not in template.skeleton.get(value[0], ()):
                form.fail(f"参数 {key}：{value[0]} › {value[1]} 不在 skeleton 中", *where)
    for key in ("text_label", "total_label", "advice", "row", "value"):
        if isinstance(params.get(key), str) and any(p[1] is not None for p in string.Formatter().parse(params[key])):
            form.fail(f"参数 {key} 不能含占位符", *at, "params", key)
    return Rule(item["id"], item["severity"], item["message"], "record", None, (), None, None,
                item.get("paint", True), name, params)
