"""YAML text to nodes that keep their line and column, by YAML 1.2 rules, without crashing.

libyaml's composer where PyYAML has it (same marks, ~6× faster than the Python one); PyYAML's
Python composer for text nested so deep that libyaml's recursive C code would overflow the stack.
Every plain scalar is tagged PLAIN, so that the caller classifies it by YAML 1.2 core rules
(perfxl.values) rather than by PyYAML's YAML 1.1 resolvers (`0500000` octal, `1:30` = 90).
`to_data` turns nodes into plain Python values, with each value's mark by its path.
"""
from __future__ import annotations

import re

import yaml

from .values import decimal_value, plain_kind

PLAIN = "tag:perfxl,2026:plain"      # a plain scalar, classified by perfxl.values (YAML 1.2 core)
STR, INT, FLOAT, BOOL, NULL = (f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null"))


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """libyaml's composer where PyYAML has it (same line and column marks, ~6× faster), with
    every plain scalar tagged PLAIN: the spec loader reads them by YAML 1.2 rules itself
    (PyYAML's YAML 1.1 resolvers read `0500000` as octal, `1:30` as 90, `2025.10` as 2025.1)."""

    yaml_implicit_resolvers = {None: [(PLAIN, re.compile(r".*", re.S))], "": [(PLAIN, re.compile(r""))]}

    def resolve(self, kind, value, implicit):
        """What PyYAML's resolver gives with the resolvers above, without its per-scalar regex
        walk (libyaml calls back into Python for every scalar: a tenth of loading a spec)."""
        if kind is yaml.ScalarNode:
            return PLAIN if implicit[0] else self.DEFAULT_SCALAR_TAG
        return self.DEFAULT_SEQUENCE_TAG if kind is yaml.SequenceNode else self.DEFAULT_MAPPING_TAG


class _PythonLoader(yaml.SafeLoader):
    """PyYAML's Python composer, for text nested deeper than libyaml's recursive C composer can
    take without overflowing the C stack (a segfault, not an error): here Python's recursion
    limit ends it with RecursionError."""

    yaml_implicit_resolvers = _Loader.yaml_implicit_resolvers
    resolve = _Loader.resolve


MAX_C_NESTING = 200            # flow brackets or indentation beyond this go to the Python composer
#                                (libyaml's composer overflows 8 MB of C stack at 20,000-30,000 levels)
_BRACKETS = re.compile(r"[\[\]{}]")
_DEEP_INDENT = re.compile(rf"^[ \t?:-]{{{MAX_C_NESTING},}}", re.M)


def deeply_nested(text: str) -> bool:
    """True when the text may nest deeper than MAX_C_NESTING: counted over every bracket, quoted
    or not (never below zero), and over leading indentation. It errs towards the slower, safe
    composer; hiding 20,000 levels from it would take 20,000 closing brackets before them."""
    if _DEEP_INDENT.search(text):
        return True
    depth = 0
    for match in _BRACKETS.finditer(text):
        depth = depth + 1 if match.group() in "[{" else max(depth - 1, 0)
        if depth > MAX_C_NESTING:
            return True
    return False


def compose_yaml(text: str) -> yaml.Node | None:
    """The text's single YAML node tree, every plain scalar tagged PLAIN."""
    loader = _PythonLoader if deeply_nested(text) else _Loader
    return loader(text).get_single_node()


Path = tuple  # keys and indexes from the root: ("rules", 3, "when")


def to_data(node: yaml.Node | None, marks: dict, path: Path = ()) -> object:
    """Plain values of a node tree (YAML 1.2 core types), marks[path] = (line, col), 1-based.

    Aliases are followed as values (a form file is small; the spec loader counts its visits)."""
    if node is None:
        return None
    marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            key = to_data(key_node, marks, path + ("<key>",))
            if not isinstance(key, (str, int)):
                raise yaml.MarkedYAMLError(problem="键应为文字", problem_mark=key_node.start_mark)
            if key in out:
                raise yaml.MarkedYAMLError(problem=f'键 "{key}" 重复', problem_mark=key_node.start_mark)
            marks[path + (key, "<key>")] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            out[key] = to_data(value_node, marks, path + (key,))
        return out
    if isinstance(node, yaml.SequenceNode):
        return [to_data(item, marks, path + (i,)) for i, item in enumerate(node.value)]
    if node.tag != PLAIN:
        return node.value
    kind = plain_kind(node.value)
    if kind == "null":
        return None
    if kind == "bool":
        return node.value.lower() == "true"
    if kind == "decimal":
        return decimal_value(node.value)
    return node.value
