"""Periods as people write them: `2024`, `2024-Q2`, `2024-06`, `2024-W23`, `2024-04-01..2024-06-30`.

A period is a pair of dates, both included. ISO weeks run Monday to Sunday, and week 1 is the
week holding the year's first Thursday (2024-W01 starts on Monday 2024-01-01).
"""

from __future__ import annotations

import calendar
import re
from datetime import date

from salesplay.engine.errors import ExpressionError, SalesplayError

FORMS = "'2024', '2024-Q2', '2024-06', '2024-W23' or '2024-04-01..2024-06-30'"

_YEAR = re.compile(r"(\d{4})")
_QUARTER = re.compile(r"(\d{4})-?[Qq]([1-4])")
_MONTH = re.compile(r"(\d{4})-(\d{1,2})")
_WEEK = re.compile(r"(\d{4})-?[Ww](\d{1,2})")
_RANGE = re.compile(r"(\d{4}-\d{2}-\d{2})\s*\.\.\s*(\d{4}-\d{2}-\d{2})")


def parse(text: str) -> tuple[date, date]:
    """(first day, last day) of a period, or ExpressionError saying which forms are allowed."""
    norm = str(text).strip()
    try:
        if m := _YEAR.fullmatch(norm):
            year = int(m.group(1))
            return date(year, 1, 1), date(year, 12, 31)
        if m := _QUARTER.fullmatch(norm):
            year, quarter = int(m.group(1)), int(m.group(2))
            first = date(year, 3 * quarter - 2, 1)
            return first, _month_end(year, 3 * quarter)
        if m := _MONTH.fullmatch(norm):
            year, month = int(m.group(1)), int(m.group(2))
            return date(year, month, 1), _month_end(year, month)
        if m := _WEEK.fullmatch(norm):
            year, week = int(m.group(1)), int(m.group(2))
            monday = date.fromisocalendar(year, week, 1)
            return monday, date.fromisocalendar(year, week, 7)
        if m := _RANGE.fullmatch(norm):
            first, last = date.fromisoformat(m.group(1)), date.fromisoformat(m.group(2))
            if last < first:
                raise ExpressionError(f"period '{text}' ends before it starts")
            return first, last
    except ValueError as exc:  # month 13, week 54, 2024-02-30 …
        raise ExpressionError(f"'{text}' is not a real period: {exc}") from None
    raise ExpressionError(f"unknown period '{text}': write {FORMS}")


def label(first: date, last: date) -> str:
    """The shortest way to write a period: the inverse of parse()."""
    candidates = [
        f"{first.year}",
        f"{first.year}-Q{(first.month + 2) // 3}",
        f"{first:%Y-%m}",
        "{}-W{:02d}".format(*first.isocalendar()[:2]),
    ]
    for text in candidates:
        if parse(text) == (first, last):
            return text
    return f"{first.isoformat()}..{last.isoformat()}"


def parse_option(text: str, option: str) -> tuple[date, date]:
    """parse() for a command-line option: a bad period is a one-line SalesplayError."""
    try:
        return parse(text)
    except ExpressionError as exc:
        raise SalesplayError(f"{option}: {exc.message}") from None


def within(inner: tuple[date, date], outer: tuple[date, date]) -> bool:
    return outer[0] <= inner[0] and inner[1] <= outer[1]


def _month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])
