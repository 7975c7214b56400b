"""`salesplay preview`: a proposed playbook against the one in force, on the live data, each
evaluated in a transaction that is rolled back; nothing stored changes, even when the preview
is killed half way."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine import demo
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.run.preview import preview
from tests.conftest import load_playbook, rows
from tests.engine.run.test_pinning import everything

ROOT = Path(__file__).resolve().parents[3]
AS_OF = date(2024, 6, 15)
GRADING = """\
extends: default
playbook: {name}
grading:
  grades:
    - grade: A
      when: revenue_6m >= {a}
    - grade: B
      when: revenue_6m >= 100000
    - grade: C
"""


def playbook(tmp_path: Path, name: str, a: str) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(GRADING.format(name=name, a=a), "utf-8")
    return path


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def demo_db(engine: Engine, tmp_path: Path, customers: int = 300) -> Path:
    """The demo organisation, evaluated as of AS_OF with A at 500,000 in the last 6 months."""
    demo.build(engine, AS_OF, demo.DemoSize(customers=customers))
    current = playbook(tmp_path, "current", "500000")
    evaluate(engine, load_playbook(str(current)), AS_OF)
    return current


def cli(engine: Engine, *args: str) -> subprocess.CompletedProcess[str]:
    """The command in its own process, so that no connection of this one takes part."""
    return subprocess.run(
        [sys.executable, "-m", "salesplay.cli", *args, "--db", url_of(engine)],
        env={**os.environ, "PYTHONPATH": str(ROOT.parent)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def revenue_between(engine: Engine, low: int, high: int | None) -> int:
    """Customers whose orders from 2023-12-15 to 2024-06-15 (6 months back from the as-of date,
    both ends included) add up to at least low and below high: counted straight from orders."""
    revenue = (
        "SELECT c.id, COALESCE((SELECT SUM(o.amount_cents) FROM orders o"
        " WHERE o.customer_id = c.id AND o.deleted = :no"
        " AND o.ordered_on BETWEEN :start AND :end), 0) AS cents"
        " FROM customers c WHERE c.deleted = :no"
    )
    bound = " AND r.cents < :high" if high is not None else ""
    found = rows(
        engine,
        f"SELECT COUNT(*) AS n FROM ({revenue}) r WHERE r.cents >= :low{bound}",
        no=False,
        start=date(2023, 12, 15),
        end=AS_OF,
        low=low * 100,
        high=(high or 0) * 100,
    )
    return int(found[0]["n"])


def _files(engine: Engine) -> tuple[bytes, bytes]:
    name = str(engine.url.database)
    wal = Path(f"{name}-wal")
    return Path(name).read_bytes(), wal.read_bytes() if wal.exists() else b""


def _checkpoint(engine: Engine) -> None:
    engine.dispose()
    with closing(sqlite3.connect(str(engine.url.database))) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0


def test_a_lower_threshold_moves_the_customers_between_the_two(
    engine: Engine, tmp_path: Path
) -> None:
    current = demo_db(engine, tmp_path)
    proposed = playbook(tmp_path, "proposed", "400000")
    before = everything(engine)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        _checkpoint(engine)
        files = _files(engine)
    done = cli(engine, "preview", str(proposed), "--format", "json", "--playbook", str(current))
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)

    moving = revenue_between(engine, 400_000, 500_000)
    assert moving > 0
    assert found["grade_moves"] == [
        {"from": "A", "to": "A", "count": revenue_between(engine, 500_000, None)},
        {"from": "B", "to": "A", "count": moving},
        {"from": "B", "to": "B", "count": revenue_between(engine, 100_000, 400_000)},
        {"from": "C", "to": "C", "count": revenue_between(engine, 0, 100_000)},
    ]
    assert found["as_of"] == "2024-06-15"  # the latest evaluation's
    assert (found["current"]["playbook"], found["proposed"]["playbook"]) == ("current", "proposed")
    assert found["current"]["path"] == str(current.resolve())
    assert set(found) == {
        "as_of",
        "current",
        "proposed",
        "grade_moves",
        "tasks",
        "alerts",
        "payouts",
        "payouts_total",
        "load",
    }
    # the customers moving up to A are due for a weekly visit now: follow-up tasks move with them
    follow_up = next(r for r in found["tasks"] if r["rule"] == "follow_up")
    assert follow_up["added"] > 0
    assert len(found["load"]) == 7 and set(found["load"][0]) == {
        "rep_id",
        "customers",
        "required_per_week",
        "capacity",
        "utilisation",
        "over",
    }
    assert sum(r["customers"]["A"] for r in found["load"]) == revenue_between(
        engine, 400_000, None
    ) - _unowned_from(engine, 400_000)
    total = found["payouts_total"]
    assert total["change"] == 0  # grades do not pay
    assert all(r["change"] == 0 for r in found["payouts"])

    assert everything(engine) == before
    if sqlite:
        assert _files(engine) == files


def _unowned_from(engine: Engine, low: int) -> int:
    """Customers in the shared pool among those at or above low: no rep's load counts them."""
    pooled = rows(
        engine, "SELECT id FROM customers WHERE owner_id IS NULL AND deleted = :no", no=False
    )
    if not pooled:
        return 0
    ids = {r["id"] for r in pooled}
    revenue = rows(
        engine,
        "SELECT o.customer_id AS id, SUM(o.amount_cents) AS cents FROM orders o"
        " WHERE o.deleted = :no AND o.ordered_on BETWEEN :start AND :end GROUP BY o.customer_id",
        no=False,
        start=date(2023, 12, 15),
        end=AS_OF,
    )
    return sum(1 for r in revenue if r["id"] in ids and r["cents"] >= low * 100)


def test_the_playbook_in_force_against_itself_changes_nothing(
    engine: Engine, tmp_path: Path
) -> None:
    current = demo_db(engine, tmp_path, customers=200)
    book = load_playbook(str(current))
    found = preview(engine, book, book).as_json()
    assert all(m["from"] == m["to"] for m in found["grade_moves"])
    assert sum(m["count"] for m in found["grade_moves"]) == 200
    for kind in ("tasks", "alerts"):
        assert found[kind] and all(r["added"] == r["removed"] == 0 for r in found[kind])
    assert found["payouts_total"]["change"] == 0
    assert found["payouts_total"]["current"] > 0


def test_commission_rates_show_in_the_payouts(engine: Engine, tmp_path: Path) -> None:
    """3% → 6% on the first tier: every open statement with a commission line on that tier
    gains what it already earned there once more."""
    current = demo_db(engine, tmp_path, customers=200)
    proposed = tmp_path / "richer.yaml"
    proposed.write_text(
        current.read_text("utf-8").replace("playbook: current", "playbook: richer")
        + "incentives:\n  commission:\n    sales_commission:\n      tiers:\n"
        "        - {upto: 100%, rate: 6%}\n        - {upto: 120%, rate: 5%}\n"
        "        - {rate: 8%}\n",
        "utf-8",
    )
    found = preview(engine, load_playbook(str(current)), load_playbook(str(proposed))).as_json()
    first_tier = rows(
        engine,
        "SELECT owner_id, SUM(amount_cents) AS cents FROM payout_lines"
        " WHERE rule = 'sales_commission' AND seq = 1 AND period_start = :start"
        " GROUP BY owner_id",
        start=date(2024, 4, 1),
    )
    assert first_tier
    quarter = {
        r["rep_id"]: r for r in found["payouts"] if r["period"] == "2024-Q2" and "rep_id" in r
    }
    for line in first_tier:
        assert quarter[line["owner_id"]]["change"] == pytest.approx(int(line["cents"]) / 100)
    total = found["payouts_total"]
    assert total["change"] == pytest.approx(sum(r["change"] for r in found["payouts"]))
    assert total["change"] == pytest.approx(total["proposed"] - total["current"])


def test_the_table_says_it_short_first(engine: Engine, tmp_path: Path) -> None:
    current = demo_db(engine, tmp_path, customers=200)
    proposed = playbook(tmp_path, "proposed", "400000")
    done = cli(engine, "preview", str(proposed), "--playbook", str(current))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        f"preview as of 2024-06-15: proposed proposed ({proposed}) against current ({current}) "
        "in force, on the live data; nothing is stored"
    )
    assert lines[1].startswith("  tasks: ")
    assert lines[3].startswith("  grades: ") and "change grade (B → A " in lines[3]
    assert "grade moves (from the grade in force to the proposed one):" in lines


def test_a_malformed_proposed_playbook_is_one_located_line(engine: Engine, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: default\ngrading:\n  grades:\n    - grade: A\n"
        "      when: revenu_6m > 1\n    - grade: C\n",
        "utf-8",
    )
    before = everything(engine)
    done = cli(engine, "preview", str(bad))
    assert done.returncode == 2
    assert done.stderr == (
        f"{bad}:5: grading.grades[0].when: unknown name 'revenu_6m' (did you mean 'revenue_6m'?)\n"
    )
    assert everything(engine) == before


def _in_transaction(engine: Engine) -> bool:
    """Whether another process is inside its write transaction: on SQLite it holds the write
    lock; on PostgreSQL it holds row locks on this schema's tables."""
    if engine.dialect.name == "sqlite":
        with closing(sqlite3.connect(str(engine.url.database), timeout=0)) as conn:
            try:
                conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError:
                return True
            conn.rollback()
            return False
    schema = engine.url.query.get("options", "")
    name = str(schema).rpartition("=")[2]
    with engine.connect() as conn:
        held = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " JOIN pg_namespace n ON n.oid = c.relnamespace"
                " WHERE n.nspname = :schema AND l.mode = 'RowExclusiveLock'"
                " AND l.pid <> pg_backend_pid()"
            ),
            {"schema": name},
        ).scalar_one()
    return bool(held)


@pytest.mark.slow
def test_a_preview_killed_half_way_leaves_nothing(engine: Engine, tmp_path: Path) -> None:
    current = demo_db(engine, tmp_path, customers=3000)
    proposed = playbook(tmp_path, "proposed", "400000")
    before = everything(engine)
    sqlite = engine.dialect.name == "sqlite"
    if sqlite:
        _checkpoint(engine)
        files = _files(engine)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "salesplay.cli",
            "preview",
            str(proposed),
            "--playbook",
            str(current),
            "--db",
            url_of(engine),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT.parent)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not _in_transaction(engine):
            assert process.poll() is None, "the preview ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        time.sleep(0.5)  # well into the evaluation
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL
    if sqlite:
        _checkpoint(engine)
        assert _files(engine)[0] == files[0]
    else:
        time.sleep(0.5)  # the server notices the closed connection and rolls back
    assert everything(engine) == before
