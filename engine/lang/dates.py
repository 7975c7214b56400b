"""Calendar arithmetic in Python, computed once per run and passed to SQL as bound parameters.

6 months before 2024-08-31 is 2024-02-29: months clamp to the last day, as people count them.
"""

from __future__ import annotations

import calendar
import re
from datetime import date, timedelta
from typing import Any

from salesplay.engine.errors import ExpressionError

UNITS = {
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
    "天": "days",
    "日": "days",
    "周": "weeks",
    "个月": "months",
    "月": "months",
    "年": "years",
}


def shift(day: date, count: int, unit: str) -> date:
    """day + count units, in calendar terms (2024-01-31 + 1 month = 2024-02-29)."""
    if unit == "days":
        return day + timedelta(days=count)
    if unit == "weeks":
        return day + timedelta(weeks=count)
    months = count * (12 if unit == "years" else 1)
    if unit not in ("months", "years"):
        raise ValueError(unit)
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


_DURATION = re.compile(r"\s*(\d+)\s*([A-Za-z\u4e00-\u9fff]+)\s*")


def parse_duration(text: str) -> tuple[int, str]:
    """'2 weeks' -> (2, 'weeks'); '3 days' -> (3, 'days'); '1个月' -> (1, 'months')."""
    match = _DURATION.fullmatch(str(text))
    if not match or match.group(2).lower() not in UNITS:
        raise ExpressionError(
            f"'{text}' is not a duration: write a number and days, weeks, "
            "months or years, e.g. '2 weeks'"
        )
    return int(match.group(1)), UNITS[match.group(2).lower()]


def period_start(day: date, unit: str) -> date:
    """The first day of the week (Monday), month, quarter or year that holds day."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    if unit == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    if unit == "year":
        return date(day.year, 1, 1)
    raise ValueError(unit)


def period_end(day: date, unit: str) -> date:
    start = period_start(day, unit)
    step = {
        "week": (1, "weeks"),
        "month": (1, "months"),
        "quarter": (3, "months"),
        "year": (1, "years"),
    }[unit]
    return shift(start, *step) - timedelta(days=1)


def period_label(day: date, unit: str) -> str:
    """The episode name of a calendar period: 2024-W23, 2024-06, 2024-Q2, 2024."""
    if unit == "week":
        iso = day.isocalendar()
        return f"{iso.year}-W{iso.week:02d}"
    if unit == "month":
        return f"{day.year}-{day.month:02d}"
    if unit == "quarter":
        return f"{day.year}-Q{(day.month - 1) // 3 + 1}"
    if unit == "year":
        return str(day.year)
    raise ValueError(unit)


_WINDOW_LAST = re.compile(r"last\s+(\d+)\s+(\w+)")
_WINDOW_THIS = re.compile(r"this\s+(week|month|quarter|year)")
WINDOW_HELP = (
    "a window is 'last N days|weeks|months|years', 'this week|month|quarter|year', "
    "'target period' or 'all time'"
)


def check_window(text: str) -> str:
    """Normalise a window's text, or raise ExpressionError naming the forms allowed."""
    norm = " ".join(str(text).lower().split())
    if norm in ("all time", "target period"):
        return norm
    match = _WINDOW_LAST.fullmatch(norm)
    if match and match.group(2) in UNITS:
        if int(match.group(1)) < 1:
            raise ExpressionError(
                f"window '{text}' is empty: count at least 1, e.g. "
                f"'last 1 {UNITS[match.group(2)].rstrip('s')}'"
            )
        return norm
    if _WINDOW_THIS.fullmatch(norm):
        return norm
    raise ExpressionError(f"unknown window '{text}': {WINDOW_HELP}")


def window_bounds(window: str, as_of: date) -> tuple[date | None, date]:
    """(first day, last day) of a window as of a date, both included; None = no lower bound.

    'last 6 months' as of 2024-08-31 is 2024-02-29 .. 2024-08-31.
    """
    norm = check_window(window)
    if norm in ("all time", "target period"):
        return None, as_of
    match = _WINDOW_LAST.fullmatch(norm)
    if match:
        return shift(as_of, -int(match.group(1)), UNITS[match.group(2)]), as_of
    match = _WINDOW_THIS.fullmatch(norm)
    assert match
    return period_start(as_of, match.group(1)), as_of


def as_date(value: Any) -> date:
    """A date as the database or YAML hands it back: a date already, or ISO text."""
    return value if isinstance(value, date) else date.fromisoformat(str(value))
