"""Taking returns back: what `perfxl collect … -o FOLDER` writes from the collected returns.

- 汇总.xlsx, for the reviewer (perfxl.office.summary);
- bundle.xlsx: every project re-rendered uniformly, one sheet each, grouped by 填报单位 (the
  print bundle), and, LibreOffice at hand, printed: bundle.pdf, or pdf/<填报单位>.pdf each (A4,
  each table on its own page(s), page numbers: the form's print setup);
- 退回/: for each 填报单位 with errors, the file to send back (perfxl.office.returns); a 退回 file of
  an earlier run for a unit that has none now is removed (only files perfxl marked as 退回);
- collected.yaml: the combined spec.

汇总.xlsx and bundle.xlsx are marked as collect's own, so a later collect over the same folder
passes over them. Each file is written atomically, the files side by side in worker processes;
the same returns give the same bytes whatever the order of the inputs or the number of processes.
"""
from __future__ import annotations

import os
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
    from ..dump import dump_spec
    from ..output import check_output, write_text
    from ..render import render
    from ..template import form_of
    from .returns import RETURN_MARK, write_return
    from .summary import projects_by_unit, summary_tables
    from .tablebook import write_tables

    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise PerfxlError("输出应为一个文件夹（汇总.xlsx、bundle.xlsx、退回/ 和 collected.yaml 写在其中）",
                          os.fspath(outdir))
    for name in (SUMMARY, BUNDLE):
        check_output(outdir / name, result.files)
    check_output(outdir / COLLECTED, result.files, kind="text")
    form = form_of(result.spec)
    out = Written()
    order = projects_by_unit(result, roster)
    grouped = Spec([result.spec.projects[i] for i in order], result.spec.template, None, result.spec.form)

    units: dict[str, list[int]] = {}
    for i in order:
        units.setdefault(result.spec.projects[i].unit or "", []).append(i)
    failing = [u for u, idx in units.items() if any(f.severity == ERROR for i in idx for f in result.returns[i].findings)]
    folder = outdir / RETURNS
    names = dict(zip(failing, safe_file_names([u or "未写填报单位" for u in failing], ".xlsx")))

    def write(job: tuple[str, str]) -> None:
        kind, unit = job
        if kind == "collected":
            write_text(outdir / COLLECTED, dump_spec(result.spec))
        elif kind == "bundle":
            render(grouped, outdir / BUNDLE, mark=COLLECT_MARK)
        elif kind == "summary":
            tables = summary_tables(result, form, outdir, amount_unit=amount_unit, roster=roster)
            write_tables(outdir / SUMMARY, tables, font=form.styles["font"], charset=form.styles["font_charset"],
                         mark=COLLECT_MARK, title=f"{form.form} 汇总")
        else:
            spec = Spec([result.spec.projects[i] for i in units[unit]], result.spec.template, None, result.spec.form)
            write_return(spec, folder / names[unit])
    # the biggest first: the bundle and the 退回 files of the units with most projects
    work = [("bundle", ""), *sorted((("return", u) for u in failing), key=lambda j: -len(units[j[1]])),
            ("summary", ""), ("collected", "")]
    _remove_old_returns(folder, set(names.values()), RETURN_MARK)
    _run(write, work, jobs, outdir)
    out.files += [outdir / COLLECTED, outdir / BUNDLE, outdir / SUMMARY, *(folder / names[u] for u in failing)]
    out.returned_units = failing
    if pdf:
        books = [(name, Spec([result.spec.projects[i] for i in units[unit]], result.spec.template, None,
                             result.spec.form))
                 for unit, name in zip(units, safe_file_names([u or "未写填报单位" for u in units], ".xlsx"))]
        out.notes += _pdfs(outdir, books, pdf)
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


def _remove_old_returns(folder: Path, keep: set[str], mark: str):
    """Earlier runs' 退回 files of units that have no errors now (perfxl's own files only)."""
    from ..workbook import open_book

    if not folder.is_dir():
        return
    for path in sorted(folder.glob("*.xlsx")):
        if path.name in keep:
            continue
        try:
            if open_book(path).properties()[1] == mark:
                path.unlink()
        except (PerfxlError, OSError):
            continue


def _pdfs(outdir: Path, books: list[tuple[str, Spec]], pdf: str) -> list[str]:
    """bundle.pdf, or pdf/<填报单位>.pdf each, printed by LibreOffice; a line saying why not where it cannot."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        return ["没有找到 LibreOffice（soffice），未生成 PDF"]
    from ..render import render

    notes = []
    with tempfile.TemporaryDirectory(prefix=".perfxl-pdf-") as scratch:
        scratch = Path(scratch)
        jobs: list[tuple[Path, Path]] = []
        if pdf == "bundle":
            jobs.append((outdir / BUNDLE, outdir / "bundle.pdf"))
        else:
            for name, spec in books:
                render(spec, scratch / name)
                jobs.append((scratch / name, outdir / "pdf" / (name[:-5] + ".pdf")))
        for book, target in jobs:
            made = scratch / "pdf" / (book.stem + ".pdf")
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
    return notes
