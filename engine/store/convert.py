"""One imported cell's text to its stored value, the same on both import paths.

Dates in ISO or as Excel writes them (2024/1/5 9:30), money as exact cents, yes/no in English
or Chinese (是/否), periods as people write them (2024-Q2). A value that does not convert is a
row problem naming the column, never a silently wrong value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import periods
from salesplay.engine.store.models import Customer
from salesplay.engine.store.partitions import bucket_of
from salesplay.engine.store.records import Column, Kind

TRUE = {"true", "1", "yes", "y", "t", "是", "真", "对"}
FALSE = {"false", "0", "no", "n", "f", "否", "假", "不是"}


# A text a spreadsheet would run as a formula starts with one of these. salesplay writes such a
# text to CSV behind a `'` (output.py), and reads a `'` before one (or before more quotes and
# then one) as the text without that quote, so what it writes imports back as it was.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_GUARDED = re.compile("'+[" + re.escape("".join(FORMULA_START)) + "]")
_NUMBER = re.compile(r"[-+]?\d+(?:\.\d+)?")  # -0.50: a spreadsheet reads it as the number


def guard_formula(text: str) -> str:
    """The text as a CSV cell no spreadsheet runs: `'=HYPERLINK(…)` for `=HYPERLINK(…)`; a
    number written as text (-0.50) stays as it is. A text that already starts with quotes and
    then such a character gets one quote more, so that unguard_formula() gives it back."""
    if (text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text)) or _GUARDED.match(text):
        return "'" + text
    return text


def unguard_formula(text: str) -> str:
    """The text without the quote guard_formula() put before it: `'=x` → `=x`, `''-1` → `'-1`;
    any other text as it is (`'s-Hertogenbosch`, `'quoted'`)."""
    return text[1:] if _GUARDED.match(text) else text


def _text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return unguard_formula(str(value).strip())


# What Excel writes for a date or a time in a CSV: 2024/1/5, 2024/1/5 9:30, 2024-01-05 09:30:15
_LOOSE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _loose(text: str) -> datetime | None:
    """A local date (and time) without an offset; month, day and hour may have one digit."""
    found = _LOOSE.fullmatch(text)
    if not found:
        return None
    try:
        year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # 2024-02-30, 25:00
        return None


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text)
    except ValueError:
        loose = _loose(text)
        if loose is None:
            raise ValueError(f"'{value}' is not a date (write YYYY-MM-DD)") from None
        return loose.date()


def _datetime(zone: ZoneInfo) -> Callable[[Any], datetime]:
    def convert(value: Any) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            text = str(value).strip().replace("/", "-")
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                loose = _loose(text)
                if loose is None:
                    raise ValueError(
                        f"'{value}' is not a date and time (write YYYY-MM-DD HH:MM)"
                    ) from None
                moment = loose
        if moment.tzinfo is not None:  # an offset: convert to the playbook's local time
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return moment

    return convert


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):  # JSON true is an int to Python, not a number to a user
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace(",", "").replace("，", "")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number") from None
    if not result.is_finite():
        raise ValueError(f"'{value}' is not a number")
    return result


BIGGEST = 2**63 - 1  # a BIGINT column: larger values fail in the database, not as a row problem


def _hundredths(value: Any) -> int:
    amount = _decimal(value) * 100
    if amount != amount.to_integral_value():
        raise ValueError(f"'{value}' has more than 2 decimal places")
    if abs(amount) > BIGGEST:
        raise ValueError(f"'{value}' is too large")
    return int(amount)


def _target_value(value: Any) -> int:
    """A target's value in hundredths; a share may be written 90% (stored as 0.90)."""
    text = str(value).strip()
    if text.endswith("%") and not isinstance(value, (int, float, Decimal)):
        return _hundredths(_decimal(text[:-1]) / 100)
    return _hundredths(value)


def _period(value: Any) -> str:
    try:
        return periods.label(*periods.parse(str(value)))
    except ExpressionError as exc:
        raise ValueError(exc.message) from None


def _int(value: Any) -> int:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"'{value}' is not a whole number")
    if abs(number) > BIGGEST:
        raise ValueError(f"'{value}' is too large")
    return int(number)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"'{value}' is not true or false")


def converter(column: Column, zone: ZoneInfo) -> Callable[[Any], Any]:
    base: Callable[[Any], Any] = {
        "text": _text,
        "date": _date,
        "datetime": _datetime(zone),
        "money": _hundredths,
        "decimal": _target_value,
        "period": _period,
        "int": _int,
        "number": lambda v: float(_decimal(v)),
        "bool": _bool,
    }[column.type]
    if not (column.choices or column.low is not None):
        return base

    def checked(value: Any) -> Any:
        result = base(value)
        if column.choices and result not in column.choices:
            raise ValueError(f"'{result}' is not one of {', '.join(column.choices)}")
        if column.low is not None and not (column.low <= result <= (column.high or result)):
            raise ValueError(f"'{_text(value)}' is outside {column.low:g}–{column.high:g}")
        return result

    return checked


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


class RowConverter:
    """One file row (header name -> value) to the staged record, with what is wrong with it.

    The same conversion serves both paths: every row here, and on the bulk path each row whose
    text is not already in canonical form.
    """

    def __init__(self, kind: Kind, zone: ZoneInfo) -> None:
        self.kind = kind
        self.known = {c.name for c in kind.columns}
        self.converters = [(c, converter(c, zone)) for c in kind.columns]

    def __call__(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        kind = self.kind
        record: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []  # (column, reason)
        for column, convert in self.converters:
            value = raw.get(column.name)
            if blank(value):
                if column.value:
                    problems.append((column.name, "a value is required"))
                record[column.column] = column.default
                continue
            try:
                record[column.column] = convert(value)
            except ValueError as exc:
                problems.append((column.name, str(exc)))
                record[column.column] = None
        if kind.model is Customer and record.get("id") is not None:
            record["bucket"] = bucket_of(record["id"])  # partitions of a run, see partitions.py
        if kind.extra_to_attrs:
            known = self.known
            attrs = {k: _text(v) for k, v in raw.items() if k and k not in known and not blank(v)}
            record["attrs"] = attrs or None
        if kind.name == "activities":  # every staged row has the same keys, bad ones too
            occurred = record.get("occurred_at")
            record["occurred_on"] = occurred.date() if occurred is not None else None
        if kind.name == "progress_notes":  # every staged row has the same keys, bad ones too
            record["period_start"], record["period_end"] = (
                periods.parse(record["period"]) if record.get("period") else (None, None)
            )
            if record.get("id") is None and all(
                record.get(k) for k in ("owner_type", "owner_id", "metric")
            ):
                record["id"] = ":".join(
                    str(record[k]) for k in ("owner_type", "owner_id", "metric", "period")
                )
        if kind.name == "targets":
            start, end = record.get("period_start"), record.get("period_end")
            if start and end and end < start:
                problems.append(("period_end", f"{end} is before period_start {start}"))
        return record, problems
