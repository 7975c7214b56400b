"""Jobs: the playbook's `jobs:` section, each a cron expression or `every: N weeks` from a start.

A job names the rules it evaluates (rule-family sections like `grading`, or single named rules
like `warnings.goal_lag`); its slot's local date is the as-of date of its run.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from salesplay.engine.errors import ExpressionError, SalesplayError
from salesplay.engine.lang import dates
from salesplay.engine.lang.document import Document
from salesplay.engine.run.family import Playbook
from salesplay.engine.schedule import cron

MANUAL = "manual"  # the job of a run started by `salesplay evaluate`

_SPAN_UNITS = {
    "minute": 60,
    "minutes": 60,
    "分钟": 60,
    "hour": 3600,
    "hours": 3600,
    "小时": 3600,
    "day": 86400,
    "days": 86400,
    "天": 86400,
    "week": 604800,
    "weeks": 604800,
    "周": 604800,
}
SPAN = {
    "type": "string",
    "pattern": r"^\s*\d+\s*(minute|minutes|hour|hours|day|days|week|weeks|分钟|小时|天|周)\s*$",
    "description": "a number and a unit: minutes, hours, days or weeks, e.g. '2 hours'",
}
LAST_YEAR = 2999
MOST_DEADLINE = timedelta(days=3650)  # ten years, like every other duration (lang/dates.py)
EVERY = {
    "type": "string",
    "pattern": r"^\s*\d+\s*(day|days|week|weeks|天|周)\s*$",
    "format": "duration",
    "description": "a number of days or weeks, e.g. '2 weeks'",
}
JOB_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "a scheduled job: when it runs and which rules it evaluates",
    "properties": {
        "cron": {"type": "string", "description": "five fields, e.g. '0 8 * * *'"},
        "every": EVERY,
        "start": {
            "type": "string",
            "description": "with every: the first fire time, local, e.g. '2024-01-01 09:00'",
        },
        "timezone": {"type": "string", "description": "IANA zone (default: the playbook's)"},
        "rules": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "string"},
            "description": "sections (grading, follow_up, warnings) or rules (warnings.goal_lag)",
        },
        "catchup": {"enum": ["latest", "all"]},
        # at most the missed slots a ledger lists (scheduler.MISSED_KEPT)
        "max_catchup": {"type": "integer", "minimum": 1, "maximum": 1000},
        "starting_deadline": SPAN,
        "overlap": {"enum": ["skip"]},
        "description": {"type": "string"},
    },
    "required": ["rules"],
    "additionalProperties": False,
    "oneOf": [{"required": ["cron"]}, {"required": ["every"]}],
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "scheduled jobs by name",
    "propertyNames": {"pattern": r"^[^\W\d]\w*$"},
    "additionalProperties": JOB_SCHEMA,
}


def parse_span(text: str) -> timedelta:
    match = re.fullmatch(r"\s*(\d+)\s*(\S+)\s*", text)
    if not match or match.group(2) not in _SPAN_UNITS:
        raise ValueError(f"'{text}' is not a duration")
    return timedelta(seconds=int(match.group(1)) * _SPAN_UNITS[match.group(2)])


@dataclass(frozen=True)
class Job:
    """One scheduled job, checked and ready to compute its slots."""

    name: str
    rules: tuple[str, ...]
    timezone: str
    cron: str | None = None
    every: timedelta | None = None
    start: datetime | None = None  # naive, local
    catchup: str = "latest"
    max_catchup: int = 10
    starting_deadline: timedelta | None = None
    overlap: str = "skip"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def expression(self) -> str:
        """The cron expression, or `every 2 weeks from …` for an interval job."""
        if self.cron is not None:
            return self.cron
        assert self.every is not None and self.start is not None
        return f"every {self.every.days} days from {self.start:%Y-%m-%d %H:%M}"

    def fires(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` slots strictly after `after`, as aware UTC datetimes."""
        if self.cron is not None:
            return cron.fires(self.cron, self.zone, after, count)
        assert self.every is not None and self.start is not None
        wall = after.astimezone(self.zone).replace(tzinfo=None)
        k = max(0, (wall - self.start) // self.every - 1)
        out: list[datetime] = []
        while len(out) < count:
            local = self.start + k * self.every
            # Whole days in local time: a DST change moves it like a fixed-time cron job.
            instant = cron.to_utc(local, self.zone, fixed=True)[0]
            if instant > after.astimezone(UTC):
                out.append(instant)
            k += 1
        return out

    def fires_between(self, after: datetime, until: datetime, limit: int) -> list[datetime]:
        """Slots in (after, until], oldest first; at most the `limit` newest."""
        if self.cron is not None:
            return cron.fires_between(self.cron, self.zone, after, until, limit)
        out: list[datetime] = []
        cursor = after
        while True:
            batch = [t for t in self.fires(cursor, 256) if t <= until]
            out = [*out, *batch][-limit:]
            if len(batch) < 256:
                return out
            cursor = batch[-1]

    def as_of(self, slot: datetime) -> Any:
        """The slot's local date: what the job's run evaluates as of."""
        return slot.astimezone(self.zone).date()


def jobs(playbook: Document) -> list[Job]:
    """The playbook's jobs (already checked at load time)."""
    out = []
    for name, spec in (playbook.section("jobs") or {}).items():
        out.append(_job(playbook, name, spec))
    return out


def find(playbook: Document, name: str) -> Job:
    for job in jobs(playbook):
        if job.name == name:
            return job
    known = [job.name for job in jobs(playbook)]
    close = difflib.get_close_matches(name, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f"; jobs: {', '.join(known) or 'none'}"
    raise SalesplayError(f"no job '{name}' in {playbook.path}{hint}")


def _job(playbook: Document, name: str, spec: dict[str, Any]) -> Job:
    start = None
    every = None
    if "every" in spec:
        count, unit = re.fullmatch(r"\s*(\d+)\s*(\S+)\s*", spec["every"]).groups()  # type: ignore[union-attr]
        every = timedelta(days=int(count) * (7 if unit in ("week", "weeks", "周") else 1))
        start = datetime.fromisoformat(str(spec["start"]))
    deadline = spec.get("starting_deadline")
    return Job(
        name=name,
        rules=tuple(spec["rules"]),
        timezone=str(spec.get("timezone") or playbook.timezone),
        cron=" ".join(str(spec["cron"]).split()) if "cron" in spec else None,
        every=every,
        start=start,
        catchup=str(spec.get("catchup", "latest")),
        max_catchup=int(spec.get("max_catchup", 10)),
        starting_deadline=parse_span(deadline) if deadline else None,
        overlap=str(spec.get("overlap", "skip")),
    )


def check_jobs(playbook: Playbook) -> None:
    """What the schema cannot say: cron syntax, zones, start times, rule names."""
    for name, spec in (playbook.section("jobs") or {}).items():
        at = ("jobs", name)
        if "cron" in spec:
            try:
                cron.validate(spec["cron"])
            except ValueError as exc:
                raise playbook.error((*at, "cron"), str(exc)) from None
        if "every" in spec:
            if "start" not in spec:
                raise playbook.error(
                    (*at, "every"), "needs start: the first fire time, e.g. '2024-01-01 09:00'"
                )
            try:
                start = datetime.fromisoformat(str(spec["start"]))
            except ValueError:
                start = None
            if start is None or start.tzinfo is not None:
                raise playbook.error(
                    (*at, "start"),
                    f"'{spec['start']}' is not a local date and time: write e.g. "
                    "'2024-01-01 09:00' (the job's zone applies)",
                )
            if start.year > LAST_YEAR:  # its slots would pass year 9999, where dates end
                raise playbook.error(
                    (*at, "start"),
                    f"'{spec['start']}' is too late: start in {LAST_YEAR} at the latest",
                )
        elif "start" in spec:
            raise playbook.error((*at, "start"), "start goes with every:, not with cron:")
        deadline = spec.get("starting_deadline")
        if deadline is not None:
            digits = re.match(r"\s*(\d+)", str(deadline))
            if digits and (len(digits.group(1)) > 12 or parse_span(deadline) > MOST_DEADLINE):
                raise playbook.error(
                    (*at, "starting_deadline"),
                    f"'{deadline}' is too long: a deadline is at most {MOST_DEADLINE.days} days",
                )
        zone = spec.get("timezone")
        if zone is not None:
            try:
                dates.check_zone(str(zone))
            except ExpressionError as exc:
                raise playbook.error((*at, "timezone"), exc.message) from None
        if "max_catchup" in spec and spec.get("catchup", "latest") != "all":
            raise playbook.error((*at, "max_catchup"), "goes with catchup: all")
        for i, rule in enumerate(spec["rules"]):
            reason = _unknown_rule(playbook, rule)
            if reason:
                raise playbook.error((*at, "rules", i), reason)


def rule_names(playbook: Playbook) -> list[str]:
    """Every name a job may list: what each family present says (its section, named rules)."""
    names = []
    for family in playbook.families:
        if playbook.section(family.section) is not None:
            names.extend(family.rule_names(playbook))
    return names


def _unknown_rule(playbook: Playbook, rule: str) -> str | None:
    known = rule_names(playbook)
    if rule in known:
        return None
    close = difflib.get_close_matches(rule, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else f"; known: {', '.join(known)}"
    return f"unknown rule '{rule}'{hint}"


def restrict(playbook: Playbook, rules: tuple[str, ...]) -> Playbook:
    """The playbook with only the rules a job names (other sections kept as they are)."""
    # a settings-only section (goals: pace, lights) is read by the rules a job runs: keep it
    sections = {f.section for f in playbook.families if not f.settings_only}
    data = {k: v for k, v in playbook.data.items() if k not in sections}
    for rule in rules:
        section, _, name = rule.partition(".")
        if not name:
            data[section] = playbook.data[section]
        elif data.get(section) is not playbook.data.get(section):
            data.setdefault(section, {})[name] = playbook.data[section][name]
    return dataclasses.replace(playbook, data=data)


def parse_instant(text: str, zone: str) -> datetime:
    """ISO 8601 with an offset, or without one: a local time in `zone`. Returns aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise SalesplayError(
            f"'{text}' is not a date and time: write ISO 8601, e.g. 2024-07-01T08:00+08:00 "
            "or 2024-07-01T08:00 (local time)"
        ) from None
    if value.tzinfo is None:
        value = cron.to_utc(value, ZoneInfo(zone), fixed=True)[0]
    return value.astimezone(UTC)


def preview(job: Job, after: datetime, count: int) -> dict[str, Any]:
    """{job, cron, timezone, fires: [{local, utc}]} for `salesplay schedule`."""
    return {
        "job": job.name,
        "cron": job.expression,
        "timezone": job.timezone,
        "fires": [
            {"local": t.astimezone(job.zone).isoformat(), "utc": t.isoformat()}
            for t in job.fires(after, count)
        ],
    }


def listing(
    playbook: Document,
    start: str | None,
    count: int,
    expr: str | None,
    zone: str | None,
    now: datetime,
) -> list[dict[str, Any]]:
    """What `salesplay schedule` prints: every job's next fire times, or one expression's."""
    if expr is not None:
        try:
            cron.validate(expr)
        except ValueError as exc:
            raise SalesplayError(f"--cron: {exc}") from None
        tz = zone or playbook.timezone
        try:
            dates.check_zone(tz)
        except ExpressionError as exc:
            raise SalesplayError(f"--tz: {exc.message}") from None
        chosen = [Job("--cron", (), tz, cron=" ".join(expr.split()))]
    else:
        if zone is not None:
            raise SalesplayError("--tz goes with --cron")
        chosen = jobs(playbook)
    out = []
    for job in chosen:
        after = parse_instant(start, job.timezone) if start else now
        out.append(preview(job, after, count))
    return out
