"""SQLite and PostgreSQL give the same grades, tasks and alerts from the same data and playbook."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine import demo
from salesplay.engine.run.evaluate import evaluate
from tests.conftest import load_playbook, rows

AS_OF = date(2024, 5, 20)


def outputs(engine: Engine) -> dict[str, Any]:
    return {
        "grades": rows(engine, "select customer_id, grade, since from grades order by customer_id"),
        "changes": rows(
            engine,
            "select customer_id, old_grade, new_grade, changed_on from "
            "grade_changes order by customer_id, id",
        ),
        "tasks": rows(
            engine,
            "select rule, subject_id, episode, seq, assignee_id, due, title, "
            "status from tasks order by rule, subject_id, episode, seq",
        ),
        "alerts": rows(
            engine,
            "select rule, subject_id, episode, seq, level, message, status, "
            "resolved_on from alerts order by rule, subject_id, episode, seq",
        ),
    }


def normalise(value: Any) -> Any:
    if isinstance(value, list):
        return [normalise(v) for v in value]
    if isinstance(value, dict):
        return {k: normalise(v) for k, v in value.items()}
    return str(value) if value is not None else None


@pytest.mark.postgres
@pytest.mark.parametrize("book", ["default", "fmcg"])
def test_sqlite_and_postgresql_agree(sqlite_engine: Engine, pg_engine: Engine, book: str) -> None:
    loaded = load_playbook(book)
    results = []
    for engine in (sqlite_engine, pg_engine):
        demo.build(engine, AS_OF, demo.DemoSize(customers=600), seed=11)
        evaluate(engine, loaded, AS_OF)
        evaluate(engine, loaded, date(2024, 6, 3))  # a second date: closes and reopens episodes
        results.append(normalise(outputs(engine)))
    sqlite_out, pg_out = results
    assert sqlite_out["tasks"], "the demo should produce tasks"
    assert any(a["status"] == "resolved" for a in sqlite_out["alerts"]) or sqlite_out["alerts"]
    for key in sqlite_out:
        assert sqlite_out[key] == pg_out[key], key
