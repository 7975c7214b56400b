"""Cron expressions: the only module that imports croniter.

croniter walks NAIVE local wall-clock times; this module turns them into UTC instants itself,
with zoneinfo and `fold`, following Debian cron across daylight-saving changes:

- a fixed-time job (no `*` and no step in the minute and hour fields) whose local time falls
  in a skipped hour runs once, at the jump (the first valid local instant after the gap);
- in a repeated hour a fixed-time job runs once, at the first occurrence (fold=0);
- a job with a wildcard or step in the minute or hour field follows elapsed time: every real
  instant whose local wall time matches, both passes of a repeated hour, nothing in a gap.

(croniter 7, given aware datetimes, fires fixed-time jobs twice in a repeated hour.)
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from croniter import CroniterError, croniter

_LOOKAROUND = timedelta(hours=3)  # longer than any DST shift: reordering never reaches past it


def validate(expr: str) -> None:
    """Raise ValueError with a reason when expr is not a five-field cron expression."""
    fields = str(expr).split()
    if len(fields) != 5:
        raise ValueError(
            f"'{expr}' is not a cron expression: give five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 8 * * *'"
        )
    try:
        walker = croniter(" ".join(fields), datetime(2024, 1, 1), max_years_between_matches=8)
    except (CroniterError, ValueError, KeyError) as exc:
        raise ValueError(f"'{expr}' is not a cron expression: {exc}") from None
    # Five fields repeat with the calendar, and eight years hold a 29 February: an expression
    # with no time in them never fires (`0 8 31 2 *`: February has no 31st), and croniter
    # raises at every later look for its next time.
    try:
        walker.get_next(datetime)
    except CroniterError:
        raise ValueError(
            f"'{expr}' never fires: no day matches it (is it a date that does not exist, "
            "like 31 February?)"
        ) from None


def is_fixed_time(expr: str) -> bool:
    """Whether both the minute and the hour field name fixed values (Debian's 'fixed-time')."""
    minute, hour = str(expr).split()[:2]
    return not any(c in field for field in (minute, hour) for c in "*/")


def to_utc(local: datetime, zone: ZoneInfo, fixed: bool) -> list[datetime]:
    """The UTC instants a naive local wall time stands for, by the rules in the module doc."""
    first = local.replace(tzinfo=zone, fold=0).astimezone(UTC)
    second = local.replace(tzinfo=zone, fold=1).astimezone(UTC)
    if first == second:
        return [first]
    if _wall(first, zone) == local:  # a repeated hour: both instants read `local`
        return [first] if fixed else sorted({first, second})
    # A gap: `local` never happens. fold=1 reads it with the offset after the jump, which puts
    # it before the jump; fold=0 with the offset before, after the jump.
    return [_jump(min(first, second), max(first, second), zone, local)] if fixed else []


def _wall(instant: datetime, zone: ZoneInfo) -> datetime:
    return instant.astimezone(zone).replace(tzinfo=None)


def _jump(low: datetime, high: datetime, zone: ZoneInfo, local: datetime) -> datetime:
    """The first instant in (low, high] whose wall time is past `local`: the moment of the jump."""
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        mid = mid.replace(microsecond=0)
        if _wall(mid, zone) > local:
            high = mid
        else:
            low = mid
    return high


def _naive_times(expr: str, start: datetime) -> Iterator[datetime]:
    walker = croniter(expr, start)
    while True:
        yield walker.get_next(datetime)


def fires(expr: str, zone: str | ZoneInfo, after: datetime, count: int) -> list[datetime]:
    """The next `count` fire times strictly after `after` (aware), as aware UTC datetimes."""
    tz = zone if isinstance(zone, ZoneInfo) else ZoneInfo(zone)
    after_utc = after.astimezone(UTC)
    fixed = is_fixed_time(expr)
    found: set[datetime] = set()
    start = _wall(after_utc, tz) - _LOOKAROUND
    horizon: datetime | None = None
    for local in _naive_times(expr, start):
        if horizon is not None and local > horizon:
            break
        for instant in to_utc(local, tz, fixed):
            if instant > after_utc:
                found.add(instant)
        if horizon is None and len(found) >= count:
            horizon = local + _LOOKAROUND
    return sorted(found)[:count]


def fires_between(
    expr: str, zone: str | ZoneInfo, after: datetime, until: datetime, limit: int = 10_000
) -> list[datetime]:
    """Fire times in (after, until], oldest first; at most the `limit` newest."""
    out: list[datetime] = []
    cursor = after
    while True:
        batch = [t for t in fires(expr, zone, cursor, 256) if t <= until]
        out.extend(batch)
        if len(batch) < 256:
            return out[-limit:]
        out = out[-limit:]
        cursor = batch[-1]
