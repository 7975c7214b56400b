"""One job's failure never stops the others: a job whose times cannot be computed (a cron
expression that never fires, from a playbook checked by an older release) fails alone."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import Engine

from salesplay.engine.schedule.scheduler import Scheduler
from tests.conftest import load_playbook


def test_a_job_that_never_fires_fails_alone(sqlite_engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "scheduled.yaml"
    path.write_text(
        "extends: default\njobs:\n  weekly_goals: null\n"
        '  daily: {cron: "0 8 * * *", rules: [grading]}\n',
        "utf-8",
    )
    book = load_playbook(str(path))
    jobs = {"never": {"cron": "0 8 31 2 *", "rules": ["grading"]}, **book.data["jobs"]}
    book = dataclasses.replace(book, data={**book.data, "jobs": jobs})
    scheduler = Scheduler(sqlite_engine, book)
    outcomes = scheduler.tick(datetime(2024, 7, 1, 1, tzinfo=UTC))
    assert [(o.job, o.status) for o in outcomes] == [("never", "failed"), ("daily", "succeeded")]
    assert outcomes[0].error is not None and outcomes[0].error.startswith("CroniterBadDateError")
    assert scheduler.next_wake(datetime(2024, 7, 1, 1, tzinfo=UTC)) == datetime(
        2024, 7, 2, tzinfo=UTC
    )
