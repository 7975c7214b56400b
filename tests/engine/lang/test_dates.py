"""Calendar arithmetic, durations, windows and period labels (engine/dates.py), by hand."""

from __future__ import annotations

from datetime import date

import pytest

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates

D = date.fromisoformat


@pytest.mark.parametrize(
    ("day", "count", "unit", "expected"),
    [
        # months clamp to the last day of the month, as people count them
        ("2024-08-31", -6, "months", "2024-02-29"),  # 2024 is a leap year
        ("2024-01-31", 1, "months", "2024-02-29"),
        ("2023-01-31", 1, "months", "2023-02-28"),
        ("2024-03-31", -1, "months", "2024-02-29"),
        ("2024-05-31", 1, "months", "2024-06-30"),
        ("2024-12-31", 2, "months", "2025-02-28"),  # across the year end
        ("2024-01-15", -13, "months", "2022-12-15"),
        ("2024-02-29", 1, "years", "2025-02-28"),
        ("2024-02-29", -4, "years", "2020-02-29"),
        ("2024-06-28", 1, "weeks", "2024-07-05"),
        ("2024-02-28", 1, "days", "2024-02-29"),
        ("2024-03-01", -1, "days", "2024-02-29"),
        ("2024-12-31", 1, "days", "2025-01-01"),
    ],
)
def test_shift_counts_calendar_months(day: str, count: int, unit: str, expected: str) -> None:
    assert dates.shift(D(day), count, unit) == D(expected)


def test_shift_refuses_an_unknown_unit() -> None:
    with pytest.raises(ValueError, match="fortnights"):
        dates.shift(D("2024-01-01"), 1, "fortnights")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2 weeks", (2, "weeks")),
        ("1 week", (1, "weeks")),
        ("3 days", (3, "days")),
        ("1 month", (1, "months")),
        ("6 months", (6, "months")),
        ("1 year", (1, "years")),
        ("  3   days ", (3, "days")),
        ("1 Month", (1, "months")),
        ("3天", (3, "days")),
        ("2周", (2, "weeks")),
        ("1个月", (1, "months")),
        ("1年", (1, "years")),
    ],
)
def test_parse_duration(text: str, expected: tuple[int, str]) -> None:
    assert dates.parse_duration(text) == expected


@pytest.mark.parametrize("text", ["1 fortnight", "2", "two weeks", "-1 days", "1.5 days", "weeks"])
def test_parse_duration_says_what_a_duration_is(text: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        dates.parse_duration(text)
    assert caught.value.message == (
        f"'{text}' is not a duration: write a number and days, "
        "weeks, months or years, e.g. '2 weeks'"
    )


AS_OF = D("2024-08-31")  # a Saturday, the last day of Q3's second month


@pytest.mark.parametrize(
    ("window", "first"),
    [
        # 'last N units' starts N units before the as-of date; both ends are included
        ("last 6 months", "2024-02-29"),
        ("Last  6  Months", "2024-02-29"),  # case and spacing do not matter
        ("last 1 month", "2024-07-31"),
        ("last 1 year", "2023-08-31"),
        ("last 2 weeks", "2024-08-17"),
        ("last 30 days", "2024-08-01"),
        ("this week", "2024-08-26"),  # weeks start on Monday
        ("this month", "2024-08-01"),
        ("this quarter", "2024-07-01"),
        ("this year", "2024-01-01"),
    ],
)
def test_window_bounds(window: str, first: str) -> None:
    assert dates.window_bounds(window, AS_OF) == (D(first), AS_OF)


@pytest.mark.parametrize("window", ["all time", "target period"])
def test_open_windows_have_no_lower_bound(window: str) -> None:
    assert dates.window_bounds(window, AS_OF) == (None, AS_OF)


def test_check_window_normalises() -> None:
    assert dates.check_window("  Last 6   MONTHS ") == "last 6 months"
    assert dates.check_window("This Quarter") == "this quarter"


@pytest.mark.parametrize(
    "window",
    ["last half year", "last 6 fortnights", "this decade", "yesterday", "last month", "6 months"],
)
def test_bad_window_names_the_forms_allowed(window: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        dates.check_window(window)
    assert caught.value.message == (
        f"unknown window '{window}': a window is 'last N days|weeks|months|years', "
        "'this week|month|quarter|year', 'target period' or 'all time'"
    )


def test_empty_window_is_refused() -> None:
    with pytest.raises(ExpressionError) as caught:
        dates.check_window("last 0 days")
    assert caught.value.message == (
        "window 'last 0 days' is empty: count at least 1, e.g. 'last 1 day'"
    )


@pytest.mark.parametrize(
    ("day", "unit", "start", "end", "label"),
    [
        ("2024-06-05", "week", "2024-06-03", "2024-06-09", "2024-W23"),
        ("2024-06-05", "month", "2024-06-01", "2024-06-30", "2024-06"),
        ("2024-06-05", "quarter", "2024-04-01", "2024-06-30", "2024-Q2"),
        ("2024-06-05", "year", "2024-01-01", "2024-12-31", "2024"),
        # ISO weeks belong to the year that holds their Thursday
        ("2024-12-30", "week", "2024-12-30", "2025-01-05", "2025-W01"),
        ("2021-01-03", "week", "2020-12-28", "2021-01-03", "2020-W53"),
        ("2024-02-10", "month", "2024-02-01", "2024-02-29", "2024-02"),
        ("2024-11-15", "quarter", "2024-10-01", "2024-12-31", "2024-Q4"),
        ("2024-03-31", "quarter", "2024-01-01", "2024-03-31", "2024-Q1"),
    ],
)
def test_periods(day: str, unit: str, start: str, end: str, label: str) -> None:
    assert dates.period_start(D(day), unit) == D(start)
    assert dates.period_end(D(day), unit) == D(end)
    assert dates.period_label(D(day), unit) == label


def test_unknown_period_unit() -> None:
    for function in (dates.period_start, dates.period_end, dates.period_label):
        with pytest.raises((ValueError, KeyError)):
            function(D("2024-01-01"), "decade")
