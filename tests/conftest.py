"""Shared fixtures. LibreOffice tests skip where soffice is missing, except in CI (CI=true),
where a missing LibreOffice fails them: CI must really run them."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

import lo

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "specs" / "example.yaml"


@pytest.fixture
def libreoffice():
    if not lo.available():
        if os.environ.get("CI"):
            pytest.fail("LibreOffice (soffice) is required in CI but is not installed")
        pytest.skip("LibreOffice (soffice) is not installed")
    return lo


@pytest.fixture
def uno(libreoffice):
    """LibreOffice driven through UNO, to type into a workbook as a clerk does (python3-uno)."""
    if lo.uno_python() is None:
        if os.environ.get("CI"):
            pytest.fail("python3-uno is required in CI but is not installed")
        pytest.skip("no Python with LibreOffice's uno module (apt-get install python3-uno)")
    return lo


@pytest.fixture
def gnumeric():
    """Gnumeric's ssconvert: a second spreadsheet engine to recalculate the live checks."""
    import shutil

    path = shutil.which("ssconvert")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Gnumeric (ssconvert) is required in CI but is not installed")
        pytest.skip("Gnumeric (ssconvert) is not installed (apt-get install gnumeric)")
    return path


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE
