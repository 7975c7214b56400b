"""Evaluating a playbook: every rule family, set-based, in one transaction, with a ledger row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from .context import EvalContext
from .models import Run
from .playbook import Playbook


EVALUATION_LOCK = 0x5A1E5_91A7  # pg_advisory_xact_lock key shared by every salesplay evaluation


@dataclass
class RunResult:
    run_id: int
    as_of: date
    emitted: dict[str, int]
    seconds: float


def evaluate(engine: Engine, playbook: Playbook, as_of: date, job: str = "manual",
             now: datetime | None = None) -> RunResult:
    """Run every section of the playbook as of a date. All or nothing: one transaction."""
    from salesplay.rules import FAMILIES

    started = now or datetime.now(timezone.utc)
    clock = datetime.now(timezone.utc)
    runs = Run.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            # Evaluations take turns; the next one then sees what this one committed. (SQLite's
            # BEGIN IMMEDIATE already serialises writers.) Unique keys stay as the last guard.
            conn.execute(sa.select(sa.func.pg_advisory_xact_lock(EVALUATION_LOCK)))
        run_id = conn.execute(
            sa.insert(runs).values(job=job, started_at=started.replace(tzinfo=None), as_of=as_of,
                                   playbook_path=playbook.path,
                                   playbook_hash=playbook.content_hash, status="running")
            .returning(runs.c.id)
        ).scalar_one()
        ctx = EvalContext(conn, playbook, as_of, run_id)
        for family in FAMILIES:
            if playbook.section(family.section) is not None:
                family.run(ctx)
        ctx.cleanup()
        emitted: dict[str, Any] = {k: int(v) for k, v in sorted(ctx.counts.items())}
        finished = datetime.now(timezone.utc)
        conn.execute(runs.update().where(runs.c.id == run_id).values(
            status="succeeded", emitted=emitted,
            finished_at=(started + (finished - clock)).replace(tzinfo=None)))
    return RunResult(run_id, as_of, emitted, (finished - clock).total_seconds())
