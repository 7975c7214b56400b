"""Evaluating a playbook: every rule family, set-based, with a ledger row.

A plain run is one transaction. A partitioned run (`--workers N`) splits the customer rules
into partitions by customer hash, each its own transaction, claimed from the database by any
number of worker processes (FOR UPDATE SKIP LOCKED on PostgreSQL); the rules that span
customers run in one final step once every partition has committed.

Before it writes, an evaluation checks the playbook and the as-of date against the ledger
(run/pinning.py). A replay evaluates inside a transaction that is rolled back: what a run
would emit, nothing stored.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.run import alert_status, outbox, pinning
from salesplay.engine.run.family import EvalContext, Playbook
from salesplay.engine.store import db, dialects
from salesplay.engine.store.crash import crash_point
from salesplay.engine.store.models import Alert, Customer, EvalPartition, Run, Task, table_of
from salesplay.engine.store.partitions import Partition

FINAL = -1
Progress = Callable[[str], None]
Seen = TypeVar("Seen")


@dataclass
class RunResult:
    run_id: int
    as_of: date
    emitted: dict[str, int]
    seconds: float
    customers: int = 0  # live customers evaluated, for rows-a-second figures
    notes: list[str] = field(default_factory=list)  # the playbook changed since the last run


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _lock(conn: Connection, shared: bool) -> None:
    """Plain runs take turns; partition transactions of a run may overlap one another."""
    dialects.of(conn).lock_evaluation(conn, shared)


def check_tables(conn: Connection, playbook: Playbook) -> None:
    """Every table the playbook's rule families write is in the database: a family whose table
    no migration has made is refused before the run, not half way through it."""
    have = set(sa.inspect(conn).get_table_names())
    for family in playbook.families:
        for table in family.tables:
            name = str(table.__tablename__)
            if name not in have:
                raise SalesplayError(
                    f"the database has no table {name}, which the rule family "
                    f"'{family.section}' writes: add a migration that creates it "
                    "(engine/store/migrations/versions/)"
                )


def _families(ctx: EvalContext, progress: Progress | None) -> None:
    if ctx.covers("alert"):  # not per partition: once per run, in the final step
        alert_status.wake(ctx.conn, ctx.as_of)
    for family in ctx.playbook.families:
        if ctx.playbook.section(family.section) is not None:
            family.run(ctx)
            crash_point("evaluating")
            if progress:
                progress(family.section)
    # The outbox rows commit with the tasks and alerts they deliver, or not at all.
    queued = outbox.enqueue(ctx.conn, ctx.playbook, ctx.run_id)
    if queued:
        ctx.counts["deliveries"] += queued
    ctx.cleanup()
    crash_point("inserted")


def evaluate_in(
    conn: Connection,
    playbook: Playbook,
    as_of: date,
    run_id: int,
    progress: Progress | None = None,
) -> dict[str, int]:
    """Evaluate every section of playbook inside conn's transaction, under an existing ledger
    row (a scheduled run claimed beforehand); return the counts emitted."""
    _lock(conn, shared=False)
    check_tables(conn, playbook)
    ctx = EvalContext(conn, playbook, as_of, run_id)
    _families(ctx, progress)
    return {k: int(v) for k, v in sorted(ctx.counts.items())}


def _start(conn: Connection, playbook: Playbook, as_of: date, job: str, now: datetime) -> int:
    runs = table_of(Run)
    return int(
        conn.execute(
            sa.insert(runs)
            .values(
                job=job,
                started_at=now,
                as_of=as_of,
                playbook_path=playbook.origin or playbook.path,
                playbook_hash=playbook.content_hash,
                salesplay_version=db.release(),
                status="running",
            )
            .returning(runs.c.id)
        ).scalar_one()
    )


def _finish(conn: Connection, run_id: int, emitted: dict[str, int]) -> None:
    runs = table_of(Run)
    conn.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(status="succeeded", emitted=emitted, finished_at=_now())
    )


def evaluate(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    job: str = "manual",
    now: datetime | None = None,
    workers: int = 1,
    partitions: int | None = None,
    progress: Progress | None = None,
    *,
    playbook_named: bool = True,
    forward_only: bool = False,
) -> RunResult:
    """Run every section of the playbook as of a date; see the module doc for workers.

    `playbook_named`: the user chose this playbook for this run (`--playbook`); otherwise a
    playbook other than the last evaluation's is refused. `forward_only`: refuse an as-of date
    before the latest evaluated one (a manual `evaluate`). See run/pinning.py."""
    clock = datetime.now(UTC)
    started = (now or clock).astimezone(UTC).replace(tzinfo=None)
    guard = {"playbook_named": playbook_named, "forward_only": forward_only}
    if workers > 1 or partitions:
        parts = partitions or 4 * workers
        run_id = start_partitioned(engine, playbook, as_of, parts, job, started, **guard)
        run_workers(engine, playbook, run_id, workers, progress)
    else:
        with engine.begin() as conn:
            _lock(conn, shared=False)
            check_tables(conn, playbook)
            pinning.check(conn, playbook, as_of, **guard)
            run_id = _start(conn, playbook, as_of, job, started)
            ctx = EvalContext(conn, playbook, as_of, run_id)
            _families(ctx, progress)
            _finish(conn, run_id, {k: int(v) for k, v in sorted(ctx.counts.items())})
        crash_point("committed")
    seconds = (datetime.now(UTC) - clock).total_seconds()
    with engine.connect() as conn:
        runs, customers_table = table_of(Run), table_of(Customer)
        emitted = conn.execute(sa.select(runs.c.emitted).where(runs.c.id == run_id)).scalar()
        customers = conn.execute(
            sa.select(sa.func.count())
            .select_from(customers_table)
            .where(customers_table.c.deleted == sa.false())
        ).scalar_one()
        notes = pinning.notes(conn, run_id)
    return RunResult(run_id, as_of, dict(emitted or {}), seconds, int(customers), notes)


TASK_COLUMNS = ["rule", "subject_type", "subject_id", "assignee_id", "due", "title"]
ALERT_COLUMNS = ["rule", "subject_type", "subject_id", "recipient_id", "level", "message"]


@dataclass
class Replay:
    """What an evaluation as of a day would have emitted; nothing of it was stored."""

    as_of: date
    emitted: dict[str, int]
    tasks: list[dict[str, Any]]  # TASK_COLUMNS
    alerts: list[dict[str, Any]]  # ALERT_COLUMNS
    notes: list[str] = field(default_factory=list)


def replay(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    progress: Progress | None = None,
    *,
    playbook_named: bool = True,
) -> Replay:
    """Evaluate as of any day, earlier ones included, in one transaction that is rolled back:
    the tasks and alerts the run would emit, and its counts. Nothing stored changes (on
    PostgreSQL the id sequences the rows drew from stay advanced: sequences never roll back).
    The playbook is checked as for a run: another than the last evaluation's must be named."""
    tasks, alerts = table_of(Task), table_of(Alert)

    def look(ctx: EvalContext, emitted: dict[str, int]) -> Replay:
        return Replay(
            as_of,
            emitted,
            _rows(ctx.conn, tasks, TASK_COLUMNS, ctx.run_id),
            _rows(ctx.conn, alerts, ALERT_COLUMNS, ctx.run_id),
            pinning.notes(ctx.conn, ctx.run_id),
        )

    return rolled_back(engine, playbook, as_of, look, progress, playbook_named=playbook_named)


def rolled_back(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    look: Callable[[EvalContext, dict[str, int]], Seen],
    progress: Progress | None = None,
    *,
    playbook_named: bool = True,
) -> Seen:
    """Evaluate in one transaction, hand `look` the run's context (its connection sees every
    row the run wrote) and its counts, then roll back: what look returns is all that is left.
    A process killed half way leaves nothing either: its transaction never commits."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            _lock(conn, shared=False)
            check_tables(conn, playbook)
            pinning.check(conn, playbook, as_of, playbook_named=playbook_named, forward_only=False)
            run_id = _start(conn, playbook, as_of, "replay", _now())
            ctx = EvalContext(conn, playbook, as_of, run_id)
            _families(ctx, progress)
            emitted = {k: int(v) for k, v in sorted(ctx.counts.items())}
            _finish(conn, run_id, emitted)
            found = look(EvalContext(conn, playbook, as_of, run_id), emitted)
        finally:
            transaction.rollback()
    return found


def _rows(
    conn: Connection, table: sa.Table, columns: list[str], run_id: int
) -> list[dict[str, Any]]:
    query = sa.select(*[table.c[c] for c in columns]).where(table.c.run_id == run_id)
    order = [table.c[c] for c in ("subject_type", "subject_id", "rule")]
    return [dict(r) for r in conn.execute(query.order_by(*order, table.c.id)).mappings()]


def start_partitioned(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    parts: int,
    job: str,
    started: datetime,
    *,
    playbook_named: bool = True,
    forward_only: bool = False,
) -> int:
    """Record the run and its pending partitions (committed), ready for workers to claim."""
    if parts < 1:
        raise SalesplayError("--partitions must be at least 1")
    with engine.begin() as conn:
        check_tables(conn, playbook)
        pinning.check(
            conn, playbook, as_of, playbook_named=playbook_named, forward_only=forward_only
        )
        run_id = _start(conn, playbook, as_of, job, started)
        conn.execute(
            sa.insert(table_of(EvalPartition)),
            [
                {"run_id": run_id, "part": p, "parts": parts, "status": "pending"}
                for p in [*range(parts), FINAL]
            ],
        )
    return run_id


def run_workers(
    engine: Engine, playbook: Playbook, run_id: int, workers: int, progress: Progress | None = None
) -> None:
    """Work on a run with `workers` processes (this one included) until it is complete."""
    url = engine.url.render_as_string(hide_password=False)
    context = multiprocessing.get_context("spawn")
    helpers = [
        context.Process(target=_worker_process, args=(url, playbook, run_id), daemon=True)
        for _ in range(workers - 1)
    ]
    for helper in helpers:
        helper.start()
    engine.dispose()  # connections are not shared with children
    work(engine, playbook, run_id, progress)
    for helper in helpers:
        helper.join()
    # A helper that died left its partition pending: finish whatever is left here.
    work(engine, playbook, run_id, progress)
    with engine.connect() as conn:
        runs = table_of(Run)
        status = conn.execute(sa.select(runs.c.status).where(runs.c.id == run_id)).scalar()
    if status != "succeeded":
        raise SalesplayError(f"run {run_id} did not complete (status {status})")


def _worker_process(url: str, playbook: Playbook, run_id: int) -> None:
    """A helper process: the playbook arrives whole (pickled), families and all."""
    work(db.connect(url, create=False), playbook, run_id)


def work(engine: Engine, playbook: Playbook, run_id: int, progress: Progress | None = None) -> int:
    """Claim and evaluate partitions of a run until none is left; then the final step if this
    worker is the one that sees every partition done. Returns how many steps it ran."""
    with engine.connect() as conn:
        run = conn.execute(sa.select(Run).where(Run.id == run_id)).first()  # type: ignore[arg-type]
    if run is None:
        raise SalesplayError(f"no run {run_id}")
    if run.playbook_hash != playbook.content_hash:
        raise SalesplayError(
            f"run {run_id} evaluates playbook {run.playbook_hash}, not this "
            f"one ({playbook.content_hash}): use the same playbook"
        )
    done = 0
    while _step(engine, playbook, run.as_of, run_id, final=False, progress=progress):
        done += 1
    if _step(engine, playbook, run.as_of, run_id, final=True, progress=progress):
        done += 1
    return done


def _step(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    run_id: int,
    final: bool,
    progress: Progress | None,
) -> bool:
    parts = table_of(EvalPartition)
    with engine.begin() as conn:
        _lock(conn, shared=True)
        pending = sa.and_(parts.c.run_id == run_id, parts.c.status == "pending")
        claim = sa.select(parts.c.id, parts.c.part, parts.c.parts).where(
            pending, parts.c.part == FINAL if final else parts.c.part != FINAL
        )
        if final:
            others = parts.alias("others")
            claim = claim.where(
                ~sa.exists().where(
                    others.c.run_id == run_id, others.c.status == "pending", others.c.part != FINAL
                )
            )
        claim = claim.order_by(parts.c.part).limit(1)
        claim = dialects.of(conn).skip_locked(claim)
        row = conn.execute(claim).first()
        if row is None:
            return False
        stage = "final" if final else "customers"
        partition = None if final else Partition(row.part, row.parts)
        ctx = EvalContext(conn, playbook, as_of, run_id, partition=partition, stage=stage)
        _families(ctx, progress)
        emitted = {k: int(v) for k, v in sorted(ctx.counts.items())}
        conn.execute(
            parts.update()
            .where(parts.c.id == row.id)
            .values(
                status="done",
                emitted=emitted,
                finished_at=_now(),
                worker=f"{socket.gethostname()}:{os.getpid()}",
            )
        )
        if final:
            total: Counter[str] = Counter()
            for (counts,) in conn.execute(
                sa.select(parts.c.emitted).where(parts.c.run_id == run_id)
            ):
                total.update(counts or {})
            _finish(conn, run_id, dict(sorted(total.items())))
        if progress:
            progress(f"partition {'final' if final else row.part + 1}/{row.parts}")
        return True
