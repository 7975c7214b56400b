"""Calendar arithmetic in Python, computed once per run and passed to SQL as bound parameters.

6 months before 2024-08-31 is 2024-02-29: months clamp to the last day, as people count them.
"""

from __future__ import annotations

import calendar
import difflib
import re
from datetime import date, datetime, timedelta
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
# The longest duration (a cadence, a grace period, a lag) and window a playbook may write, in
# each unit. Dates end at year 9999, so `every: 99999999999 weeks` validated and then overflowed;
# ten years is longer than any follow-up means, a hundred any window of records.
MOST_YEARS = {"duration": 10, "window": 100}


def check_length(digits: str, unit: str, what: str = "duration") -> int:
    """The count of a duration or window; ExpressionError when it is longer than MOST_YEARS
    allows. (The digits as written: int() refuses more than 4300 of them.)"""
    years = MOST_YEARS[what]
    most = {"days": years * 365, "weeks": years * 52, "months": years * 12, "years": years}[unit]
    count = int(digits) if len(digits) <= 12 else most + 1
    if count > most:
        shown = digits if len(digits) <= 20 else f"{digits[:10]}…"
        raise ExpressionError(
            f"'{shown} {unit}' is too long: a {what} is at most {years} years ({most} {unit})"
        )
    return count


def parse_duration(text: str) -> tuple[int, str]:
    """'2 weeks' -> (2, 'weeks'); '3 days' -> (3, 'days'); '1个月' -> (1, 'months')."""
    match = _DURATION.fullmatch(str(text))
    if not match or match.group(2).lower() not in UNITS:
        raise ExpressionError(
            f"'{text}' is not a duration: write a number and days, weeks, "
            "months or years, e.g. '2 weeks'"
        )
    unit = UNITS[match.group(2).lower()]
    return check_length(match.group(1), unit), unit


def check_duration_length(text: str) -> None:
    """Refuse a duration longer than MOST_YEARS allows; anything that is no duration at all is
    left to the schema's pattern to report (once)."""
    match = _DURATION.fullmatch(str(text))
    if match and match.group(2).lower() in UNITS:
        check_length(match.group(1), UNITS[match.group(2).lower()])


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
        count = check_length(match.group(1), UNITS[match.group(2)], "window")
        if count < 1:
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


# ---- what people type: days and time zones ---------------------------------------------

_DAY_TEXT = r"\s*(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?\s*"
_DAY = re.compile(_DAY_TEXT)
# a time after the day: 9:30, 09:30:15, 09:30:15.250000, 9时30分 (T between them as ISO has it)
_MOMENT = re.compile(
    _DAY_TEXT + r"(?:[T\s]\s*(\d{1,2})\s*[:时]\s*(\d{2})\s*(?:[:分]\s*(\d{2})(?:\.(\d{1,6}))?\s*秒?"
    r"|分)?\s*)?"
)
DAY_FORMS = "2024-07-05, 2024/7/5 or 2024年7月5日"
MOMENT_FORMS = "2024-07-05 09:30, 2024/7/5 9:30:15 or 2024年7月5日 9:30"


def parse_day(text: str) -> date:
    """A day as people write it: 2024-07-05, 2024/7/5, 2024.7.5 or 2024年7月5日."""
    found = _DAY.fullmatch(str(text))
    if found:
        try:
            return date(*(int(part) for part in found.groups()))
        except ValueError:
            raise ExpressionError(f"'{text}' is no such day") from None
    raise ExpressionError(f"'{text}' is not a date: write {DAY_FORMS}")


def parse_moment(text: str) -> datetime:
    """A local date and time as people write them, without an offset: any day parse_day
    reads, then a time with or without seconds (2024/7/5 9:30, 2024-07-05 09:30:15.25,
    2024年7月5日 9时30分); a day alone is its midnight."""
    found = _MOMENT.fullmatch(str(text))
    if found is None:
        raise ExpressionError(f"'{text}' is not a date and time: write {MOMENT_FORMS}")
    year, month, day, hour, minute, second, fraction = found.groups()
    try:
        return datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((fraction or "0").ljust(6, "0")),
        )
    except ValueError:
        raise ExpressionError(f"'{text}' is no such date and time") from None


# Names people give a zone that no IANA name resembles (Beijing is not a zone: China is one).
_ZONE_ALIASES = {
    "beijing": "Asia/Shanghai",
    "peking": "Asia/Shanghai",
    "china": "Asia/Shanghai",
    "prc": "Asia/Shanghai",
    "cst": "Asia/Shanghai",
    "utc+8": "Asia/Shanghai",
    "gmt+8": "Asia/Shanghai",
    "北京": "Asia/Shanghai",
    "中国": "Asia/Shanghai",
    "上海": "Asia/Shanghai",
    "shenzhen": "Asia/Shanghai",
    "guangzhou": "Asia/Shanghai",
    "hangzhou": "Asia/Shanghai",
    "chengdu": "Asia/Shanghai",
    "香港": "Asia/Hong_Kong",
    "taipei": "Asia/Taipei",
    "台北": "Asia/Taipei",
    "tokyo": "Asia/Tokyo",
    "东京": "Asia/Tokyo",
    "new york": "America/New_York",
    "san francisco": "America/Los_Angeles",
    "los angeles": "America/Los_Angeles",
    "london": "Europe/London",
}


def zone_hint(name: str) -> str:
    """Why a time zone name is unknown and what to write instead, for an error message:
    "did you mean 'Asia/Shanghai'?" for Beijing, the nearest IANA names for a typo."""
    from zoneinfo import available_timezones

    text = str(name).strip()
    alias = _ZONE_ALIASES.get(text.lower().replace("_", " "))
    if alias:
        return f"did you mean '{alias}'?"
    zones = sorted(available_timezones())
    by_city = {z.rsplit("/", 1)[-1].lower().replace("_", " "): z for z in zones}
    for cutoff in (0.85, 0.6):  # the close ones if any, else the merely similar
        close = [by_city[c] for c in difflib.get_close_matches(text.lower(), by_city, 2, cutoff)]
        close += [z for z in difflib.get_close_matches(text, zones, 2, cutoff) if z not in close]
        if close:
            return "did you mean " + " or ".join(f"'{z}'" for z in close[:2]) + "?"
    return "write an IANA name like Asia/Shanghai"


def check_zone(name: str) -> str:
    """The name if this machine knows the zone; ExpressionError with the nearest names if not."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        raise ExpressionError(f"unknown time zone '{name}' ({zone_hint(name)})") from None
    return str(name)
