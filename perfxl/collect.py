"""`perfxl collect`: many filled workbooks read in parallel and merged into one spec.

Directories are searched (recursively) for workbooks; the files are read by `perfxl.read` in a
process pool and their projects merged in a stable order: sorted by path, then table order, so
the result does not depend on the number of processes. A file that cannot be read is reported
and skipped; the others are still collected.
"""
from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PerfxlError
from .model import Spec

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
CHUNKS_PER_JOB = 4          # pool work units per process: few round trips, still balanced


@dataclass
class Collected:
    """The merged spec, each file's reader warnings, and the files that could not be read."""

    spec: Spec
    files: list[str] = field(default_factory=list)                      # read, in merge order
    warnings: list = field(default_factory=list)                        # ReadWarning, naming its file
    failures: list[tuple[str, str]] = field(default_factory=list)       # (path, why)


def find_workbooks(paths: list[str | os.PathLike]) -> list[str]:
    """Files as given, and the workbooks under directories (Excel lock files `~$…` skipped); sorted, unique."""
    found = set()
    for path in map(Path, paths):
        if path.is_dir():
            found.update(str(p) for p in path.rglob("*")
                         if p.suffix.lower() in WORKBOOK_SUFFIXES and not p.name.startswith("~$") and p.is_file())
        else:
            found.add(str(path))
    return sorted(found)


def collect(paths: list[str | os.PathLike], jobs: int | None = None) -> Collected:
    """Read every workbook in `paths` (files or directories) with `jobs` processes (default: all cores)."""
    files = find_workbooks(paths)
    if not files:
        raise PerfxlError("没有找到工作簿（.xlsx .xlsm .xls .ods）：" + "、".join(map(str, paths)))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files)))
    # The reader imported (~0.25 s) and the template loaded before the pool forks: workers inherit both.
    from . import reader  # noqa: F401
    from .template import load_template
    load_template()
    if jobs == 1:
        results = [_read_one(f) for f in files]
    else:
        chunk = max(1, len(files) // (jobs * CHUNKS_PER_JOB))
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_read_one, files, chunksize=chunk))
    return _merge(files, results)


def _read_one(path: str) -> tuple[Spec | None, list, str | None]:
    """(spec, warnings, None) of one file, or (None, [], why) when it cannot be read."""
    from .reader import read

    try:
        book = read(path)
    except PerfxlError as exc:
        return None, [], _one_line(exc.message)
    except Exception as exc:        # any unreadable file must not stop the others
        return None, [], _one_line(f"{type(exc).__name__}: {exc}")
    return book.spec, book.warnings, None


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _merge(files: list[str], results: list) -> Collected:
    out = Collected(Spec([]))
    for path, (spec, warnings, why) in zip(files, results):
        if spec is not None and out.files and spec.template != out.spec.template:
            why = f"模板 {spec.template} 与先读到的 {out.spec.template} 不同"
        if why is not None:
            out.failures.append((path, why))
            continue
        if not out.files:
            out.spec.template = spec.template
        out.spec.projects.extend(spec.projects)
        out.files.append(path)
        out.warnings.extend(warnings)
    return out


def write_collected(result: Collected, out: str | os.PathLike | None) -> str | None:
    """Write the merged spec to `out`: a bundle workbook (.xlsx), JSON with the warnings and the
    unreadable files (.json), else YAML. Without `out`, return the YAML text instead."""
    from .dump import dump_spec
    from .render import render

    suffix = Path(out).suffix.lower() if out else ""
    if suffix == ".xlsx":
        render(result.spec, out)
        return None
    if suffix == ".json":
        text = dump_spec(result.spec, "json", {
            "warnings": [w.to_dict() for w in result.warnings],
            "failures": [{"path": path, "error": why} for path, why in result.failures]})
    else:
        text = dump_spec(result.spec)
    if out is None:
        return text
    Path(out).write_text(text, encoding="utf-8")
    return None
