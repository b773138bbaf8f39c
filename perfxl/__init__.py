"""perfxl: the 项目支出绩效目标表 as code.

The public API::

    spec = perfxl.load_spec("specs/example.yaml")   # YAML (or JSON) → model objects
    perfxl.render(spec, "out.xlsx")                 # model → formatted, checked workbook
    perfxl.blank("blank.xlsx", projects=3, rows=2)  # empty forms for offline filling
    perfxl.check("specs/example.yaml")              # the reviewer's rules → list of Finding
    result = perfxl.read("filled.xlsx")             # workbook → .spec and .warnings
    text = perfxl.dump_spec(result.spec)            # Spec → YAML that load_spec reads back
    perfxl.write_spec("back.json", result.spec, "json")  # the same, into a file, a table at a time
    merged = perfxl.collect(["returns/"], jobs=2)   # many workbooks, in parallel → one .spec
    roster = perfxl.load_roster("名册.xlsx", perfxl.load_template())
    perfxl.send_out(roster, "下发/", rows=3)         # one pre-filled workbook per 填报单位
    perfxl.write_folder(merged, "审核/")             # 汇总.xlsx, bundle.xlsx, 退回/, collected.yaml
    perfxl.diff(old_spec, new_spec, "sent")         # → list of Change
    perfxl.preview_html(spec)                       # → one self-contained HTML page
    perfxl.write_flat(spec, "指标.csv")              # the budget system's flat layout

Names are imported when first used, so that `perfxl --help` and `perfxl read` load only the
modules they need (not XlsxWriter, Jinja2 or the rules' formula writer).
"""
from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_WHERE = {
    "Collected": "collect", "collect": "collect",
    "Location": "errors", "PerfxlError": "errors", "SpecError": "errors", "WorkbookError": "errors",
    "dump_spec": "dump", "write_spec": "dump", "check": "check",
    "Entry": "model", "Indicator": "model", "Project": "model", "Spec": "model",
    "ReadResult": "reader", "ReadWarning": "reader", "read": "reader",
    "blank": "render", "render": "render",
    "load_spec": "spec", "parse_spec": "spec", "load_template": "template",
    "Change": "diff", "diff": "diff", "preview_html": "preview", "write_flat": "flat",
    "load_roster": "office.roster", "send_out": "office.sendout", "write_folder": "office.takeback",
}
__all__ = [
    "Change", "Collected", "Entry", "Indicator", "Location", "PerfxlError", "Project", "ReadResult", "ReadWarning",
    "Spec", "SpecError", "WorkbookError", "blank", "check", "collect", "diff", "dump_spec", "load_roster",
    "load_spec", "load_template", "parse_spec", "preview_html", "read", "render", "send_out", "write_flat",
    "write_folder", "write_spec",
]


def __getattr__(name: str):
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'perfxl' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


class _Package(types.ModuleType):
    """Keeps `perfxl.check`, `perfxl.collect`, `perfxl.diff` and `perfxl.render` the functions:
    importing the module of the same name would otherwise replace the function with the module."""

    def __setattr__(self, name: str, value) -> None:
        if name in _WHERE and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package


if TYPE_CHECKING:
    from .check import check
    from .collect import Collected, collect
    from .dump import dump_spec, write_spec
    from .errors import Location, PerfxlError, SpecError, WorkbookError
    from .model import Indicator, Project, Spec
    from .reader import ReadResult, ReadWarning, read
    from .render import blank, render
    from .spec import load_spec, parse_spec
    from .template import load_template
    from .diff import Change, diff
    from .flat import write_flat
    from .office.roster import load_roster
    from .office.sendout import send_out
    from .office.takeback import write_folder
    from .preview import preview_html
