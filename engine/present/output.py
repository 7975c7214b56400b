"""Rows out: an aligned table for people (CJK-width aware), JSON or CSV for scripts."""

from __future__ import annotations

import csv
import io
import json
import unicodedata
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

FORMATS = ("table", "json", "csv")


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def money(cents: Decimal | float | int | None) -> Decimal | None:
    """An amount read back from SQL, in cents, as exact units: 123456789 → 1234567.89.

    Stored amounts are whole cents and their sums and counts stay whole, but an average, a
    pro-rated target or a forecast may come back with a fraction of a cent (SQL computes those
    in double precision): that is rounded half up to the cent here, deliberately, so a report
    shows 0.23 for an average of 0.10, 0.20 and 0.40, never 0.2333… or 1234567.8900000001.
    """
    if cents is None:
        return None
    whole = Decimal(str(cents)).quantize(Decimal(1), ROUND_HALF_UP)
    return whole.scaleb(-2)


def number_text(value: Decimal | float | None) -> str | None:
    """An amount or count for people: thousands separators, at most two decimals, no trailing
    zeros (40,800 · 37,037.04 · 0.5)."""
    if value is None:
        return None
    number = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP).normalize()
    return f"{number:,f}"


def width(text: str) -> int:
    """Terminal columns a string takes: wide (CJK) characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def render(rows: list[dict[str, Any]], fmt: str, columns: list[str] | None = None) -> str:
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == "json":
        return json.dumps(
            [{k: _plain(r.get(k)) for k in columns} for r in rows],
            ensure_ascii=False,
            indent=2,
            default=_plain,  # nested values: a statement's lines, a scorecard's KPIs
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(k) is None else _cell(row.get(k)) for k in columns])
        return buffer.getvalue().rstrip("\n")
    if not rows:
        return "(none)"
    cells = [[_cell(r.get(k)) for k in columns] for r in rows]
    widths = [
        max(width(c) for c in [name, *[row[i] for row in cells]]) for i, name in enumerate(columns)
    ]
    lines = [
        "  ".join(_pad(name, widths[i]) for i, name in enumerate(columns)).rstrip(),
        "  ".join("-" * w for w in widths),
    ]
    lines += ["  ".join(_pad(c, widths[i]) for i, c in enumerate(row)).rstrip() for row in cells]
    return "\n".join(lines)


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _pad(text: str, size: int) -> str:
    return text + " " * (size - width(text))
