"""Loading a YAML spec into model objects, with file:line:col on every error.

The YAML is composed to nodes first (so every value keeps its position), then checked and
converted by hand, by YAML 1.2 rules (perfxl.values): a text field keeps exactly what was typed,
numbers are decimal only. `type: =` loads (plain PyYAML refuses it) and alias bombs are refused.
A file named .json is read by JSON's grammar (perfxl.jsonnodes) into the same nodes.
"""
from __future__ import annotations

import os

import yaml

from .errors import Location, SpecError, TemplateError, short
from .gcpause import paused_gc
from .jsonnodes import JsonSyntaxError, compose_json
from .yamlnodes import BOOL, FLOAT, INT, NULL, PLAIN, STR, compose_yaml
from .model import INDICATOR_KEYS, PROJECT_KEYS, SHARED_KEYS, Entry, Indicator, Project, Spec, block_prefix
from .template import DEFAULT_TEMPLATE, Template, load_template
from .values import (CORE_DECIMAL, CORE_FLOAT, CORE_INT, bad_character, decimal_value, is_finite_number,
                     parse_number, plain_kind)

MAX_CELL_TEXT = 32767          # Excel's limit for one cell
MAX_NODES = 200_000            # more visits than this (and than BYTES_PER_VISIT allow) is an alias bomb
BYTES_PER_VISIT = 2            # a real spec takes 5 bytes or more per node; aliases multiply visits
MAX_SPEC_BYTES = 64 << 20      # 1,000 full tables are about 2 MB (about 2 s to load); collect writes 10,000
AMOUNT_UNITS = ("元", "万元")


def load_spec(path: str | os.PathLike) -> Spec:
    """Read and validate a spec file. Raises SpecError naming file:line:col."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecError("文件不存在", path) from None
    except IsADirectoryError:
        raise SpecError("这是一个目录，不是规格文件", path) from None
    except OSError as exc:
        raise SpecError(f"无法读取：{exc.strerror}", path) from None
    if len(raw) > MAX_SPEC_BYTES:
        raise SpecError(f"文件过大（超过 {MAX_SPEC_BYTES >> 20} MB），不像规格文件；请拆分", path)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpecError(f"不是 UTF-8 文本（第 {exc.start} 字节）", path) from None
    return parse_spec(text, path)


def parse_spec(text: str, path: str = "<spec>") -> Spec:
    """Parse spec text; `path` is only used in messages. Without the cyclic collector's passes
    over the node tree (perfxl.gcpause): they took half of loading 1,000 tables."""
    with paused_gc():
        return _SpecParser(path).parse(text)


class _SpecParser:
    def __init__(self, path: str):
        self.path = path
        self.visits = 0
        self.max_visits = MAX_NODES
        self.template: Template = load_template(DEFAULT_TEMPLATE)

    @property
    def form_fields(self) -> tuple[str, ...]:
        return self.template.field_keys

    @property
    def form_columns(self) -> tuple[str, ...]:
        return self.template.row_keys

    # -- helpers ------------------------------------------------------------------------
    def where(self, node: yaml.Node) -> Location:
        mark = node.start_mark
        return Location(self.path, mark.line + 1, mark.column + 1)

    def fail(self, node: yaml.Node | None, message: str):
        raise SpecError(message, self.where(node) if node is not None else self.path)

    def visit(self, node: yaml.Node):
        self.visits += 1
        if self.visits > self.max_visits:
            self.fail(node, f"内容过多（超过 {self.max_visits} 个节点，可能是 YAML 别名炸弹）")

    def mapping(self, node: yaml.Node, what: str) -> list[tuple[str, yaml.Node, yaml.Node]]:
        self.visit(node)
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, f"{what}应为键值映射（key: value）")
        seen = {}
        out = []
        for key_node, value_node in node.value:
            self.visit(key_node)
            if not isinstance(key_node, yaml.ScalarNode):
                self.fail(key_node, f"{what}的键应为文字")
            if key_node.tag == PLAIN and key_node.value == "<<":
                self.fail(key_node, "不支持 YAML 合并键 <<")
            key = key_node.value.strip()
            if bad_character(key):
                self.fail(key_node, f"键含有无效的字符 {bad_character(key)}（孤立的 UTF-16 代理项）；请删除")
            if key in seen:
                self.fail(key_node, f'键 "{key}" 重复（第一次在第 {seen[key]} 行）')
            seen[key] = key_node.start_mark.line + 1
            out.append((key, key_node, value_node))
        return out

    def sequence(self, node: yaml.Node, what: str) -> list[yaml.Node]:
        self.visit(node)
        if not isinstance(node, yaml.SequenceNode):
            self.fail(node, f"{what}应为列表（- ...）")
        return list(node.value)

    def scalar(self, node: yaml.Node, what: str) -> tuple[str, str]:
        """(kind, text) of a scalar: kind "null", "bool", "decimal", "number" (hex, octal, inf,
        nan) or "text" (also every quoted scalar); text is exactly what was typed."""
        self.visit(node)
        if not isinstance(node, yaml.ScalarNode):
            self.fail(node, f"{what}应为单个值，不是列表或映射")
        raw, tag = node.value, node.tag
        if tag == PLAIN:
            kind = plain_kind(raw)
        elif tag == STR:
            kind = "text"
        elif tag in (INT, FLOAT):
            kind = "decimal" if CORE_DECIMAL.fullmatch(raw) else "number"
        elif tag in (BOOL, NULL):
            kind = tag.rsplit(":", 1)[1]
        else:
            self.fail(node, f"{what}使用了不支持的 YAML 标签 {tag}；请去掉 ! 标签")
        bad = bad_character(raw)
        if bad:
            self.fail(node, f"{what}含有无效的字符 {bad}（孤立的 UTF-16 代理项），工作簿无法保存；请删除")
        return kind, raw

    def text(self, node: yaml.Node, what: str, required: bool = False) -> str | None:
        """A text field: exactly what was typed (`0123`, `2025.10`, `0x1F` stay as written)."""
        kind, raw = self.scalar(node, what)
        if kind == "null" or not raw.strip():
            if required:
                self.fail(node, f"{what}不能为空")
            return None
        if len(raw) > MAX_CELL_TEXT:
            self.fail(node, f"{what}有 {len(raw)} 个字符，超过 Excel 单元格上限 {MAX_CELL_TEXT}；请缩短")
        return raw

    def number(self, node: yaml.Node, what: str) -> int | float | None:
        """A decimal number, as the reader takes one (perfxl.values.parse_number); never octal or hex."""
        kind, raw = self.scalar(node, what)
        if kind == "null":
            return None
        value = decimal_value(raw) if kind == "decimal" else parse_number(raw) if kind == "text" else None
        if kind == "decimal" and not is_finite_number(value) or kind == "number" and not CORE_INT.fullmatch(raw):
            self.fail(node, f'{what}应为有限的数字，不是 "{short(raw, 40)}"')
        if kind == "number":
            self.fail(node, f'{what}应为十进制数字，不是 "{raw}"（不接受十六进制或八进制）')
        if value is None:
            self.fail(node, f'{what}应为数字，不是 "{short(raw, 40)}"')
        return value

    # -- the spec -----------------------------------------------------------------------
    def parse(self, text: str) -> Spec:
        self.max_visits = max(MAX_NODES, len(text) // BYTES_PER_VISIT)
        if self.path.lower().endswith(".json"):
            try:
                root = compose_json(text)
            except JsonSyntaxError as exc:
                raise SpecError(f"JSON 语法错误：{exc.message}", Location(self.path, exc.line, exc.col)) from None
            except RecursionError:
                raise SpecError("JSON 嵌套过深，不像规格文件", self.path) from None
            return self.spec(root)
        try:
            root = compose_yaml(text)
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            where = Location(self.path, mark.line + 1, mark.column + 1) if mark else self.path
            raise SpecError(f"YAML 语法错误：{_problem(exc.problem or exc.context)}", where) from None
        except yaml.YAMLError as exc:
            raise SpecError(f"YAML 错误：{' '.join(str(exc).split())}", self.path) from None
        except RecursionError:
            raise SpecError("YAML 嵌套过深，不像规格文件；请检查括号是否成对", self.path) from None
        except UnicodeError:
            raise SpecError("含有无效的字符（如孤立的 UTF-16 代理项 \\udXXX），工作簿无法保存；请删除", self.path) from None
        return self.spec(root)

    def spec(self, root: yaml.Node | None) -> Spec:
        if root is None:
            raise SpecError("文件为空；规格至少需要 projects: 列表", self.path)
        top = dict((k, (kn, vn)) for k, kn, vn in self.mapping(root, "规格文件"))
        # "warnings": what `perfxl read --format json` normalised; kept for people, ignored here.
        allowed = set(SHARED_KEYS) | {"template", "projects", "warnings"}
        for key, (key_node, _) in top.items():
            if key not in allowed:
                self.fail(key_node, f'未知的键 "{key}"；可用：{", ".join(sorted(allowed))}')
        template_name = DEFAULT_TEMPLATE
        if "template" in top:
            node = top["template"][1]
            template_name = self.text(node, "template", required=True)
            self.template = self.form(node, template_name)
        defaults = self.shared(top)
        if "projects" not in top:
            self.fail(root, "缺少 projects: 项目列表")
        projects = [
            self.project(node, defaults, i)
            for i, node in enumerate(self.sequence(top["projects"][1], "projects"), 1)
        ]
        if not projects:
            self.fail(top["projects"][1], "projects 列表为空")
        return Spec(projects, template_name, self.path, self.template)

    def shared(self, items: dict) -> dict:
        out = {}
        where = {}
        if "year" in items:
            node = items["year"][1]
            kind, raw = self.scalar(node, "year（年度）")
            if kind not in ("decimal", "text") or not raw.strip() or (kind == "decimal" and not raw.strip().isdigit()):
                self.fail(node, "year（年度）应为年份，如 2025")
            out["year"] = int(raw) if raw.strip().isdigit() else self.text(node, "year（年度）")
            where["year"] = self.where(node)
        if "unit" in items:
            out["unit"] = self.text(items["unit"][1], "unit（填报单位）")
            where["unit"] = self.where(items["unit"][1])
        if "amount_unit" in items:
            node = items["amount_unit"][1]
            value = self.text(node, "amount_unit（金额单位）", required=True)
            if value not in AMOUNT_UNITS:
                self.fail(node, f'金额单位 "{value}" 无效；可选：元、万元')
            out["amount_unit"] = value
            where["amount_unit"] = self.where(node)
        out["where"] = where
        return out

    def project(self, node: yaml.Node, defaults: dict, index: int) -> Project:
        """One project on the spec's form, or on its own (`template:` in the project)."""
        items = {k: (kn, vn) for k, kn, vn in self.mapping(node, f"第 {index} 个项目")}
        if "template" not in items:
            return self.record(node, items, defaults)
        spec_form, name_node = self.template, items.pop("template")[1]
        name = self.text(name_node, "template", required=True)
        self.template = self.form(name_node, name)
        try:
            project = self.record(node, items, defaults)
        finally:
            own, self.template = self.template, spec_form
        if own.source != spec_form.source:
            project.template, project.form = name, own
        return project

    def form(self, node: yaml.Node, name: str) -> Template:
        try:
            return load_template(name, base=os.path.dirname(self.path) or None)
        except TemplateError as exc:
            if exc.where is None:           # an unknown form name: the spec's mistake
                self.fail(node, exc.message)
            raise                           # a mistake inside the form file: its own file:line

    def record(self, node: yaml.Node, items: dict, defaults: dict) -> Project:
        more = [b.key for b in self.template.more_blocks]
        tables = [t.key for t in self.template.tables]
        allowed = (set(PROJECT_KEYS) | set(SHARED_KEYS) | {"indicators", "template"} | set(self.form_fields)
                   | set(more) | set(tables))
        for key, (key_node, _) in items.items():
            if key in self.template.sum_fields:
                table, column = self.template.sum_fields[key]
                self.fail(key_node, f'"{key}" 是表格 {table} 的 {column} 列合计，由各行计算得出，不能填写')
            if key not in allowed:
                self.fail(key_node, f'项目中未知的键 "{key}"；可用：{", ".join(sorted(allowed))}')
            if key in PROJECT_KEYS and key not in self.form_fields:
                self.fail(key_node, f'表样「{self.template.name}」没有栏目 "{key}"，它不会出现在表中；'
                                    f'可用：{", ".join(self.form_fields)}')
        own = self.shared(items)
        where = {**defaults["where"], **own.pop("where"), "project": self.where(node)}
        shared = {k: v for k, v in defaults.items() if k != "where"}
        shared.update(own)
        project = Project(**shared)
        project.where = where
        kinds, labels = self.template.field_kinds, self.template.field_labels()
        for key in (*PROJECT_KEYS, *(k for k in self.form_fields if k not in PROJECT_KEYS)):
            if key in items:
                value_node = items[key][1]
                value = (self.number(value_node, f"{key}（{labels[key].label}）") if kinds.get(key) == "money"
                         else self.text(value_node, key))
                project.set(key, value)
                where[key] = self.where(value_node)
        tree_node = items.get("indicators", (None, None))[1]
        project.indicators = self.indicators(tree_node, project)
        for key in more:
            project.blocks[key] = self.indicators(items.get(key, (None, None))[1], project, block_prefix(key))
        for table in self.template.tables:
            project.tables[table.key] = self.entries(items.get(table.key, (None, None))[1], table)
        return project

    def entries(self, node: yaml.Node | None, table) -> list[Entry]:
        """A flat table's rows: a list of mappings by the table's column keys (money as numbers)."""
        if node is None or isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return []
        out = []
        for item in self.sequence(node, f"{table.key}（{table.label}）"):
            entry = Entry(where={"row": self.where(item)})
            for key, key_node, value_node in self.mapping(item, f"{table.label}的一行"):
                if key not in table.keys:
                    self.fail(key_node, f'{table.label}中未知的列 "{key}"；可用：{", ".join(table.keys)}')
                column = table.column(key)
                what = f"{key}（{column.label}）"
                entry.set(key, self.number(value_node, what) if column.kind == "money" else self.text(value_node, what))
                entry.where[key] = self.where(value_node)
            if not entry.values:
                self.fail(item, f"{table.label}的这一行是空的；请填写内容或删除这一行")
            out.append(entry)
        return out

    def indicators(self, node: yaml.Node | None, project: Project, prefix: str = ""):
        tree: dict[str, dict[str, list[Indicator]]] = {}
        if node is not None and not (isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null")):
            for level1, key1, value1 in self.mapping(node, "indicators"):
                groups = tree.setdefault(level1, {})
                project.where[f"{prefix}l1:{level1}"] = self.where(key1)
                if isinstance(value1, yaml.ScalarNode) and value1.value in ("", "~", "null"):
                    continue
                for level2, key2, value2 in self.mapping(value1, f"一级指标 {level1}"):
                    project.where[f"{prefix}l2:{level1}/{level2}"] = self.where(key2)
                    rows = groups.setdefault(level2, [])
                    if isinstance(value2, yaml.ScalarNode) and value2.value in ("", "~", "null"):
                        continue
                    for item in self.sequence(value2, f"二级指标 {level2}"):
                        rows.append(self.indicator(item))
        return complete_tree(tree, self.template)

    def indicator(self, node: yaml.Node) -> Indicator:
        self.visit(node)
        if isinstance(node, yaml.ScalarNode):  # "- 资金投入率" is an indicator with only a name
            name = self.text(node, "三级指标", required=True)
            return Indicator(name, where={"name": self.where(node)})
        fields = {k: (kn, vn) for k, kn, vn in self.mapping(node, "三级指标")}
        for key, (key_node, _) in fields.items():
            if key not in INDICATOR_KEYS and key not in self.form_columns:
                self.fail(key_node, f'指标中未知的键 "{key}"；可用：{", ".join(self.form_columns)}')
            if key not in self.form_columns:
                self.fail(key_node, f'表样「{self.template.name}」没有指标列 "{key}"，它不会出现在表中；'
                                    f'可用：{", ".join(self.form_columns)}')
        if "name" not in fields:
            self.fail(node, "指标缺少 name（三级指标名称）")
        where = {"name": self.where(node)}
        indicator = Indicator(self.text(fields["name"][1], "name（三级指标）", required=True))
        for key in ("content", "unit", "note", *(k for k in self.form_columns if k not in INDICATOR_KEYS)):
            if key in fields:
                indicator.set(key, self.text(fields[key][1], key))
                where[key] = self.where(fields[key][1])
        if "type" in fields:
            type_node = fields["type"][1]
            raw = self.text(type_node, "type（指标值类型）")
            if raw is not None:
                value_type = self.template.normalise_type(raw)
                if value_type is None:
                    self.fail(type_node, f'指标值类型 "{raw}" 无效；可选 {" ".join(self.template.value_types)}')
                indicator.type = value_type
            where["type"] = self.where(type_node)
        if "value" in fields:
            value_node = fields["value"][1]
            indicator.value = self.value(value_node)
            where["value"] = self.where(value_node)
        indicator.where = where
        return indicator

    def value(self, node: yaml.Node):
        """指标值: a plain decimal is a number (`0100` is 100); anything else is text as typed."""
        kind, raw = self.scalar(node, "value（指标值）")
        if kind == "null":
            return None
        value = decimal_value(raw) if kind == "decimal" else None
        if kind == "decimal" and is_finite_number(value):
            return value
        if kind == "decimal" or (kind == "number" and CORE_FLOAT.fullmatch(raw) and not CORE_INT.fullmatch(raw)):
            self.fail(node, "指标值应为有限的数字")        # 1e999, .inf, .nan
        return self.text(node, "value（指标值）")           # hex and octal forms are text here


def complete_tree(tree: dict, template: Template) -> dict:
    """Order the tree as the template's skeleton, adding its empty groups; unknown ones follow."""
    out: dict[str, dict[str, list[Indicator]]] = {}
    for level1, known in template.skeleton.items():
        given = tree.get(level1, {})
        groups = {level2: list(given.get(level2, [])) for level2 in known}
        groups.update({k: list(v) for k, v in given.items() if k not in groups})
        out[level1] = groups
    for level1, given in tree.items():
        if level1 not in out:
            out[level1] = {k: list(v) for k, v in given.items()}
    return out


# What PyYAML and libyaml say most often, in the users' words (the rest stays as the parser says it).
YAML_PROBLEMS = {
    "exceeded maximum nesting depth": "嵌套过深，不像规格文件；请检查括号是否成对",
    "mapping values are not allowed": "这里不能出现“键: 值”（冒号后要有空格，或给含冒号的文字加引号）",
    "did not find expected key": "缺少键，或缩进不一致",
    "found character '\\t' that cannot start any token": "不能用 Tab 缩进；请改用空格",
    "found character that cannot start any token": "这里的字符不能开始一个值（不能用 Tab 缩进；以 @ 或 ` 开头的文字要加引号）",
    "found undefined alias": "引用了未定义的锚点（*名称）",
    "found duplicate anchor": "锚点（&名称）重复",
    "did not find expected node content": "缺少值",
    "found unexpected end of stream": "文件意外结束（引号或括号没有闭合）",
    "could not find expected ':'": "缺少冒号 :",
}


def _problem(text: str | None) -> str:
    text = " ".join(str(text or "").split())
    for english, chinese in YAML_PROBLEMS.items():
        if text.startswith(english):
            return chinese
    return text

