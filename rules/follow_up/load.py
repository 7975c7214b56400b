"""`salesplay load`: the follow-ups the cadence asks of each rep in a week, against what one
rep can make (`follow_up.capacity: 30 per week`).

    required per week = Σ over grades of (customers of the grade ÷ the cadence in weeks)

with 1 week = 1, 2 weeks = 2, N days = N/7, 1 month = 30/7 (a year 365/7): 10 A customers
every week, 20 B every 2 weeks and 60 C every month need 10 + 10 + 60 × 7/30 = 34.00 contacts
a week, 113% of a capacity of 30. The customers counted are those follow-up would task: owned,
live, created by the as-of date, of a grade with a cadence, by their stored grade.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.run.family import Command, Detail, Impact, Output, Playbook, Session
from salesplay.engine.store.models import Customer, Grade, OrgUnit, Rep, table_of

SECTION = "follow_up"
DAYS = {"days": 1, "weeks": 7, "months": 30, "years": 365}  # a month counts 30 days here
_CAPACITY = [
    re.compile(r"\s*(\d+)\s*(?:per\s+week|/\s*week|次\s*/\s*周|次每周)\s*", re.IGNORECASE),
    re.compile(r"\s*每周\s*(\d+)\s*次?\s*"),
]
JSON_COLUMNS = ["rep_id", "customers", "required_per_week", "capacity", "utilisation", "over"]
LABELS = {
    "en": {"count.one": "{n} rep", "count.many": "{n} reps"},
    "zh": {
        "rep_id": "销售",
        "rep": "姓名",
        "team": "团队",
        "required_per_week": "每周需跟进",
        "required_now": "现每周需跟进",
        "required": "每周需跟进",
        "capacity": "每周可跟进",
        "utilisation": "负荷率",
        "over": "超负荷",
        "over.OVER": "超出",
        "count.many": "{n} 名销售",
    },
}


def parse_capacity(text: Any) -> int:
    """'30 per week' (or '每周 30 次', '30 次/周') -> 30."""
    for pattern in _CAPACITY:
        match = pattern.fullmatch(str(text))
        if match and int(match.group(1)) > 0:
            return int(match.group(1))
    raise ExpressionError(
        f"'{text}' is not a capacity: write how many contacts one rep can make in a week, "
        "e.g. '30 per week'"
    )


def cadence_weeks(every: str) -> Fraction:
    """A cadence in weeks: '2 weeks' -> 2, '3 days' -> 3/7, '1 month' -> 30/7."""
    count, unit = dates.parse_duration(every)
    return Fraction(count * DAYS[unit], 7)


@dataclass
class RepLoad:
    rep_id: str
    name: str
    team: str | None
    customers: dict[str, int]
    required: Fraction  # contacts a week, exact
    capacity: int | None

    @property
    def over(self) -> bool:
        return self.capacity is not None and self.required > self.capacity

    def as_json(self) -> dict[str, Any]:
        utilisation = None
        if self.capacity is not None:
            utilisation = _round(self.required / self.capacity, "0.0001")
        return {
            "rep_id": self.rep_id,
            "customers": self.customers,
            "required_per_week": _round(self.required, "0.01"),
            "capacity": self.capacity,
            "utilisation": utilisation,
            "over": self.over,
        }


@dataclass
class TeamLoad:
    unit_id: str
    name: str
    reps: int  # active reps of the unit: who can make contacts
    required: Fraction = Fraction(0)


@dataclass
class Load:
    grades: list[str]  # those with a cadence, in the playbook's order
    capacity: int | None
    reps: list[RepLoad] = field(default_factory=list)
    teams: list[TeamLoad] = field(default_factory=list)

    def over_teams(self) -> list[TeamLoad]:
        """Teams whose reps together cannot make the contacts their customers need."""
        if self.capacity is None:
            return []
        return [t for t in self.teams if t.required > self.capacity * t.reps]


def _round(value: Fraction, places: str) -> Decimal:
    exact = Decimal(value.numerator) / Decimal(value.denominator)
    return exact.quantize(Decimal(places), ROUND_HALF_UP)


def compute(conn: Connection, playbook: Playbook, as_of: date) -> Load:
    """Each rep's follow-up load as of a date, from the grades stored now."""
    section = playbook.section(SECTION) or {}
    cadence = section.get("cadence") or {}
    weeks = {grade: cadence_weeks(spec["every"]) for grade, spec in cadence.items()}
    order = [g["grade"] for g in (playbook.section("grading") or {}).get("grades", [])]
    grades = sorted(weeks, key=lambda g: order.index(g) if g in order else len(order))
    capacity = parse_capacity(section["capacity"]) if "capacity" in section else None
    found = Load(grades, capacity)
    if not weeks:
        return found
    c, g, r, o = table_of(Customer), table_of(Grade), table_of(Rep), table_of(OrgUnit)
    counted = (
        sa.select(c.c.owner_id, g.c.grade, sa.func.count().label("customers"))
        .join(g, g.c.customer_id == c.c.id)
        .where(
            c.c.deleted == sa.false(),
            c.c.owner_id.is_not(None),
            g.c.grade.in_(list(weeks)),
            sa.or_(c.c.created_on.is_(None), c.c.created_on <= as_of),
        )
        .group_by(c.c.owner_id, g.c.grade)
        .subquery("counted")
    )
    rows = conn.execute(
        sa.select(counted, r.c.name, r.c.org_unit_id)
        .outerjoin(r, r.c.id == counted.c.owner_id)
        .order_by(counted.c.owner_id, counted.c.grade)
    ).mappings()
    reps: dict[str, RepLoad] = {}
    for row in rows:
        rep = reps.setdefault(
            row["owner_id"],
            RepLoad(
                row["owner_id"],
                row["name"] or row["owner_id"],
                row["org_unit_id"],
                dict.fromkeys(grades, 0),
                Fraction(0),
                capacity,
            ),
        )
        rep.customers[row["grade"]] = int(row["customers"])
        rep.required += int(row["customers"]) / weeks[row["grade"]]
    found.reps = list(reps.values())
    active = sa.and_(
        r.c.deleted == sa.false(),
        r.c.active == sa.true(),
        sa.or_(r.c.left_on.is_(None), r.c.left_on >= as_of),
    )
    members = (
        sa.select(r.c.org_unit_id, sa.func.count().label("reps"))
        .where(active, r.c.org_unit_id.is_not(None))
        .group_by(r.c.org_unit_id)
        .subquery("members")
    )
    teams = {
        row.id: TeamLoad(row.id, row.name, int(row.reps or 0))
        for row in conn.execute(
            sa.select(o.c.id, o.c.name, members.c.reps)
            .outerjoin(members, members.c.org_unit_id == o.c.id)
            .where(o.c.id.in_(sorted({rep.team for rep in found.reps if rep.team})))
            .order_by(o.c.id)
        )
    }
    for rep in found.reps:
        if rep.team in teams:
            teams[rep.team].required += rep.required
    found.teams = list(teams.values())
    return found


def warnings(found: Load) -> list[str]:
    """One line per team whose requirement exceeds what its reps can make together."""
    return [
        f"warning: team {t.name} ({t.unit_id}) needs {_round(t.required, '0.01')} contacts a "
        f"week; its {t.reps} active reps can make {found.capacity * t.reps} "
        f"({found.capacity} per week each)"
        for t in found.over_teams()
        if found.capacity is not None
    ]


def table_rows(found: Load) -> tuple[list[dict[str, Any]], list[str]]:
    """The rows as people read them: a column per grade, percentages, `over` marked."""
    rows = []
    for rep in found.reps:
        shown = rep.as_json()
        row: dict[str, Any] = {"rep_id": rep.rep_id, "rep": rep.name, "team": rep.team}
        row.update(rep.customers)
        row["required_per_week"] = f"{shown['required_per_week']}"
        row["capacity"] = rep.capacity
        utilisation = shown["utilisation"]
        row["utilisation"] = None if utilisation is None else f"{utilisation * 100:.1f}%"
        row["over"] = "OVER" if rep.over else ""
        rows.append(row)
    columns = ["rep_id", "rep", "team", *found.grades, "required_per_week", "capacity"]
    return rows, [*columns, "utilisation", "over"]


def compare(current: Load | None, proposed: Load | None) -> Impact:
    """The load under the proposed playbook (its part of `salesplay preview`: `load`, each
    rep as `salesplay load` shows them), beside the load now."""
    before = current or Load([], None)
    after = proposed or Load([], None)
    now = {rep.rep_id: rep for rep in before.reps}
    later = {rep.rep_id: rep for rep in after.reps}
    rows = []
    for rep_id in sorted(now.keys() | later.keys()):
        old, new = now.get(rep_id), later.get(rep_id)
        rep = new or old
        assert rep is not None
        rows.append(
            {
                "rep_id": rep_id,
                "rep": rep.name,
                "team": rep.team,
                "required_now": _round(old.required, "0.01") if old else Decimal(0),
                "required": _round(new.required, "0.01") if new else Decimal(0),
                "capacity": after.capacity,
                "over": "OVER" if new is not None and new.over else "",
            }
        )
    total_now = _round(sum((r.required for r in before.reps), Fraction(0)), "0.01")
    total = _round(sum((r.required for r in after.reps), Fraction(0)), "0.01")
    summary = f"follow-up load: {total} contacts a week in all ({total_now} now)"
    if after.capacity is not None:
        over = sum(rep.over for rep in after.reps)
        was = sum(rep.over for rep in before.reps)
        summary += f"; {over} reps over a capacity of {after.capacity} a week ({was} now)"
        summary += "".join(f"\n  {line}" for line in warnings(after))
    columns = ["rep_id", "rep", "team", "required_now", "required", "capacity", "over"]
    changed = [
        {**r, "required_now": f"{r['required_now']:.2f}", "required": f"{r['required']:.2f}"}
        for r in rows
        if r["required"] != r["required_now"] or r["over"]
    ]
    return Impact(
        {"load": [rep.as_json() for rep in after.reps]},
        [summary],
        [
            Detail(
                "follow-up load that changes or is over capacity (contacts a week)",
                changed,
                columns,
                LABELS,
            )
        ],
    )


def command(session: Session, fmt: str) -> Output:
    """`salesplay load`: per rep, or their JSON; a line per team over its capacity."""
    with session.engine.connect() as conn:
        found = compute(conn, session.playbook, session.as_of)
    notes = warnings(found)
    if found.capacity is None:
        notes.append("note: follow_up.capacity is not set: nobody is flagged as over it")
    if fmt == "json":
        return Output([rep.as_json() for rep in found.reps], JSON_COLUMNS, notes)
    rows, columns = table_rows(found)
    return Output(rows, columns, notes)


COMMAND = Command(
    "load",
    """The follow-ups each rep's customers need a week, against follow_up.capacity.

    Per rep: customers by grade, required per week (Σ customers ÷ the cadence in weeks; a
    month counts 30 days), capacity, utilisation and whether it is over; a warning line for
    each team whose requirement exceeds its reps' capacity. JSON {rep_id, customers,
    required_per_week, capacity, utilisation, over}. Example: salesplay load --format json
    """,
    command,
    as_of=True,
    formats=("table", "json"),
    labels=LABELS,
)
