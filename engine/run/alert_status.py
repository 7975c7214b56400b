"""What people do with an alert: acknowledge it, or snooze it until a date.

Statuses: open → acknowledged (seen, still live) / snoozed (quiet until `snoozed_until`) →
resolved (its condition cleared; the engine sets it with the date, whatever the status was).
A snoozed alert is not re-raised (its episode is still open) and not listed by default; from
its date on, the next evaluation makes it open again, unless its condition cleared meanwhile.
"""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store.db import count_rows
from salesplay.engine.store.models import Alert, table_of

LIVE = ("open", "acknowledged", "snoozed")  # statuses an alert can be resolved from


def _live_alert(conn: Connection, alert_id: int) -> tuple[str, date]:
    a = table_of(Alert)
    row = conn.execute(sa.select(a.c.status, a.c.raised_on).where(a.c.id == alert_id)).first()
    if row is None:
        raise SalesplayError(f"ID: no alert with id {alert_id}")
    if row.status == "resolved":
        raise SalesplayError(f"ID: alert {alert_id} is already resolved")
    return str(row.status), row.raised_on


def acknowledge(engine: Engine, alert_id: int, today: date) -> None:
    """Mark an alert seen: it stays listed and live until its condition clears."""
    a = table_of(Alert)
    with engine.begin() as conn:
        _live_alert(conn, alert_id)
        conn.execute(
            a.update()
            .where(a.c.id == alert_id)
            .values(status="acknowledged", acknowledged_on=today, snoozed_until=None)
        )


def snooze(engine: Engine, alert_id: int, until: date) -> None:
    """Keep an alert quiet until a date (it is open again from that day on)."""
    a = table_of(Alert)
    with engine.begin() as conn:
        _, raised_on = _live_alert(conn, alert_id)
        if until <= raised_on:
            raise SalesplayError(
                f"--until: {until} is not after the day the alert was raised ({raised_on})"
            )
        conn.execute(
            a.update().where(a.c.id == alert_id).values(status="snoozed", snoozed_until=until)
        )


def wake(conn: Connection, as_of: date) -> int:
    """Snoozed alerts whose date has come are open again (the evaluation then resolves those
    whose condition has cleared). Returns how many woke."""
    a = table_of(Alert)
    return count_rows(
        conn,
        a.update()
        .where(a.c.status == "snoozed", a.c.snoozed_until <= as_of)
        .values(status="open", snoozed_until=None),
    )
