"""The benchmark's three contenders give identical grades, tasks and alerts (bench/equality.py).

The engine's evaluation of bench/playbook.yaml, the hand-written SQL floor and the zen-engine
pipeline each evaluate 3,000 demo customers on their own copy of the same data (size S, 10,000
customers, took 21 s for the two databases, too long for the normal suite): the bench date, the
same date again (nothing new), then two weeks later (tasks close, alerts resolve, new episodes
open). A few manual grades (one expiring between the two dates, one replaced by a newer one)
exercise the overrides. No timing is asserted here; bench/run.py measures.
"""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from bench import contenders, equality
from salesplay.engine import demo
from salesplay.engine.store import db
from salesplay.engine.store.models import table_of
from salesplay.rules.grading import GradeOverride

CUSTOMERS = 3_000
AS_OF = date(2024, 5, 20)
LATER = date(2024, 6, 3)
REFERENCE = "handwritten"
OVERRIDES = [  # customer, grade, set on, until
    ("C0000001", "C", date(2024, 5, 1), None),
    ("C0000002", "A", date(2024, 5, 10), date(2024, 5, 27)),  # expires before LATER
    ("C0000003", "A", date(2024, 4, 1), None),
    ("C0000003", "B", date(2024, 5, 2), None),  # the newer one wins
    ("C0000004", "A", date(2024, 5, 30), None),  # not yet set on AS_OF
]


def _build(engine: Engine) -> None:
    demo.build(engine, AS_OF, demo.DemoSize(customers=CUSTOMERS), seed=7)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table_of(GradeOverride)),
            [
                {
                    "customer_id": c,
                    "grade": g,
                    "set_by": "M0",
                    "reason": "bench",
                    "set_on": on,
                    "until": until,
                }
                for c, g, on, until in OVERRIDES
            ],
        )


def _evaluate(name: str, engine: Engine) -> list[equality.Snapshot]:
    contenders.run(name, engine, AS_OF)
    first = equality.snapshot(engine)
    contenders.run(name, engine, AS_OF)
    again = equality.snapshot(engine)
    assert equality.counts(again) == equality.counts(first), f"{name}: the re-run emitted rows"
    contenders.run(name, engine, LATER)
    return [first, again, equality.snapshot(engine)]


def _agree(results: dict[str, list[equality.Snapshot]]) -> None:
    reference = results[REFERENCE]
    assert reference[0]["tasks"] and reference[0]["alerts"], "the data should produce both"
    for name, snaps in results.items():
        for when, expected, actual in zip(
            ("as-of", "re-run", "later"), reference, snaps, strict=True
        ):
            equality.check(f"{REFERENCE} ({when})", expected, f"{name} ({when})", actual)


def test_contenders_agree_on_sqlite(sqlite_engine: Engine, tmp_path: Path) -> None:
    _build(sqlite_engine)
    base = Path(str(sqlite_engine.url.database))
    sqlite_engine.dispose()
    results = {}
    for name in contenders.NAMES:
        copy = tmp_path / f"{name}.db"
        shutil.copyfile(base, copy)
        engine = db.connect(f"sqlite:///{copy}", create=False)
        results[name] = _evaluate(name, engine)
        engine.dispose()
    _agree(results)


@pytest.mark.postgres
def test_contenders_agree_on_postgresql(pg_engine: Engine) -> None:
    _build(pg_engine)
    results = {}
    for name in contenders.NAMES:
        equality.truncate_outputs(pg_engine)
        results[name] = _evaluate(name, pg_engine)
    _agree(results)
