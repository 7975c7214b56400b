"""Rows out: JSON or CSV for scripts, an aligned table or a workbook for people.

JSON and CSV are the scripting contract: the same keys and values whatever the terminal,
times in ISO 8601 UTC, ids only. A table is for reading (View): headers, statuses and levels in
the playbook's language, times in its zone, amounts with thousands separators and the
currency, long texts cut with … so that every line fits the terminal, a count line at the end.
A workbook (sheets.py) shows what a table shows, with numbers, amounts and dates as such.

No text is ever run as a formula by the spreadsheet that opens a file: in CSV a text starting
with =, +, -, @, tab or CR is written behind a `'` (which the importer takes away again).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TextIO
from zoneinfo import ZoneInfo

from salesplay.engine.errors import SalesplayError
from salesplay.engine.lang.document import Document
from salesplay.engine.present import labels
from salesplay.engine.store.convert import guard_formula

FORMATS = ("table", "json", "csv", "xlsx")
FOR_PEOPLE = ("table", "xlsx")  # formats that show names beside ids, words, local times
BOM = b"\xef\xbb\xbf"  # before a CSV, so that Excel reads it as UTF-8

# Cut first when a table is wider than the terminal: free text, and long values a person
# rarely reads to the end (a playbook's path and hash).
CUT_FIRST = frozenset(
    {"title", "message", "last_error", "reason", "plan", "note", "playbook_path", "playbook_hash"}
)

# Currencies written with a symbol (¥40,800.00); any other code goes before the number.
SYMBOLS = {"CNY": "¥", "RMB": "¥", "USD": "$", "EUR": "€", "GBP": "£"}


class Money(Decimal):
    """An amount in units of the playbook's currency, exact to the cent. A table shows
    ¥40,800.00; JSON and CSV show the plain number, like any Decimal (40800)."""

    __slots__ = ()


class Share(Decimal):
    """A fraction of 1 shown as a percentage: a table shows 108%, a workbook the number with a
    percentage format; JSON and CSV the plain number (1.08), like any Decimal."""

    __slots__ = ()


def _plain(value: Any) -> Any:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def money(cents: Decimal | float | int | None) -> Money | None:
    """An amount read back from SQL, in cents, as exact units: 123456789 → 1234567.89.

    Stored amounts are whole cents and their sums and counts stay whole, but an average, a
    pro-rated target or a forecast may come back with a fraction of a cent (SQL computes those
    in double precision): that is rounded half up to the cent here, deliberately, so a report
    shows 0.23 for an average of 0.10, 0.20 and 0.40, never 0.2333… or 1234567.8900000001.
    """
    if cents is None:
        return None
    whole = Decimal(str(cents)).quantize(Decimal(1), ROUND_HALF_UP)
    return Money(whole.scaleb(-2))


def number_text(value: Decimal | float | None) -> str | None:
    """An amount or count for people: thousands separators, at most two decimals, no trailing
    zeros (40,800 · 37,037.04 · 0.5)."""
    if value is None:
        return None
    number = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP).normalize()
    return f"{number:,f}"


def amount_text(value: Decimal | float, currency: str | None = None) -> str:
    """An amount for people: separators, always two decimals, the currency's symbol or code:
    ¥1,296,000.00 · -$5.50 · HKD 12.00 · 40,800.00 (no currency)."""
    number = f"{Decimal(str(value)).quantize(Decimal('0.01'), ROUND_HALF_UP):,.2f}"
    if not currency:
        return number
    sign, digits = ("-", number[1:]) if number.startswith("-") else ("", number)
    mark = SYMBOLS.get(currency.upper())
    return f"{sign}{mark}{digits}" if mark else f"{sign}{currency} {digits}"


def width(text: str) -> int:
    """Terminal columns a string takes: wide (CJK) characters take two."""
    return sum(_char_width(ch) for ch in text)


def _char_width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in "WF" else 1


def truncate(text: str, size: int) -> str:
    """text cut to at most `size` columns, ending with … when anything was cut."""
    if width(text) <= size:
        return text
    kept, used = [], 0
    for ch in text:
        if used + _char_width(ch) > size - 1:
            break
        kept.append(ch)
        used += _char_width(ch)
    return "".join(kept) + "…"


@dataclass(frozen=True)
class View:
    """How a table is shown: its words (labels.words), the width every line must fit (None:
    as wide as the rows need), the zone of times (stored in UTC) and the currency of amounts.
    The default is English, untruncated, UTC, no currency."""

    words: Mapping[str, str] = field(default_factory=lambda: labels.words("en"))
    width: int | None = None
    zone: tzinfo = UTC
    currency: str | None = None


@dataclass(frozen=True)
class Listing:
    """A listing command's rows: its name (which words it uses), the columns of JSON and CSV
    (the scripting contract: ids only) and the columns of its table (ids with names)."""

    name: str
    columns: tuple[str, ...]
    table: tuple[str, ...]

    def shown(self, fmt: str) -> list[str]:
        return list(self.table if fmt in FOR_PEOPLE else self.columns)


def terminal_width(wide: bool = False, stream: TextIO | None = None) -> int | None:
    """The width a table must fit: the terminal's, or COLUMNS when set. None (nothing cut)
    with --wide, and when the output goes to a file or a pipe with COLUMNS unset."""
    if wide:
        return None
    if "COLUMNS" not in os.environ and not (stream or sys.stdout).isatty():
        return None
    return shutil.get_terminal_size().columns


def table_view(
    playbook: Document,
    listing: str = "",
    language: str | None = None,
    wide: bool = False,
    extra: Mapping[str, labels.Words] | None = None,
) -> View:
    """The view of a listing's table under a playbook: its language (unless --lang says),
    zone and currency, fitted to the terminal (unless --wide)."""
    return View(
        words=labels.words(language or playbook.language, listing, extra),
        width=terminal_width(wide),
        zone=ZoneInfo(playbook.timezone),
        currency=playbook.data.get("currency"),
    )


def render(
    rows: list[dict[str, Any]],
    fmt: str,
    columns: list[str] | None = None,
    view: View | None = None,
    envelope: Mapping[str, Any] | None = None,
) -> str:
    """Rows as JSON, CSV or a table. `envelope`: JSON is that object with the rows under
    `rows` (a report's {kind, as_of, period, under, rows}) instead of a bare list."""
    columns = columns or (list(rows[0]) if rows else [])
    if fmt == "json":
        shown = [{k: _plain(r.get(k)) for k in columns} for r in rows]
        return json.dumps(
            {**envelope, "rows": shown} if envelope is not None else shown,
            ensure_ascii=False,
            indent=2,
            default=_plain,  # nested values: a statement's lines, a scorecard's KPIs
        )
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(columns)
        for row in rows:
            writer.writerow([csv_cell(row.get(k)) for k in columns])
        return buffer.getvalue().rstrip("\n")
    return table(rows, columns, view or View())


def csv_cell(value: Any) -> str:
    """One value as CSV holds it: a text that a spreadsheet would run as a formula behind a `'`
    (`'=HYPERLINK(…)`); numbers, dates and the rest as _cell() has them."""
    if isinstance(value, str):
        return guard_formula(value)
    return _cell(value)


def encode(text: str, fmt: str, bom: bool = True) -> bytes:
    """The bytes of a rendered listing: UTF-8, a CSV with the BOM Excel looks for unless told
    not (`--no-bom`, for scripts); a file ends with a line break."""
    data = text.encode("utf-8") + b"\n"
    return BOM + data if fmt == "csv" and bom else data


def write_file(path: Path, data: bytes) -> None:
    """Write the whole file or nothing: a partial file never takes the name."""
    partial = path.with_name(f".{path.name}.partial")
    try:
        partial.write_bytes(data)
        os.replace(partial, path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise SalesplayError(f"--out: cannot write {path}: {exc.strerror}") from None


def table(rows: list[dict[str, Any]], columns: list[str], view: View) -> str:
    """Rows as aligned columns under their headers, then how many there are."""
    words = view.words
    if not rows:
        return words.get("none", "(none)")
    headers = [words.get(name, name) for name in columns]
    cells = [[cell_text(row.get(name), name, view) for name in columns] for row in rows]
    widths = [
        max(width(c) for c in [header, *[row[i] for row in cells]])
        for i, header in enumerate(headers)
    ]
    if view.width is not None:
        widths = _fit(widths, columns, cells, view.width)
    lines = [
        _line(headers, widths),
        "  ".join("-" * w for w in widths),
        *[_line(row, widths) for row in cells],
    ]
    return "\n".join([*lines, count_line(rows, words)])


def count_line(rows: list[dict[str, Any]], words: Mapping[str, str]) -> str:
    """How many rows there are, in the listing's words: `12 tasks`, `12 条任务`, `1 task`."""
    many = len(rows) != 1 or "count.one" not in words
    count = words.get("count.many" if many else "count.one", "{n} rows")
    return count.format(n=len(rows))


def cell_text(value: Any, column: str = "", view: View | None = None) -> str:
    """One value as a table shows it: a stored status or level in the view's words, yes/no,
    an amount with its currency, a time in the view's zone, a count map as `tasks 3, …`."""
    view = view or View()
    if value is None:
        return ""
    if isinstance(value, bool):
        return view.words.get("yes" if value else "no", str(value))
    if isinstance(value, Money):
        return amount_text(value, view.currency)
    if isinstance(value, Share):
        return f"{(value * 100).quantize(Decimal('0.01'), ROUND_HALF_UP).normalize():f}%"
    if isinstance(value, datetime):  # the engine stores its own times in UTC, without offset
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.astimezone(view.zone).strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, str):
        shown = view.words.get(f"{column}.{value}", value)
        return " ".join(shown.splitlines())
    if isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values()):
        return ", ".join(f"{k} {_cell(v)}" for k, v in value.items())
    return _cell(value)


def _line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(_pad(truncate(c, w), w) for c, w in zip(cells, widths, strict=True)).rstrip()


def _fit(natural: list[int], columns: list[str], cells: list[list[str]], limit: int) -> list[int]:
    """Column widths whose line fits `limit`, cutting texts before numbers. The CUT_FIRST
    columns go first (to 12 columns at least) with the headers of empty columns (to 4), then
    the widest of the other texts (to 8, then 4). Numbers, amounts, dates and times keep
    their digits: only a header wider than them is cut, and only then. Where even that is not
    enough, texts and then everything go down to one column each: a line never wraps."""
    budget = limit - 2 * (len(natural) - 1)
    everything = range(len(columns))
    exact = {i for i in everything if all(_EXACT.fullmatch(row[i]) for row in cells)}
    texts = [i for i in everything if i not in exact]
    empty = {i: 4 for i in everything if not any(row[i] for row in cells)}
    tiers: list[dict[int, int]] = [
        {**{i: 12 for i in texts if columns[i] in CUT_FIRST}, **empty},
        {i: 8 for i in texts},
        {i: 4 for i in texts},
        {i: max(1, *(width(row[i]) for row in cells)) for i in exact},
        {i: 1 for i in texts},
        {i: 1 for i in everything},
    ]
    widths = natural
    for floors in tiers:
        widths = _shrink(widths, floors, budget)
    return widths


# A cell made of digits and the marks around them (2024-06-15 08:00:00 · ¥1,296,000.00 ·
# 55.5% · 1/5 · 2024-Q2 · HKD 12.00): cutting it would show a different number.
_EXACT = re.compile(r"(?:[A-Z]{3} )?[-+]?[¥$€£]?[\dQWT,.:/% +-]*")


def _shrink(widths: list[int], floors: dict[int, int], budget: int) -> list[int]:
    """Lower the widest columns among `floors` to one cap (none below its floor) until the
    widths add up to `budget`, then hand back the columns the last step took too many."""
    if sum(widths) <= budget or not floors:
        return widths

    def capped(cap: int) -> list[int]:
        return [min(w, max(cap, floors[i])) if i in floors else w for i, w in enumerate(widths)]

    cap = max(widths[i] for i in floors)
    while cap > 1 and sum(capped(cap)) > budget:
        cap -= 1
    out = capped(cap)
    spare = budget - sum(out)
    for i in sorted(floors):
        if spare <= 0:
            break
        if widths[i] > out[i]:
            out[i] += 1
            spare -= 1
    return out


def _cell(value: Any) -> str:
    value = _plain(value)
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _pad(shown: str, size: int) -> str:
    return shown + " " * (size - width(shown))
