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


def convert(src: str | os.PathLike, fmt: str, outdir: str | os.PathLike) -> Path:
    """Open `src` in LibreOffice (recalculating every formula) and save it as `fmt`.

    fmt is a --convert-to argument: "xlsx", "xls", "ods", "pdf", or "xlsx:Calc MS Excel 2007 XML".
    Returns the written file.
    """
    if SOFFICE is None:
        raise RuntimeError("LibreOffice (soffice) is not installed")
    src, outdir = Path(src), Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    cmd = [SOFFICE, f"-env:UserInstallation={profile().as_uri()}", "--headless", "--norestore",
           "--convert-to", fmt, "--outdir", str(outdir), str(src)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    out = outdir / (src.stem + "." + fmt.split(":")[0])
    if result.returncode != 0 or not out.exists():
        raise RuntimeError(f"soffice failed ({result.returncode}): {result.stderr or result.stdout}")
    return out
