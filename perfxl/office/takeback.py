"""Taking returns back: what `perfxl collect … -o FOLDER` writes from the collected returns.

- 汇总.xlsx, for the reviewer (perfxl.office.summary);
- bundle.xlsx: every project re-rendered uniformly, one sheet each, grouped by 填报单位 (the
  print bundle; beyond 1,000 tables in parts bundle-1.xlsx, bundle-2.xlsx …), and, LibreOffice at
  hand, printed: bundle.pdf, or pdf/<填报单位>.pdf each (A4, each table on its own page(s), page
  numbers: the form's print setup);
- 退回/: for each 填报单位 with errors, the file to send back (perfxl.office.returns); a 退回 file of
  an earlier run for a unit that has none now is removed (only files perfxl marked as 退回);
- collected.yaml: the combined spec.

汇总.xlsx and bundle.xlsx are marked as collect's own, so a later collect over the same folder
passes over them. Each file is written atomically, the files side by side in worker processes;
the same returns give the same bytes whatever the order of the inputs or the number of processes.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from ..collect import COLLECT_MARK, Collected
from ..errors import PerfxlError
from ..model import Spec
from ..rules import ERROR
from .sendout import safe_file_names

SUMMARY = "汇总.xlsx"
BUNDLE = "bundle.xlsx"
COLLECTED = "collected.yaml"
RETURNS = "退回"
PART = 1000             # tables per bundle or 退回 workbook: Excel slows down beyond, and memory grows


@dataclass
class Written:
    """The files written, and the 填报单位 sent a 退回 file."""

    files: list[Path] = field(default_factory=list)
    returned_units: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def write_folder(result: Collected, outdir: str | os.PathLike, *, roster=None, amount_unit: str = "元",
                 pdf: str | None = None, jobs: int | None = None) -> Written:
    """Write the round's files into `outdir` with `jobs` processes (default: all cores).
    pdf: None, "bundle" or "per-unit"."""
    from ..dump import write_spec
    from ..output import check_output
    from ..render import render
    from ..template import form_of
    from .returns import RETURN_MARK, write_return
    from .summary import projects_by_unit, summary_tables
    from .tablebook import write_tables

    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise PerfxlError("输出应为一个文件夹（汇总.xlsx、bundle.xlsx、退回/ 和 collected.yaml 写在其中）",
                          os.fspath(outdir))
    form = form_of(result.spec)
    out = Written()
    order = projects_by_unit(result, roster)
    units: dict[str, list[int]] = {}
    for i in order:
        units.setdefault(result.spec.projects[i].unit or "", []).append(i)
    failing = [u for u, idx in units.items() if any(f.severity == ERROR for i in idx for f in result.returns[i].findings)]
    folder = outdir / RETURNS
    # (path, project indexes) of each workbook: the bundle and each unit's 退回 file, in parts of
    # at most PART tables (bundle-1.xlsx …, 单位-1.xlsx …)
    bundles = _parts(outdir, BUNDLE, order)
    returns = [part for unit, name in zip(failing, safe_file_names([u or "未写填报单位" for u in failing], ".xlsx"))
               for part in _parts(folder, name, units[unit])]
    for path, _ in (*bundles, *returns, (outdir / SUMMARY, ())):
        check_output(path, result.files)
    check_output(outdir / COLLECTED, result.files, kind="text")

    def spec_of(indexes) -> Spec:
        return Spec([result.spec.projects[i] for i in indexes], result.spec.template, None, result.spec.form)

    def write(job: tuple[str, int]) -> None:
        kind, k = job
        if kind == "collected":
            write_spec(outdir / COLLECTED, result.spec)
        elif kind == "bundle":
            render(spec_of(bundles[k][1]), bundles[k][0], mark=COLLECT_MARK)
        elif kind == "summary":
            tables = summary_tables(result, form, outdir, amount_unit=amount_unit, roster=roster)
            write_tables(outdir / SUMMARY, tables, font=form.styles["font"], charset=form.styles["font_charset"],
                         mark=COLLECT_MARK, title=f"{form.form} 汇总")
        else:
            write_return(spec_of(returns[k][1]), returns[k][0])
    # the biggest first: the bundle's parts and the 退回 files of the units with most projects
    work = sorted([*(("bundle", k) for k in range(len(bundles))), *(("return", k) for k in range(len(returns)))],
                  key=lambda j: -len((bundles if j[0] == "bundle" else returns)[j[1]][1]))
    work += [("summary", 0), ("collected", 0)]
    _remove_old(folder, {p.name for p, _ in returns}, "*.xlsx", _marked(RETURN_MARK))
    _remove_old(outdir, {p.name for p, _ in bundles}, "bundle*.xlsx", _marked(COLLECT_MARK))
    _run(write, work, jobs, outdir)
    out.files += [outdir / COLLECTED, *(p for p, _ in bundles), outdir / SUMMARY, *(p for p, _ in returns)]
    out.returned_units = failing
    printed: list[Path] = []
    if pdf == "bundle":
        out.notes += _pdfs(outdir, [(path, None) for path, _ in bundles], printed)
    elif pdf:
        out.notes += _pdfs(outdir / "pdf", [(Path(name), spec_of(units[unit])) for unit, name in
                                            zip(units, safe_file_names([u or "未写填报单位" for u in units], ".xlsx"))],
                           printed)
    for pdfs in (outdir, outdir / "pdf"):
        _remove_old(pdfs, {p.name for p in printed if p.parent == pdfs}, "*.pdf", _printed_by_collect)
    return out


def _run(write, work: list, jobs: int | None, outdir: Path) -> None:
    """Each file written by `write` in worker processes (perfxl.pool): a failure is one line."""
    from ..pool import Crashed, Raised, run_isolated

    jobs = max(1, min(jobs or os.cpu_count() or 1, len(work)))
    if jobs == 1:
        for job in work:
            write(job)
        return
    for job, outcome in zip(work, run_isolated(_caught(write), work, jobs=jobs)):
        if isinstance(outcome, (Crashed, Raised)):
            raise PerfxlError(f"写出失败：{outcome.reason}", os.fspath(outdir))
        if outcome is not None:
            raise PerfxlError(outcome[1], outcome[0])


def _caught(write):
    """`write` returning (where, message) of a PerfxlError instead of raising it across processes."""
    def run(job):
        try:
            write(job)
        except PerfxlError as exc:
            return (str(exc.where) if exc.where else None, exc.message)
        return None
    return run


def _parts(folder: Path, name: str, indexes: list[int]) -> list[tuple[Path, list[int]]]:
    """A workbook of these projects, or, beyond PART tables, its parts name-1.xlsx, name-2.xlsx …"""
    if len(indexes) <= PART:
        return [(folder / name, indexes)]
    stem = name[:-len(".xlsx")]
    return [(folder / f"{stem}-{k}.xlsx", indexes[i:i + PART]) for k, i in enumerate(range(0, len(indexes), PART), 1)]


def _remove_old(folder: Path, keep: set[str], pattern: str, ours) -> None:
    """Earlier runs' files that this run does not write again (a 退回 file of a unit that has no
    errors now, a bundle part no longer needed, a PDF of returns as they were): perfxl's own
    only, as `ours(path)` tells by their mark."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(pattern)):
        if path.name in keep:
            continue
        try:
            if ours(path):
                path.unlink()
        except (PerfxlError, OSError):
            continue


def _marked(mark: str):
    """Whether a workbook carries perfxl's `mark` in its properties."""
    from ..workbook import open_book

    return lambda path: open_book(path).properties()[1] == mark


def _printed_by_collect(path: Path) -> bool:
    """Whether a PDF was printed from a workbook collect marked (LibreOffice writes its Keywords
    perfxl:collect as "perfxl, collect")."""
    return re.sub(r"[^a-z]", "", _pdf_keywords(path) or "") == f"perfxl{COLLECT_MARK}"


def _pdf_keywords(path: Path) -> str | None:
    """The Keywords of a PDF's document information as LibreOffice writes it (near the end, as
    UTF-16 in hex), or None."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 65536))
            tail = f.read()
    except OSError:
        return None
    found = re.search(rb"/Keywords\s*<([0-9A-Fa-f\s]*)>", tail)
    if found is None:
        return None
    try:
        return bytes.fromhex(found.group(1).decode("ascii")).decode("utf-16")
    except (ValueError, UnicodeDecodeError):
        return None


def _pdfs(folder: Path, books: list[tuple[Path, Spec | None]], printed: list[Path]) -> list[str]:
    """Each workbook printed by LibreOffice to folder/<its name>.pdf (added to `printed`); a
    book with a Spec is rendered first. A line saying why not, where it cannot."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return ["没有找到 LibreOffice（soffice），未生成 PDF"]
    from ..render import render

    notes = []
    with tempfile.TemporaryDirectory(prefix=".perfxl-pdf-") as scratch:
        scratch = Path(scratch)
        for book, spec in books:
            if spec is not None:
                render(spec, scratch / book.name, mark=COLLECT_MARK)
                book = scratch / book.name
            made, target = scratch / "pdf" / (book.stem + ".pdf"), folder / (book.stem + ".pdf")
            try:
                subprocess.run([soffice, f"-env:UserInstallation={(scratch / 'profile').as_uri()}", "--headless",
                                "--convert-to", "pdf", "--outdir", str(scratch / "pdf"), str(book)],
                               capture_output=True, timeout=900, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                notes.append(f"{target}: LibreOffice 未能生成 PDF（{exc}）")
                continue
            if not made.is_file():
                notes.append(f"{target}: LibreOffice 未能生成 PDF")
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(str(made), target)
            printed.append(target)
    return notes
