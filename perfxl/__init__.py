"""perfxl: the 项目支出绩效目标表 as code.

The public API::

    spec = perfxl.load_spec("specs/example.yaml")   # YAML → model objects
    perfxl.render(spec, "out.xlsx")                 # model → formatted, checked workbook
    perfxl.blank("blank.xlsx", projects=3, rows=2)  # empty forms for offline filling
    perfxl.check("specs/example.yaml")              # the reviewer's rules → list of Finding
    result = perfxl.read("filled.xlsx")             # workbook → .spec and .warnings
    text = perfxl.dump_spec(result.spec)            # Spec → YAML that load_spec reads back
    merged = perfxl.collect(["returns/"], jobs=2)   # many workbooks, in parallel → one .spec
"""
from .check import check
from .collect import Collected, collect
from .errors import Location, PerfxlError, SpecError, WorkbookError
from .dump import dump_spec
from .model import Indicator, Project, Spec
from .reader import ReadResult, ReadWarning, read
from .render import blank, render
from .spec import load_spec, parse_spec
from .template import load_template

__all__ = [
    "Collected", "Indicator", "Location", "PerfxlError", "Project", "ReadResult", "ReadWarning", "Spec",
    "SpecError", "WorkbookError", "blank", "check", "collect", "dump_spec", "load_spec", "load_template",
    "parse_spec", "read", "render",
]
__version__ = "0.1.0"
