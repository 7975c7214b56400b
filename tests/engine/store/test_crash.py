"""SALESPLAY_CRASH_AT: the process kills itself with SIGKILL at a named point; a restart then
stores what a run without the kill stores and delivers every item at least once.

Each point's test runs the real CLI in subprocesses against a local webhook: import the
customers, tick at 09:00 (Asia/Shanghai, the daily 08:00 slot), one of the two killed; then
restart every 10 minutes (past the dispatcher's 5-minute claim) until nothing is pending.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.schedule.scheduler import Scheduler, runs_ledger
from salesplay.engine.store import crash, db
from salesplay.engine.store.importer import import_file
from tests.conftest import load, load_playbook, rows
from tests.engine.delivery.test_delivery import Server

ROOT = Path(__file__).resolve().parents[3]

BOOK = """\
extends: default
jobs:
  weekly_goals: null
  daily: {cron: "0 8 * * *", rules: [grading, follow_up, warnings]}
delivery:
  channels:
    hook: {type: webhook, url_env: HOOK_URL}
  routes: [{channel: hook}]
"""
ITEMS = """
select 'task' as kind, rule, subject_id, episode, seq, title as text from tasks
union all
select 'alert', rule, subject_id, episode, seq, message from alerts
order by 1, 2, 3, 4, 5
"""
OK = (200, {}, 0.0, {})
UNAVAILABLE = (503, {}, 0.0, {})


def test_the_variable_names_a_point_and_how_many_times() -> None:
    assert crash.parse("") is None
    assert crash.parse("answered") == ("answered", 1)
    assert crash.parse("evaluating:3") == ("evaluating", 3)
    with pytest.raises(ValueError, match="unknown crash point 'answerd'"):
        crash.parse("answerd")
    with pytest.raises(ValueError, match="whole number"):
        crash.parse("answered:0")


def test_unset_or_another_point_does_nothing() -> None:
    crash.arm("")
    crash.crash_point("committed")
    crash.arm("answered:2")
    try:
        crash.crash_point("committed")
    finally:
        crash.arm("")


def test_the_nth_time_kills_with_sigkill(tmp_path: Path) -> None:
    code = (
        "from salesplay.engine.store.crash import crash_point\n"
        "for i in range(5):\n"
        "    print(i, flush=True)\n"
        "    crash_point('backoff')\n"
    )
    env = {**_env(), "SALESPLAY_CRASH_AT": "backoff:3"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL
    assert done.stdout.split() == ["0", "1", "2"]
    assert "SALESPLAY_CRASH_AT=backoff:3" in done.stderr


# ---- one kill at each point, then restarts -------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT.parent)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "salesplay.cli", *args]


def seed_team(engine: Engine) -> None:
    load(engine, "org_units", [{"id": "SH", "name": "上海", "parent_id": "", "kind": "city"}])
    load(
        engine,
        "reps",
        [{"id": "R1", "name": "张伟", "org_unit_id": "SH", "active": "true", "mobile": "138"}],
    )


def customers_file(path: Path, ids: range) -> Path:
    """JSON Lines: the exact import path, which always reaches the `importing` point (the bulk
    CSV path into an empty table inserts without staging)."""
    lines = [
        json.dumps(
            {
                "id": f"C{i}",
                "name": f"客户{i}",
                "owner_id": "R1",
                "org_unit_id": "SH",
                "created_on": f"2024-07-0{1 + i % 3}",
                "industry": "",
                "strategic": "false",
                "status": "",
            },
            ensure_ascii=False,
        )
        for i in ids
    ]
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def delivered(seen: list[dict[str, Any]], answers: list[bool]) -> Counter[str]:
    """Idempotency-Key → how many times the webhook accepted it (answered 200)."""
    return Counter(
        s["headers"]["Idempotency-Key"] for s, ok in zip(seen, answers, strict=True) if ok
    )


@pytest.mark.slow
@pytest.mark.parametrize("point", list(crash.POINTS))
def test_killed_at_each_point_a_restart_stores_the_same_and_delivers_everything(
    tmp_path: Path, point: str
) -> None:
    server = Server()
    failing_first = point == "backoff"
    server.answer(*([UNAVAILABLE, OK] if failing_first else [OK]))
    book_path = tmp_path / "book.yaml"
    book_path.write_text(BOOK, "utf-8")
    book = load_playbook(str(book_path))
    csv = customers_file(tmp_path / "customers.jsonl", range(1, 7))
    env = {**_env(), "HOOK_URL": server.url}

    reference = db.connect(f"sqlite:///{tmp_path / 'reference.db'}")
    seed_team(reference)
    import_file(reference, "customers", csv)
    Scheduler(reference, book).tick(datetime(2024, 7, 3, 1, 0, tzinfo=UTC))
    expected = rows(reference, ITEMS)
    assert expected

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    engine = db.connect(url)
    seed_team(engine)
    base = ["--db", url, "--playbook", str(book_path)]
    kill = {**env, "SALESPLAY_CRASH_AT": point}
    imported = subprocess.run(
        _cli("import", "customers", str(csv), "--db", url),
        env=kill if point == "importing" else env,
        capture_output=True,
        text=True,
    )
    if point == "importing":
        assert imported.returncode == -signal.SIGKILL, imported.stderr
        assert rows(engine, "select id from customers") == []  # all or nothing
        imported = subprocess.run(
            _cli("import", "customers", str(csv), "--db", url),
            env=env,
            capture_output=True,
            text=True,
        )
    assert imported.returncode == 0, imported.stderr

    first = subprocess.run(
        _cli("tick", *base, "--now", "2024-07-03T09:00"),
        env=env if point == "importing" else kill,
        capture_output=True,
        text=True,
    )
    if point != "importing":
        assert first.returncode == -signal.SIGKILL, first.stderr
        assert f"SALESPLAY_CRASH_AT={point}:1" in first.stderr
    for minutes in range(10, 60, 10):
        if (
            rows(engine, "select id from deliveries where status <> 'sent'") == []
            and rows(engine, "select id from runs where status = 'running'") == []
        ):
            break
        again = subprocess.run(
            _cli("tick", *base, "--now", f"2024-07-03T09:{minutes}"),
            env=env,
            capture_output=True,
            text=True,
        )
        assert again.returncode == 0, again.stderr

    assert rows(engine, ITEMS) == expected
    assert [r["status"] for r in runs_ledger(engine)] == ["succeeded"]
    sent = rows(engine, "select id, status from deliveries order by id")
    assert sent and {r["status"] for r in sent} == {"sent"}
    seen = list(server.plan.seen)
    accepted = delivered(seen, [not (failing_first and i == 0) for i in range(len(seen))])
    assert set(accepted) == {str(r["id"]) for r in sent}  # every item, at least once
    twice = {key for key, times in accepted.items() if times > 1}
    assert len(twice) == (1 if point == "answered" else 0), accepted
    assert rows(engine, "pragma integrity_check") == [{"integrity_check": "ok"}]
    server.httpd.shutdown()
