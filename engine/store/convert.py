"""One imported cell's text to its stored value, the same on both import paths.

Values as people write them: dates as 2024-07-05, 2024/7/5, 2024.7.5 or 2024年7月5日 (with a
time, seconds or not; an Excel serial number in a workbook cell), amounts with ¥ or 元,
thousands separators, full-width digits and 万 (12.5万 = 125000), yes/no in English or Chinese
(是/否, Y/N). A file's own words for a value (`values:` of its import mapping, and the built-in
Chinese names of channels, statuses and stages) are read as the value they stand for, and a
listed value matches whatever its letter case (Visit is visit). A value that does not convert
is a row problem naming the column, never a silently wrong or empty value.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates, periods, values
from salesplay.engine.store.models import Customer
from salesplay.engine.store.partitions import bucket_of
from salesplay.engine.store.records import Column, Kind

TRUE = {"true", "1", "yes", "y", "t", "是", "真", "对"}
FALSE = {"false", "0", "no", "n", "f", "否", "假", "不是"}
# Letter case is ignored for A-Z only, exactly as the bulk path's SQL ignores it (lower() on
# SQLite, translate() on PostgreSQL): the two must agree on every text.
ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
EXCEL_EPOCH = datetime(1899, 12, 30)  # day 0 of Excel's (1900) date numbers
EXCEL_LAST = 2958465  # 9999-12-31
NUMBER_FORMS = "1200, 1,200.5 or 12.5万"
AMOUNT_FORMS = "1200.50, ¥1,200.50, 1,200元 or 12.5万"


def ascii_lower(text: str) -> str:
    return text.translate(ASCII_LOWER)


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


def _excel_moment(value: Any) -> datetime | None:
    """A workbook cell's date number (days since 1899-12-30, the time as a fraction of a day)
    as a date and time to the second; None for anything else (text, or a number that is no
    day of Excel's, such as 20240105)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if not 1 <= value <= EXCEL_LAST:  # not a day of Excel's: read as text (20240105)
        return None
    return EXCEL_EPOCH + timedelta(seconds=round(value * 86400))


def _formatted(text: str, date_format: str | None, times: bool) -> datetime | None:
    if not date_format:
        return None
    forms = (
        [date_format, f"{date_format} %H:%M", f"{date_format} %H:%M:%S"] if times else [date_format]
    )
    for form in forms:
        try:
            return datetime.strptime(text, form)
        except ValueError:
            continue
    return None


def _date(date_format: str | None = None) -> Callable[[Any], date]:
    def convert(value: Any) -> date:
        if isinstance(value, datetime):
            return value.date()
        if isinstance(value, date):
            return value
        serial = _excel_moment(value)
        if serial is not None:
            return serial.date()
        text = str(value).strip()
        formatted = _formatted(text, date_format, times=True)
        if formatted is not None:
            return formatted.date()
        try:
            return dates.parse_day(text)
        except ExpressionError as exc:
            if "no such day" in exc.message:
                raise ValueError(exc.message) from None
        try:
            return dates.parse_moment(text).date()
        except ExpressionError:
            pass
        try:  # ISO forms beyond those: 20240105, 2024-01-05T09:30:00+08:00 (the day as written)
            return datetime.fromisoformat(text).date()
        except ValueError:
            pass
        also = f", or as date_format {date_format} says" if date_format else ""
        raise ValueError(f"'{value}' is not a date: write {dates.DAY_FORMS}{also}")

    return convert


def _datetime(zone: ZoneInfo, date_format: str | None = None) -> Callable[[Any], datetime]:
    def convert(value: Any) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        elif (serial := _excel_moment(value)) is not None:
            moment = serial
        else:
            text = str(value).strip()
            found = _formatted(text, date_format, times=True)
            if found is None:
                try:
                    found = dates.parse_moment(text)
                except ExpressionError as exc:
                    if "no such" in exc.message:
                        raise ValueError(exc.message) from None
            if found is None:
                try:  # with an offset (Z, +08:00): converted to local time below
                    found = datetime.fromisoformat(text.replace("Z", "+00:00"))
                except ValueError:
                    also = f", or as date_format {date_format} says" if date_format else ""
                    raise ValueError(
                        f"'{value}' is not a date and time: write {dates.MOMENT_FORMS}{also}"
                    ) from None
            moment = found
        if moment.tzinfo is not None:  # an offset: convert to the playbook's local time
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return moment

    return convert


def _number(value: Any, money: bool = False) -> Decimal:
    """A number as people write it, exactly: thousands separators, full-width digits, 万 and
    亿; with `money`, ¥ before it or 元 after it too."""
    forms = AMOUNT_FORMS if money else NUMBER_FORMS
    what = "an amount" if money else "a number"
    if isinstance(value, bool):  # JSON true is an int to Python, not a number to a user
        raise ValueError(f"'{value}' is not {what}: write e.g. {forms}")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value)
    text = values.without_currency(text) if money else text.strip().translate(values.FULL_WIDTH)
    digits, factor = values.multiplied(text)
    try:
        result = Decimal(digits.replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"'{value}' is not {what}: write e.g. {forms}") from None
    if not result.is_finite():
        raise ValueError(f"'{value}' is not {what}: write e.g. {forms}")
    return result * factor


BIGGEST = 2**63 - 1  # a BIGINT column: larger values fail in the database, not as a row problem


def _hundredths(value: Any) -> int:
    amount = _number(value, money=True) * 100
    if amount != amount.to_integral_value():
        raise ValueError(f"'{value}' has more than 2 decimal places")
    if abs(amount) > BIGGEST:
        raise ValueError(f"'{value}' is too large")
    return int(amount)


def _target_value(value: Any) -> int:
    """A target's value in hundredths; a share may be written 90% (stored as 0.90)."""
    text = str(value).strip()
    if text.endswith(values.PERCENT_SIGNS) and not isinstance(value, (int, float, Decimal)):
        return _hundredths(_number(text[:-1]) / 100)
    return _hundredths(value)


def _period(value: Any) -> str:
    try:
        return periods.label(*periods.parse(str(value)))
    except ExpressionError as exc:
        raise ValueError(exc.message) from None


def _int(value: Any) -> int:
    number = _number(value)
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
    raise ValueError(f"'{value}' is not true or false: write 是/否, Y/N, true/false or 1/0")


def plain_number(number: Decimal) -> str:
    """A custom column's number as it is kept: digits, no exponent, no trailing zeros
    ('1,200.50' → '1200.5', '12.5万' → '125000'); what the bulk path keeps unchanged."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _custom(column: Column, zone: ZoneInfo, date_format: str | None) -> Callable[[Any], Any]:
    """A custom column's value as attrs keeps it: a number and a date as canonical text (the
    evaluation reads them so), yes/no as a JSON boolean."""
    if column.type == "number":
        return lambda v: plain_number(_number(v))
    if column.type == "date":
        read = _date(date_format)
        return lambda v: read(v).isoformat()
    return _bool


def converter(
    column: Column,
    zone: ZoneInfo,
    words: Mapping[str, Any] | None = None,
    date_format: str | None = None,
) -> Callable[[Any], Any]:
    """How one column's cells are converted. `words`: the file's words for its values
    (source value → canonical value, keys already ascii_lower()ed), read first."""
    base: Callable[[Any], Any]
    if column.custom:
        base = _custom(column, zone, date_format)
    else:
        base = {
            "text": _text,
            "date": _date(date_format),
            "datetime": _datetime(zone, date_format),
            "money": _hundredths,
            "decimal": _target_value,
            "period": _period,
            "int": _int,
            "number": lambda v: float(_number(v)),
            "bool": _bool,
        }[column.type]
    if not (column.choices or column.low is not None or words):
        return base
    table = dict(words or {})
    listed = {ascii_lower(c): c for c in column.choices}

    def checked(value: Any) -> Any:
        if table:
            key = ascii_lower(_text(value))
            if key in table:
                value = table[key]
        result = base(value)
        if column.choices and result not in column.choices:
            found = listed.get(ascii_lower(result)) if isinstance(result, str) else None
            if found is None:
                raise ValueError(
                    f"'{result}' is not one of {', '.join(column.choices)} (map other words "
                    "to them with values: in the import mapping)"
                )
            result = found
        if column.low is not None and not (column.low <= result <= (column.high or result)):
            raise ValueError(f"'{_text(value)}' is outside {column.low:g}–{column.high:g}")
        return result

    return checked


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


class RowConverter:
    """One file row (header name -> value) to the staged record, with what is wrong with it.

    The same conversion serves both paths: every row here, and on the bulk path each row whose
    text is not already in canonical form. `words`: column -> the file's words for its values;
    `constants`: column -> the value of a column the file does not have.
    """

    def __init__(
        self,
        kind: Kind,
        zone: ZoneInfo,
        words: Mapping[str, Mapping[str, Any]] | None = None,
        date_format: str | None = None,
        constants: Mapping[str, Any] | None = None,
    ) -> None:
        words = words or {}
        self.kind = kind
        self.known = {c.name for c in kind.columns}
        self.converters = [
            (c, converter(c, zone, words.get(c.name), date_format)) for c in kind.columns
        ]
        self.customs = [
            (c, converter(c, zone, words.get(c.name), date_format)) for c in kind.fields
        ]
        self.constants = dict(constants or {})

    def __call__(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        kind = self.kind
        if self.constants:
            raw = {**raw, **self.constants}
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
            for column, convert in self.customs:
                if column.name in attrs:
                    try:
                        attrs[column.name] = convert(raw[column.name])
                    except ValueError as exc:
                        problems.append((column.name, str(exc)))
                        del attrs[column.name]
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
