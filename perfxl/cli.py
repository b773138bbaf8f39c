"""The perfxl command line: a thin layer over the public API.

Exit status: 0 success; 1 the checked input has errors (perfxl check); 2 the input is unusable
(missing file, bad YAML, unknown key or type, unreadable workbook) or the command line is wrong;
3 an internal error (a bug: PERFXL_DEBUG=1 shows the traceback); 130 interrupted. Errors are one
line on stderr, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys

from .errors import PerfxlError

EXIT_OK, EXIT_FINDINGS, EXIT_UNUSABLE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def cmd_render(args) -> int:
    from .render import render
    from .spec import load_spec

    spec = load_spec(args.spec)
    out = args.output or f"output/{_stem(args.spec)}.xlsx"
    path = render(spec, out, one_sheet=args.one_sheet)
    print(f"{path}：{len(spec.projects)} 张表", file=sys.stderr)
    return EXIT_OK


def cmd_blank(args) -> int:
    from .render import blank

    path = blank(args.output, projects=args.projects, rows=args.rows, protect=args.protect,
                 password=args.password, one_sheet=args.one_sheet, template=args.template,
                 year=args.year, unit=args.unit, amount_unit=args.amount_unit)
    print(f"{path}：{args.projects} 张空白表，每个二级指标 {args.rows} 行", file=sys.stderr)
    return EXIT_OK


def cmd_check(args) -> int:
    from .check import check, json_report, load_source, text_report
    from .rules import ERROR

    spec, notes = load_source(args.source)
    findings = check(spec)
    for note in notes:
        print(f"perfxl: 注意：{note}", file=sys.stderr)
    if args.format == "json":
        print(json_report(findings))
    else:
        print("\n".join(text_report(findings, len(spec.projects))))
    return EXIT_FINDINGS if any(f.severity == ERROR for f in findings) else EXIT_OK


def cmd_read(args) -> int:
    from .dump import dump_spec
    from .reader import read

    result = read(args.book)
    output = args.output
    fmt = args.format or ("json" if output and output.lower().endswith(".json") else "yaml")
    if fmt == "json":
        text = dump_spec(result.spec, "json", {"warnings": [w.to_dict() for w in result.warnings]})
    else:
        text = dump_spec(result.spec)
        for warning in result.warnings:
            print(f"perfxl: 注意：{warning}", file=sys.stderr)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        print(f"{output}：{len(result.spec.projects)} 张表，{len(result.warnings)} 条注意", file=sys.stderr)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_collect(args) -> int:
    """Exit 2 when some file could not be read (each named on stderr); the others are still written."""
    from .collect import collect, write_collected

    result = collect(args.paths, jobs=args.jobs)
    for path, why in result.failures:
        print(f"perfxl: {path}: 无法读取：{why}", file=sys.stderr)
    if not result.files:
        return EXIT_UNUSABLE
    if not (args.output or "").lower().endswith(".json"):
        for warning in result.warnings:
            print(f"perfxl: 注意：{warning}", file=sys.stderr)
    text = write_collected(result, args.output)
    if text is not None:
        sys.stdout.write(text)
    summary = (f"{len(result.files)} 个文件，{len(result.spec.projects)} 张表，{len(result.warnings)} 条注意"
               + (f"，{len(result.failures)} 个文件无法读取" if result.failures else ""))
    print(f"{args.output or 'perfxl collect'}：{summary}", file=sys.stderr)
    return EXIT_UNUSABLE if result.failures else EXIT_OK


def _stem(path: str) -> str:
    from pathlib import Path

    return Path(path).stem


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"应为正整数，不是 {text!r}") from None
    if value < 1 or value > 100_000:
        raise argparse.ArgumentTypeError(f"应在 1 到 100000 之间，不是 {value}")
    return value


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
    p.add_argument("--projects", type=_positive, default=1, help="number of tables (default 1)")
    p.add_argument("--rows", type=_positive, default=2, help="input rows per 二级指标 (default 2)")
    p.add_argument("--protect", action="store_true",
                   help="lock labels and structure (no password); rows can still be inserted")
    p.add_argument("--password", help="the password that lifts the protection (implies --protect)")
    p.add_argument("--one-sheet", action="store_true", help="stack all tables on one sheet")
    p.add_argument("--template", default="project-expenditure", help="form template")
    p.add_argument("--year", type=int, help="年度 for the title")
    p.add_argument("--unit", help="填报单位")
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
    p.add_argument("--jobs", type=_positive, help="processes (default: one per core)")
    p.set_defaults(func=cmd_collect)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except PerfxlError as exc:
        print(f"perfxl: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("perfxl: 已中断", file=sys.stderr)
        return EXIT_INTERRUPTED
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"perfxl: {where}{exc.strerror or exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except Exception as exc:  # a bug: still one line, unless asked for the traceback
        if os.environ.get("PERFXL_DEBUG"):
            raise
        print(f"perfxl: 内部错误 {type(exc).__name__}: {' '.join(str(exc).split())[:300]}"
              "（请报告此问题；设置 PERFXL_DEBUG=1 可查看详情）", file=sys.stderr)
        return EXIT_BUG


if __name__ == "__main__":
    sys.exit(main())
