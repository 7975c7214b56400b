"""Cron across daylight saving, as Debian cron does it, against hand-computed UTC times.

Transitions used (local wall clock):
- America/New_York: 2024-03-10 02:00 EST(-5) -> 03:00 EDT(-4) at 07:00Z (gap 02:00-02:59);
  2024-11-03 02:00 EDT -> 01:00 EST at 06:00Z (01:00-01:59 twice); 2025-03-09 at 07:00Z.
- Europe/Berlin: 2024-03-31 02:00 CET(+1) -> 03:00 CEST(+2) at 01:00Z (gap 02:00-02:59);
  2024-10-27 03:00 CEST -> 02:00 CET at 01:00Z (02:00-02:59 twice); 2025-10-26 likewise.
- Australia/Lord_Howe (a 30-minute shift): 2024-04-07 02:00 +11 -> 01:30 +10:30 at
  04-06 15:00Z (01:30-01:59 twice); 2024-10-06 02:00 +10:30 -> 02:30 +11 at 10-05 15:30Z
  (gap 02:00-02:29).
- Asia/Shanghai: +8 all year, no DST.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from salesplay.engine.schedule import cron


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


CASES = [
    # --- New York, spring forward 2024-03-10 ---
    # 02:30 never happens: run once at the jump, 03:00 EDT = 07:00Z; next day 02:30 EDT = 06:30Z
    (
        "America/New_York",
        "30 2 * * *",
        "2024-03-09T12:00",
        ["2024-03-10T07:00", "2024-03-11T06:30"],
    ),
    # 01:30 EST = 06:30Z (before the jump); then 01:30 EDT = 05:30Z
    (
        "America/New_York",
        "30 1 * * *",
        "2024-03-09T12:00",
        ["2024-03-10T06:30", "2024-03-11T05:30"],
    ),
    ("America/New_York", "0 0 * * *", "2024-03-09T12:00", ["2024-03-10T05:00", "2024-03-11T04:00"]),
    # elapsed time: 01:45 EST, then 03:00 EDT, 03:15 EDT - 15 real minutes apart, none in the gap
    (
        "America/New_York",
        "*/15 * * * *",
        "2024-03-10T06:30",
        ["2024-03-10T06:45", "2024-03-10T07:00", "2024-03-10T07:15"],
    ),
    # --- New York, fall back 2024-11-03 ---
    # 02:30 is after the repeated hour: 02:30 EST = 07:30Z, once
    (
        "America/New_York",
        "30 2 * * *",
        "2024-11-02T12:00",
        ["2024-11-03T07:30", "2024-11-04T07:30"],
    ),
    # 01:30 happens twice (EDT 05:30Z, EST 06:30Z): once, the first; next day 01:30 EST = 06:30Z
    (
        "America/New_York",
        "30 1 * * *",
        "2024-11-02T12:00",
        ["2024-11-03T05:30", "2024-11-04T06:30"],
    ),
    ("America/New_York", "0 0 * * *", "2024-11-02T12:00", ["2024-11-03T04:00", "2024-11-04T05:00"]),
    # elapsed time through the repeated hour: 01:45 EDT, 01:00 EST, 01:15 EST, 01:30 EST
    (
        "America/New_York",
        "*/15 * * * *",
        "2024-11-03T05:30",
        ["2024-11-03T05:45", "2024-11-03T06:00", "2024-11-03T06:15", "2024-11-03T06:30"],
    ),
    # 2025: the jump is 2025-03-09 07:00Z
    (
        "America/New_York",
        "30 2 * * *",
        "2025-03-08T12:00",
        ["2025-03-09T07:00", "2025-03-10T06:30"],
    ),
    # --- Berlin, spring forward 2024-03-31 at 01:00Z ---
    ("Europe/Berlin", "30 2 * * *", "2024-03-30T12:00", ["2024-03-31T01:00", "2024-04-01T00:30"]),
    # 01:30 CET = 00:30Z; 01:30 CEST = 23:30Z the day before
    ("Europe/Berlin", "30 1 * * *", "2024-03-30T12:00", ["2024-03-31T00:30", "2024-03-31T23:30"]),
    ("Europe/Berlin", "0 0 * * *", "2024-03-30T12:00", ["2024-03-30T23:00", "2024-03-31T22:00"]),
    # 01:45 CET = 00:45Z, then 03:00 CEST = 01:00Z
    (
        "Europe/Berlin",
        "*/15 * * * *",
        "2024-03-31T00:30",
        ["2024-03-31T00:45", "2024-03-31T01:00", "2024-03-31T01:15"],
    ),
    # --- Berlin, fall back 2024-10-27 at 01:00Z: 02:00-02:59 twice ---
    # 02:30 CEST = 00:30Z (first), not 02:30 CET = 01:30Z; next day 02:30 CET = 01:30Z
    ("Europe/Berlin", "30 2 * * *", "2024-10-26T12:00", ["2024-10-27T00:30", "2024-10-28T01:30"]),
    ("Europe/Berlin", "30 1 * * *", "2024-10-26T12:00", ["2024-10-26T23:30", "2024-10-28T00:30"]),
    ("Europe/Berlin", "0 0 * * *", "2024-10-26T12:00", ["2024-10-26T22:00", "2024-10-27T23:00"]),
    # 02:45 CEST = 00:45Z, 02:00 CET = 01:00Z, 02:15 CET = 01:15Z
    (
        "Europe/Berlin",
        "*/15 * * * *",
        "2024-10-27T00:30",
        ["2024-10-27T00:45", "2024-10-27T01:00", "2024-10-27T01:15"],
    ),
    ("Europe/Berlin", "30 2 * * *", "2025-10-25T12:00", ["2025-10-26T00:30", "2025-10-27T01:30"]),
    # --- Lord Howe, fall back 2024-04-07: 01:30-01:59 twice, half an hour apart ---
    # 02:30 +10:30 = 16:00Z the day before
    (
        "Australia/Lord_Howe",
        "30 2 * * *",
        "2024-04-06T10:00",
        ["2024-04-06T16:00", "2024-04-07T16:00"],
    ),
    # 01:30 +11 = 14:30Z (first; the second would be 15:00Z); next day 01:30 +10:30 = 15:00Z
    (
        "Australia/Lord_Howe",
        "30 1 * * *",
        "2024-04-06T10:00",
        ["2024-04-06T14:30", "2024-04-07T15:00"],
    ),
    # 00:00 +11 = 13:00Z; 00:00 +10:30 = 13:30Z
    (
        "Australia/Lord_Howe",
        "0 0 * * *",
        "2024-04-06T10:00",
        ["2024-04-06T13:00", "2024-04-07T13:30"],
    ),
    # 01:45 +11 = 14:45Z, 01:30 +10:30 = 15:00Z, 01:45 +10:30 = 15:15Z, 02:00 +10:30 = 15:30Z
    (
        "Australia/Lord_Howe",
        "*/15 * * * *",
        "2024-04-06T14:30",
        ["2024-04-06T14:45", "2024-04-06T15:00", "2024-04-06T15:15", "2024-04-06T15:30"],
    ),
    # --- Lord Howe, spring forward 2024-10-06: 02:00 +10:30 -> 02:30 +11 at 15:30Z ---
    # 02:30 exists (the first minute after the gap) = 15:30Z; next day 02:30 +11 = 15:30Z
    (
        "Australia/Lord_Howe",
        "30 2 * * *",
        "2024-10-05T10:00",
        ["2024-10-05T15:30", "2024-10-06T15:30"],
    ),
    # 02:15 is in the gap: once at the jump, 15:30Z; next day 02:15 +11 = 15:15Z
    (
        "Australia/Lord_Howe",
        "15 2 * * *",
        "2024-10-05T10:00",
        ["2024-10-05T15:30", "2024-10-06T15:15"],
    ),
    # 01:30 +10:30 = 15:00Z; 01:30 +11 = 14:30Z
    (
        "Australia/Lord_Howe",
        "30 1 * * *",
        "2024-10-05T10:00",
        ["2024-10-05T15:00", "2024-10-06T14:30"],
    ),
    (
        "Australia/Lord_Howe",
        "0 0 * * *",
        "2024-10-05T10:00",
        ["2024-10-05T13:30", "2024-10-06T13:00"],
    ),
    # 01:45 +10:30 = 15:15Z, then 02:30 +11 = 15:30Z (02:00 and 02:15 never happen)
    (
        "Australia/Lord_Howe",
        "*/15 * * * *",
        "2024-10-05T15:00",
        ["2024-10-05T15:15", "2024-10-05T15:30", "2024-10-05T15:45"],
    ),
    # --- Shanghai: +8, every day the same ---
    ("Asia/Shanghai", "30 2 * * *", "2024-03-09T12:00", ["2024-03-09T18:30", "2024-03-10T18:30"]),
    ("Asia/Shanghai", "30 1 * * *", "2024-03-09T12:00", ["2024-03-09T17:30", "2024-03-10T17:30"]),
    ("Asia/Shanghai", "0 0 * * *", "2024-03-09T12:00", ["2024-03-09T16:00", "2024-03-10T16:00"]),
    (
        "Asia/Shanghai",
        "*/15 * * * *",
        "2024-11-03T05:30",
        ["2024-11-03T05:45", "2024-11-03T06:00", "2024-11-03T06:15"],
    ),
]


@pytest.mark.parametrize(("zone", "expr", "after", "expected"), CASES)
def test_fire_times_across_dst(zone: str, expr: str, after: str, expected: list[str]) -> None:
    found = cron.fires(expr, zone, z(after), len(expected))
    assert found == [z(t) for t in expected]


def test_a_fixed_time_job_fires_once_a_day_through_a_whole_year() -> None:
    # 365 days from 2024-01-01 (2024 is a leap year: 366 days), one fire each, DST or not.
    for zone in ("America/New_York", "Europe/Berlin", "Australia/Lord_Howe"):
        for expr in ("30 2 * * *", "30 1 * * *"):
            found = cron.fires(expr, zone, z("2023-12-31T12:00"), 366)
            days = {t.astimezone(ZoneInfo(zone)).date() for t in found}
            assert len(found) == len(days) == 366


def test_fires_between_is_inclusive_of_the_end() -> None:
    # 08:00 Shanghai = 00:00Z: (07-01 00:00Z, 07-04 00:00Z] holds 07-02, 07-03 and 07-04
    found = cron.fires_between(
        "0 8 * * *", "Asia/Shanghai", z("2024-07-01T00:00"), z("2024-07-04T00:00")
    )
    assert found == [z("2024-07-02T00:00"), z("2024-07-03T00:00"), z("2024-07-04T00:00")]


@pytest.mark.parametrize(
    ("expr", "reason"),
    [
        ("0 8 * *", "give five fields"),
        ("0 8 * * * *", "give five fields"),
        ("61 8 * * *", "is not a cron expression"),
        ("0 8 * * mon-xyz", "is not a cron expression"),
    ],
)
def test_bad_expressions_are_refused_with_a_reason(expr: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        cron.validate(expr)


def test_croniter_is_imported_in_exactly_one_module() -> None:
    root = Path(__file__).resolve().parents[3]
    users = sorted(
        str(p.relative_to(root))
        for folder in ("engine", "rules")
        for p in (root / folder).rglob("*.py")
        if re.search(r"^\s*(from|import) croniter", p.read_text("utf-8"), re.M)
    )
    assert users == ["engine/schedule/cron.py"]
