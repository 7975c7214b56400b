"""Workbooks (`--format xlsx --out FILE.xlsx`): what a table shows, as a spreadsheet holds it.

Every sheet has its header row frozen and its columns as wide as their contents. Under a View
(every listing but `records`) it reads like the table: headers, statuses and levels in the
playbook's language, ids with names beside them, times in the playbook's zone; amounts are
numbers in the currency's money format, shares numbers in a percentage format, dates dates.
Without a View (`records`) the headers are the canonical import columns and the values as
stored, so that the workbook imports back unchanged. A text is always a text cell: one that
starts like a formula (`=HYPERLINK(…)`) is never run. A sheet's totals are formulas
(`=SUM(D2:D4)`) over the cells above, and another sheet may show them (`='R1 张三'!D5`).
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from salesplay.engine.present.output import (
    SYMBOLS,
    Money,
    Share,
    View,
    amount_text,
    cell_text,
    width,
    write_file,
)
from salesplay.engine.run.family import Sheet, TotalOf
from salesplay.engine.store.convert import FORMULA_START

DATE = "yyyy-mm-dd"
DATETIME = "yyyy-mm-dd hh:mm:ss"
SHARE = "0.00%"
NARROWEST, WIDEST = 6, 60  # a column's width in characters, as Excel counts them

_NOT_IN_TITLE = re.compile(r"[\[\]:*?/\\]")  # what Excel refuses in a sheet's name


def money_format(currency: str | None) -> str:
    """Excel's number format for amounts: "¥"#,##0.00 for CNY, "HKD "#,##0.00 for a code
    without a symbol, #,##0.00 without a currency. A negative amount shows as -¥5.50."""
    if not currency:
        return "#,##0.00"
    mark = SYMBOLS.get(currency.upper()) or f"{currency} "
    return f'"{mark}"#,##0.00'


def workbook(sheets: Sequence[Sheet], view: View | None) -> bytes:
    """The .xlsx file of these sheets, in this order."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    book.remove(book.active)
    titles = _titles(sheets, view)
    totals = {
        (sheet.title, column): f"{_quoted(titles[i])}!${_letter(sheet.columns.index(column))}"
        f"${len(sheet.rows) + 2}"
        for i, sheet in enumerate(sheets)
        for column in sheet.totals
    }
    bold = Font(bold=True)
    for sheet, title in zip(sheets, titles, strict=True):
        ws = book.create_sheet(title)
        words = view.words if view else {}
        headers = [words.get(name, name) for name in sheet.columns]
        ws.append(headers)
        for cell in ws[1]:
            cell.font = bold
        widths = [width(str(h)) for h in headers]
        for r, row in enumerate(sheet.rows, start=2):
            for c, name in enumerate(sheet.columns):
                value = row.get(name)
                if isinstance(value, TotalOf):
                    cell = ws.cell(r, c + 1, f"={totals[(value.sheet, value.column)]}")
                    cell.number_format = money_format(view.currency if view else None)
                    widths[c] = max(widths[c], 14)
                    continue
                shown = _put(ws.cell(r, c + 1), value, name, view)
                widths[c] = max(widths[c], width(shown))
        if sheet.totals:
            _total_row(ws, sheet, view, bold)
        ws.freeze_panes = "A2"
        if sheet.rows:
            ws.auto_filter.ref = f"A1:{_letter(len(sheet.columns) - 1)}{len(sheet.rows) + 1}"
        for c, size in enumerate(widths):
            ws.column_dimensions[_letter(c)].width = min(max(size + 2, NARROWEST), WIDEST)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def write_workbook(path: Path, sheets: Sequence[Sheet], view: View | None) -> None:
    """Write the workbook to path, whole or not at all."""
    write_file(path, workbook(sheets, view))


def _put(cell: Any, value: Any, column: str, view: View | None) -> str:
    """Give a cell its value and format; return the text it shows, to size its column."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    if value is None:
        return ""
    if isinstance(value, bool):
        if view is None:
            cell.value = value
            return str(value).upper()
        value = view.words.get("yes" if value else "no", str(value))
    if isinstance(value, Money):
        cell.value = value
        cell.number_format = money_format(view.currency if view else None)
        return amount_text(value, view.currency if view else None)
    if isinstance(value, Share):
        cell.value = value
        cell.number_format = SHARE
        return "100.00%"
    if isinstance(value, (int, float, Decimal)):
        cell.value = value
        return str(value)
    if isinstance(value, datetime):
        if view is not None:  # the engine's own times are UTC: shown in the playbook's zone
            moment = value if value.tzinfo else value.replace(tzinfo=UTC)
            value = moment.astimezone(view.zone).replace(tzinfo=None)
        cell.value = value
        cell.number_format = DATETIME
        return "2024-01-01 00:00:00"
    if isinstance(value, date):
        cell.value = value
        cell.number_format = DATE
        return "2024-01-01"
    if isinstance(value, (dict, list)):
        text = cell_text(value, column, view) if view else json.dumps(value, ensure_ascii=False)
    elif view is not None:  # a stored status or level in the view's words; lines kept
        text = view.words.get(f"{column}.{value}", str(value))
    else:
        text = str(value)
    text = str(ILLEGAL_CHARACTERS_RE.sub("", text))  # control characters no workbook may hold
    cell.value = text
    cell.data_type = "s"  # a text cell, even for =HYPERLINK(…): never a formula
    if text.startswith(FORMULA_START):
        cell.quotePrefix = True  # and Excel keeps it text when someone edits the cell
    return text


def _total_row(ws: Any, sheet: Sheet, view: View | None, bold: Any) -> None:
    """Under the rows: the word for total in the first column that is not summed, and a
    formula adding up each summed column's cells above."""
    row = len(sheet.rows) + 2
    words = view.words if view else {}
    label = next((i for i, name in enumerate(sheet.columns) if name not in sheet.totals), None)
    if label is not None:
        ws.cell(row, label + 1, words.get("total", "total")).font = bold
    for name in sheet.totals:
        c = sheet.columns.index(name)
        letter = _letter(c)
        formula = f"=SUM({letter}2:{letter}{row - 1})" if sheet.rows else "=0"
        cell = ws.cell(row, c + 1, formula)
        cell.number_format = money_format(view.currency if view else None)
        cell.font = bold


def _titles(sheets: Sequence[Sheet], view: View | None) -> list[str]:
    """Each sheet's name as Excel allows it: in the command's words, without []:*?/\\, at most
    31 characters, not starting or ending with a quote, and unique (`R1 张三 (2)`)."""
    words = view.words if view else {}
    out: list[str] = []
    for sheet in sheets:
        title = words.get(f"sheet.{sheet.title}", sheet.title)
        title = _NOT_IN_TITLE.sub(" ", title).strip("' ")[:31].strip() or "sheet"
        base, n = title, 2
        while title.casefold() in {t.casefold() for t in out}:
            tail = f" ({n})"
            title, n = base[: 31 - len(tail)] + tail, n + 1
        out.append(title)
    return out


def _quoted(title: str) -> str:
    return "'" + title.replace("'", "''") + "'"


def _letter(index: int) -> str:
    """The column letter of a zero-based index: 0 → A, 26 → AA."""
    from openpyxl.utils import get_column_letter

    return str(get_column_letter(index + 1))
