"""One evaluation is one transaction: a failure or a kill leaves nothing behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from importlib.metadata import version
from pathlib import Path
from typing import ClassVar

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store import db
from salesplay.rules import FAMILIES
from tests.conftest import load, load_playbook, rows, run

OUTPUT_TABLES = ("runs", "grades", "grade_changes", "episodes", "tasks", "alerts")


def counts(engine: Engine) -> dict[str, int]:
    return {t: rows(engine, f"select count(*) as n from {t}")[0]["n"] for t in OUTPUT_TABLES}


def seed(engine: Engine) -> None:
    load(
        engine,
        "customers",
        # created 30 days before the runs below: never contacted, but not yet idle for the
        # default playbook's shared pool (60 days)
        [{"id": "C1", "name": "客户一", "owner_id": "R1", "created_on": "2024-06-01"}],
    )


class Exploding:
    """A rule family that fails after the real families have written their rows."""

    section = "grading"
    schema: ClassVar[dict[str, object]] = {}
    settings_only = False
    tables = ()
    subjects: ClassVar[dict[str, object]] = {}
    commands = ()

    def rule_names(self, playbook: object) -> list[str]:
        return [self.section]

    def check(self, playbook: object) -> None: ...

    def run(self, ctx: object) -> None:
        raise RuntimeError("disk full")

    def explain(self, ctx: object, subject_type: str, subject_id: str) -> list[object]:
        return []


def test_a_failed_evaluation_leaves_nothing(org: Engine) -> None:
    seed(org)
    book = load_playbook("default", [*FAMILIES, Exploding()])  # type: ignore[list-item]
    with pytest.raises(RuntimeError, match="disk full"):
        run(org, "2024-07-01", book)
    assert counts(org) == dict.fromkeys(OUTPUT_TABLES, 0)


def test_the_ledger_records_the_run(org: Engine) -> None:
    seed(org)
    result = run(org, "2024-07-01")
    ledger = rows(org, "select * from runs")
    assert len(ledger) == 1
    assert str(ledger[0]["as_of"]) == "2024-07-01"
    assert ledger[0]["status"] == "succeeded"
    assert ledger[0]["playbook_path"] == "default"  # a bundled playbook by its name
    assert len(ledger[0]["playbook_hash"]) == 16
    assert ledger[0]["salesplay_version"] == version("salesplay")  # the release that ran it
    # the follow-up task (due 06-01) and, 30 days late, a help task for R1's manager M1
    assert result.emitted == {"alerts": 1, "grade_changes": 1, "tasks": 2}


KILLED = textwrap.dedent("""
    import sys, time
    from pathlib import Path
    from datetime import date
    from salesplay.engine import loader
    from salesplay.engine.run.evaluate import evaluate
    from salesplay.engine.store import db
    from salesplay.rules import FAMILIES

    class Stall:
        section = "grading"
        schema = {}
        settings_only = False
        tables = subjects = commands = ()
        def rule_names(self, playbook): return [self.section]
        def check(self, playbook): pass
        def explain(self, ctx, subject_type, subject_id): return []
        def run(self, ctx):
            Path(sys.argv[2]).write_text("written")
            time.sleep(60)

    book = loader.load("default", [*FAMILIES, Stall()])
    evaluate(db.connect(sys.argv[1]), book, date(2024, 7, 1))
""")


def test_a_killed_evaluation_leaves_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'killed.db'}"
    engine = db.connect(url)
    load(engine, "org_units", [{"id": "SH", "name": "上海", "parent_id": "", "kind": "city"}])
    load(
        engine,
        "reps",
        [
            {
                "id": "R1",
                "name": "张伟",
                "org_unit_id": "SH",
                "manager_id": "",
                "hired_on": "",
                "exam_score": "",
                "active": "",
            }
        ],
    )
    seed(engine)
    marker = tmp_path / "marker"
    script = tmp_path / "stall.py"
    script.write_text(KILLED)
    proc = subprocess.Popen(
        [sys.executable, str(script), url, str(marker)],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[3].parent)},
    )
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "the evaluation never reached the stalling family"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert counts(engine) == dict.fromkeys(OUTPUT_TABLES, 0)
    run(engine, "2024-07-01")  # and the database is usable at once (no stale lock)
    assert counts(engine)["tasks"] == 1


def test_two_evaluations_at_once_emit_once(org: Engine) -> None:
    import threading

    load(
        org,
        "customers",
        [
            {"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1", "created_on": "2024-06-01"}
            for i in range(50)
        ],
    )
    errors: list[BaseException] = []

    def evaluate_once() -> None:
        try:
            run(org, "2024-07-01")
        except BaseException as exc:  # collected and re-raised in the test thread
            errors.append(exc)

    threads = [threading.Thread(target=evaluate_once) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    found = counts(org)
    # 50 follow-up tasks and 50 help tasks for R1's manager (each task 30 days late)
    assert (found["runs"], found["tasks"], found["alerts"], found["grade_changes"]) == (
        2,
        100,
        50,
        50,
    )


def test_a_family_whose_table_no_migration_made_is_refused_before_the_run(org: Engine) -> None:
    class Visit:  # what the check reads of a family's table: its name
        __tablename__ = "toy_visits"

    class Writes(Exploding):
        tables = (Visit,)

    seed(org)
    book = load_playbook("default", [*FAMILIES, Writes()])  # type: ignore[list-item]
    with pytest.raises(SalesplayError) as caught:
        run(org, "2024-07-01", book)
    assert str(caught.value) == (
        "the database has no table toy_visits, which the rule family 'grading' writes: "
        "add a migration that creates it (engine/store/migrations/versions/)"
    )
    assert counts(org) == dict.fromkeys(OUTPUT_TABLES, 0)
    assert rows(org, "select count(*) as n from runs")[0]["n"] == 0
