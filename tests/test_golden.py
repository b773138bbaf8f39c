"""Golden outputs of today's form (project-expenditure), frozen before the forms-as-data redesign.

Outputs are deterministic, so each is kept as its SHA-256 in tests/golden.json (no generated
workbook is committed): rendered workbooks in both layouts, blank forms with their options, what
`perfxl read` gives back for each (JSON with its warnings) and what `perfxl check` reports (JSON).
A redesign must keep them byte for byte. Workbook bytes depend on XlsxWriter, so they are compared
only under the XlsxWriter version they were frozen with; the read and check texts always.

    python tests/test_golden.py          # prints what differs
    python tests/test_golden.py --freeze  # writes tests/golden.json anew (only on purpose)
"""
from __future__ import annotations

import hashlib
import json
import sys
import tempfile
from pathlib import Path

import pytest
import xlsxwriter

import perfxl
from perfxl.check import json_report
from perfxl.dump import dump_spec

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden.json"
EXAMPLE = HERE.parent / "specs" / "example.yaml"
BLANKS = {
    "blank-default": {},
    "blank-options": {"projects": 2, "rows": 3, "protect": True, "year": 2027, "unit": "某某局"},
    "blank-password": {"password": "s3cret"},
    "blank-one-sheet": {"projects": 3, "one_sheet": True, "amount_unit": "万元"},
}


def outputs(folder: Path) -> dict[str, str]:
    """name → SHA-256 of every frozen output, made in `folder`."""
    books = {
        "render": perfxl.render(EXAMPLE, folder / "render.xlsx"),
        "render-one-sheet": perfxl.render(perfxl.load_spec(EXAMPLE), folder / "one.xlsx", one_sheet=True),
    }
    for name, options in BLANKS.items():
        books[name] = perfxl.blank(folder / f"{name}.xlsx", **options)
    out = {"check:example": _hash(json_report(perfxl.check(EXAMPLE)).replace(str(EXAMPLE.parent), "<specs>"))}
    for name, path in books.items():
        out[f"xlsx:{name}"] = _hash(path.read_bytes())
        result = perfxl.read(path)
        warnings = [w.to_dict() for w in result.warnings]
        text = dump_spec(result.spec, "json", {"warnings": warnings}).replace(str(folder), "<dir>")
        out[f"read:{name}"] = _hash(text)
        out[f"check:{name}"] = _hash(json_report(perfxl.check(result.spec)).replace(str(folder), "<dir>"))
    return out


def _hash(data: str | bytes) -> str:
    return hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()


def differences(frozen: dict, now: dict) -> list[str]:
    same_writer = frozen.get("xlsxwriter") == xlsxwriter.__version__
    return [name for name, digest in frozen["outputs"].items()
            if (same_writer or not name.startswith("xlsx:")) and now.get(name) != digest]


def test_outputs_are_byte_for_byte_as_frozen(tmp_path):
    frozen = json.loads(GOLDEN.read_text(encoding="utf-8"))
    now = outputs(tmp_path)
    assert set(now) == set(frozen["outputs"])
    assert differences(frozen, now) == []
    if frozen["xlsxwriter"] != xlsxwriter.__version__:
        pytest.skip(f"workbook bytes frozen with XlsxWriter {frozen['xlsxwriter']}, not {xlsxwriter.__version__}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        now = outputs(Path(tmp))
    if "--freeze" in sys.argv:
        GOLDEN.write_text(json.dumps({"xlsxwriter": xlsxwriter.__version__, "outputs": now}, indent=1,
                                     sort_keys=True) + "\n", encoding="utf-8")
        print(f"{GOLDEN}: {len(now)} outputs frozen")
    else:
        print("\n".join(differences(json.loads(GOLDEN.read_text(encoding="utf-8")), now)) or "all as frozen")
