"""A process pool whose unit of failure is one item, not the whole run.

`run_isolated(func, items, jobs=N)` is `[func(item) for item in items]` computed in N forked
worker processes. When a worker dies on an item (calamine's Rust code aborting on a refused
allocation, a segfault, the OOM killer), that item's result is `Crashed`, the rest of the worker's
chunk goes to a fresh worker, and the run completes. This module owns those workers' whole life:
their start (fork, memory limit, stderr, signals), which item each is working on, and their end:
none outlives the call, whether it returns, raises, or the parent is killed.

Workers inherit `func` and `items` by fork; only item indices go to them, and one message per
item comes back as soon as the item is done, so when a worker dies the parent knows the item.
"""
from __future__ import annotations

import ctypes
import faulthandler
import multiprocessing
import os
import resource
import signal
import sys
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

CHUNKS_PER_JOB = 4      # chunks handed to each worker on average: few round trips, still balanced
MAX_CHUNK = 64          # ... and at most this many items per chunk, so one slow file delays few others
PR_SET_PDEATHSIG = 1    # linux/prctl.h


@dataclass(frozen=True)
class Crashed:
    """An item whose worker process died while working on it."""

    reason: str         # one line, e.g. "读取时进程异常终止（信号 SIGABRT，可能是内存超过上限 512 MB）"


@dataclass(frozen=True)
class Raised:
    """An item on which `func` raised (any exception but SystemExit and KeyboardInterrupt: a
    MemoryError under `memory_limit`, pyo3's PanicException), or whose result could not be sent
    back (not picklable). The worker lives on."""

    reason: str         # one line: "ValueError: …"


def run_isolated(func: Callable[[T], R], items: Sequence[T], *, jobs: int, memory_limit: int | None = None,
                 on_done: Callable[[int], None] | None = None) -> list[R | Crashed | Raised]:
    """`func(item)` for each item, in the order of `items`, computed in `jobs` forked processes
    (one process when jobs is 1: a crash is isolated there too). Results must be picklable.

    `memory_limit` (bytes) is each worker's RLIMIT_AS: its whole address space, including what it
    inherited from this process. `on_done(n)` is called here as each item finishes, n counting them.
    Workers ignore SIGINT and default SIGTERM: this process decides; when it raises (Ctrl-C, a
    SIGTERM handler, on_done), the workers are killed and reaped before the exception goes on.
    """
    if not items:
        return []
    results: list = [None] * len(items)
    todo = deque(range(len(items)))
    jobs = max(1, min(jobs, len(items)))
    chunk = max(1, min(MAX_CHUNK, len(items) // (jobs * CHUNKS_PER_JOB)))
    workers: dict[Connection, _Worker] = {}
    finished = 0
    try:
        for _ in range(jobs):
            _start(func, items, memory_limit, workers)
        while workers:
            for w in workers.values():
                if not w.pending and not w.stopped:     # idle: its next chunk, or None to exit
                    w.pending.extend(todo.popleft() for _ in range(min(chunk, len(todo))))
                    w.stopped = not w.pending
                    try:
                        w.conn.send(list(w.pending) or None)
                    except OSError:             # it just died: wait() sees its sentinel
                        pass
            ready = set(wait([*workers, *(w.process.sentinel for w in workers.values())]))
            for conn, w in list(workers.items()):
                if conn not in ready and w.process.sentinel not in ready:
                    continue
                alive = w.process.sentinel not in ready
                try:
                    while conn.poll():
                        index, result = conn.recv()
                        if index != w.pending.popleft():
                            raise RuntimeError(f"worker answered item {index} out of turn")
                        results[index], finished = result, finished + 1
                        if on_done:
                            on_done(finished)
                except (EOFError, OSError):     # EOF, or a message cut off by the death
                    alive = False
                if not alive:
                    exitcode = _reap(w)
                    del workers[conn]
                    if w.pending:               # it died on its first pending item; the rest go again
                        index = w.pending.popleft()
                        results[index], finished = Crashed(_why(exitcode, memory_limit)), finished + 1
                        todo.extendleft(reversed(w.pending))
                        if on_done:
                            on_done(finished)
                    if todo and len(workers) < jobs:
                        _start(func, items, memory_limit, workers)
        return results
    finally:
        for w in workers.values():
            with suppress(ValueError):      # ValueError: already closed by an interrupted _reap
                w.process.kill()
        for w in workers.values():
            with suppress(ValueError):
                _reap(w)


@dataclass
class _Worker:
    process: multiprocessing.Process
    conn: Connection
    pending: deque           # indices sent and not answered yet; the first is being worked on
    stopped: bool = False    # told to exit


def _start(func, items, memory_limit, workers: dict) -> None:
    here, there = multiprocessing.Pipe()
    siblings = [here, *workers]     # the child closes its copies of this side of every pipe
    process = multiprocessing.get_context("fork").Process(
        target=_serve, args=(there, siblings, func, items, memory_limit, os.getpid()), name="perfxl-worker")
    process.start()
    workers[here] = _Worker(process, here, deque())
    there.close()


def _reap(w: _Worker) -> int:
    """Wait for a worker to end, release its descriptors, and return its exit code (-N: signal N)."""
    w.process.join()
    exitcode = w.process.exitcode
    w.process.close()
    w.conn.close()
    return exitcode


def _why(exitcode: int, memory_limit: int | None) -> str:
    if exitcode >= 0:
        return f"读取时进程异常终止（退出码 {exitcode}）"
    sig = signal.Signals(-exitcode).name if -exitcode in signal.valid_signals() else str(-exitcode)
    if sig in ("SIGABRT", "SIGKILL") and memory_limit:
        gb = memory_limit / (1 << 30)
        size = f"{gb:g} GB" if gb >= 1 and gb == int(gb) else f"{memory_limit >> 20} MB"
        return f"读取时进程异常终止（信号 {sig}，可能是内存超过上限 {size}）"
    if sig == "SIGKILL":
        return "读取时进程异常终止（信号 SIGKILL，可能是系统内存不足）"
    return f"读取时进程异常终止（信号 {sig}）"


def _serve(conn: Connection, siblings: list, func, items, memory_limit: int | None, parent: int) -> None:
    """A worker: set itself up, then answer chunks of indices until told to stop or the parent is gone."""
    for c in siblings:              # else the parent's death would not close the other workers' pipes
        c.close()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)   # not the parent's Python handler: it cannot run inside Rust
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:      # the parent died before prctl took effect
        os._exit(1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)             # Rust panics and backtraces write to fd 2: only the Crashed reason is shown
    os.close(devnull)
    faulthandler.disable()          # pytest's or -X faulthandler's: it may write to a copy of fd 2
    if memory_limit:
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        soft = memory_limit if hard == resource.RLIM_INFINITY else min(memory_limit, hard)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    while True:
        try:
            chunk = conn.recv()
        except EOFError:            # the parent is gone
            return
        if chunk is None:
            return
        for index in chunk:
            try:
                result = func(items[index])
            except (SystemExit, KeyboardInterrupt):
                raise
            except BaseException as exc:    # pyo3's PanicException is a BaseException
                result = Raised(_one_line(exc))
            try:
                conn.send((index, result))
            except OSError:                 # the parent is gone
                return
            except Exception as exc:        # not picklable: pickling fails before anything is written
                conn.send((index, Raised("结果无法传回：" + _one_line(exc))))


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split()).removesuffix(":")
