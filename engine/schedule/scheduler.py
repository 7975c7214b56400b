"""Running jobs at their slots: one pass (`tick`) and the daemon loop (`serve`).

The database decides which runs happen. Each (job, slot) is one `runs` row under a unique key,
claimed with INSERT … ON CONFLICT DO NOTHING; a partial unique index allows one running row per
job. Whoever inserts the running row evaluates the slot; everyone else moves on. So any number
of `tick` processes and daemons may share a database and no slot ever runs twice.

A claim carries a lease (`lease_until`), the claimant's host and pid. A running row is taken
over only when its claimant is dead: its lease has expired (on PostgreSQL a heartbeat renews
it while the evaluation runs), or it was claimed on this host by a pid that no longer exists.
On SQLite the evaluation's write transaction holds the only write lock, so no heartbeat can
renew the lease: there the lease is long (an hour) and the host/pid check is what frees a
killed run at once.

The playbook is pinned (run/pinning.py): a pass whose playbook is another than the last
evaluation's, and was not named by the user (`playbook_named`), is refused before it claims or
records anything.

Time is passed in: every function takes `now` (or a clock), never reads the system clock.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.run import pinning
from salesplay.engine.run.evaluate import evaluate_in
from salesplay.engine.run.family import Playbook
from salesplay.engine.schedule.jobs import Job, jobs, restrict
from salesplay.engine.store import db, dialects
from salesplay.engine.store.crash import crash_point
from salesplay.engine.store.models import Run, table_of

MAX_POLL = 60.0  # the daemon looks again at least this often (stale claims, retries)
MISSED_KEPT = 1000  # after a very long downtime, only this many newest missed slots are listed
FIRST_LOOKBACK = timedelta(days=1)


@dataclass
class Outcome:
    """What a pass did with one slot."""

    job: str
    slot: datetime
    status: str  # succeeded / failed / missed / skipped / taken (another process has it)
    run_id: int | None = None
    emitted: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    notes: list[str] = field(default_factory=list)  # the playbook changed since the last run


class Clock:
    """The scheduler's idea of now: the system clock, or a given start that advances with it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = (start - datetime.now(UTC)) if start else timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def _aware(stored: datetime | None) -> datetime | None:
    return stored.replace(tzinfo=UTC) if stored is not None else None


def _alive(host: str | None, pid: int | None) -> bool:
    """False only when the claimant was on this host and its process is gone."""
    if host != socket.gethostname() or pid is None:
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class Scheduler:
    """Runs a playbook's jobs against one database; `now` always comes from the caller."""

    engine: Engine
    playbook: Playbook
    lease: timedelta | None = None
    clock: Callable[[], datetime] | None = None  # for timestamps taken during a long run
    should_stop: Callable[[], bool] = lambda: False
    on_outcome: Callable[[Outcome], None] | None = None
    # The user chose this playbook for this process (`--playbook`): it may replace the last
    # evaluation's. Otherwise another playbook than that one is refused (check_playbook).
    playbook_named: bool = True

    def __post_init__(self) -> None:
        self.lease = self.lease or dialects.of(self.engine).run_lease
        self.host = socket.gethostname()
        self.pid = os.getpid()

    # ---- one pass -----------------------------------------------------------------------

    def check_playbook(self) -> None:
        """Refuse (SalesplayError) to run another playbook than the last evaluation's unless
        it was named; nothing is claimed or recorded."""
        with self.engine.connect() as conn:
            pinning.check_playbook(conn, self.playbook, self.playbook_named)

    def tick(self, now: datetime) -> list[Outcome]:
        """Run whatever is due at `now`: stale claims first, then each job's slots. The
        playbook is checked first (check_playbook): a refusal leaves the ledger untouched."""
        self.check_playbook()
        out: list[Outcome] = []
        for job in jobs(self.playbook):
            if self.should_stop():
                break
            try:
                out.extend(self._job(job, now))
            except Exception as exc:  # one job's failure never stops the others
                failed = Outcome(job.name, now, "failed", error=_reason(exc))
                if self.on_outcome:
                    self.on_outcome(failed)
                out.append(failed)
        return out

    def _job(self, job: Job, now: datetime) -> list[Outcome]:
        out = self._reclaim(job, now)
        due = self._due_slots(job, now)
        expired = [
            s for s in due if job.starting_deadline is not None and now - s > job.starting_deadline
        ]
        fresh = [s for s in due if s not in expired]
        keep = 1 if job.catchup == "latest" else job.max_catchup
        to_run = fresh[-keep:] if fresh else []
        missed = [s for s in due if s not in to_run]
        self._record(job, missed, "missed", now)
        out.extend(Outcome(job.name, s, "missed") for s in missed)
        for slot in to_run:
            if self.should_stop():
                break
            outcome = self._claim_and_run(job, slot, now)
            out.append(outcome)
            if outcome.status == "waiting":
                break
        for outcome in out:
            if self.on_outcome:
                self.on_outcome(outcome)
        return out

    def _due_slots(self, job: Job, now: datetime) -> list[datetime]:
        runs = table_of(Run)
        with self.engine.connect() as conn:
            last = conn.execute(
                sa.select(sa.func.max(runs.c.slot)).where(runs.c.job == job.name)
            ).scalar()
        if last is not None:
            return job.fires_between(_aware(last) or now, now, MISSED_KEPT)
        # A job never seen before: only its newest slot of the last day counts (a daemon
        # started at 15:00 still runs today's 08:00; last week's Monday meeting is history).
        return job.fires_between(now - FIRST_LOOKBACK, now, 1)

    def _record(self, job: Job, slots: list[datetime], status: str, now: datetime) -> None:
        if not slots:
            return
        runs = table_of(Run)
        rows = [
            {
                "job": job.name,
                "slot": _naive(s),
                "as_of": job.as_of(s),
                "started_at": _naive(now),
                "finished_at": _naive(now),
                "playbook_path": self.playbook.origin or self.playbook.path,
                "playbook_hash": self.playbook.content_hash,
                "salesplay_version": db.release(),
                "status": status,
                "emitted": {},
            }
            for s in slots
        ]
        with self.engine.begin() as conn:
            conn.execute(dialects.upsert(runs, conn).on_conflict_do_nothing(), rows)

    # ---- claiming ------------------------------------------------------------------------

    def _claim_and_run(self, job: Job, slot: datetime, now: datetime) -> Outcome:
        runs = table_of(Run)
        owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
        with self.engine.begin() as conn:
            if self._overlaps(conn, job, slot):
                self._insert(conn, job, slot, now, "skipped", None)
                return Outcome(job.name, slot, "skipped")
            run_id = self._insert(conn, job, slot, now, "running", owner)
            if run_id is None:
                mine = conn.execute(
                    sa.select(runs.c.id).where(runs.c.job == job.name, runs.c.slot == _naive(slot))
                ).scalar()
                if mine is not None:
                    return Outcome(job.name, slot, "taken", mine)
                if self._overlaps(conn, job, slot):
                    self._insert(conn, job, slot, now, "skipped", None)
                    return Outcome(job.name, slot, "skipped")
                # Another slot of the job is running and started after this slot came (a
                # catch-up in progress elsewhere): leave this one for later.
                return Outcome(job.name, slot, "waiting")
        crash_point("claimed")
        return self._evaluate(job, run_id, slot, owner, now)

    def _overlaps(self, conn: Connection, job: Job, slot: datetime) -> bool:
        """Whether the slot came while another run of the job was running."""
        runs = table_of(Run)
        at = _naive(slot)
        return (
            conn.execute(
                sa.select(runs.c.id)
                .where(
                    runs.c.job == job.name,
                    runs.c.slot != at,
                    runs.c.status.in_(["running", "succeeded", "failed"]),
                    runs.c.started_at <= at,
                    sa.or_(runs.c.status == "running", runs.c.finished_at > at),
                )
                .limit(1)
            ).first()
            is not None
        )

    def _insert(
        self,
        conn: Connection,
        job: Job,
        slot: datetime,
        now: datetime,
        status: str,
        owner: str | None,
    ) -> int | None:
        runs = table_of(Run)
        assert self.lease is not None
        values: dict[str, Any] = {
            "job": job.name,
            "slot": _naive(slot),
            "as_of": job.as_of(slot),
            "started_at": _naive(now),
            "playbook_path": self.playbook.origin or self.playbook.path,
            "playbook_hash": self.playbook.content_hash,
            "salesplay_version": db.release(),
            "status": status,
        }
        if owner:
            values.update(
                owner=owner,
                host=self.host,
                pid=self.pid,
                lease_until=_naive(now + self.lease),
                attempts=1,
            )
        else:
            values.update(finished_at=_naive(now), emitted={})
        statement = (
            dialects.upsert(runs, conn)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(runs.c.id)
        )
        found = conn.execute(statement).scalar()
        return int(found) if found is not None else None

    def _reclaim(self, job: Job, now: datetime) -> list[Outcome]:
        """Take over running rows whose claimant is dead, and run them."""
        runs = table_of(Run)
        out: list[Outcome] = []
        with self.engine.begin() as conn:
            query = sa.select(runs).where(runs.c.job == job.name, runs.c.status == "running")
            query = dialects.of(conn).skip_locked(query)
            stale = [
                row
                for row in conn.execute(query).mappings()
                if row["lease_until"] is None
                or _aware(row["lease_until"]) < now  # type: ignore[operator]
                or not _alive(row["host"], row["pid"])
            ]
            taken = []
            assert self.lease is not None
            for row in stale:
                owner = f"{self.host}:{self.pid}:{uuid.uuid4().hex[:8]}"
                done = conn.execute(
                    runs.update()
                    .where(runs.c.id == row["id"], runs.c.owner.is_not_distinct_from(row["owner"]))
                    .values(
                        owner=owner,
                        host=self.host,
                        pid=self.pid,
                        lease_until=_naive(now + self.lease),
                        attempts=runs.c.attempts + 1,
                    )
                    .execution_options(preserve_rowcount=True)
                ).rowcount
                if done:
                    taken.append((row, owner))
        for row, owner in taken:
            slot = _aware(row["slot"])
            assert slot is not None
            out.append(self._evaluate(job, row["id"], slot, owner, now))
        return out

    # ---- evaluating ------------------------------------------------------------------------

    def _now(self, fallback: datetime) -> datetime:
        return self.clock() if self.clock else fallback

    def _evaluate(
        self, job: Job, run_id: int, slot: datetime, owner: str, now: datetime
    ) -> Outcome:
        """Evaluate a claimed slot in one transaction that also marks it succeeded."""
        runs = table_of(Run)
        book = restrict(self.playbook, job.rules)
        heartbeat = None
        if dialects.of(self.engine).heartbeat:
            heartbeat = self._heartbeat(run_id, owner, now)
        try:
            with self.engine.begin() as conn:
                emitted = evaluate_in(conn, book, job.as_of(slot), run_id)
                finished = conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.owner == owner, runs.c.status == "running")
                    .values(
                        status="succeeded",
                        emitted=emitted,
                        finished_at=_naive(self._now(now)),
                        lease_until=None,
                    )
                    .execution_options(preserve_rowcount=True)
                ).rowcount
                if not finished:  # our claim was taken over: roll everything back
                    raise LostClaim(f"run {run_id}: the claim was taken over")
                notes = pinning.notes(conn, run_id)
        except LostClaim as exc:
            return Outcome(job.name, slot, "taken", run_id, error=str(exc))
        except Exception as exc:
            reason = _reason(exc)
            with self.engine.begin() as conn:
                conn.execute(
                    runs.update()
                    .where(runs.c.id == run_id, runs.c.owner == owner, runs.c.status == "running")
                    .values(
                        status="failed",
                        error=reason,
                        finished_at=_naive(self._now(now)),
                        lease_until=None,
                    )
                )
            return Outcome(job.name, slot, "failed", run_id, error=reason)
        finally:
            if heartbeat:
                heartbeat.set()
        crash_point("committed")
        return Outcome(job.name, slot, "succeeded", run_id, emitted, notes=notes)

    def _heartbeat(self, run_id: int, owner: str, started: datetime) -> threading.Event:
        """Renew the lease every third of its length until the returned event is set; the time
        is `started` plus the time elapsed since (or the scheduler's clock)."""
        stop = threading.Event()
        ticks = time.monotonic()
        assert self.lease is not None
        lease = self.lease
        runs = table_of(Run)

        def beat() -> None:
            while not stop.wait(lease.total_seconds() / 3):
                now = self._now(started + timedelta(seconds=time.monotonic() - ticks))
                try:
                    with self.engine.begin() as conn:
                        conn.execute(
                            runs.update()
                            .where(
                                runs.c.id == run_id,
                                runs.c.owner == owner,
                                runs.c.status == "running",
                            )
                            .values(lease_until=_naive(now + lease))
                        )
                except Exception:  # a missed beat only shortens the lease; the next one retries
                    continue

        threading.Thread(target=beat, daemon=True, name=f"heartbeat-{run_id}").start()
        return stop

    # ---- the daemon ------------------------------------------------------------------------

    def next_wake(self, now: datetime) -> datetime | None:
        """The earliest next slot of any job."""
        nexts = []
        for job in jobs(self.playbook):
            try:
                nexts += job.fires(now, 1)
            except Exception:  # its failure is reported by the pass (tick), not here
                continue
        return min(nexts) if nexts else None


def _reason(exc: Exception) -> str:
    """An exception as the ledger and the outcome line record it: its class and first line."""
    return f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc) else ''}"


class LostClaim(Exception):
    """Our claim on a run was taken over (our lease expired): the evaluation must not commit."""


def serve(
    scheduler: Scheduler,
    clock: Callable[[], datetime],
    sleep: Callable[[float], bool],
    after_pass: Callable[[datetime], float | None] | None = None,
) -> None:
    """The daemon: a pass, then sleep until the next slot (at most MAX_POLL seconds), until
    `sleep` returns True (asked to stop). `after_pass` (the dispatcher) may ask to wake sooner."""
    while not scheduler.should_stop():
        now = clock()
        scheduler.tick(now)
        if scheduler.should_stop():
            return
        sooner = after_pass(clock()) if after_pass else None
        now = clock()
        wake = scheduler.next_wake(now)
        seconds = MAX_POLL if wake is None else min(MAX_POLL, (wake - now).total_seconds())
        if sooner is not None:
            seconds = min(seconds, sooner)
        if sleep(max(seconds, 0.0)):
            return


LEDGER_COLUMNS = [
    "id",
    "job",
    "slot",
    "status",
    "started_at",
    "finished_at",
    "as_of",
    "playbook_path",
    "playbook_hash",
    "emitted",
]


def runs_ledger(engine: Engine, job: str | None = None, iso: bool = True) -> list[dict[str, Any]]:
    """The run ledger, slots and times as ISO 8601 with offsets (iso=False: as UTC datetimes,
    for a table that shows them in the playbook's zone)."""
    runs = table_of(Run)
    query = sa.select(
        runs.c.id,
        runs.c.job,
        runs.c.slot,
        runs.c.status,
        runs.c.started_at,
        runs.c.finished_at,
        runs.c.as_of,
        runs.c.playbook_path,
        runs.c.playbook_hash,
        runs.c.emitted,
    ).order_by(runs.c.id)
    if job is not None:
        query = query.where(runs.c.job == job)
    with engine.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    for row in rows:
        for key in ("slot", "started_at", "finished_at"):
            if row[key] is not None:
                moment = row[key].replace(tzinfo=UTC)
                row[key] = moment.isoformat() if iso else moment
        row["emitted"] = dict(row["emitted"] or {})
    return rows
