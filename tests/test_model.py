"""Model-based: a Hypothesis state machine drives a database through what happens to it in
production (the clock moves, records change, a task is closed, an alert snoozed or
acknowledged, a manager sets a grade, the scheduler ticks, a tick is killed at a random crash
point and restarted) beside a twin that gets the same steps without the kills.

After every step: each dedupe key (rule, subject_type, subject, episode, seq) appears at most
once, and the stored tasks, alerts and grades, statuses included, equal the twin's: a kill
and its restart leave what the same steps without a kill leave. At the end, one more slot
after the last change (quiescence): the grades equal those of a new database given only the
final records and manual grades and evaluated once, as of the final date (tasks and alerts
carry history, done and snoozed, that a single evaluation cannot have; the twin covers them).
SQLite, bounded, marked slow;
`SALESPLAY_CHAOS=long` runs more and longer examples.
"""

from __future__ import annotations

import os
import signal
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from sqlalchemy.engine import Engine

from salesplay.engine.present.queries import complete_task
from salesplay.engine.run import alert_status
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.schedule.scheduler import Scheduler
from salesplay.engine.store import db
from salesplay.rules.grading import set_manual_grade
from tests.conftest import load, load_playbook, rows
from tests.engine.store.test_crash import seed_team
from tests.test_chaos import TICK_POINTS, in_child

LONG = os.environ.get("SALESPLAY_CHAOS") == "long"
BOOK = """\
extends: default
jobs:
  weekly_goals: null
  daily: {cron: "0 8 * * *", rules: [grading, follow_up, warnings]}
"""
STATE = """
select 'task' as kind, rule, subject_type, subject_id, episode, seq, status, null as until
from tasks
union all
select 'alert', rule, subject_type, subject_id, episode, seq, status, snoozed_until from alerts
union all
select 'grade', 'grade', 'customer', customer_id, grade, 0, source, null from grades
order by 1, 2, 3, 4, 5, 6
"""
TWICE = """
select rule, subject_type, subject_id, episode, seq, count(*) as n from (
  select rule, subject_type, subject_id, episode, seq from tasks
  union all
  select rule, subject_type, subject_id, episode, seq from alerts
) group by 1, 2, 3, 4, 5 having count(*) > 1
"""


class Crashes(RuleBasedStateMachine):
    """`real` is killed; `twin` is not; every other step happens to both."""

    tmp: Path
    killed = 0  # over every example: the test checks the kills did happen
    steps = 0

    @initialize()
    def start(self) -> None:
        self.folder = folder = Path(tempfile.mkdtemp(dir=Crashes.tmp))
        (folder / "book.yaml").write_text(BOOK, "utf-8")
        self.book = load_playbook(str(folder / "book.yaml"))
        self.url = f"sqlite:///{folder / 'real.db'}"
        self.real = db.connect(self.url)
        self.twin = db.connect(f"sqlite:///{folder / 'twin.db'}")
        self.now = datetime(2024, 7, 1, 1, 0, tzinfo=UTC)
        self.customers = 0
        for engine in self.both:
            seed_team(engine)
        self.add_customers(3, 5)

    @property
    def both(self) -> tuple[Engine, Engine]:
        return self.real, self.twin

    @property
    def today(self) -> date:
        return (self.now + timedelta(hours=8)).date()  # the playbook's Asia/Shanghai

    def add_customers(self, count: int, age: int) -> None:
        new = [
            {
                "id": f"C{self.customers + i}",
                "name": f"客户{self.customers + i}",
                "owner_id": "R1",
                "org_unit_id": "SH",
                "created_on": (self.today - timedelta(days=age)).isoformat(),
            }
            for i in range(count)
        ]
        self.customers += count
        for engine in self.both:
            load(engine, "customers", new)

    @rule(days=st.integers(1, 4))
    def advance_clock(self, days: int) -> None:
        day = self.today + timedelta(days=days)
        self.now = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)

    @rule(count=st.integers(1, 3), age=st.integers(0, 30))
    def import_new_customers(self, count: int, age: int) -> None:
        self.add_customers(count, age)

    @rule(pick=st.integers(0, 10_000), age=st.integers(0, 60))
    def import_a_changed_customer(self, pick: int, age: int) -> None:
        cid = f"C{pick % self.customers}"
        changed = {
            "id": cid,
            "name": f"客户{cid}",
            "owner_id": "R1",
            "org_unit_id": "SH",
            "created_on": (self.today - timedelta(days=age)).isoformat(),
        }
        for engine in self.both:
            load(engine, "customers", [changed])

    @rule(pick=st.integers(0, 10_000))
    def close_a_task(self, pick: int) -> None:
        keys = rows(
            self.real,
            "select rule, subject_id, episode, seq from tasks where status = 'open' "
            "order by 1, 2, 3, 4",
        )
        if keys:
            key = keys[pick % len(keys)]
            for engine in self.both:
                [found] = rows(
                    engine,
                    "select id from tasks where rule = :rule and subject_id = :subject_id "
                    "and episode = :episode and seq = :seq",
                    **key,
                )
                complete_task(engine, found["id"], "done", self.today)

    @rule(pick=st.integers(0, 10_000), snooze=st.booleans(), days=st.integers(1, 5))
    def snooze_or_acknowledge_an_alert(self, pick: int, snooze: bool, days: int) -> None:
        keys = rows(
            self.real,
            "select rule, subject_id, episode, seq from alerts where status = 'open' "
            "order by 1, 2, 3, 4",
        )
        if keys:
            key = keys[pick % len(keys)]
            for engine in self.both:
                [found] = rows(
                    engine,
                    "select id from alerts where rule = :rule and subject_id = :subject_id "
                    "and episode = :episode and seq = :seq",
                    **key,
                )
                if snooze:
                    alert_status.snooze(engine, found["id"], self.today + timedelta(days=days))
                else:
                    alert_status.acknowledge(engine, found["id"], self.today)

    @rule(pick=st.integers(0, 10_000), grade=st.sampled_from(["A", "B", "C"]))
    def set_a_manual_grade(self, pick: int, grade: str) -> None:
        cid = f"C{pick % self.customers}"
        for engine in self.both:
            with engine.begin() as conn:
                set_manual_grade(conn, self.book, cid, grade, "R1", "model", None, self.today)

    def _tick(self, engine: Engine) -> None:
        Scheduler(engine, self.book).tick(self.now)

    @rule(kill=st.tuples(st.sampled_from(TICK_POINTS[:4]), st.integers(1, 2)) | st.none())
    def tick(self, kill: tuple[str, int] | None = None) -> None:
        if kill:  # half the ticks are killed: every example sees kills
            self.crash_and_restart(*kill)
            return
        for engine in self.both:
            self._tick(engine)
        self.now += timedelta(minutes=10)

    @rule(point=st.sampled_from(TICK_POINTS[:4]), n=st.integers(1, 2))
    def crash_and_restart(self, point: str, n: int) -> None:
        self.advance_clock(1)  # a new day: a slot to claim, so the point is on the way
        now, url, book = self.now, self.url, self.book
        armed = f"{point}:{n}" if point == "evaluating" else point  # the others pass once a tick
        code = in_child(lambda: Scheduler(db.connect(url), book).tick(now), armed)
        assert code in (0, -signal.SIGKILL)
        Crashes.killed += code == -signal.SIGKILL
        self.now += timedelta(minutes=10)
        self._tick(self.real)  # the restart: takes over a dead claim, or finds nothing to do
        self._tick(self.twin)

    @invariant()
    def each_dedupe_key_once_and_the_same_as_without_kills(self) -> None:
        if not hasattr(self, "real"):
            return
        Crashes.steps += 1
        assert rows(self.real, TWICE) == []
        assert rows(self.real, STATE) == rows(self.twin, STATE)
        assert {r["status"] for r in rows(self.real, "select status from runs")} <= {
            "succeeded",
            "missed",
            "skipped",
        }

    def single_clean_evaluation(self) -> Engine:
        """A new database given the final records and manual grades, evaluated once, as of
        the final date."""
        fresh = db.connect(f"sqlite:///{self.folder / 'fresh.db'}")
        seed_team(fresh)
        customers = "select id, name, owner_id, org_unit_id, created_on from customers"
        load(
            fresh,
            "customers",
            [{k: str(v) for k, v in r.items()} for r in rows(self.real, customers)],
        )
        overrides = "select * from grade_overrides order by id"
        for o in rows(self.real, overrides):
            with fresh.begin() as conn:
                set_manual_grade(
                    conn,
                    self.book,
                    o["customer_id"],
                    o["grade"],
                    o["set_by"],
                    o["reason"],
                    None,
                    date.fromisoformat(str(o["set_on"])),
                )
        evaluate(fresh, self.book, self.today)
        return fresh

    def teardown(self) -> None:
        if hasattr(self, "real"):
            self.advance_clock(1)  # quiescence: one more slot, after the last change
            self.tick()
            fresh = self.single_clean_evaluation()
            grades = "select customer_id, grade, source from grades order by 1"
            assert rows(self.real, grades) == rows(fresh, grades)
            fresh.dispose()
            assert rows(self.real, "pragma integrity_check") == [{"integrity_check": "ok"}]
            self.real.dispose()
            self.twin.dispose()


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_kills_and_restarts_leave_what_the_same_steps_without_kills_leave(tmp_path: Path) -> None:
    Crashes.tmp = tmp_path
    run: Any = Crashes.TestCase
    run.settings = settings(
        max_examples=40 if LONG else 6,
        stateful_step_count=30 if LONG else 12,
        deadline=None,
        derandomize=not LONG,
        # shrinking replays dozens of database histories: minutes; the long run keeps it
        phases=list(Phase) if LONG else [Phase.explicit, Phase.reuse, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    run().runTest()
    assert Crashes.killed > 0
    print(f"\nmodel: {Crashes.steps} checked states, {Crashes.killed} kills")
