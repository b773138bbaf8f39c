"""LibreOffice as part of the test bed: recalculate, re-save and convert workbooks headless.

Each test session gets its own LibreOffice profile (so runs never share a lock) that recalculates
formulas on load; without it LibreOffice keeps XlsxWriter's cached values.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")

RECALC_PROFILE = """<?xml version="1.0" encoding="UTF-8"?>
<oor:items xmlns:oor="http://openoffice.org/2001/registry" xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="OOXMLRecalcMode" oor:op="fuse"><value>0</value></prop></item>
<item oor:path="/org.openoffice.Office.Calc/Formula/Load"><prop oor:name="ODFRecalcMode" oor:op="fuse"><value>0</value></prop></item>
</oor:items>
"""

_profile: Path | None = None


def available() -> bool:
    return SOFFICE is not None


def profile() -> Path:
    global _profile
    if _profile is None:
        _profile = Path(tempfile.mkdtemp(prefix="perfxl-lo-"))
        user = _profile / "user"
        user.mkdir()
        (user / "registrymodifications.xcu").write_text(RECALC_PROFILE, encoding="utf-8")
    return _profile


# A fontconfig setup that hides Carlito (Calibri's metrics) and Noto CJK from LibreOffice: the fonts
# a machine may well lack, whose stand-ins lay the pages out differently.
WITHOUT_FONTS = """<?xml version="1.0"?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig>
  <include ignore_missing="yes">/etc/fonts/fonts.conf</include>
  <selectfont><rejectfont><glob>*[Cc]arlito*</glob><glob>*Noto*CJK*</glob></rejectfont></selectfont>
</fontconfig>
"""
_bare: Path | None = None


def convert(src: str | os.PathLike, fmt: str, outdir: str | os.PathLike, fonts: bool = True) -> Path:
    """Open `src` in LibreOffice (recalculating every formula) and save it as `fmt`.

    fmt is a --convert-to argument: "xlsx", "xls", "ods", "pdf", or "xlsx:Calc MS Excel 2007 XML".
    fonts=False runs LibreOffice as on a machine without Carlito and Noto CJK (its own profile).
    Returns the written file.
    """
    global _bare
    if SOFFICE is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    src, outdir = Path(src), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    env = None
    use = profile()
    if not fonts:
        if _bare is None:
            _bare = Path(tempfile.mkdtemp(prefix="perfxl-lo-bare-"))
            (_bare / "fonts.conf").write_text(WITHOUT_FONTS, encoding="utf-8")
        env, use = {**os.environ, "FONTCONFIG_FILE": str(_bare / "fonts.conf")}, _bare / "profile"
    cmd = [SOFFICE, f"-env:UserInstallation={use.as_uri()}", "--headless", "--norestore",
           "--convert-to", fmt, "--outdir", str(outdir), str(src)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180, env=env)
    out = outdir / (src.stem + "." + fmt.split(":")[0])
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"soffice failed ({result.returncode}): {result.stderr or result.stdout}")
    return out


def uno_python() -> str | None:
    """A Python that can drive LibreOffice through UNO (Debian's python3-uno), or None."""
    for candidate in ("/usr/bin/python3", shutil.which("python3")):
        if candidate and subprocess.run([candidate, "-c", "import uno"], capture_output=True).returncode == 0:
            return candidate
    return None


def type_into(src: str | os.PathLike, out: str | os.PathLike, edits: dict[str, str]) -> Path:
    """Type `edits` (cell → text, as a clerk types it) into `src` in LibreOffice; save as .xlsx
    (or .ods, by the name of `out`)."""
    python = uno_python()
    if python is None:
        raise RuntimeError("no Python with LibreOffice's uno module (apt-get install python3-uno)")
    import socket

    with socket.socket() as s:                       # a free port for this office's UNO socket
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    profile = Path(tempfile.mkdtemp(prefix="perfxl-uno-"))
    script = Path(__file__).with_name("uno_typing.py")
    result = subprocess.run([python, str(script), str(Path(src).resolve()), str(Path(out).resolve()), str(profile),
                             str(port), *(f"{cell}={text}" for cell, text in edits.items())],
                            capture_output=True, text=True, timeout=300)
    shutil.rmtree(profile, ignore_errors=True)
    if result.returncode != 0 or not Path(out).exists():
        raise RuntimeError(f"typing through UNO failed ({result.returncode}): {result.stderr[-2000:]}")
    return Path(out)


def painted(typed: str | os.PathLike) -> dict[tuple[str, str], set[str]]:
    """The cells LibreOffice paints in a workbook saved by `type_into`: (sheet, cell) → the fill
    colours (RRGGBB) of the conditional formats whose condition holds there."""
    import json

    out: dict[tuple[str, str], set[str]] = {}
    for sheet, cell, colour in json.loads(Path(f"{Path(typed).resolve()}.painted.json").read_text(encoding="utf-8")):
        out.setdefault((sheet, cell), set()).add(colour)
    return out
