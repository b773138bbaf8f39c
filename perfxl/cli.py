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

    if args.roster:
        return _blank_roster(args)
    if args.due:
        raise PerfxlError("--due 只用于按名册生成（--roster）")
    path = blank(args.output, projects=args.projects, rows=args.rows, protect=args.protect,
                 password=_password(args.password), one_sheet=args.one_sheet, template=args.template,
                 year=args.year, unit=args.unit, amount_unit=args.amount_unit)
    say(f"{path}：{args.projects} 张空白表，每个二级指标 {args.rows} 行")
    return EXIT_OK


def _blank_roster(args) -> int:
    """`perfxl blank --roster R -o DIR`: one pre-filled workbook per 填报单位 of the roster."""
    from .office.roster import load_roster
    from .office.sendout import send_out
    from .template import load_template

    given = [flag for flag, value in (("--projects", args.projects != 1), ("--one-sheet", args.one_sheet),
                                      ("--unit", args.unit)) if value]
    if given:
        raise PerfxlError(f"按名册生成时不用 {'、'.join(given)}：表的张数和填报单位都来自名册")
    outdir = args.output if args.output != BLANK_OUT else ROSTER_OUT
    roster = load_roster(args.roster, load_template(args.template))
    for where, message in roster.warnings:
        say(f"perfxl: 注意：{where}: {message}")
    for entry in roster.entries:
        project = entry.project
        if project.year is None:
            project.year = args.year
        if "amount_unit" not in project.where:
            project.amount_unit = args.amount_unit
    sent = send_out(roster, outdir, rows=args.rows, due=args.due, protect=args.protect,
                    password=_password(args.password))
    for item in sent:
        say(f"{item.path}：{item.unit}，{len(item.projects)} 张表")
    say(f"{outdir}：{len(sent)} 个填报单位，{len(roster.entries)} 张表，每个二级指标另留 {args.rows} 行")
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
    from .dump import dump_spec, write_spec
    from .output import check_output
    from .reader import read

    output = args.output
    if output:
        check_output(output, [args.book], kind="text")
    result = read(args.book, template=args.form) if args.form else read(args.book)
    fmt = args.format or ("json" if output and output.lower().endswith(".json") else "yaml")
    extra = {"warnings": [w.to_dict() for w in result.warnings]} if fmt == "json" else None
    if fmt != "json":
        for warning in result.warnings:
            say(f"perfxl: 注意：{warning}")
    if output:
        write_spec(output, result.spec, fmt, extra)
        say(f"{output}：{len(result.spec.projects)} 张表，{len(result.warnings)} 条注意")
    else:
        emit(dump_spec(result.spec, fmt, extra))
    return EXIT_OK


def cmd_forms(args) -> int:
    """`perfxl forms`: the forms that can be used; `perfxl forms check FILE...`: the conformance suite."""
    from .formfile import available
    from .template import load_template

    if args.action is None:
        if args.files:
            raise PerfxlError("列出表样不需要文件；检查表样文件请用：perfxl forms check 表样.yaml")
        for name, path in available().items():
            try:
                title = load_template(name).form
            except PerfxlError as exc:
                title = f"（无法使用：{exc}）"
            emit(printable(f"{name}  {title}  {path}") + "\n")
        return EXIT_OK
    from .conformance import conformance

    if not args.files:
        raise PerfxlError("请给出要检查的表样文件，例如：perfxl forms check 我的表样.yaml")
    failed = 0
    for name in args.files:
        outcomes = conformance(name, office=not args.no_office)
        for outcome in outcomes:
            word = "通过" if outcome.passed else "未通过"
            emit(printable(f"{name}: {word}：{outcome.name}" + (f"（{outcome.detail}）" if outcome.detail else "")) + "\n")
        failed += sum(not o.passed for o in outcomes)
    say(f"perfxl forms check：{len(args.files)} 个表样，{failed} 项未通过" if failed else
        f"perfxl forms check：{len(args.files)} 个表样，全部通过")
    return EXIT_FINDINGS if failed else EXIT_OK


def cmd_collect(args) -> int:
    """Exit 2 when some file could not be read (each named on stderr); the others are still written."""
    from .collect import collect, write_collected

    folder = args.output is not None and _is_folder(args.output)
    if args.roster and not folder:
        raise PerfxlError("--roster 用于写出汇总文件夹：请用 -o 文件夹")
    if (args.pdf_per_unit or args.no_pdf or args.amount_unit) and not folder:
        raise PerfxlError("--pdf-per-unit、--no-pdf 和 --amount-unit 用于写出汇总文件夹：请用 -o 文件夹")
    if args.pdf_per_unit and args.no_pdf:
        raise PerfxlError("--pdf-per-unit 与 --no-pdf 不能同时使用")
    if args.roster:            # a roster that cannot be read is refused before the returns are read
        from .office.roster import read_roster_file
        read_roster_file(args.roster)
    show = _progress(args.quiet)
    result = collect(args.paths, jobs=args.jobs, output=args.output, progress=show)
    if show:
        show(None, None)
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
    if folder:
        return _collect_folder(args, result)
    text = write_collected(result, args.output)
    if text is not None:
        emit(text)
    summary = (f"{len(result.files)} 个文件，{len(result.spec.projects)} 张表，{len(result.warnings)} 条注意"
               + (f"，{len(result.failures)} 个文件无法读取" if result.failures else ""))
    say(f"{args.output or 'perfxl collect'}：{summary}")
    return EXIT_UNUSABLE if result.failures else EXIT_OK


def cmd_diff(args) -> int:
    """Exit 0 the same, 1 different (a text copied from last year alone is not a difference)."""
    import json

    from .check import load_source
    from .diff import diff, differs

    sides = []
    for path in (args.old, args.new):
        spec, notes = load_source(path)
        for note in notes:
            say(f"perfxl: 注意：{note}")
        sides.append(spec)
    reading = "sent" if args.sent else "last_year" if args.last_year else None
    changes = diff(*sides, reading=reading)
    if args.format == "json":
        emit(json.dumps([c.to_dict() for c in changes], ensure_ascii=False, indent=2, default=str) + "\n")
    else:
        emit("".join(printable(str(c)) + "\n" for c in changes))
    flagged = sum(bool(c.flag) for c in changes)
    count = sum(c.kind != "copied" for c in changes)
    say(f"perfxl diff：{count} 处不同" + (f"，{flagged} 处需留意（⚠）" if flagged else "") if changes else
        "perfxl diff：两边相同")
    return EXIT_FINDINGS if differs(changes) else EXIT_OK


def cmd_export(args) -> int:
    from .check import load_source
    from .flat import write_flat
    from .template import form_of

    if not args.flat:
        raise PerfxlError("请给出导出的格式：--flat（预算管理一体化系统的平铺格式，每个指标一行）")
    spec, notes = load_source(args.source)
    for note in notes:
        say(f"perfxl: 注意：{note}")
    for note in write_flat(spec, args.output, merge_value=args.merge_value):
        say(f"perfxl: 注意：{note}")
    rows = sum(1 for p in spec.projects for block, _ in form_of(spec, p).blocks() for _ in p.rows(block))
    say(f"{args.output}：{len(spec.projects)} 张表，{rows} 个指标")
    return EXIT_OK


def cmd_preview(args) -> int:
    from .check import load_source
    from .preview import write_preview

    spec, notes = load_source(args.source)
    for note in notes:
        say(f"perfxl: 注意：{note}")
    write_preview(spec, args.output)
    say(f"{args.output}：{len(spec.projects)} 张表")
    return EXIT_OK


def _is_folder(out: str) -> bool:
    """-o names a folder: it is one, ends with a slash, or has no file extension."""
    from pathlib import Path

    return os.path.isdir(out) or out.endswith(("/", os.sep)) or not Path(out).suffix


def _collect_folder(args, result) -> int:
    from .office.roster import load_roster
    from .office.takeback import write_folder
    from .rules import ERROR
    from .template import form_of

    roster = load_roster(args.roster, form_of(result.spec), last_year=False) if args.roster else None
    if roster is not None:
        for where, message in roster.warnings:
            say(f"perfxl: 注意：{where}: {message}")
    pdf = None if args.no_pdf else "per-unit" if args.pdf_per_unit else "bundle"
    written = write_folder(result, args.output, roster=roster, amount_unit=args.amount_unit or "元", pdf=pdf,
                           jobs=args.jobs)
    for note in written.notes:
        say(f"perfxl: 注意：{note}")
    errors = sum(f.severity == ERROR for r in result.returns for f in r.findings)
    missing = 0
    if roster is not None:
        back = {(p.unit, p.name) for p in result.spec.projects}
        missing = sum((e.project.unit, e.project.name) not in back for e in roster.entries)
    say(f"{args.output}：{len(result.files)} 个文件，{len(result.spec.projects)} 张表，{errors} 个错误"
        + (f"，{missing} 个项目未报送" if roster is not None else "")
        + (f"，{len(written.returned_units)} 个单位需退回修改（{os.path.join(args.output, '退回')}）"
           if written.returned_units else "")
        + (f"，{len(result.failures)} 个文件无法读取" if result.failures else ""))
    return EXIT_UNUSABLE if result.failures else EXIT_OK


def _progress(quiet: bool):
    """A one-line progress count on a terminal's stderr; None when quiet or not a terminal."""
    stream = sys.stderr
    if quiet or stream is None or not stream.isatty():
        return None

    def show(done, total):
        if done is None:
            stream.write("\r\x1b[K")
        else:
            stream.write(f"\r已读 {done}/{total} 个文件")
        stream.flush()
    return show


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
BLANK_OUT = "output/blank.xlsx"
ROSTER_OUT = "output/blanks"


def _text(text: str) -> str:
    """An argparse type: text that a workbook can hold (not the bytes of a non-UTF-8 terminal)."""
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        raise argparse.ArgumentTypeError(f"不是有效的 UTF-8 文字：{printable(text)}")
    return text


# argparse's own words, in the users' language (argparse looks them up through gettext at run time)
ARGPARSE_WORDS = {
    "usage: ": "用法：",
    "positional arguments": "位置参数",
    "options": "选项",
    "show this help message and exit": "显示本帮助并退出",
    "%(prog)s: error: %(message)s\n": "%(prog)s：错误：%(message)s\n",
    "the following arguments are required: %s": "缺少必需的参数：%s",
    "invalid choice: %(value)r (choose from %(choices)s)": "无效的选项 %(value)r（可选：%(choices)s）",
    "unrecognized arguments: %s": "无法识别的参数：%s",
    "expected one argument": "需要一个值",
    "expected at most one argument": "最多一个值",
    "expected at least one argument": "至少需要一个值",
    "argument %(argument_name)s: %(message)s": "参数 %(argument_name)s：%(message)s",
    "invalid %(type)s value: %(value)r": "无效的值 %(value)r",
    "ambiguous option: %(option)s could match %(matches)s": "选项 %(option)s 不明确，可能是 %(matches)s",
    "not allowed with argument %s": "不能与参数 %s 同用",
    "one of the arguments %s is required": "需要参数 %s 之一",
    "unexpected option string: %s": "意外的选项：%s",
    "show program's version number and exit": "显示版本号并退出",
}


def _words(text: str) -> str:
    return ARGPARSE_WORDS.get(text, text)


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Help laid out as written (examples keep their lines)."""


COMMANDS = {
    "render": ("把规格文件（YAML 或 JSON）生成排好版、带下拉列表和自动检查的工作簿",
               "perfxl render specs/example.yaml                 # → output/example.xlsx\n"
               "perfxl render specs/example.yaml -o 汇总.xlsx --one-sheet"),
    "blank": ("生成空白表，供各单位离线填写（附填表说明）",
              "perfxl blank -o 空白表.xlsx --projects 3 --rows 4 --year 2026 --unit 某某局\n"
              "PERFXL_PASSWORD=密码 perfxl blank -o 空白表.xlsx --password   # 加保护，密码不出现在命令行\n"
              "perfxl blank --roster 名册.xlsx -o 下发/ --due 2027-01-15 --rows 3   # 每个填报单位一个预填的工作簿"),
    "check": ("按审核规则检查规格文件或填好的工作簿，每个问题一行",
              "perfxl check specs/example.yaml\n"
              "perfxl check 回收/财政局.xlsx --format json"),
    "read": ("把填好的工作簿（.xlsx .xlsm .xls .ods）读回规格文件",
             "perfxl read 回收/财政局.xlsx -o 财政局.yaml\n"
             "perfxl read 回收/财政局.xlsx --format json > 财政局.json"),
    "forms": ("列出可用的表样，或检查一个单位自己的表样文件（perfxl forms check 表样.yaml）",
              "perfxl forms\n"
              "perfxl --forms 我局表样/ forms check 我局表样/区县项目表.yaml"),
    "diff": ("比较两个规格或工作簿：逐个项目列出新增、删除和改动的栏目与指标",
             "perfxl diff 下发/sent.yaml 回收/甲局.xlsx --sent      # 退回来的与下发的相比\n"
             "perfxl diff 2025.yaml 2026.xlsx --last-year --format json"),
    "export": ("把规格或工作簿导出为预算管理一体化系统的平铺格式（每个指标一行，.xlsx 或 .csv）",
               "perfxl export 汇总/collected.yaml --flat -o 指标.xlsx\n"
               "perfxl export 甲局.xlsx --flat --merge-value -o 指标.csv   # 指标值写成 ≥95% 一栏"),
    "preview": ("把规格或工作簿画成一个网页（.html）：表格如同纸面，问题标在所在的格子上并列在表下，可打印为 A4",
                "perfxl preview specs/example.yaml -o 预览.html\n"
                "perfxl preview 回收/甲局.xlsx -o 甲局.html"),
    "collect": ("一次读入多个回收的工作簿（文件或文件夹），合并成一个规格或一个汇总工作簿",
                "perfxl collect 回收/ -o 汇总.yaml\n"
                "perfxl collect 回收/ 补交/ -o 汇总.xlsx --jobs 2\n"
                "perfxl collect 回收/ -o 审核/ --roster 名册.xlsx --amount-unit 万元   # 汇总.xlsx、退回/ 等写入 审核/"),
}


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="perfxl", formatter_class=_Formatter,
        description="项目支出绩效目标表：YAML 规格 ⇄ 排好版、可检查的 Excel 工作簿",
        epilog="每个命令的用法：perfxl 命令 -h，例如 perfxl render -h\n"
               "退出状态：0 完成；1 检查发现错误；2 输入无法使用或命令行有误；3 内部错误")
    parser.add_argument("--version", action="version", version=f"perfxl {__version__}", help="显示版本号并退出")
    parser.add_argument("--forms", action="append", default=[], type=_text, metavar="目录",
                        help="也在这个目录中查找表样（可多次给出；另见环境变量 PERFXL_FORMS 和 ./forms）")
    sub = parser.add_subparsers(dest="command", required=True, title="命令", metavar="命令")

    def command(name: str, func):
        summary, examples = COMMANDS[name]
        p = sub.add_parser(name, help=summary, description=summary, formatter_class=_Formatter,
                           epilog="示例：\n  " + examples.replace("\n", "\n  "))
        p.set_defaults(func=func)
        return p

    p = command("render", cmd_render)
    p.add_argument("spec", metavar="规格文件", help="YAML 或 JSON 规格文件")
    p.add_argument("-o", "--output", metavar="输出.xlsx", help="输出的工作簿（默认 output/<规格文件名>.xlsx）")
    p.add_argument("--one-sheet", action="store_true", help="所有表放在一张工作表上，每表一页")

    p = command("blank", cmd_blank)
    p.add_argument("-o", "--output", metavar="输出.xlsx", default=BLANK_OUT,
                   help=f"输出的工作簿（默认 {BLANK_OUT}）；用 --roster 时是输出的文件夹（默认 {ROSTER_OUT}）")
    p.add_argument("--roster", type=_text, metavar="名册",
                   help="按名册（.xlsx .csv 或 .yaml，每行一个项目，列名用表中的栏目名：填报单位、项目名称 …）"
                        "给每个填报单位生成一个预填好的工作簿")
    p.add_argument("--due", type=_text, metavar="日期", help="报回的截止日期（如 2027-01-15），写在填表说明的开头")
    p.add_argument("--projects", metavar="N", type=_bounded(1, MAX_PROJECTS), default=1,
                   help=f"表的张数（默认 1，最多 {MAX_PROJECTS}）")
    p.add_argument("--rows", metavar="K", type=_bounded(1, MAX_ROWS_PER_GROUP), default=2,
                   help=f"每个二级指标预留的行数（默认 2，最多 {MAX_ROWS_PER_GROUP}）")
    p.add_argument("--protect", action="store_true", help="锁定标签和表格结构（不设密码）；仍可插入行")
    p.add_argument("--password", nargs="?", const=PROMPT, metavar="密码",
                   help=f"解除保护的密码（同时加保护）；不写密码时取环境变量 {PASSWORD_ENV}，没有则提示输入")
    p.add_argument("--one-sheet", action="store_true", help="所有表放在一张工作表上")
    p.add_argument("--template", type=_text, default="project-expenditure", metavar="表样",
                   help="表样名或表样文件（默认 project-expenditure；perfxl forms 列出可用的表样）")
    p.add_argument("--year", type=_bounded(1900, 2999), metavar="年度", help="标题中的年度")
    p.add_argument("--unit", type=_text, metavar="填报单位", help="填报单位")
    p.add_argument("--amount-unit", default="元", choices=("元", "万元"), help="金额单位（默认 元）")

    p = command("check", cmd_check)
    p.add_argument("source", metavar="规格或工作簿", help="YAML/JSON 规格文件，或填好的工作簿")
    p.add_argument("--format", choices=("text", "json"), default="text", help="报告格式（默认 text）")

    p = command("read", cmd_read)
    p.add_argument("book", metavar="工作簿", help="填好的工作簿（.xlsx .xlsm .xls .ods）")
    p.add_argument("-o", "--output", metavar="输出", help="写到这个文件（.yaml 或 .json），不写则输出到屏幕")
    p.add_argument("--format", choices=("yaml", "json"), help="输出格式（默认 yaml；-o 以 .json 结尾时为 json）")
    p.add_argument("--form", type=_text, metavar="表样", help="按这个表样读（表样名或表样文件；默认按工作簿中的表样标记，或按标签识别）")

    p = command("forms", cmd_forms)
    p.set_defaults(action=None, files=[], no_office=False)
    actions = p.add_subparsers(dest="action", title="子命令", metavar="子命令")
    check_forms = actions.add_parser("check", help="对表样文件运行一致性检查（生成后读回、空白表读回、检查结果一致）",
                                     description="对表样文件运行一致性检查：示例生成后读回一致、空白表读回为空、"
                                                 "工作簿中的检查结果与 perfxl check 一致（装有 LibreOffice 时也重算核对）",
                                     formatter_class=_Formatter)
    check_forms.add_argument("files", nargs="+", metavar="表样文件", help="要检查的表样文件（.yaml）或表样名")
    check_forms.add_argument("--no-office", action="store_true", help="不用 LibreOffice 重算（默认装有时会用）")

    p = command("collect", cmd_collect)
    p.description += ("。按文件路径、再按表的顺序合并；读不了的文件逐个说明并跳过，其余照常写出，"
                      "此时退出状态为 2。")
    p.add_argument("paths", nargs="+", metavar="工作簿或文件夹", help="工作簿，或在其中查找 .xlsx .xlsm .xls .ods 的文件夹")
    p.add_argument("-o", "--output", metavar="输出",
                   help="写成 .yaml、.json 或汇总 .xlsx；给文件夹（没有扩展名或以 / 结尾）时写出 汇总.xlsx、"
                        "bundle.xlsx、退回/ 和 collected.yaml（不写则 YAML 输出到屏幕）")
    p.add_argument("--roster", type=_text, metavar="名册", help="下发时的名册：报送情况列出每个应报的项目，未报的排在前面")
    p.add_argument("--amount-unit", choices=("元", "万元"), help="项目汇总中金额的单位（默认 元；万元的换算过来）")
    p.add_argument("--pdf-per-unit", action="store_true",
                   help="打印成每个填报单位一个 PDF（pdf/ 中），而不是一个 bundle.pdf（装有 LibreOffice 时才打印）")
    p.add_argument("--no-pdf", action="store_true", help="不打印 PDF（默认装有 LibreOffice 时打印 bundle.pdf）")
    p.add_argument("--quiet", action="store_true", help="不显示读取进度")
    p.add_argument("--jobs", type=_bounded(1, MAX_JOBS), metavar="N", help=f"进程数（默认每核一个，最多 {MAX_JOBS}）")

    p = command("preview", cmd_preview)
    p.add_argument("source", metavar="规格或工作簿", help="YAML/JSON 规格文件，或填好的工作簿")
    p.add_argument("-o", "--output", metavar="输出.html", required=True, help="写出的网页（一个文件，不联网、不引用其他文件）")

    p = command("export", cmd_export)
    p.description += "。perfxl read 也能把这样的文件读回规格。"
    p.add_argument("source", metavar="规格或工作簿", help="YAML/JSON 规格文件，或填好的工作簿")
    p.add_argument("--flat", action="store_true", required=True, help="平铺格式：项目名称、填报单位、一级指标 … 每个指标一行")
    p.add_argument("-o", "--output", metavar="输出", required=True, help="写到 .xlsx 或 .csv（UTF-8 带 BOM，Excel 可直接打开）")
    p.add_argument("--merge-value", action="store_true", help="计算符号、年度指标值和计量单位合成一栏「指标值」，如 ≥95%%")

    p = command("diff", cmd_diff)
    p.description += "。项目按填报单位和项目名称对应，指标按一级/二级/三级名称对应。退出状态：0 相同；1 有不同；2 文件无法使用。"
    p.add_argument("old", metavar="旧", help="原来的规格或工作簿（如下发的 sent.yaml、去年的表）")
    p.add_argument("new", metavar="新", help="新的规格或工作簿")
    reading = p.add_mutually_exclusive_group()
    reading.add_argument("--sent", action="store_true",
                         help="旧的是下发的：标出单位改动或删除了的、下发时已填好的栏目和指标")
    reading.add_argument("--last-year", action="store_true",
                         help="旧的是去年的：标出降低了的 ≥ 目标、提高了的 ≤ 目标、去掉的指标、照抄去年的文字和金额的增减")
    p.add_argument("--format", choices=("text", "json"), default="text", help="报告格式（默认 text）")
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
    saved = argparse._
    argparse._ = _words                 # argparse's own messages in Chinese, for this call only
    try:
        args = build_parser().parse_args(argv)
    finally:
        argparse._ = saved
    if args.forms:                      # the form folders this process searches first
        from .formfile import FORMS_ENV

        os.environ[FORMS_ENV] = os.pathsep.join([*args.forms, os.environ.get(FORMS_ENV, "")]).rstrip(os.pathsep)
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
