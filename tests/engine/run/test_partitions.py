"""A run split into partitions, claimed by several workers, equals a single run item for item."""

from __future__ import annotations

import itertools
import signal
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine import demo
from salesplay.engine.run.evaluate import evaluate, start_partitioned, work
from salesplay.engine.store import db
from salesplay.engine.store.partitions import BUCKETS, Partition, bucket_of
from tests.conftest import load_playbook, rows
from tests.test_parity import normalise, outputs

DAYS = (date(2024, 5, 20), date(2024, 6, 3))


def test_partitions_cover_every_bucket_once() -> None:
    for count in (1, 3, 7, 16):
        ranges = [Partition(i, count).buckets for i in range(count)]
        assert ranges[0][0] == 0 and ranges[-1][1] == BUCKETS - 1
        assert all(a[1] + 1 == b[0] for a, b in itertools.pairwise(ranges))
    assert bucket_of("C0000001") == bucket_of("C0000001") < BUCKETS


def single_and_partitioned(single: Engine, split: Engine) -> None:
    book = load_playbook("default")
    for engine in (single, split):
        demo.build(engine, DAYS[0], demo.DemoSize(customers=500), seed=3)
    for day in DAYS:
        whole = evaluate(single, book, day)
        split_up = evaluate(split, book, day, workers=2, partitions=5)
        assert split_up.emitted == whole.emitted
    a, b = normalise(outputs(single)), normalise(outputs(split))
    assert a["tasks"]
    for key in a:
        assert a[key] == b[key], key
    parts = rows(split, "select part, status from eval_partitions order by run_id, part")
    assert {p["status"] for p in parts} == {"done"} and len(parts) == 12


def test_partitioned_run_equals_single_run_sqlite(tmp_path: Path) -> None:
    single_and_partitioned(
        db.connect(f"sqlite:///{tmp_path / 'a.db'}"), db.connect(f"sqlite:///{tmp_path / 'b.db'}")
    )


@pytest.mark.postgres
def test_partitioned_run_equals_single_run_postgresql(tmp_path: Path, pg_engine: Engine) -> None:
    single_and_partitioned(db.connect(f"sqlite:///{tmp_path / 'a.db'}"), pg_engine)


STALL = """
import sys, time
from pathlib import Path
from salesplay.engine import loader
from salesplay.engine.run.evaluate import work
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
        Path(sys.argv[3]).write_text(str(ctx.partition))
        time.sleep(60)

work(db.connect(sys.argv[1]), loader.load("default", [*FAMILIES, Stall()]), int(sys.argv[2]))
"""


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_a_killed_workers_partition_is_taken_by_another(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'c.db'}"
        engine = db.connect(url)
    else:
        engine = request.getfixturevalue("pg_engine")
        url = engine.url.render_as_string(hide_password=False)
    book = load_playbook("default")
    demo.build(engine, DAYS[0], demo.DemoSize(customers=200), seed=3)
    run_id = start_partitioned(engine, book, DAYS[0], 3, "manual", datetime(2024, 5, 20))
    script, marker = tmp_path / "stall.py", tmp_path / "claimed"
    script.write_text(STALL)
    proc = subprocess.Popen([sys.executable, str(script), url, str(run_id), str(marker)])
    deadline = time.monotonic() + 60
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.read_text() == "Partition(index=0, count=3)"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert work(engine, book, run_id) == 4  # partition 0 again, 1, 2 and the final step
    assert rows(engine, "select status from runs")[0]["status"] == "succeeded"
    whole = db.connect(f"sqlite:///{tmp_path / 'whole.db'}")
    demo.build(whole, DAYS[0], demo.DemoSize(customers=200), seed=3)
    evaluate(whole, book, DAYS[0])
    assert normalise(outputs(engine)) == normalise(outputs(whole))


def test_evaluate_join_finishes_a_run_started_elsewhere(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from salesplay.cli import cli

    url = f"sqlite:///{tmp_path / 'join.db'}"
    engine = db.connect(url)
    book = load_playbook("default")
    demo.build(engine, DAYS[0], demo.DemoSize(customers=100), seed=3)
    run_id = start_partitioned(engine, book, DAYS[0], 3, "manual", datetime(2024, 5, 20))
    result = CliRunner().invoke(cli, ["evaluate", "--join", str(run_id), "--db", url])
    assert result.exit_code == 0, result.output
    assert result.output == f"run {run_id}: this worker evaluated 4 partition(s)\n"
    assert rows(engine, "select status from runs")[0]["status"] == "succeeded"
    again = CliRunner().invoke(cli, ["evaluate", "--join", str(run_id), "--db", url])
    assert again.output == f"run {run_id}: this worker evaluated 0 partition(s)\n"
