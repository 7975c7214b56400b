"""Team names usable in any condition: tenure tiers of reps, a customer's owner and grade.

    tenure: new (under 6 months), experienced (6 months to under 3 years), senior (3 years on)

Tenure counts whole calendar months from `hired_on` to the as-of date through the calendar
table (hired 2024-01-05: 6 months on 2024-07-05, still 5 on 2024-07-04; hired 2023-08-31:
6 months on 2024-02-29), the same arithmetic as every other month in the engine.
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date
from itertools import pairwise
from typing import Any

import sqlalchemy as sa

from salesplay.engine.sql.compiler import Typed
from salesplay.engine.store.models import CalendarDay, Grade, OrgUnit, Rep, table_of

# (tier, months from which it starts), in order; the first tier starts at 0.
TENURE_TIERS: list[tuple[str, int]] = [("new", 0), ("experienced", 6), ("senior", 36)]
OWNER_FIELDS: dict[str, tuple[str, str]] = {
    "id": ("id", "text"),
    "name": ("name", "text"),
    "org_unit_id": ("org_unit_id", "text"),
    "manager_id": ("manager_id", "text"),
    "hired_on": ("hired_on", "date"),
    "exam_score": ("exam_score", "number"),
    "active": ("active", "bool"),
}


def tenure_months(hired_on: Any, as_of: date) -> Any:
    """Whole calendar months from hired_on to as_of (null when hired_on is).

    hired_on + m months lands on the same day of the month, or the month's last day when the
    month is shorter. For m = the months between the two dates' months, that day is in as_of's
    month, whose length is a constant here: so one calendar lookup (the hiring day's month and
    day numbers) decides it, instead of date arithmetic per row.
    """
    calendar = table_of(CalendarDay).alias("hired_day")
    month_days = monthrange(as_of.year, as_of.month)[1]
    landed = sa.case((calendar.c.dom < month_days, calendar.c.dom), else_=month_days)
    months = (
        sa.literal(as_of.year * 12 + as_of.month - 1)
        - calendar.c.month_num
        - sa.case((landed > as_of.day, 1), else_=0)
    )
    return (
        sa.select(months)
        .where(calendar.c.day == hired_on)
        .correlate_except(calendar)
        .scalar_subquery()
    )


def tenure_tier(hired_on: Any, as_of: date) -> Any:
    """'new', 'experienced' or 'senior' (null when hired_on is)."""
    months = tenure_months(hired_on, as_of)
    steps = [(months < start, tier) for (tier, _), (_, start) in pairwise(TENURE_TIERS)]
    return sa.case((hired_on.is_(None), sa.null()), *steps, else_=TENURE_TIERS[-1][0])


def scope_names(subject: str, table: Any, as_of: date) -> dict[str, Typed]:
    """Extra names for a subject's scope: tenure for reps; owner.* and grade for customers."""
    names: dict[str, Typed] = {}
    if subject == "rep" and "hired_on" in table.c:
        hired = table.c.hired_on
        names["tenure"] = Typed(tenure_tier(hired, as_of), "text")
        names["tenure_months"] = Typed(tenure_months(hired, as_of), "number")
        names["rep.tenure"] = names["tenure"]
        names["rep.tenure_months"] = names["tenure_months"]
    if subject == "customer" and "owner_id" in table.c:
        owner = table_of(Rep).alias("owner_rep")

        def of_owner(value: Any) -> Any:
            return (
                sa.select(value)
                .where(owner.c.id == table.c.owner_id)
                .correlate_except(owner)
                .scalar_subquery()
            )

        for name, (column, kind) in OWNER_FIELDS.items():
            names[f"owner.{name}"] = Typed(of_owner(owner.c[column]), kind)
        names["owner.tenure"] = Typed(of_owner(tenure_tier(owner.c.hired_on, as_of)), "text")
        names["owner.tenure_months"] = Typed(
            of_owner(tenure_months(owner.c.hired_on, as_of)), "number"
        )
        grades = table_of(Grade).alias("stored_grade")
        names["grade"] = Typed(
            sa.select(grades.c.grade)
            .where(grades.c.customer_id == table.c.id)
            .correlate_except(grades)
            .scalar_subquery(),
            "text",
        )
        names["customer.grade"] = names["grade"]
    return names


def units_under(unit: str) -> Any:
    """A recursive CTE (unit) of an org unit and every unit below it (UNION: a cycle in the
    imported tree ends instead of looping)."""
    o = table_of(OrgUnit)
    tree = (
        sa.select(o.c.id.label("unit"))
        .where(o.c.id == unit, o.c.deleted == sa.false())
        .cte("units_under", recursive=True)
    )
    return tree.union(
        sa.select(o.c.id).join(tree, o.c.parent_id == tree.c.unit).where(o.c.deleted == sa.false())
    )


def reps_under(unit: str) -> sa.Select[Any]:
    """The ids of the reps of an org unit and of every unit below it."""
    r, tree = table_of(Rep), units_under(unit)
    return sa.select(r.c.id).where(r.c.org_unit_id.in_(sa.select(tree.c.unit)))
