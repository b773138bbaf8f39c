"""Writing a Spec as spec text (YAML or JSON) that perfxl.load_spec reads back to an equal Spec.

YAML is laid out like the hand-written specs: shared year/unit/amount_unit on top, one project
after another, each indicator as a one-line flow mapping, multi-line text as a literal block.
Every string that the loader would read as something else ('95', '0100', '1e-05', 'null', '- x',
'@x') is quoted. JSON never holds NaN or infinity (the model refuses them before).
"""
from __future__ import annotations

import re

import yaml

from .jsontext import json_text
from .model import Spec
from .values import CORE_BOOL, CORE_FLOAT, CORE_INT, CORE_NULL


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):
    """PyYAML's dumper (libyaml's emitter where present) that keeps key order, writes wide lines
    (CJK text has no spaces to fold) and quotes every string the spec loader would read as
    something else by YAML 1.2 rules ('0100', '1e-05', 'null', 'true'), and '=' (which plain
    PyYAML cannot load)."""

    yaml_implicit_resolvers = {
        None: [(f"tag:yaml.org,2002:{tag}", re.compile(rf"(?:{rx.pattern})\Z"))
               for tag, rx in (("null", CORE_NULL), ("bool", CORE_BOOL), ("int", CORE_INT), ("float", CORE_FLOAT))],
        "": [("tag:yaml.org,2002:null", re.compile(r""))],
        "=": [("tag:yaml.org,2002:value", re.compile(r"=\Z"))],     # '=' stays quoted for YAML 1.1 tools
    }


class _Flow(dict):
    """A mapping written on one line: {name: 资金投入率, type: =, value: 100, unit: '%'}."""


def _str(dumper: yaml.SafeDumper, text: str):
    style = "|" if "\n" in text and text == text.strip() and "\r" not in text else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style=style)


def _flow(dumper: yaml.SafeDumper, data: _Flow):
    return dumper.represent_mapping("tag:yaml.org,2002:map", data.items(), flow_style=True)


_Dumper.add_representer(str, _str)
_Dumper.add_representer(_Flow, _flow)


def spec_data(spec: Spec) -> dict:
    """The spec as plain data, indicators as flow mappings when they are on one line."""
    data = spec.to_dict()
    for project in data["projects"]:
        for groups in project["indicators"].values():
            for level2, items in groups.items():
                groups[level2] = [_Flow(i) if _one_line(i) else i for i in items]
    return data


def _one_line(item: dict) -> bool:
    return not any(isinstance(v, str) and "\n" in v for v in item.values())


def dump_spec(spec: Spec, fmt: str = "yaml", extra: dict | None = None) -> str:
    """Spec → YAML (default) or JSON text; `extra` adds top-level keys (JSON only, e.g. warnings)."""
    if fmt == "json":
        data = spec.to_dict()
        data.update(extra or {})
        return json_text(data) + "\n"
    if fmt != "yaml":
        raise ValueError(f"unknown format {fmt!r}")
    return yaml.dump(spec_data(spec), Dumper=_Dumper, allow_unicode=True, sort_keys=False,
                     default_flow_style=False, width=1 << 30)
