"""JSON spec files read by JSON's grammar, into the node tree the YAML spec loader walks.

`perfxl read --format json` writes specs as JSON. Reading them as YAML went wrong where the two
grammars differ (U+2028, U+2029, U+0085 and DEL are line breaks or forbidden in YAML, `1e-05`
is no YAML 1.1 number), so JSON is parsed here, strictly (RFC 8259: no NaN, no trailing
commas), into PyYAML nodes carrying line and column marks: one loader then checks both.
"""
from __future__ import annotations

import bisect
import json
import re
from json.decoder import scanstring

import yaml

STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))
MAP, SEQ = "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"
SPACE = re.compile(r"[ \t\n\r]*")
NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
MAX_DEPTH = 100


class JsonSyntaxError(ValueError):
    """Not JSON: the message and the 1-based line and column."""

    def __init__(self, message: str, line: int, col: int):
        super().__init__(message)
        self.message, self.line, self.col = message, line, col


def compose_json(text: str) -> yaml.Node:
    """The JSON document as a yaml.Node tree (scalars tagged str/int/float/bool/null)."""
    return _Composer(text).document()


class _Composer:
    def __init__(self, text: str):
        self.text = text
        self.lines = [0] + [m.end() for m in re.finditer("\n", text)]

    def mark(self, pos: int) -> yaml.Mark:
        line = bisect.bisect_right(self.lines, pos) - 1
        return yaml.Mark("<json>", pos, line, pos - self.lines[line], None, None)

    def fail(self, message: str, pos: int):
        mark = self.mark(pos)
        raise JsonSyntaxError(message, mark.line + 1, mark.column + 1)

    def skip(self, pos: int) -> int:
        return SPACE.match(self.text, pos).end()

    def document(self) -> yaml.Node:
        pos = self.skip(1 if self.text.startswith("\ufeff") else 0)
        node, pos = self.value(pos, 0)
        pos = self.skip(pos)
        if pos != len(self.text):
            self.fail("JSON 之后还有多余的内容", pos)
        return node

    def value(self, pos: int, depth: int) -> tuple[yaml.Node, int]:
        if depth > MAX_DEPTH:
            self.fail("JSON 嵌套过深", pos)
        text = self.text
        ch = text[pos:pos + 1]
        if ch == "{":
            return self.collection(pos, depth, "}", MAP)
        if ch == "[":
            return self.collection(pos, depth, "]", SEQ)
        if ch == '"':
            try:
                value, end = scanstring(text, pos + 1, True)
            except json.JSONDecodeError as exc:
                self.fail(f"字符串无效：{exc.msg}", exc.pos)
            return yaml.ScalarNode(STR, value, self.mark(pos), self.mark(end), style='"'), end
        for word, tag in (("true", BOOL), ("false", BOOL), ("null", NULL)):
            if text.startswith(word, pos):
                return yaml.ScalarNode(tag, word, self.mark(pos), self.mark(pos + len(word))), pos + len(word)
        number = NUMBER.match(text, pos)
        if number:
            tag = INT if re.fullmatch(r"-?[0-9]+", number.group()) else FLOAT
            return yaml.ScalarNode(tag, number.group(), self.mark(pos), self.mark(number.end())), number.end()
        self.fail("这里应为 JSON 值（对象、数组、字符串、数字、true、false 或 null）" if ch else "JSON 不完整", pos)

    def collection(self, start: int, depth: int, close: str, tag: str) -> tuple[yaml.Node, int]:
        items: list = []
        pos = self.skip(start + 1)
        if self.text.startswith(close, pos):
            return self.node(tag, items, start, pos + 1), pos + 1
        while True:
            if tag == MAP:
                if not self.text.startswith('"', pos):
                    self.fail("这里应为用双引号括起的键", pos)
                key, pos = self.value(pos, depth + 1)
                pos = self.skip(pos)
                if not self.text.startswith(":", pos):
                    self.fail("键之后应为冒号 :", pos)
                value, pos = self.value(self.skip(pos + 1), depth + 1)
                items.append((key, value))
            else:
                value, pos = self.value(pos, depth + 1)
                items.append(value)
            pos = self.skip(pos)
            if self.text.startswith(close, pos):
                return self.node(tag, items, start, pos + 1), pos + 1
            if not self.text.startswith(",", pos):
                self.fail(f"这里应为逗号 , 或 {close}", pos)
            pos = self.skip(pos + 1)

    def node(self, tag: str, items: list, start: int, end: int) -> yaml.Node:
        kind = yaml.MappingNode if tag == MAP else yaml.SequenceNode
        return kind(tag, items, self.mark(start), self.mark(end), flow_style=True)
