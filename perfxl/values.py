"""What a number is, for every input perfxl takes: spec files (YAML and JSON) and workbook cells.

One grammar serves the spec loader and the reader, so the two agree: decimal digits with an
optional sign, fraction and exponent, thousands separated by commas in groups of three
(`1,500.00`), full-width digits and commas normalised (`３,０００`). Never octal, hex or
sexagesimal (YAML 1.1 read `0500000` as 163840 and `1:30` as 90). A leading zero is a
decimal digit: `0500000` is 500000.

Plain YAML scalars are classified by the YAML 1.2 core schema (`plain_kind`); a text field
keeps exactly what was typed whatever its kind.
"""
from __future__ import annotations

import math
import re
import unicodedata

Number = int | float

DECIMAL = re.compile(r"[+-]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")

# The YAML 1.2 core schema's plain scalars (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
CORE_NULL = re.compile(r"~|null|Null|NULL|")
CORE_BOOL = re.compile(r"true|True|TRUE|false|False|FALSE")
CORE_INT = re.compile(r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+")
CORE_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
                        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)")
CORE_DECIMAL = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


def normalise_number(value: Number) -> Number:
    """3000000.0 → 3000000; other floats stay floats."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def percent_shown(stored: Number) -> Number:
    """The number a percent-formatted cell shows: 0.95 (typed as 95%) → 95."""
    return normalise_number(round(stored * 100, 9))


def parse_number(text: str) -> Number | None:
    """'95' → 95, '1,500' → 1500, '３,０００.００' → 3000, '1e-05' → 1e-05; None when the text is
    not a finite decimal number ('0x1F', '12,34,5', '1:30', 'inf')."""
    text = unicodedata.normalize("NFKC", text).replace("，", ",").strip()
    if not DECIMAL.fullmatch(text):
        return None
    value = float(text.replace(",", ""))
    return normalise_number(value) if math.isfinite(value) else None


def is_finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def plain_kind(text: str) -> str:
    """How the YAML 1.2 core schema reads a plain scalar: "null", "bool", "decimal" (a decimal
    int or float), "number" (octal, hex, inf or nan: numbers perfxl does not take) or "text"."""
    if CORE_NULL.fullmatch(text):
        return "null"
    if CORE_BOOL.fullmatch(text):
        return "bool"
    if CORE_DECIMAL.fullmatch(text):
        return "decimal"
    if CORE_INT.fullmatch(text) or CORE_FLOAT.fullmatch(text):
        return "number"
    return "text"


def decimal_value(text: str) -> Number:
    """The value of a plain scalar whose plain_kind is "decimal"."""
    if re.fullmatch(r"[-+]?[0-9]{1,300}", text):     # longer: Python refuses int(); as a float it is inf
        return int(text)
    return normalise_number(float(text))


SURROGATE = re.compile("[\ud800-\udfff]")


def bad_character(text: str) -> str | None:
    """A description of the first character no workbook can hold (a lone UTF-16 surrogate), or None."""
    found = SURROGATE.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"
