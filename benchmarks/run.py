"""Speed at scale (issue 5): perfxl beside the raw libraries doing the same work, in one run.

    python benchmarks/run.py [--sizes 100,1000,10000] [--files 500] [--repeat 3] [--workdir DIR]
    python benchmarks/run.py --scale 10000      # the whole collect round over 10,000 files and 1,000

For each size N it generates N seed-like tables (the two tables of specs/example.yaml, varied:
other names, budgets and values, an extra indicator in every third table, a 满意度 error in every
tenth) and measures, each in a fresh child process (time of the work only; peak memory is the
child's own peak RSS, or its largest worker's, so every number is independent of the others):

- render: `perfxl.render(spec, out)` (one sheet per table, as `perfxl render`) beside
  `raw_xlsxwriter.write`, a plain XlsxWriter script writing the same cells, merges, heights,
  dropdowns, conditional formats and formulas, taken from perfxl's own layout plans;
- read: `perfxl.read` of that workbook beside a plain python-calamine read (values and merged
  ranges of every sheet) and openpyxl's normal load (sizes up to 1,000 only: it is slow);
- collect: `perfxl.collect` over --files single-project workbooks with 1 and 2 processes, beside
  `perfxl.read` of them one by one in a loop; and the whole `perfxl collect … -o FOLDER` command
  (reading, checking, and writing 汇总.xlsx, bundle.xlsx, the 退回 files and collected.yaml) with
  --jobs 1 and 2;
- whole commands, as a user waits for them: `perfxl render`, `perfxl read` and `perfxl --help`
  each as its own process timed from outside (start-up, imports, spec loading and writing
  included; peak memory from the child's rusage), beside the same raw-library work as a script
  in its own process (python-calamine reading values and merged ranges; XlsxWriter writing the
  planned cells), and spec loading (`perfxl.load_spec`) beside PyYAML's C composer on the file.

perfxl runs from compiled bytecode, as pip installs it (`compiled`). Times are the minimum of
--repeat runs (one run for sizes above 1,000), runs interleaved so that load from other
processes hits both sides alike; ratios are what the targets are about. Prints a Markdown table.
Generated files go to a temporary directory (or --workdir) and are removed.
"""
from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import perfxl
from perfxl.layout import plan_table
from perfxl.model import Indicator, Project, Spec
from perfxl.render import sheet_names
from perfxl.template import load_template
from perfxl.writer import column_runs

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT / "specs" / "example.yaml"
OPENPYXL_MAX = 1000
REPEAT_MAX_SIZE = 1000


# -- the generated specs ----------------------------------------------------------------------
def make_spec(n: int) -> Spec:
    """N tables varied from the seed tables, the same for the same N."""
    seed = perfxl.load_spec(SEED)
    rng = random.Random(n)
    projects = [vary(seed.projects[i % len(seed.projects)], i, rng) for i in range(n)]
    return Spec(projects, seed.template)


def vary(p: Project, i: int, rng: random.Random) -> Project:
    tree = {l1: {l2: [vary_indicator(x, rng) for x in items] for l2, items in groups.items()}
            for l1, groups in p.indicators.items()}
    if i % 3 == 0:
        tree["产出指标"]["数量指标"].append(Indicator(f"新增服务企业{i}", "≥", rng.randint(1, 500), unit="家"))
    if i % 10 == 0:
        tree["满意度"]["服务对象满意度"][0].type = "≤"
    return Project(name=f"{i + 1}号{p.name}", category=p.category, budget=round(p.budget * rng.uniform(0.5, 2), 2),
                   period=p.period, goal=p.goal, basis=p.basis, year=p.year, unit=p.unit,
                   amount_unit=p.amount_unit, indicators=tree)


def vary_indicator(x: Indicator, rng: random.Random) -> Indicator:
    value = x.value
    if isinstance(value, (int, float)) and x.unit != "%":
        value = max(1, round(value * rng.uniform(0.5, 1.5)))
    return Indicator(x.name, x.type, value, x.content, x.unit, x.note)


# -- the raw script's input, from perfxl's plans ----------------------------------------------
def plan_ops(spec: Spec) -> dict:
    """What the raw XlsxWriter script writes: perfxl's plans as plain tuples (as render lays out)."""
    template = load_template(spec.template)
    lists = template.validation["list_sheet"]
    names = sheet_names([p.name for p in spec.projects], (lists,))
    validation = {k: template.validation[k] for k in ("input_title", "input_message", "error_title", "error_message")}
    return {"sheets": [sheet_ops(name, plan_table(template, p)) for name, p in zip(names, spec.projects)],
            "list_sheet": lists, "value_types": template.value_types, "widths": template.widths,
            "validation": {**validation, "error_type": "stop", "ignore_blank": True}}


def sheet_ops(name: str, plan) -> dict:
    sheet = {"name": name, "last_row": plan.last_row, "strings": [], "numbers": [], "blanks": [],
             "formulas": [], "arrays": [], "merges": [], "heights": sorted(plan.heights.items()),
             "validations": [(first, col, last) for first, last, col in column_runs(plan.type_cells)], "cfs": []}
    for c in plan.cells:
        value = None if c.value == "" else c.value
        if c.array:
            sheet["arrays"].append((c.row, c.col, "{=" + c.formula + "}", c.style, c.value))
        elif c.formula is not None:
            sheet["formulas"].append((c.row, c.col, "=" + c.formula, c.style, c.value))
        elif c.merged:
            sheet["merges"].append((c.row, c.col, c.last_row or c.row, c.last_col or c.col, value, c.style))
        elif value is None:
            sheet["blanks"].append((c.row, c.col, c.style))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            sheet["numbers"].append((c.row, c.col, value, c.style))
        else:
            sheet["strings"].append((c.row, c.col, str(value), c.style))
    for h in plan.highlights:
        from xlsxwriter.utility import xl_range

        multi = " ".join(xl_range(*r) for r in h.ranges) if len(h.ranges) > 1 else None
        sheet["cfs"].append((*h.ranges[0], "=" + h.formula, h.severity, multi))
    return sheet


# -- measurements, each in a child ------------------------------------------------------------
def child(kind: str, size: int, workdir: Path) -> float:
    """Run one measurement in this process; returns the seconds of the work itself."""
    if kind == "render":
        spec = make_spec(size)
        start = time.perf_counter()
        perfxl.render(spec, workdir / f"perfxl-{size}.xlsx")
    elif kind == "raw-render":
        import raw_xlsxwriter

        ops = pickle.loads((workdir / f"ops-{size}.pickle").read_bytes())
        start = time.perf_counter()
        raw_xlsxwriter.write(ops, str(workdir / f"raw-{size}.xlsx"))
    elif kind == "read":
        start = time.perf_counter()
        perfxl.read(workdir / f"perfxl-{size}.xlsx")
    elif kind == "raw-read":
        start = time.perf_counter()
        raw_read(workdir / f"perfxl-{size}.xlsx")
    elif kind == "openpyxl":
        import openpyxl

        start = time.perf_counter()
        openpyxl.load_workbook(workdir / f"perfxl-{size}.xlsx")
    elif kind == "one-by-one":
        paths = sorted((workdir / "files").glob("*.xlsx"))
        start = time.perf_counter()
        for path in paths:
            perfxl.read(path)
    elif kind.startswith("collect-"):
        start = time.perf_counter()
        perfxl.collect([workdir / "files"], jobs=int(kind.split("-")[1]))
    else:
        raise SystemExit(f"unknown measurement {kind}")
    return time.perf_counter() - start


CALAMINE_SCRIPT = """import sys
from python_calamine import CalamineWorkbook
book = CalamineWorkbook.from_path(sys.argv[1])
for name in book.sheet_names:
    sheet = book.get_sheet_by_name(name)
    sheet.to_python(), sheet.merged_cell_ranges
"""
XLSXWRITER_SCRIPT = """import pickle, sys
sys.path.insert(0, sys.argv[3])
import raw_xlsxwriter
with open(sys.argv[1], "rb") as fh:
    raw_xlsxwriter.write(pickle.load(fh), sys.argv[2])
"""
COMPOSE_SCRIPT = """import sys, yaml
with open(sys.argv[1], encoding="utf-8") as fh:
    yaml.compose(fh, Loader=yaml.CSafeLoader)
"""
LOAD_SCRIPT = """import sys, perfxl
perfxl.load_spec(sys.argv[1])
"""


def collect_commands(workdir: Path) -> dict[str, list[str]]:
    """`perfxl collect FILES -o FOLDER` (汇总, bundle, 退回, collected.yaml) with 1 and 2 processes;
    without printing bundle.pdf, which is LibreOffice's time, not perfxl's."""
    py = sys.executable
    return {f"cmd-collect-{n}": [py, "-m", "perfxl", "collect", str(workdir / "files"), "-o",
                                 str(workdir / f"round-{n}"), "--jobs", str(n), "--quiet", "--no-pdf"] for n in (1, 2)}


def commands(size: int, workdir: Path) -> dict[str, list[str]]:
    """The whole-process measurements: each a command line run in a fresh process."""
    py, here = sys.executable, str(Path(__file__).parent)
    spec, book = str(workdir / f"spec-{size}.yaml"), str(workdir / f"perfxl-{size}.xlsx")
    return {
        "cmd-render": [py, "-m", "perfxl", "render", spec, "-o", str(workdir / f"cmd-{size}.xlsx")],
        "cmd-raw-render": [py, "-c", XLSXWRITER_SCRIPT, str(workdir / f"ops-{size}.pickle"),
                           str(workdir / f"cmdraw-{size}.xlsx"), here],
        "cmd-read": [py, "-m", "perfxl", "read", book, "-o", str(workdir / f"back-{size}.json")],
        "cmd-raw-read": [py, "-c", CALAMINE_SCRIPT, book],
        "cmd-load": [py, "-c", LOAD_SCRIPT, spec],
        "cmd-compose": [py, "-c", COMPOSE_SCRIPT, spec],
        "cmd-help": [py, "-m", "perfxl", "--help"],
    }


TIME = shutil.which("time") or ("/usr/bin/time" if os.path.exists("/usr/bin/time") else None)


def whole(cmd: list[str]) -> tuple[float, float] | None:
    """(seconds, peak MB) of a command in its own process, timed from outside. The peak comes
    from GNU time (%M) where installed: Linux carries the forking process's peak into its child's
    rusage, so this big parent cannot read a small child's peak itself."""
    peak_file = tempfile.NamedTemporaryFile(prefix="perfxl-peak-", delete=False)
    peak_file.close()
    wrapped = [TIME, "-f", "%M", "-o", peak_file.name, *cmd] if TIME else cmd
    start = time.perf_counter()
    proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    try:
        peak_kb = int(Path(peak_file.name).read_text().split()[-1]) if TIME else usage.ru_maxrss
    except (ValueError, IndexError):
        peak_kb = usage.ru_maxrss
    os.unlink(peak_file.name)
    if os.waitstatus_to_exitcode(status) != 0:
        print(f"  {' '.join(cmd[:4])}: failed: {err.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    return seconds, peak_kb / 1024


def own_peak_kb() -> int:
    """This process's peak RSS in KB. Linux keeps ru_maxrss across exec, so a child started by
    a big parent would report the parent's peak; VmHWM belongs to this program's own memory."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def raw_read(path: Path) -> list:
    """python-calamine alone: every sheet's values and merged ranges."""
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    out = []
    for name in book.sheet_names:
        sheet = book.get_sheet_by_name(name)
        out.append((sheet.to_python(), sheet.merged_cell_ranges))
    return out


def measure(kind: str, size: int, workdir: Path) -> tuple[float, float] | None:
    """(seconds, peak MB) of one run in a fresh child; None when the child fails."""
    if kind.startswith("cmd-collect-"):
        return whole(collect_commands(workdir)[kind])
    if kind.startswith("cmd-"):
        return whole(commands(size, workdir)[kind])
    cmd = [sys.executable, __file__, "--child", kind, "--sizes", str(size), "--workdir", str(workdir)]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        print(f"  {kind} {size}: failed: {result.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
        return None
    data = json.loads(result.stdout.strip().splitlines()[-1])
    return data["seconds"], data["peak_mb"]


def best(kinds: list[str], size: int, workdir: Path, repeat: int) -> dict:
    """Each kind `repeat` times, interleaved; the fastest run of each (and its peak memory)."""
    runs: dict[str, list] = {k: [] for k in kinds}
    for _ in range(repeat):
        for kind in kinds:
            got = measure(kind, size, workdir)
            if got is not None:
                runs[kind].append(got)
            print(f"  {kind:<10} {size:>6}: {got[0] if got else float('nan'):8.2f} s", file=sys.stderr)
    return {k: min(v) for k, v in runs.items() if v}


# -- the report -------------------------------------------------------------------------------
def ratio(a: dict, b: dict, x: str, y: str) -> str:
    return f"{a[x][0] / b[y][0]:.2f}×" if x in a and y in b else "–"


def cell(results: dict, kind: str) -> str:
    if kind not in results:
        return "–"
    seconds, mb = results[kind]
    return f"{seconds:.2f} s, {mb:.0f} MB"


def table_rows(sizes: list[int], found: dict, columns: list[tuple[str, str] | tuple[str, str, str]]) -> list[str]:
    """A Markdown table, a row per size: (title, kind) columns show a measurement, (title, a, b)
    columns the ratio a ÷ b."""
    rows = ["| tables | " + " | ".join(c[0] for c in columns) + " |",
            "| ---: | " + " | ".join("---:" if len(c) == 3 else "---" for c in columns) + " |"]
    for n in sizes:
        r = found[n]
        rows.append(f"| {n:,} | " + " | ".join(ratio(r, r, c[1], c[2]) if len(c) == 3 else cell(r, c[1])
                                              for c in columns) + " |")
    return rows


def render_rows(sizes: list[int], found: dict) -> list[str]:
    return table_rows(sizes, found, [
        ("perfxl render", "render"), ("raw XlsxWriter", "raw-render"), ("perfxl ÷ raw", "render", "raw-render"),
        ("perfxl read", "read"), ("raw calamine", "raw-read"), ("read ÷ calamine", "read", "raw-read"),
        ("openpyxl load", "openpyxl"), ("openpyxl ÷ read", "openpyxl", "read")])


def scaling_rows(sizes: list[int], found: dict) -> list[str]:
    rows = []
    for small, big in zip(sizes, sizes[1:]):
        for kind in ("render", "raw-render", "read"):
            if kind in found[small] and kind in found[big]:
                rows.append(f"- {kind}: {big:,} tables take {found[big][kind][0] / found[small][kind][0]:.1f}× "
                            f"the time of {small:,} ({big // small}× the tables)")
    return rows


def command_rows(sizes: list[int], found: dict) -> list[str]:
    return table_rows(sizes, found, [
        ("`perfxl read`", "cmd-read"), ("calamine script", "cmd-raw-read"), ("ratio", "cmd-read", "cmd-raw-read"),
        ("`perfxl render`", "cmd-render"), ("XlsxWriter script", "cmd-raw-render"),
        ("ratio", "cmd-render", "cmd-raw-render"), ("`load_spec`", "cmd-load"), ("C composer", "cmd-compose"),
        ("ratio", "cmd-load", "cmd-compose"), ("`perfxl --help`", "cmd-help")])


def collect_rows(files: int, r: dict) -> list[str]:
    return [f"| {files} single-table files | time, peak MB (largest process) |", "| --- | --- |",
            f"| `perfxl.read` one by one | {cell(r, 'one-by-one')} |",
            f"| `perfxl.collect`, 1 process | {cell(r, 'collect-1')} |",
            f"| `perfxl.collect`, 2 processes | {cell(r, 'collect-2')} |",
            f"| `perfxl collect -o FOLDER --jobs 1` (whole command: 汇总, bundle, 退回) | {cell(r, 'cmd-collect-1')} |",
            f"| `perfxl collect -o FOLDER --jobs 2` | {cell(r, 'cmd-collect-2')} |",
            "", f"collect 1 ÷ 2 processes: {ratio(r, r, 'collect-1', 'collect-2')}; "
                f"one by one ÷ collect 2: {ratio(r, r, 'one-by-one', 'collect-2')}; "
                f"the whole command, 1 ÷ 2 processes: {ratio(r, r, 'cmd-collect-1', 'cmd-collect-2')}"]


# -- setup ------------------------------------------------------------------------------------
def prepare(size: int, workdir: Path) -> None:
    spec = make_spec(size)
    (workdir / f"ops-{size}.pickle").write_bytes(pickle.dumps(plan_ops(spec), protocol=5))
    (workdir / f"spec-{size}.yaml").write_text(perfxl.dump_spec(spec), encoding="utf-8")


def prepare_files(count: int, workdir: Path) -> None:
    folder = workdir / "files"
    folder.mkdir(exist_ok=True)
    spec = make_spec(count)
    for i, project in enumerate(spec.projects):
        perfxl.render(Spec([project], spec.template), folder / f"{i + 1:05d}.xlsx")


def run(sizes: list[int], files: int, repeat: int, workdir: Path) -> None:
    can_read, can_collect = hasattr(perfxl, "read"), hasattr(perfxl, "collect")
    found = {}
    for size in sizes:
        prepare(size, workdir)
        n = repeat if size <= REPEAT_MAX_SIZE else 1
        found[size] = best(["render", "raw-render"], size, workdir, n)
        kinds = (["read"] if can_read else []) + ["raw-read"] + (["openpyxl"] if size <= OPENPYXL_MAX else [])
        found[size].update(best(kinds, size, workdir, n))
        found[size].update(best(list(commands(size, workdir)), size, workdir, n))
        for name in (f"ops-{size}.pickle", f"perfxl-{size}.xlsx", f"raw-{size}.xlsx", f"spec-{size}.yaml",
                     f"cmd-{size}.xlsx", f"cmdraw-{size}.xlsx", f"back-{size}.json"):
            (workdir / name).unlink(missing_ok=True)
    collected = {}
    if can_collect and files:
        prepare_files(files, workdir)
        collected = best(["one-by-one", "collect-1", "collect-2", "cmd-collect-1", "cmd-collect-2"], files,
                         workdir, repeat)
    report(sizes, files, found, collected, repeat)


def report(sizes, files, found, collected, repeat) -> None:
    print(f"\n`python benchmarks/run.py --sizes {','.join(map(str, sizes))} --files {files} --repeat {repeat}`, "
          f"{os.cpu_count()} cores, Python {sys.version.split()[0]}; best of {repeat} "
          f"(1 above {REPEAT_MAX_SIZE:,} tables); memory: peak RSS of the measuring process\n")
    print("\n".join(render_rows(sizes, found)))
    print("\nWhole commands, each its own process timed from outside:\n")
    print("\n".join(command_rows(sizes, found)))
    print()
    print("\n".join(scaling_rows(sizes, found)))
    if collected:
        print()
        print("\n".join(collect_rows(files, collected)))


def scale(count: int, workdir: Path) -> None:
    """`perfxl collect FILES -o FOLDER --jobs 2` over `count` one-table files and over a tenth of
    them: the time ratio (linear: 10×) and each run's peak memory (its largest process)."""
    prepare_files(count, workdir)
    tenth = workdir / "tenth"
    tenth.mkdir()
    for path in sorted((workdir / "files").glob("*.xlsx"))[:count // 10]:
        os.link(path, tenth / path.name)
    py = sys.executable
    found = {}
    for name, folder in ((count // 10, tenth), (count, workdir / "files")):
        found[name] = whole([py, "-m", "perfxl", "collect", str(folder), "-o", str(workdir / f"round-{name}"),
                             "--jobs", "2", "--quiet", "--no-pdf"])
    small, big = found[count // 10], found[count]
    print(f"\n`python benchmarks/run.py --scale {count}`, {os.cpu_count()} cores, Python {sys.version.split()[0]}\n")
    print("| one-table files | `perfxl collect -o FOLDER --jobs 2` | peak MB (largest process) |")
    print("| ---: | --- | --- |")
    for name in (count // 10, count):
        seconds, peak = found[name]
        print(f"| {name:,} | {seconds:.2f} s | {peak:.0f} MB |")
    print(f"\n{count:,} ÷ {count // 10:,} files: {big[0] / small[0]:.2f}× the time")


def compiled() -> None:
    """Every child runs perfxl from bytecode, as pip leaves an installed package: without it
    (PYTHONDONTWRITEBYTECODE, set on some machines, or an editable install in a read-only tree)
    each perfxl process compiles its modules first, about 40 ms that the raw scripts never pay."""
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "perfxl"), str(Path(__file__).parent)],
                   check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="numbers of tables, comma separated")
    parser.add_argument("--files", type=int, default=500, help="single-table workbooks for collect (0: skip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (sizes up to 1,000)")
    parser.add_argument("--scale", type=int, default=0,
                        help="also the whole `perfxl collect -o FOLDER` over this many files (10000) beside a tenth of them")
    parser.add_argument("--workdir", help="where generated files go (default: a temporary directory)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    if args.child:
        seconds = child(args.child, sizes[0], Path(args.workdir))
        workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        print(json.dumps({"seconds": seconds, "peak_mb": max(own_peak_kb(), workers) / 1024}))
        return
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="perfxl-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    compiled()
    try:
        if args.scale:
            scale(args.scale, workdir)
        else:
            run(sizes, args.files, args.repeat, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
