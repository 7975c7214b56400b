"""The incentives' part of `salesplay preview`: the statements of periods still open, as the
playbook in force and the proposed one would compute them. Closed periods are frozen (a late
change to one lands as an adjustment on an open statement), so only open ones can differ."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from salesplay.engine.lang import periods
from salesplay.engine.present.output import Money, number_text
from salesplay.engine.run.family import Detail, EvalContext, Impact
from salesplay.engine.store.models import table_of
from salesplay.rules.incentives.tables import PayoutClosing, PayoutLine

Statement = tuple[str, str, Any, Any]  # owner_type, owner_id, period_start, period_end
COLUMNS = ["owner", "period", "current", "proposed", "change"]


def snapshot(ctx: EvalContext) -> dict[Statement, int]:
    """Each open statement's total, in cents."""
    lines, closings = table_of(PayoutLine), table_of(PayoutClosing)
    closed = (
        sa.select(closings.c.id)
        .where(
            closings.c.period_start == lines.c.period_start,
            closings.c.period_end == lines.c.period_end,
        )
        .exists()
    )
    key = [lines.c.owner_type, lines.c.owner_id, lines.c.period_start, lines.c.period_end]
    query = sa.select(*key, sa.func.sum(lines.c.amount_cents)).where(~closed).group_by(*key)
    return {(row[0], row[1], row[2], row[3]): int(row[4] or 0) for row in ctx.conn.execute(query)}


def _units(cents: int) -> Decimal:
    return Decimal(cents) / 100


def compare(current: dict[Statement, int] | None, proposed: dict[Statement, int] | None) -> Impact:
    """payouts: every open statement under either playbook (reps' by rep_id, then teams' by
    org_unit_id), its total now and proposed and the change; payouts_total: their sums."""
    before, after = current or {}, proposed or {}
    rows: list[dict[str, Any]] = []
    for key in sorted(before.keys() | after.keys(), key=lambda k: (k[0] != "rep", *k[1:])):
        owner_type, owner_id, start, end = key
        now, then = before.get(key, 0), after.get(key, 0)
        rows.append(
            {
                "rep_id" if owner_type == "rep" else "org_unit_id": owner_id,
                "period": periods.label(start, end),
                "current": _units(now),
                "proposed": _units(then),
                "change": _units(then - now),
            }
        )
    now, then = sum(before.values()), sum(after.values())
    total = {"current": _units(now), "proposed": _units(then), "change": _units(then - now)}
    changed = [r for r in rows if r["change"]]
    summary = (
        f"payouts of open periods: {number_text(total['current'])} → "
        f"{number_text(total['proposed'])} ({_signed(total['change'])}); "
        f"{len(changed)} of {len(rows)} statements change"
    )
    shown = [
        {
            "owner": r.get("rep_id") or r.get("org_unit_id"),
            "period": r["period"],
            "current": Money(r["current"]),
            "proposed": Money(r["proposed"]),
            "change": Money(r["change"]),
        }
        for r in changed
    ]
    return Impact(
        {"payouts": rows, "payouts_total": total},
        [summary],
        [
            Detail(
                "payouts that change (open periods)",
                shown,
                COLUMNS,
                {
                    "zh": {
                        "owner": "负责人",
                        "current": "现行",
                        "proposed": "拟议",
                        "change": "变化",
                    }
                },
            )
        ],
    )


def _signed(amount: Decimal) -> str:
    text = number_text(amount) or "0"
    return text if amount < 0 else f"+{text}"
