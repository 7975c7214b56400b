"""Chaos: many random kill -9s at the crash points, against a local fake webhook that fails one
answer in five; at quiescence the same invariants as one kill at a time.

Day after day, a JSON Lines file of new and changed customers is imported, then the daily slot
is ticked and its deliveries sent; each import and tick runs in a forked child that
SALESPLAY_CRASH_AT's `arm` may kill at a random point, the n-th time it is reached (n from 1 to
3). A killed step is restarted 10 minutes later (past the dispatcher's claim), up to four kills
a step. A reference database gets the same imports and ticks without a kill. At the end:

- the stored tasks and alerts equal the reference's, each (rule, subject, episode, seq) once;
- every delivery is sent, and the webhook accepted each one at least once; a key accepted more
  than once only after a kill at `answered`, at most one extra per such kill;
- no run is left running or failed, and `PRAGMA integrity_check` says ok.

The CI profile kills 12 times (marked slow); `SALESPLAY_CHAOS=long` kills at least 200 times.
`SALESPLAY_CHAOS_SEED` picks another seed. Both are bounded by a time budget.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from salesplay.engine.delivery.dispatch import dispatch
from salesplay.engine.schedule.scheduler import Scheduler, runs_ledger
from salesplay.engine.store import crash, db
from salesplay.engine.store.importer import import_file
from tests.conftest import load_playbook, rows
from tests.engine.delivery.test_delivery import Server
from tests.engine.store.test_crash import BOOK, ITEMS, OK, UNAVAILABLE, seed_team

LONG = os.environ.get("SALESPLAY_CHAOS") == "long"
KILLS = 200 if LONG else 12
BUDGET = 1800.0 if LONG else 120.0  # seconds of injecting; then quiescence
SEED = int(os.environ.get("SALESPLAY_CHAOS_SEED", "15"))
TICK_POINTS = [p for p in crash.POINTS if p != "importing"]
START = date(2024, 7, 1)


def in_child(action: Callable[[], None], armed: str) -> int:
    """Run action in a forked child with the crash point armed; its exit code (-9: killed)."""
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            crash.arm(armed)
            action()
            code = 0
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def changes(rng: random.Random, day: date, known: list[str], path: Path) -> Path:
    """A day's import: two to four new customers and a renamed or re-dated old one or two."""
    new = [f"C{day:%m%d}{j}" for j in range(rng.randint(2, 4))]
    changed = rng.sample(known, min(len(known), rng.randint(0, 2)))
    lines = []
    for cid in [*new, *changed]:
        created = day - timedelta(days=rng.randint(0, 20))
        record = {
            "id": cid,
            "name": f"客户{cid}-{day:%d}",
            "owner_id": "R1",
            "org_unit_id": "SH",
            "created_on": created.isoformat(),
            "industry": "",
            "strategic": "false",
            "status": "",
        }
        lines.append(json.dumps(record, ensure_ascii=False))
    known.extend(new)
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_random_kills_lose_nothing_and_duplicate_only_answered_messages(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    answers = [OK if rng.random() >= 0.2 else UNAVAILABLE for _ in range(50_000)]
    server = Server()
    server.answer(*answers)
    hook = {"HOOK_URL": server.url}
    book_path = tmp_path / "book.yaml"
    book_path.write_text(BOOK, "utf-8")
    book = load_playbook(str(book_path))
    url = f"sqlite:///{tmp_path / 'chaos.db'}"
    seeded = db.connect(url)
    seed_team(seeded)
    seeded.dispose()  # the children open their own; nothing of the parent's crosses a fork
    reference = db.connect(f"sqlite:///{tmp_path / 'reference.db'}")
    seed_team(reference)

    def tick(now: datetime) -> Callable[[], None]:
        def run() -> None:
            engine = db.connect(url)
            Scheduler(engine, book).tick(now)
            dispatch(engine, book, lambda: now, env=hook, rng=random.Random(now.timestamp()))

        return run

    kills: Counter[str] = Counter()
    steps = 0
    known: list[str] = []
    began = time.monotonic()
    day = START

    def injecting() -> bool:
        return sum(kills.values()) < KILLS and time.monotonic() - began < BUDGET

    now = datetime(2024, 7, 1, 1, 0, tzinfo=UTC)
    while injecting():
        now = datetime(day.year, day.month, day.day, 1, 0, tzinfo=UTC)
        path = changes(rng, day, known, tmp_path / f"customers-{day}.jsonl")
        import_file(reference, "customers", path)
        Scheduler(reference, book).tick(now)
        for attempt in range(5):
            armed = "importing" if attempt < 4 and injecting() and rng.random() < 0.25 else ""
            code = in_child(lambda p=path: import_file(db.connect(url), "customers", p), armed)
            steps += 1
            if code == -signal.SIGKILL:
                kills["importing"] += 1
                continue
            assert code == 0, f"import on {day} failed"
            break
        for attempt in range(5):
            armed = ""
            if attempt < 4 and injecting():
                armed = f"{rng.choice(TICK_POINTS)}:{rng.randint(1, 3)}"
            code = in_child(tick(now), armed)
            steps += 1
            if code == -signal.SIGKILL:
                kills[armed.partition(":")[0]] += 1
                now += timedelta(minutes=10)
                continue
            assert code == 0, f"tick at {now} failed"
            break
        day += timedelta(days=1)

    for _ in range(40):  # quiescence: clean passes an hour apart until nothing is pending
        engine = db.connect(url)
        pending = rows(engine, "select id from deliveries where status <> 'sent'")
        running = rows(engine, "select id from runs where status = 'running'")
        engine.dispose()
        if not pending and not running:
            break
        now += timedelta(hours=1)
        assert in_child(tick(now), "") == 0
        steps += 1

    engine = db.connect(url)
    stored = rows(engine, ITEMS)
    assert stored == rows(reference, ITEMS)
    keys = [(r["kind"], r["rule"], r["subject_id"], r["episode"], r["seq"]) for r in stored]
    assert len(keys) == len(set(keys))
    assert {r["status"] for r in runs_ledger(engine)} == {"succeeded"}
    sent = rows(engine, "select id, status from deliveries order by id")
    assert sent and {r["status"] for r in sent} == {"sent"}
    seen = list(server.plan.seen)
    accepted = Counter(
        s["headers"]["Idempotency-Key"] for s, a in zip(seen, answers, strict=False) if a == OK
    )
    assert set(accepted) == {str(r["id"]) for r in sent}  # every item, at least once
    duplicated = sum(times - 1 for times in accepted.values())
    assert duplicated <= kills["answered"]
    assert rows(engine, "pragma integrity_check") == [{"integrity_check": "ok"}]
    assert sum(kills.values()) >= (KILLS if LONG else 1)
    print(
        f"\nchaos seed {SEED}: {(day - START).days} days, {steps} processes, "
        f"{sum(kills.values())} kills {dict(sorted(kills.items()))}, {len(stored)} items, "
        f"{len(sent)} deliveries, {len(seen)} webhook requests "
        f"({len(seen) - sum(accepted.values())} refused), lost 0, duplicated {duplicated}, "
        f"{time.monotonic() - began:.0f} s"
    )
    server.httpd.shutdown()
