"""Writing a Spec as spec text (YAML or JSON) that perfxl.load_spec reads back to an equal Spec.

YAML is laid out like the hand-written specs: shared year/unit/amount_unit on top, one project
after another, each indicator as a one-line flow mapping, multi-line text as a literal block.
Every string that the loader would read as something else ('95', '0100', '1e-05', 'null', '- x',
'@x') is quoted. JSON never holds NaN or infinity (the model refuses them before).
"""
from __future__ import annotations

import os
import re
from collections.abc import Iterator
from itertools import chain

import yaml

from .jsontext import json_chunks
from .model import Spec
from .output import write_text
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


def _flowed(project: dict) -> dict:
    """A project's data with its indicators as flow mappings where they fit on one line."""
    for groups in project["indicators"].values():
        for level2, items in groups.items():
            groups[level2] = [_Flow(i) if _one_line(i) else i for i in items]
    return project


def _one_line(item: dict) -> bool:
    return not any(isinstance(v, str) and "\n" in v for v in item.values())


def _yaml(data: object) -> str:
    return yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, default_flow_style=False,
                     width=1 << 30)


def dump_spec(spec: Spec, fmt: str = "yaml", extra: dict | None = None) -> str:
    """Spec → YAML (default) or JSON text; `extra` adds top-level keys (JSON only, e.g. warnings)."""
    return "".join(spec_chunks(spec, fmt, extra))


def write_spec(out: str | os.PathLike, spec: Spec, fmt: str = "yaml", extra: dict | None = None) -> None:
    """dump_spec's text into the file `out`, atomically, one table at a time (perfxl.output)."""
    write_text(out, spec_chunks(spec, fmt, extra))


def spec_chunks(spec: Spec, fmt: str = "yaml", extra: dict | None = None) -> Iterator[str]:
    """dump_spec's text in pieces, a table a piece: each table's data (and PyYAML's tree of it) is
    made as it is written, so that 10,000 collected tables are never held twice as text."""
    if fmt not in ("yaml", "json"):
        raise ValueError(f"unknown format {fmt!r}")
    top = spec.top_dict()
    if fmt == "json":
        return chain(json_chunks(top, "projects", spec.project_dicts(top), extra or {}), "\n")
    return _yaml_chunks(top, spec.project_dicts(top))


def _yaml_chunks(top: dict, projects: Iterator[dict]) -> Iterator[str]:
    yield _yaml(top)
    first = next(projects, None)
    if first is None:
        yield "projects: []\n"
        return
    yield "projects:\n"
    yield _yaml([_flowed(first)])
    for project in projects:
        yield _yaml([_flowed(project)])
