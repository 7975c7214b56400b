"""Reading the engine's outputs back: grades, tasks, alerts and runs, with filters."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store.models import Alert, Customer, Grade, Run, Task, table_of

GRADE_COLUMNS = ["customer_id", "grade", "since"]
TASK_COLUMNS = ["id", "rule", "subject_type", "subject_id", "assignee_id", "due", "title", "status"]
ALERT_COLUMNS = [
    "id",
    "rule",
    "subject_type",
    "subject_id",
    "level",
    "message",
    "raised_on",
    "status",
    "resolved_on",
]
RUN_COLUMNS = [
    "id",
    "job",
    "started_at",
    "finished_at",
    "as_of",
    "playbook_path",
    "playbook_hash",
    "status",
    "emitted",
]


def _select(
    engine: Engine, table: Any, columns: list[str], filters: dict[str, Any], order: list[Any]
) -> list[dict[str, Any]]:
    query = sa.select(*[table.c[c] for c in columns])
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.order_by(*order)).mappings()]


def grades(
    engine: Engine, grade: str | None = None, customer: str | None = None
) -> list[dict[str, Any]]:
    g = table_of(Grade)
    return _select(
        engine, g, GRADE_COLUMNS, {"grade": grade, "customer_id": customer}, [g.c.customer_id]
    )


def tasks(
    engine: Engine,
    rule: str | None = None,
    assignee: str | None = None,
    status: str | None = None,
    subject: str | None = None,
) -> list[dict[str, Any]]:
    t = table_of(Task)
    return _select(
        engine,
        t,
        TASK_COLUMNS,
        {"rule": rule, "assignee_id": assignee, "status": status, "subject_id": subject},
        [t.c.due, t.c.id],
    )


def alerts(
    engine: Engine,
    rule: str | None = None,
    level: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    recipient: str | None = None,
) -> list[dict[str, Any]]:
    a = table_of(Alert)
    filters = {
        "rule": rule,
        "level": level,
        "status": status,
        "subject_id": subject,
        "recipient_id": recipient,
    }
    query = sa.select(*[a.c[c] for c in ALERT_COLUMNS]).order_by(a.c.raised_on, a.c.id)
    for name, value in filters.items():
        if value is not None:
            query = query.where(a.c[name] == value)
    if status is None:  # a snoozed alert stays quiet unless asked for by its status
        query = query.where(a.c.status != "snoozed")
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def runs(engine: Engine) -> list[dict[str, Any]]:
    r = table_of(Run)
    return _select(engine, r, RUN_COLUMNS, {}, [r.c.id])


def complete_task(engine: Engine, task_id: int, note: str | None, today: date) -> None:
    """Mark a task done by hand; it never comes back under the same episode."""
    t = table_of(Task)
    with engine.begin() as conn:
        status = conn.execute(sa.select(t.c.status).where(t.c.id == task_id)).scalar()
        if status is None:
            raise SalesplayError(f"ID: no task with id {task_id}")
        if status != "open":
            raise SalesplayError(f"ID: task {task_id} is already {status}")
        conn.execute(
            t.update().where(t.c.id == task_id).values(status="done", closed_on=today, note=note)
        )


CUSTOMER_COLUMNS = ["id", "name", "owner_id", "grade", "pooled"]


def customers(
    engine: Engine, pooled: bool = False, owner: str | None = None
) -> list[dict[str, Any]]:
    """Live customers {id, name, owner_id, grade, pooled}: a customer without an owner is in
    the shared pool (公海), whether a rule released it or the CRM exported it ownerless."""
    c, g = table_of(Customer), table_of(Grade)
    query = (
        sa.select(
            c.c.id,
            c.c.name,
            c.c.owner_id,
            g.c.grade,
            sa.case((c.c.owner_id.is_(None), sa.true()), else_=sa.false()).label("pooled"),
        )
        .outerjoin(g, g.c.customer_id == c.c.id)
        .where(c.c.deleted == sa.false())
        .order_by(c.c.id)
    )
    if pooled:
        query = query.where(c.c.owner_id.is_(None))
    if owner is not None:
        query = query.where(c.c.owner_id == owner)
    with engine.connect() as conn:
        return [{**r, "pooled": bool(r["pooled"])} for r in conn.execute(query).mappings()]
