"""`perfxl collect`: many returned workbooks read in parallel and merged into one spec.

Files are taken as given; folders are searched (recursively, following links once). Skipped,
each with a line saying why: Excel's lock files (`~$…`), perfxl's temporary files (`.perfxl-…`),
files that are no workbook, the output of this very run, workbooks perfxl collect wrote itself
(marked in their properties), and a second copy of a file already taken (same bytes).

The workbooks are read by `perfxl.read` in worker processes (perfxl.pool): a file that makes its
reader abort or run out of memory is that file's one-line failure, and the rest is collected.
The merge is stable (sorted by path, then table order), so the result does not depend on the
number of processes. Two returns of one project (same 填报单位 and 项目名称) in different files:
the newer file wins (by the date saved in the file, then its modification time); the other is
reported as superseded.
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from .errors import PerfxlError
from .model import Spec
from .output import TEMP_PREFIX, WORKBOOK_SUFFIXES, check_output, same_file

COLLECT_MARK = "collect"            # the `perfxl` document property of collect's own bundles
WORKER_MEMORY = 3 << 30             # each reader process's address space


@dataclass
class Collected:
    """The merged spec, each file's reader warnings, and what was not merged and why."""

    spec: Spec
    files: list[str] = field(default_factory=list)                      # read, in merge order
    warnings: list = field(default_factory=list)                        # ReadWarning, naming its file
    failures: list[tuple[str, str]] = field(default_factory=list)       # (path, why)
    skipped: list[tuple[str, str]] = field(default_factory=list)        # (path, why): not read on purpose
    superseded: list[tuple[str, str, str]] = field(default_factory=list)  # (path, project, newer path)
    returns: list[Return] = field(default_factory=list)                 # of each merged project, in order
    saved: dict[str, tuple[str, float]] = field(default_factory=dict)   # path → (date inside, modification time)


@dataclass
class Return:
    """Where a merged project came from, and what `perfxl check` finds in it there."""

    path: str
    findings: list = field(default_factory=list)                        # Finding, at the return's cells


def find_workbooks(paths: list[str | os.PathLike], output: str | os.PathLike | None = None
                   ) -> tuple[list[str], list[tuple[str, str]]]:
    """(workbooks, skipped): the files as given and the workbooks under folders, sorted, each
    file once however it was reached; skipped files with the reason."""
    found: dict[str, str] = {}              # real path → path as reached
    skipped: list[tuple[str, str]] = []
    seen_dirs: set[str] = set()
    for given in map(str, paths):
        if os.path.isdir(given):
            _walk(given, found, skipped, seen_dirs, output)
        else:
            if output is not None and same_file(given, output):
                raise PerfxlError("输出文件也是输入文件，写出会毁掉它；请换一个输出文件名", given)
            found.setdefault(os.path.realpath(given), given)
    return sorted(found.values()), sorted(skipped)


def _walk(top: str, found: dict, skipped: list, seen_dirs: set, output):
    for folder, dirs, names in os.walk(top, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen_dirs or output is not None and os.path.isdir(output) and same_file(folder, output):
            dirs[:] = []                    # a link back into a folder already searched, or the output
            continue
        seen_dirs.add(real)
        dirs.sort()
        for name in sorted(names):
            path = os.path.join(folder, name)
            why = _skip_reason(path, name, output)
            if why:
                skipped.append((path, why))
            elif os.path.isfile(path):
                found.setdefault(os.path.realpath(path), path)


def _skip_reason(path: str, name: str, output) -> str | None:
    if name.startswith("~$"):
        return "Excel 的锁定文件（工作簿正被打开），不是报送的工作簿"
    if name.startswith(TEMP_PREFIX):
        return "perfxl 写出时留下的临时文件"
    if Path(name).suffix.lower() not in WORKBOOK_SUFFIXES:
        return "不是工作簿（.xlsx .xlsm .xls .ods）"
    if output is not None and same_file(path, output):
        return "这是本次汇总的输出文件"
    return None


def collect(paths: list[str | os.PathLike], jobs: int | None = None,
            output: str | os.PathLike | None = None, progress=None) -> Collected:
    """Read every workbook in `paths` (files or folders) with `jobs` processes (default: all
    cores). `output`, where this run will write (a file or a folder), is never read as an input.
    `progress(done, total)` is called as each file is read."""
    from .pool import run_isolated

    files, skipped = find_workbooks(paths, output)
    if not files:
        raise PerfxlError("没有找到工作簿（.xlsx .xlsm .xls .ods）：" + "、".join(map(str, paths)))
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(files)))
    # The reader imported (~0.25 s) and the template loaded before the workers fork: they inherit both.
    from . import check, reader  # noqa: F401
    from .template import load_template
    load_template()
    on_done = (lambda n: progress(n, len(files))) if progress else None
    results = run_isolated(_read_one, files, jobs=jobs, memory_limit=WORKER_MEMORY, on_done=on_done)
    out = _merge(files, [r if isinstance(r, _Read) else _Read(why=r.reason) for r in results])
    out.skipped[:0] = skipped
    return out


@dataclass
class _Read:
    """One file's outcome, as a worker sends it back."""

    spec: Spec | None = None
    warnings: list = field(default_factory=list)
    why: str | None = None
    digest: str = ""
    saved: tuple[str, float] = ("", 0.0)        # (date inside the file, modification time)
    mark: str | None = None
    findings: list = field(default_factory=list)      # per project: its findings


def _read_one(path: str) -> _Read:
    from .check import check_project
    from .reader import read
    from .template import form_of

    try:
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
        mtime = os.stat(path).st_mtime
    except OSError as exc:
        return _Read(why=f"无法读取：{exc.strerror}")
    try:
        book = read(path)
    except PerfxlError as exc:
        return _Read(why=_one_line(exc.message), digest=digest)
    except Exception as exc:        # any unreadable file must not stop the others
        return _Read(why=_one_line(f"{type(exc).__name__}: {exc}"), digest=digest)
    findings = [check_project(p, form_of(book.spec, p), path) for p in book.spec.projects]
    return _Read(book.spec, book.warnings, None, digest, (book.modified or "", mtime), book.mark, findings)


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _merge(files: list[str], results: list[_Read]) -> Collected:
    out = Collected(Spec([]))
    taken: list[tuple[str, _Read]] = []
    first_with: dict[str, str] = {}         # of identical files, the one with the shortest path is read
    for path, result in sorted(zip(files, results), key=lambda pr: (len(pr[0]), pr[0])):
        first_with.setdefault(result.digest, path)
    for path, result in zip(files, results):
        if result.digest and first_with[result.digest] != path:
            out.skipped.append((path, f"与 {first_with[result.digest]} 内容完全相同，只收一次"))
            continue
        if result.mark == COLLECT_MARK:
            out.skipped.append((path, "这是 perfxl collect 汇总出的工作簿，不再收集"))
            continue
        why = result.why
        if why is not None:
            out.failures.append((path, why))
            continue
        taken.append((path, result))
    newest = _newest_returns(taken)
    for path, result in taken:
        if not out.files:
            out.spec.template = result.spec.template
        out.saved[path] = result.saved
        for project, findings in zip(result.spec.projects, result.findings):
            own = project.template or result.spec.template      # a return on another form keeps its form
            if own == out.spec.template:
                project.template = project.form = None
            else:
                project.template = own
            winner = newest.get(_key(project))
            if winner is not None and winner != path:
                out.superseded.append((path, project.name or "", winner))
                continue
            out.spec.projects.append(project)
            out.returns.append(Return(path, findings))
        out.files.append(path)
        out.warnings.extend(result.warnings)
    return out


def _key(project) -> tuple | None:
    return (project.unit or "", project.name) if project.name else None


def _newest_returns(taken: list[tuple[str, _Read]]) -> dict[tuple, str]:
    """Project key → the file whose return of it wins, for keys returned by several files."""
    files_of: dict[tuple, list[str]] = {}
    saved = {path: result.saved for path, result in taken}
    for path, result in taken:
        for key in {_key(p) for p in result.spec.projects} - {None}:
            files_of.setdefault(key, []).append(path)
    return {key: max(paths, key=lambda p: (saved[p], p)) for key, paths in files_of.items() if len(paths) > 1}


def write_collected(result: Collected, out: str | os.PathLike | None) -> str | None:
    """Write the merged spec to `out`: a bundle workbook (.xlsx, marked as collect's own), JSON
    with the warnings and what was not merged (.json), else YAML. Without `out`, return the YAML."""
    from .dump import dump_spec, write_spec
    from .render import render

    suffix = Path(out).suffix.lower() if out else ""
    if suffix == ".xlsx":
        check_output(out, result.files)
        render(result.spec, out, mark=COLLECT_MARK)
        return None
    fmt, extra = "yaml", None
    if suffix == ".json":
        fmt, extra = "json", {
            "warnings": [w.to_dict() for w in result.warnings],
            "failures": [{"path": path, "error": why} for path, why in result.failures],
            "skipped": [{"path": path, "why": why} for path, why in result.skipped],
            "superseded": [{"path": path, "project": name, "newer": newer}
                           for path, name, newer in result.superseded]}
    if out is None:
        return dump_spec(result.spec, fmt, extra)
    check_output(out, result.files, kind="text")
    write_spec(out, result.spec, fmt, extra)
    return None
