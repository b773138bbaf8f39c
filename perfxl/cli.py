"""The perfxl command line: a thin layer over the public API.

Exit status: 0 success; 1 the checked input has errors (perfxl check); 2 the input is unusable
(missing file, bad YAML, unknown key or type, unreadable workbook) or the command line is wrong;
3 an internal error (a bug: PERFXL_DEBUG=1 shows the traceback); 130 interrupted (Ctrl-C);
128 + N ended by signal N (SIGTERM, SIGHUP), after removing temporary files and workers.
Errors are one line on stderr, never a traceback; every line printed has its control
characters escaped (text from cells never acts on the terminal). Output is UTF-8 whatever the
locale.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

from .errors import PerfxlError, printable

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
MAX_ROWS_PER_GROUP = 100            # blank --rows
MAX_PROJECTS = 1000                 # blank --projects
MAX_JOBS = 64                       # collect --jobs
PASSWORD_ENV = "PERFXL_PASSWORD"


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised where the program is, so that it unwinds as for Ctrl-C."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def say(text: object) -> None:
    """One line to stderr, printable."""
    print(printable(text), file=sys.stderr)


def emit(text: str) -> None:
    """The command's result to stdout (YAML, JSON, a report)."""
    if sys.stdout is None:
        raise PerfxlError("标准输出已关闭，无法写出结果；请用 -o 指定输出文件")
    sys.stdout.write(text)
    sys.stdout.flush()


def cmd_render(args) -> int:
    from .render import render
    from .spec import load_spec

    spec = load_spec(args.spec)
    out = args.output or f"output/{_stem(args.spec)}.xlsx"
    path = render(spec, out, one_sheet=args.one_sheet)
    say(f"{path}：{len(spec.projects)} 张表")
    return EXIT_OK


def cmd_blank(args) -> int:
    from .render import blank

    path = blank(args.output, projects=args.projects, rows=args.rows, protect=args.protect,
                 password=_password(args.password), one_sheet=args.one_sheet, template=args.template,
                 year=args.year, unit=args.unit, amount_unit=args.amount_unit)
    say(f"{path}：{args.projects} 张空白表，每个二级指标 {args.rows} 行")
    return EXIT_OK


def _password(given: str | None) -> str | None:
    """--password P; --password alone: $PERFXL_PASSWORD, else asked for (not shown as typed)."""
    if given != PROMPT:
        return given
    if os.environ.get(PASSWORD_ENV):
        return os.environ[PASSWORD_ENV]
    if not sys.stdin or not sys.stdin.isatty():
        raise PerfxlError(f"--password 没有给出密码：请设置环境变量 {PASSWORD_ENV}，或在终端中运行以便输入")
    import getpass

    first = getpass.getpass("保护密码：")
    if getpass.getpass("再输入一次：") != first:
        raise PerfxlError("两次输入的密码不一致")
    return first


def cmd_check(args) -> int:
    from .check import check, json_report, load_source, text_report
    from .rules import ERROR

    spec, notes = load_source(args.source)
    findings = check(spec)
    for note in notes:
        say(f"perfxl: 注意：{note}")
    if args.format == "json":
        emit(json_report(findings) + "\n")
    else:
        emit("".join(printable(line) + "\n" for line in text_report(findings, len(spec.projects))))
    return EXIT_FINDINGS if any(f.severity == ERROR for f in findings) else EXIT_OK


def cmd_read(args) -> int:
    from .dump import dump_spec
    from .output import check_output, write_text
    from .reader import read

    output = args.output
    if output:
        check_output(output, [args.book], kind="text")
    result = read(args.book)
    fmt = args.format or ("json" if output and output.lower().endswith(".json") else "yaml")
    if fmt == "json":
        text = dump_spec(result.spec, "json", {"warnings": [w.to_dict() for w in result.warnings]})
    else:
        text = dump_spec(result.spec)
        for warning in result.warnings:
            say(f"perfxl: 注意：{warning}")
    if output:
        write_text(output, text)
        say(f"{output}：{len(result.spec.projects)} 张表，{len(result.warnings)} 条注意")
    else:
        emit(text)
    return EXIT_OK


def cmd_collect(args) -> int:
    """Exit 2 when some file could not be read (each named on stderr); the others are still written."""
    from .collect import collect, write_collected

    result = collect(args.paths, jobs=args.jobs, output=args.output)
    for path, why in result.skipped:
        say(f"perfxl: {path}: 跳过：{why}")
    for path, why in result.failures:
        say(f"perfxl: {path}: 无法读取：{why}")
    for path, name, newer in result.superseded:
        say(f"perfxl: {path}: 项目「{name}」另有较新的报送 {newer}，以较新的为准")
    if not result.files:
        return EXIT_UNUSABLE
    if not (args.output or "").lower().endswith(".json"):
        for warning in result.warnings:
            say(f"perfxl: 注意：{warning}")
    text = write_collected(result, args.output)
    if text is not None:
        emit(text)
    summary = (f"{len(result.files)} 个文件，{len(result.spec.projects)} 张表，{len(result.warnings)} 条注意"
               + (f"，{len(result.failures)} 个文件无法读取" if result.failures else ""))
    say(f"{args.output or 'perfxl collect'}：{summary}")
    return EXIT_UNUSABLE if result.failures else EXIT_OK


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem


def _bounded(low: int, high: int):
    """An argparse type: an integer from low to high, the limit named when refused."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"应为整数，不是 {printable(text)!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"应在 {low} 到 {high} 之间，不是 {value}")
        return value
    return parse


PROMPT = "\x00prompt"


def _text(text: str) -> str:
    """An argparse type: text that a workbook can hold (not the bytes of a non-UTF-8 terminal)."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise argparse.ArgumentTypeError(f"不是有效的 UTF-8 文字：{printable(text)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="perfxl", description="项目支出绩效目标表: YAML spec ⇄ Excel")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("render", help="render a YAML spec to a formatted workbook")
    p.add_argument("spec", help="the YAML spec")
    p.add_argument("-o", "--output", help="output .xlsx (default output/<spec stem>.xlsx)")
    p.add_argument("--one-sheet", action="store_true", help="stack all tables on one sheet")
    p.set_defaults(func=cmd_render)

    p = sub.add_parser("blank", help="empty forms for offline filling")
    p.add_argument("-o", "--output", default="output/blank.xlsx", help="output .xlsx")
    p.add_argument("--projects", type=_bounded(1, MAX_PROJECTS), default=1, help="number of tables (default 1)")
    p.add_argument("--rows", type=_bounded(1, MAX_ROWS_PER_GROUP), default=2,
                   help="input rows per 二级指标 (default 2)")
    p.add_argument("--protect", action="store_true",
                   help="lock labels and structure (no password); rows can still be inserted")
    p.add_argument("--password", nargs="?", const=PROMPT,
                   help=f"the password that lifts the protection (implies --protect); without a value, "
                        f"${PASSWORD_ENV} or asked for")
    p.add_argument("--one-sheet", action="store_true", help="stack all tables on one sheet")
    p.add_argument("--template", type=_text, default="project-expenditure", help="form template")
    p.add_argument("--year", type=_bounded(1900, 2999), help="年度 for the title")
    p.add_argument("--unit", type=_text, help="填报单位")
    p.add_argument("--amount-unit", default="元", choices=("元", "万元"), help="金额单位")
    p.set_defaults(func=cmd_blank)

    p = sub.add_parser("check", help="run the reviewer's rules on a spec or a filled workbook")
    p.add_argument("source", help="a YAML spec or a workbook (.xlsx)")
    p.add_argument("--format", choices=("text", "json"), default="text", help="report format")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("read", help="read a filled workbook back into a spec")
    p.add_argument("book", help="the workbook (.xlsx, .xlsm, .xls or .ods)")
    p.add_argument("-o", "--output", help="write the spec here (.yaml or .json) instead of stdout")
    p.add_argument("--format", choices=("yaml", "json"),
                   help="output format (default yaml, or json for an -o ending in .json)")
    p.set_defaults(func=cmd_read)

    p = sub.add_parser("collect", help="read many workbooks in parallel and merge them into one spec",
                       description="Projects are merged sorted by file path, then in table order. A file "
                       "that cannot be read is named on stderr and skipped; the others are still "
                       "written, and the exit status is then 2.")
    p.add_argument("paths", nargs="+", metavar="BOOK_OR_DIR",
                   help="workbooks, or directories searched for .xlsx .xlsm .xls .ods")
    p.add_argument("-o", "--output", help="write .yaml, .json or a bundle .xlsx (default: YAML to stdout)")
    p.add_argument("--jobs", type=_bounded(1, MAX_JOBS), help="processes (default: one per core)")
    p.set_defaults(func=cmd_collect)
    return parser


def _utf8_streams():
    """UTF-8 on stdout and stderr whatever the locale (a spec is UTF-8; messages are Chinese)."""
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(encoding="utf-8", errors="backslashreplace")
            except (OSError, ValueError):
                pass


def _on_signal(signum, frame):
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    _utf8_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    handled = [s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s]
    previous = {s: signal.signal(s, _on_signal) for s in handled}
    try:
        if args.func in (cmd_read, cmd_check):
            return _in_child(args)
        return _dispatch(args)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _dispatch(args) -> int:
    """Run the command; every way it can end is an exit status and at most one line."""
    try:
        return args.func(args)
    except PerfxlError as exc:
        say(f"perfxl: {exc}")
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        say("perfxl: 已中断")
        return EXIT_INTERRUPTED
    except Terminated as exc:
        say(f"perfxl: 已终止（{signal.Signals(exc.signum).name}）")
        return 128 + exc.signum
    except BrokenPipeError:
        _quiet_stdout()
        say("perfxl: 标准输出已关闭（管道的另一端已退出），结果未写完")
        return EXIT_UNUSABLE
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        say(f"perfxl: {where}{exc.strerror or exc}")
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("PERFXL_DEBUG"):
            raise
        say(f"perfxl: 内部错误 {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
            "（请报告此问题；设置 PERFXL_DEBUG=1 可查看详情）")
        return EXIT_BUG


def _in_child(args) -> int:
    """Commands that open a workbook run in a forked child, whose native code (calamine) writes
    nothing to the terminal: its file descriptor 2 goes to /dev/null while Python's messages still
    reach the real stderr. Should calamine abort the child (a refused allocation, a crash), this
    process says so in one line. Not where there is no fork, or stderr is not a real file
    (in-process callers such as tests), or PERFXL_DEBUG is set."""
    try:
        real = sys.stderr.fileno() == 2 and sys.stdout is not None
    except (AttributeError, ValueError, OSError):
        real = False
    if not hasattr(os, "fork") or not real or os.environ.get("PERFXL_DEBUG"):
        return _dispatch(args)
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:                                    # the child
        code = EXIT_BUG
        try:
            _python_only_stderr()
            code = _dispatch(args)
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError, AttributeError):
                    pass
            os._exit(code)
    while True:                                     # this process: wait, pass signals on
        try:
            _, status = os.waitpid(pid, 0)
            break
        except (InterruptedError, KeyboardInterrupt):
            continue                                # Ctrl-C reached the child too
        except Terminated as exc:
            os.kill(pid, exc.signum)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        source = getattr(args, "book", None) or getattr(args, "source", "")
        say(f"perfxl: {source}: 读取时进程异常终止（{name}），文件可能已损坏或过大，未读出任何内容")
        return EXIT_UNUSABLE
    return os.WEXITSTATUS(status)


def _python_only_stderr():
    """Point file descriptor 2 at /dev/null and sys.stderr at a copy of the real stderr."""
    real = os.dup(2)
    sys.stderr = open(real, "w", encoding="utf-8", errors="backslashreplace", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    os.close(devnull)


def _quiet_stdout():
    """After a broken pipe, Python's final flush of stdout would complain: point it at /dev/null."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, AttributeError, ValueError):
        pass


if __name__ == "__main__":
    sys.exit(main())
