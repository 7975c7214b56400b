"""Reading the engine's outputs back: grades, tasks, alerts, customers, runs and deliveries,
with filters. `table=True` gives the table's form: each id of a rep, customer or org unit with
its name beside it (`R1 张三`), joined in SQL; JSON and CSV read the plain form, ids only."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.delivery.dispatch import DELIVERY_COLUMNS
from salesplay.engine.delivery.dispatch import deliveries as outbox
from salesplay.engine.errors import SalesplayError
from salesplay.engine.present.output import Listing
from salesplay.engine.schedule.scheduler import LEDGER_COLUMNS, runs_ledger
from salesplay.engine.store.models import (
    Alert,
    Customer,
    Delivery,
    Grade,
    OrgUnit,
    Rep,
    Task,
    table_of,
)

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

GRADES = Listing("grades", tuple(GRADE_COLUMNS), tuple(GRADE_COLUMNS))
TASKS = Listing(
    "tasks",
    tuple(TASK_COLUMNS),
    ("id", "rule", "subject_id", "assignee_id", "due", "title", "status"),
)
ALERTS = Listing(
    "alerts",
    tuple(ALERT_COLUMNS),
    (
        "id",
        "rule",
        "subject_id",
        "recipient_id",
        "level",
        "message",
        "raised_on",
        "status",
        "resolved_on",
    ),
)
RUNS = Listing("runs", tuple(LEDGER_COLUMNS), tuple(LEDGER_COLUMNS))
SCHEDULE = Listing(
    "schedule", ("job", "cron", "timezone", "fires"), ("job", "cron", "timezone", "local", "utc")
)
DELIVERIES = Listing("deliveries", tuple(DELIVERY_COLUMNS), tuple(DELIVERY_COLUMNS))


def _with_name(key: Any, name: Any) -> Any:
    """`R1 张三`: an id with the name beside it; the id alone where no name is found."""
    return sa.func.coalesce(key + " " + name, key)


def _named(joined: Any, table: Any, key: str, model: Any) -> tuple[Any, Any]:
    """(joined, also to the row of `model` that table.c[key] names; that id with its name)."""
    other = table_of(model).alias(f"named_{key}")
    return joined.outerjoin(other, other.c.id == table.c[key]), _with_name(
        table.c[key], other.c.name
    )


def _named_subject(joined: Any, table: Any) -> tuple[Any, Any]:
    """(joined, also to whatever the subject is; its id with its name): customers, reps and
    org units have names, a target or a task is shown by its id."""
    kind, key = table.c.subject_type, table.c.subject_id
    names = []
    for subject_type, model in (("customer", Customer), ("rep", Rep), ("org_unit", OrgUnit)):
        other = table_of(model).alias(f"named_{subject_type}")
        joined = joined.outerjoin(other, sa.and_(kind == subject_type, other.c.id == key))
        names.append(other.c.name)
    return joined, _with_name(key, sa.func.coalesce(*names))


# the id columns a table shows with a name beside them, and whose name it is
_NAMED = {"assignee_id": Rep, "recipient_id": Rep, "owner_id": Rep, "customer_id": Customer}


def _select(
    engine: Engine,
    table: Any,
    columns: list[str],
    filters: dict[str, Any],
    order: list[Any],
    named: bool = False,
    where: tuple[Any, ...] = (),
) -> list[dict[str, Any]]:
    """The columns of table's rows matching filters (None: any) and where; with named, each
    id of a rep, customer or subject as `id name`, under the same key."""
    joined, shown = table, {name: table.c[name] for name in columns}
    if named:
        if "subject_id" in shown:
            joined, shown["subject_id"] = _named_subject(joined, table)
        for name in [n for n in shown if n in _NAMED]:
            joined, shown[name] = _named(joined, table, name, _NAMED[name])
    query = sa.select(*[column.label(name) for name, column in shown.items()]).select_from(joined)
    for name, value in filters.items():
        if value is not None:
            query = query.where(table.c[name] == value)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query.where(*where).order_by(*order)).mappings()]


def grades(
    engine: Engine, grade: str | None = None, customer: str | None = None, table: bool = False
) -> list[dict[str, Any]]:
    g = table_of(Grade)
    filters = {"grade": grade, "customer_id": customer}
    return _select(engine, g, GRADE_COLUMNS, filters, [g.c.customer_id], table)


def tasks(
    engine: Engine,
    rule: str | None = None,
    assignee: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    table: bool = False,
) -> list[dict[str, Any]]:
    t = table_of(Task)
    filters = {"rule": rule, "assignee_id": assignee, "status": status, "subject_id": subject}
    return _select(engine, t, TASK_COLUMNS, filters, [t.c.due, t.c.id], table)


def alerts(
    engine: Engine,
    rule: str | None = None,
    level: str | None = None,
    status: str | None = None,
    subject: str | None = None,
    recipient: str | None = None,
    table: bool = False,
) -> list[dict[str, Any]]:
    """Alerts; the table's form also has each one's recipient (recipient_id)."""
    a = table_of(Alert)
    filters = {
        "rule": rule,
        "level": level,
        "status": status,
        "subject_id": subject,
        "recipient_id": recipient,
    }
    columns = [*ALERT_COLUMNS, "recipient_id"] if table else ALERT_COLUMNS
    # a snoozed alert stays quiet unless asked for by its status
    quiet = (a.c.status != "snoozed",) if status is None else ()
    return _select(engine, a, columns, filters, [a.c.raised_on, a.c.id], table, quiet)


def runs(engine: Engine, job: str | None = None, table: bool = False) -> list[dict[str, Any]]:
    """The run ledger (see runs_ledger); the table's form keeps times as datetimes (UTC)."""
    return runs_ledger(engine, job, iso=not table)


def deliveries(
    engine: Engine, status: str | None = None, table: bool = False
) -> list[dict[str, Any]]:
    """The outbox, oldest first; the table's form names each recipient."""
    if not table:
        return outbox(engine, status)
    d = table_of(Delivery)
    return _select(engine, d, DELIVERY_COLUMNS, {"status": status}, [d.c.id], named=True)


def fire_times(jobs: list[dict[str, Any]], table: bool = False) -> list[dict[str, Any]]:
    """The schedule listing (jobs.listing): one row per job with its fires; the table's form
    one row per fire time."""
    if not table:
        return jobs
    keep = ("job", "cron", "timezone")
    return [{**{k: job[k] for k in keep}, **fire} for job in jobs for fire in job["fires"]]


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
CUSTOMERS = Listing("customers", tuple(CUSTOMER_COLUMNS), tuple(CUSTOMER_COLUMNS))


def customers(
    engine: Engine, pooled: bool = False, owner: str | None = None, table: bool = False
) -> list[dict[str, Any]]:
    """Live customers {id, name, owner_id, grade, pooled}: a customer without an owner is in
    the shared pool (公海), whether a rule released it or the CRM exported it ownerless."""
    c, g = table_of(Customer), table_of(Grade)
    joined, owner_id = c.outerjoin(g, g.c.customer_id == c.c.id), c.c.owner_id
    if table:
        joined, owner_id = _named(joined, c, "owner_id", Rep)
    query = (
        sa.select(
            c.c.id,
            c.c.name,
            owner_id.label("owner_id"),
            g.c.grade,
            sa.case((c.c.owner_id.is_(None), sa.true()), else_=sa.false()).label("pooled"),
        )
        .select_from(joined)
        .where(c.c.deleted == sa.false())
        .order_by(c.c.id)
    )
    if pooled:
        query = query.where(c.c.owner_id.is_(None))
    if owner is not None:
        query = query.where(c.c.owner_id == owner)
    with engine.connect() as conn:
        return [{**r, "pooled": bool(r["pooled"])} for r in conn.execute(query).mappings()]
