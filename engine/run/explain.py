"""`salesplay explain`: every rule that applies to a subject, whether it fired, and why."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.run.family import EvalContext, Finding, Playbook
from salesplay.engine.sql import metrics
from salesplay.engine.sql.templates import format_value
from salesplay.engine.store.db import fetch
from salesplay.engine.store.models import Alert, Customer, OrgUnit, Rep, Task


def subject_values(
    ctx: EvalContext, subject: str, subject_id: str, names: list[str]
) -> dict[str, str]:
    """The named fields and metrics of one subject as of ctx's date, formatted for people."""
    row, scope = one_subject(ctx, subject, subject_id)
    out = {}
    for name in names:
        typed = scope.resolve(name, 0)
        value = ctx.conn.execute(sa.select(typed.sql).select_from(row)).scalar()
        out[name] = format_value(value, typed.type)
    return out


def one_subject(ctx: EvalContext, subject: str, subject_id: str) -> tuple[Any, Any]:
    select = metrics.facts_select(
        subject, ctx.playbook, ctx.as_of, where=lambda base: base.c.id == subject_id
    )
    row = select.subquery("one")
    return row, ctx.scope(subject, row)


def explain(
    engine: Engine,
    playbook: Playbook,
    subject: str,
    subject_id: str,
    as_of: date,
    period: tuple[date, date] | None = None,
) -> dict[str, Any]:
    """Findings of every family for one customer or rep, plus its tasks and alerts."""

    model = {"customer": Customer, "rep": Rep, "org_unit": OrgUnit}[subject]
    with engine.connect() as conn:
        if fetch(conn, model, subject_id) is None:
            raise SalesplayError(f"no {subject} with id '{subject_id}'")
        ctx = EvalContext(conn, playbook, as_of, run_id=0, period=period)
        findings: list[Finding] = []
        for family in playbook.families:
            if playbook.section(family.section) is not None:
                findings.extend(family.explain(ctx, subject, subject_id))
        tasks = _outputs(conn, Task, subject, subject_id)
        alerts = _outputs(conn, Alert, subject, subject_id)
        conn.rollback()
    return {
        "subject_type": subject,
        "subject_id": subject_id,
        "as_of": as_of.isoformat(),
        "findings": [f.__dict__ for f in findings],
        "tasks": tasks,
        "alerts": alerts,
    }


def _outputs(conn: Any, model: Any, subject: str, subject_id: str) -> list[dict[str, Any]]:
    table = model.__table__
    wanted = sa.and_(table.c.subject_type == subject, table.c.subject_id == subject_id)
    rows = conn.execute(sa.select(table).where(wanted).order_by(table.c.id)).mappings()
    return [
        {
            k: (v.isoformat() if isinstance(v, date) else v)
            for k, v in row.items()
            if k not in ("run_id",)
        }
        for row in rows
    ]
