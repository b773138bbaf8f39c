"""Writing output files: never over an input, never half-written.

`check_output` refuses, before any work is done, an output that is one of the inputs (`perfxl read
book.xlsx -o book.xlsx` turned the workbook into YAML), text written under a workbook's name,
a target that is no regular file (a device node, a directory) or a read-only file.
`write_atomically` writes through a temporary file beside the target (`.perfxl-*`) and moves it
into place only when complete: a full disk, an encoding error or a signal (the CLI turns SIGTERM
and SIGHUP into an exception) leaves the old file as it was and no temporary file behind.
Errors name the output path, never the temporary file.
"""
from __future__ import annotations

import errno
import os
import secrets
import stat
from collections.abc import Callable, Iterable
from pathlib import Path

from .errors import PerfxlError

WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
TEXT_SUFFIXES = (".yaml", ".yml", ".json")
TEMP_PREFIX = ".perfxl-"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name one file (through links, `..`, case-insensitive file systems)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.realpath(a) == os.path.realpath(b)


def check_output(out: str | os.PathLike, inputs: Iterable[str | os.PathLike] = (), *,
                 kind: str = "workbook") -> None:
    """Refuse an output path before anything is read or written. kind: "workbook" or "text"."""
    for given in inputs:
        if same_file(out, given):
            raise PerfxlError("输出文件就是输入文件，写出会毁掉输入；请换一个输出文件名", os.fspath(out))
    suffix = Path(out).suffix.lower()
    if kind == "workbook" and (suffix in TEXT_SUFFIXES or suffix in WORKBOOK_SUFFIXES and suffix != ".xlsx"):
        raise PerfxlError(f"这里写出的是 .xlsx 工作簿，不能用扩展名 {suffix}；请改用 .xlsx", os.fspath(out))
    if kind == "text" and suffix in WORKBOOK_SUFFIXES:
        raise PerfxlError(f"这里写出的是 YAML/JSON 文本，不能用工作簿的扩展名 {suffix}；请改用 .yaml 或 .json",
                          os.fspath(out))
    try:
        info = os.stat(out)
    except FileNotFoundError:
        return
    except OSError as exc:
        raise PerfxlError(f"无法写入：{exc.strerror}", os.fspath(out)) from None
    if stat.S_ISDIR(info.st_mode):
        raise PerfxlError("这是一个目录；请给出输出文件的名字", os.fspath(out))
    if not stat.S_ISREG(info.st_mode):
        raise PerfxlError("不是普通文件（如设备或管道），不会替换它；请给出输出文件的名字", os.fspath(out))
    if not info.st_mode & 0o222:
        raise PerfxlError("文件是只读的，未覆盖；请先取消只读，或换一个输出文件名", os.fspath(out))


def write_atomically(out: str | os.PathLike, write: Callable[[str], None]) -> Path:
    """Call write(temporary path), then move the temporary file to `out`."""
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _write_error(exc, out) from None
    while True:
        tmp = temporary_name(out.parent, out.suffix)  # named before it exists: a signal cannot orphan it
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
            break
        except FileExistsError:
            continue
        except OSError as exc:
            raise _write_error(exc, out) from None
        except BaseException:
            _remove(tmp)
            raise
    try:
        write(tmp)
        os.chmod(tmp, 0o666 & ~_umask())          # mkstemp makes it private; give it the usual mode
        os.replace(tmp, out)
    except OSError as exc:
        _remove(tmp)
        raise _write_error(exc, out) from None
    except BaseException:
        _remove(tmp)
        raise
    return out


def temporary_name(directory: str | os.PathLike, suffix: str = "") -> str:
    """A fresh `.perfxl-*` path in `directory`. The caller creates it inside its own try block
    (O_EXCL, or mkdir), so that a signal arriving just after creation still reaches the cleanup;
    tempfile.mkstemp creates and names in one call, and a signal between the two left the file."""
    return os.path.join(directory, TEMP_PREFIX + secrets.token_hex(6) + suffix)


def write_text(out: str | os.PathLike, text: str | Iterable[str]) -> Path:
    """Text (or its pieces, written as they come) as UTF-8, atomically; a character UTF-8
    cannot hold is a one-line error, and the old file stays as it was."""
    def dump(tmp: str):
        with open(tmp, "wb") as fh:
            try:                    # the pieces' maker (PyYAML's emitter) may refuse the character too
                for piece in [text] if isinstance(text, str) else text:
                    fh.write(piece.encode("utf-8"))
            except UnicodeEncodeError as exc:
                raise PerfxlError(f"内容含有无法保存的字符 U+{ord(exc.object[exc.start]):04X}",
                                  os.fspath(out)) from None
            fh.flush()
            os.fsync(fh.fileno())
    return write_atomically(out, dump)


def _write_error(exc: OSError, out: Path) -> PerfxlError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        return PerfxlError("磁盘已满或文件超过允许的大小，未写出（原有文件未改动）", os.fspath(out))
    return PerfxlError(f"无法写入：{exc.strerror or exc}", os.fspath(out))


def _remove(path: str):
    try:
        os.unlink(path)
    except OSError:
        pass


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
