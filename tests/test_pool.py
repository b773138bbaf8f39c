"""perfxl.pool: real forked workers that crash, run out of memory, print to fd 2 and lose their parent."""
from __future__ import annotations

import ctypes
import io
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
import time
import zipfile
from pathlib import Path

import pytest

from perfxl.pool import Crashed, Raised, run_isolated

MB = 1 << 20
LIMIT = 1 << 30       # above what a forked pytest process already maps, far below what the items ask


def square(x: int) -> int:
    return x * x


def square_or_abort(x: int) -> int:
    if x < 0:
        os.abort()
    return x * x


def expected(items):
    return [x * x if x >= 0 else "SIGABRT" for x in items]


def plain(results):
    return [r.reason.split("信号 ")[1][:7] if isinstance(r, Crashed) else r for r in results]


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_results_in_order_whatever_the_number_of_processes(jobs):
    items = list(range(37))
    assert run_isolated(square, items, jobs=jobs) == [x * x for x in items]
    assert multiprocessing.active_children() == []


def test_nothing_to_do_and_more_jobs_than_items():
    assert run_isolated(square, [], jobs=4) == []
    assert run_isolated(square, [3], jobs=4) == [9]


@pytest.mark.parametrize("jobs", [1, 2])
@pytest.mark.parametrize("crashing", [{0}, {19}, {5, 6, 7}, {0, 1, 18, 19}, set(range(20))],
                         ids=["first", "last", "several-in-one-chunk", "ends", "all"])
def test_an_aborting_item_crashes_alone(jobs, crashing):
    items = [-1 if i in crashing else i for i in range(20)]
    finished = []
    results = run_isolated(square_or_abort, items, jobs=jobs, on_done=finished.append)
    assert plain(results) == expected(items)
    assert all(r.reason == "读取时进程异常终止（信号 SIGABRT）" for r in results if isinstance(r, Crashed))
    assert finished == list(range(1, 21))
    assert multiprocessing.active_children() == []


def allocate(x: int):
    if x == 1:
        return len(bytearray(4 << 30))          # Python's allocation fails: MemoryError
    if x == 2:
        try:
            bytearray(4 << 30)
        except MemoryError:                     # what Rust does when an allocation fails
            os.abort()
    return len(bytearray(64 * MB))              # well within the limit


def test_memory_limit_fails_the_item_not_the_machine():
    results = run_isolated(allocate, [0, 1, 2, 0], jobs=2, memory_limit=LIMIT)
    assert results == [64 * MB, Raised("MemoryError"),
                       Crashed("读取时进程异常终止（信号 SIGABRT，可能是内存超过上限 1 GB）"), 64 * MB]
    assert run_isolated(allocate, [2], jobs=1, memory_limit=512 * MB) == [
        Crashed("读取时进程异常终止（信号 SIGABRT，可能是内存超过上限 512 MB）")]


def xlsx(far_cell: bool) -> bytes:
    """A one-sheet workbook; with `far_cell`, a value in XFD1048576 that makes calamine ask for 549 GB."""
    main = "http://schemas.openxmlformats.org/"
    rel = main + "officeDocument/2006/relationships"
    far = '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>' if far_cell else ""
    parts = {
        "[Content_Types].xml": f'<Types xmlns="{main}package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/></Types>',
        "_rels/.rels": f'<Relationships xmlns="{main}package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": f'<workbook xmlns="{main}spreadsheetml/2006/main" xmlns:r="{rel}">'
        '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": f'<Relationships xmlns="{main}package/2006/relationships">'
        f'<Relationship Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": f'<worksheet xmlns="{main}spreadsheetml/2006/main"><sheetData>'
        f'<row r="1"><c r="A1"><v>7</v></c></row>{far}</sheetData></worksheet>',
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for name, text in parts.items():
            z.writestr(name, text)
    return buf.getvalue()


def calamine_a1(data: bytes):
    from python_calamine import CalamineWorkbook
    return CalamineWorkbook.from_filelike(io.BytesIO(data)).get_sheet_by_index(0).to_python()[0][0]


def test_calamine_aborting_on_a_huge_sheet_crashes_that_file_only():
    results = run_isolated(calamine_a1, [xlsx(False), xlsx(True), xlsx(False)], jobs=2, memory_limit=LIMIT)
    assert results == [7.0, Crashed("读取时进程异常终止（信号 SIGABRT，可能是内存超过上限 1 GB）"), 7.0]


def segfault_or_exit(x: int):
    if x == 1:
        ctypes.string_at(0)
    if x == 2:
        os._exit(3)
    if x == 3:
        raise ValueError("第一行\n第二行")
    if x == 4:
        return lambda: x                        # not picklable
    return x


def test_segfault_exit_code_exception_and_unpicklable_result():
    results = run_isolated(segfault_or_exit, [0, 1, 2, 3, 4, 5], jobs=2)
    assert results == [0, Crashed("读取时进程异常终止（信号 SIGSEGV）"), Crashed("读取时进程异常终止（退出码 3）"),
                       Raised("ValueError: 第一行 第二行"), results[4], 5]
    assert isinstance(results[4], Raised) and results[4].reason.startswith("结果无法传回：")


def sleep_after_first(x: int):
    if x:
        time.sleep(30)
    return x


def test_an_exception_in_the_parent_kills_and_reaps_the_workers():
    def stop(n):
        raise RuntimeError("stop")
    handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    start = time.monotonic()
    with pytest.raises(RuntimeError, match="stop"):
        run_isolated(sleep_after_first, [0, 1, 2, 3], jobs=2, on_done=stop)
    assert time.monotonic() - start < 3
    assert multiprocessing.active_children() == []
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers


def test_two_thousand_trivial_items_are_quick():
    start = time.perf_counter()
    assert run_isolated(square, range(2000), jobs=2) == [x * x for x in range(2000)]
    assert time.perf_counter() - start < 2


def run_script(body: str, **kwargs) -> subprocess.Popen:
    script = "import os, signal, sys, time\nfrom perfxl.pool import run_isolated\n" + textwrap.dedent(body)
    return subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "RUST_BACKTRACE": "1"}, **kwargs)


def test_workers_stderr_never_reaches_the_terminal():
    proc = run_script("""
        import ctypes, faulthandler
        faulthandler.enable(open(os.dup(2), "w"))     # as pytest does: a copy of fd 2
        def noisy(x):
            os.write(2, b"thread 'main' panicked at src/lib.rs\\n" * 50)
            print("python stderr", file=sys.stderr, flush=True)
            if x == 1:
                os.abort()
            if x == 2:
                ctypes.string_at(0)
            return x
        print([type(r).__name__ for r in run_isolated(noisy, [0, 1, 2, 3], jobs=2)])
    """)
    out, err = proc.communicate(timeout=15)
    assert (out, err, proc.returncode) == (b"['int', 'Crashed', 'Crashed', 'int']\n", b"", 0)


def terminate_self(x: int):
    os.kill(os.getpid(), signal.SIGTERM)
    time.sleep(5)


def test_workers_do_not_inherit_the_parents_sigterm_handler():
    """A Python handler cannot run while calamine's Rust code reads: workers die of SIGTERM itself."""
    def stop(signum, frame):
        raise SystemExit(3)
    previous = signal.signal(signal.SIGTERM, stop)
    try:
        assert run_isolated(terminate_self, [0], jobs=1) == [Crashed("读取时进程异常终止（信号 SIGTERM）")]
    finally:
        signal.signal(signal.SIGTERM, previous)


# Workers busy in a slow item (only PR_SET_PDEATHSIG can stop them when the parent is killed), or
# idle in recv() while the parent is busy in on_done (the pipe's EOF stops them too).
PARENT = """
    def work(x):
        os.write(1, b"%d\\n" % os.getpid())     # one write: the workers' lines do not interleave
        if BUSY:
            time.sleep(30)
    def stop(signum, frame):
        raise SystemExit(3)
    signal.signal(signal.SIGTERM, stop)
    run_isolated(work, range(40), jobs=2, on_done=lambda n: time.sleep(30))
"""


def alive(pid: int) -> bool:
    """A process that exists and is not a zombie (an orphan's zombie waits for whoever adopted it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone_within(pids, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while any(map(alive, pids)) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not any(map(alive, pids))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("busy", [True, False], ids=["busy", "idle"])
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_workers_never_outlive_their_parent(signum, busy):
    proc = run_script(f"BUSY = {busy}\n" + textwrap.dedent(PARENT))
    pids = set()
    while len(pids) < 2:
        pids.add(int(proc.stdout.readline()))
    time.sleep(0.2)             # idle workers: their chunks done, waiting for the next
    assert all(map(alive, pids))
    proc.send_signal(signum)
    assert proc.wait(timeout=5) == (3 if signum == signal.SIGTERM else -signal.SIGKILL)
    assert gone_within(pids, 2), [Path(f"/proc/{p}/stat").read_text() for p in pids if alive(p)]
    proc.stdout.close()
    proc.stderr.close()
