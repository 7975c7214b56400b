"""The scheduler with an injected clock: catch-up, deadlines, overlap, leases, concurrency, kills.

Slots in these tests: `0 8 * * *` in Asia/Shanghai (+8, no DST) fires at 00:00Z each day, so
the slot of 2024-07-0N is 2024-07-0NT00:00Z and its run evaluates as of 2024-07-0N.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.run.family import Playbook
from salesplay.engine.schedule.scheduler import Scheduler, runs_ledger
from salesplay.engine.store import db
from salesplay.engine.store.models import Run, table_of
from tests.conftest import load, load_playbook, rows

ROOT = Path(__file__).resolve().parents[3]


def z(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def book(tmp_path: Path, jobs: str) -> Playbook:
    path = tmp_path / "scheduled.yaml"
    path.write_text("extends: default\n" + textwrap.dedent(jobs), "utf-8")
    return load_playbook(str(path))


DAILY = """
jobs:
  weekly_goals: null
  daily: {cron: "0 8 * * *", rules: [grading, follow_up, warnings]%s}
"""


def seed(engine: Engine) -> None:
    load(engine, "org_units", [{"id": "SH", "name": "上海", "parent_id": "", "kind": "city"}])
    load(
        engine,
        "reps",
        [
            {
                "id": "R1",
                "name": "张伟",
                "org_unit_id": "SH",
                "active": "true",
                "mobile": "13800000001",
            }
        ],
    )
    load(
        engine,
        "customers",
        [
            {"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1", "created_on": f"2024-07-0{i}"}
            for i in range(1, 6)
        ],
    )


def ledger(engine: Engine) -> list[tuple[str, str, str]]:
    return [(r["job"], r["slot"][:10], r["status"]) for r in runs_ledger(engine) if r["slot"]]


def test_downtime_catchup_latest_runs_the_newest_and_records_the_rest_missed(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    scheduler = Scheduler(engine, book(tmp_path, DAILY % ""))
    scheduler.tick(z("2024-07-01T01:00"))
    # down from 07-01 01:00Z to 07-05 01:00Z: slots 07-02, 07-03, 07-04 missed, 07-05 runs once
    scheduler.tick(z("2024-07-05T01:00"))
    scheduler.tick(z("2024-07-05T01:00"))  # the same pass again changes nothing
    assert ledger(engine) == [
        ("daily", "2024-07-01", "succeeded"),
        ("daily", "2024-07-02", "missed"),
        ("daily", "2024-07-03", "missed"),
        ("daily", "2024-07-04", "missed"),
        ("daily", "2024-07-05", "succeeded"),
    ]
    done = [r for r in runs_ledger(engine) if r["status"] == "succeeded"]
    assert [str(r["as_of"]) for r in done] == ["2024-07-01", "2024-07-05"]
    # every row, run or missed, records the release that wrote it
    releases = rows(engine, "select distinct salesplay_version from runs")
    assert releases == [{"salesplay_version": version("salesplay")}]


def test_downtime_catchup_all_runs_each_slot_as_of_its_own_date(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    scheduler = Scheduler(engine, book(tmp_path, DAILY % ", catchup: all, max_catchup: 2"))
    scheduler.tick(z("2024-07-01T01:00"))
    # 07-02 .. 07-05 are due; max_catchup 2 keeps the newest two (07-04, 07-05), oldest first
    outcomes = scheduler.tick(z("2024-07-05T01:00"))
    assert [(o.slot.day, o.status) for o in outcomes] == [
        (2, "missed"),
        (3, "missed"),
        (4, "succeeded"),
        (5, "succeeded"),
    ]
    as_of = {r["slot"][:10]: str(r["as_of"]) for r in runs_ledger(engine) if r["slot"]}
    assert as_of["2024-07-04"] == "2024-07-04" and as_of["2024-07-05"] == "2024-07-05"
    # customers C4 (created 07-04) and C5 (07-05) get their first follow-up task in their runs
    tasks = rows(engine, "select subject_id, created_on from tasks order by subject_id")
    assert {(t["subject_id"], str(t["created_on"])) for t in tasks} >= {
        ("C4", "2024-07-04"),
        ("C5", "2024-07-05"),
    }


def test_a_slot_past_its_starting_deadline_is_missed(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    scheduler = Scheduler(engine, book(tmp_path, DAILY % ", starting_deadline: 2 hours"))
    scheduler.tick(z("2024-07-01T03:00"))  # 3 hours after the slot: too late
    scheduler.tick(z("2024-07-02T01:59"))  # 1 h 59 min after: in time
    assert ledger(engine) == [
        ("daily", "2024-07-01", "missed"),
        ("daily", "2024-07-02", "succeeded"),
    ]
    assert rows(engine, "select count(*) as n from tasks")[0]["n"] > 0


def test_a_slot_that_comes_while_the_job_runs_is_skipped(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    # The 07-01 run started at 07-01 01:00Z and (by the injected clock) finished on 07-02 at
    # 02:00Z, after the 07-02 slot (00:00Z) came: that slot is skipped, 07-03 runs.
    scheduler = Scheduler(engine, book(tmp_path, DAILY % ""), clock=lambda: z("2024-07-02T02:00"))
    scheduler.tick(z("2024-07-01T01:00"))
    scheduler.clock = None
    scheduler.tick(z("2024-07-02T03:00"))
    scheduler.tick(z("2024-07-03T01:00"))
    assert ledger(engine) == [
        ("daily", "2024-07-01", "succeeded"),
        ("daily", "2024-07-02", "skipped"),
        ("daily", "2024-07-03", "succeeded"),
    ]


def _running(engine: Engine, host: str, pid: int, lease_until: datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table_of(Run)).values(
                job="daily",
                slot=datetime(2024, 7, 1),
                as_of=datetime(2024, 7, 1).date(),
                started_at=datetime(2024, 7, 1, 0, 5),
                playbook_path="x",
                playbook_hash="x",
                status="running",
                owner=f"{host}:{pid}:old",
                host=host,
                pid=pid,
                lease_until=lease_until,
                attempts=1,
            )
        )


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_a_live_claim_elsewhere_is_left_alone_and_its_overlap_skipped(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    _running(engine, "another-host", 1, datetime(2024, 7, 9))
    Scheduler(engine, book(tmp_path, DAILY % "")).tick(z("2024-07-02T01:00"))
    assert ledger(engine) == [
        ("daily", "2024-07-01", "running"),
        ("daily", "2024-07-02", "skipped"),
    ]


def test_an_expired_lease_is_reclaimed(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    _running(engine, "another-host", 1, datetime(2024, 7, 1, 0, 30))
    Scheduler(engine, book(tmp_path, DAILY % "")).tick(z("2024-07-01T01:00"))
    run = rows(engine, "select status, attempts, as_of from runs")
    assert [(r["status"], r["attempts"], str(r["as_of"])) for r in run] == [
        ("succeeded", 2, "2024-07-01")
    ]


def test_a_dead_claimant_on_this_host_is_reclaimed_before_its_lease_ends(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    _running(engine, socket.gethostname(), _dead_pid(), datetime(2024, 7, 9))
    Scheduler(engine, book(tmp_path, DAILY % "")).tick(z("2024-07-01T01:00"))
    assert [r["status"] for r in rows(engine, "select status from runs")] == ["succeeded"]


def test_a_manual_evaluate_is_job_manual_and_equals_the_scheduled_run(
    engine: Engine, tmp_path: Path
) -> None:
    from salesplay.engine.run.evaluate import evaluate

    seed(engine)
    scheduled = book(tmp_path, DAILY % "")
    Scheduler(engine, scheduled).tick(z("2024-07-01T01:00"))
    first = rows(engine, "select rule, subject_id, episode, title from tasks order by id")
    with engine.begin() as conn:
        for table in ("deliveries", "tasks", "alerts", "episodes", "grades", "grade_changes"):
            conn.exec_driver_sql(f"DELETE FROM {table}")
    evaluate(engine, scheduled, datetime(2024, 7, 1).date())
    again = rows(engine, "select rule, subject_id, episode, title from tasks order by id")
    assert first == again and first
    assert [r["job"] for r in runs_ledger(engine)] == ["daily", "manual"]


# ---- processes -------------------------------------------------------------------------


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT.parent)}


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "salesplay.cli", *args]


QUARTER = """
jobs:
  weekly_goals: null
  daily: {cron: "0 8 * * *", rules: [grading, follow_up]}
  quarter: {cron: "*/15 * * * *", rules: [warnings], catchup: all, max_catchup: 3}
"""


@pytest.mark.slow
def test_concurrent_ticks_and_a_daemon_run_each_slot_once(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    scheduled = book(tmp_path, QUARTER)
    url = engine.url.render_as_string(hide_password=False)
    Scheduler(engine, scheduled).tick(z("2024-07-01T00:00"))  # history: daily and quarter at 00:00
    # At 02:05Z: daily has nothing new; quarter has 00:15 .. 02:00 due (8 slots), of which the
    # newest 3 (01:30, 01:45, 02:00) run and the 5 before are missed.
    base = ["--db", url, "--playbook", str(scheduled.path), "--now", "2024-07-01T02:05:00+00:00"]
    daemon = subprocess.Popen(
        _cli("run", *base), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    ticks = [
        subprocess.Popen(
            _cli("tick", *base),
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    results = [t.communicate(timeout=180) for t in ticks]
    assert [t.returncode for t in ticks] == [0, 0, 0, 0], results
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(rows(engine, "select id from runs")) < 10:
        time.sleep(0.2)
    daemon.send_signal(signal.SIGTERM)
    _, err = daemon.communicate(timeout=120)
    assert daemon.returncode == 0, err
    assert "error" not in err.lower() and all("error" not in e.lower() for _, e in results)
    quarter = [(slot[11:16], status) for job, slot, status in _full(engine) if job == "quarter"]
    assert quarter == [
        ("00:00", "succeeded"),
        ("00:15", "missed"),
        ("00:30", "missed"),
        ("00:45", "missed"),
        ("01:00", "missed"),
        ("01:15", "missed"),
        ("01:30", "succeeded"),
        ("01:45", "succeeded"),
        ("02:00", "succeeded"),
    ]
    assert [s for j, _, s in _full(engine) if j == "daily"] == ["succeeded"]


def _full(engine: Engine) -> list[tuple[str, str, str]]:
    return [(r["job"], r["slot"], r["status"]) for r in runs_ledger(engine) if r["slot"]]


# ---- kill -9 at every point, then restart ------------------------------------------------

KILLABLE = textwrap.dedent("""
    import sys, time
    from pathlib import Path

    point, marker = sys.argv[1], Path(sys.argv[2])

    def stall():
        marker.write_text(point)
        time.sleep(300)

    from salesplay import rules
    from salesplay.engine.schedule import scheduler
    from salesplay.engine.delivery.channels import webhook

    if point == "claimed":
        scheduler.Scheduler._evaluate = lambda self, *a, **k: stall()
    elif point == "committed":
        evaluate = scheduler.Scheduler._evaluate
        def then_stall(self, *a, **k):
            evaluate(self, *a, **k)
            stall()
        scheduler.Scheduler._evaluate = then_stall
    elif point == "evaluating":
        class Stall:
            section = "grading"
            schema = {}
            settings_only = False
            tables = subjects = commands = ()
            def rule_names(self, playbook): return [self.section]
            def check(self, playbook): pass
            def explain(self, ctx, subject_type, subject_id): return []
            def run(self, ctx): stall()
        rules.FAMILIES.append(Stall())
    elif point == "answered":
        send = webhook.Webhook.send
        def answered(self, message):
            send(self, message)  # the webhook answered 200 ...
            stall()  # ... and the delivery is not yet marked sent
        webhook.Webhook.send = answered

    from salesplay.cli import main
    sys.argv = ["salesplay", *sys.argv[3:]]
    main()
""")

DELIVERED = """
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


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "point"),
    [
        ("tick", "claimed"),
        ("tick", "evaluating"),
        ("tick", "committed"),
        ("tick", "answered"),
        ("run", "evaluating"),
    ],
)
def test_killed_at_any_point_a_restart_stores_the_same_and_delivers_everything(
    tmp_path: Path, command: str, point: str
) -> None:
    from tests.engine.delivery.test_delivery import Server

    server = Server()
    server.answer((200, {}, 0.0, {}))
    scheduled = book(tmp_path, DELIVERED)
    env = {**_env(), "HOOK_URL": server.url}

    reference = db.connect(f"sqlite:///{tmp_path / 'reference.db'}")
    seed(reference)
    Scheduler(reference, scheduled).tick(z("2024-07-03T01:00"))
    expected = rows(reference, ITEMS)
    assert expected

    url = f"sqlite:///{tmp_path / 'killed.db'}"
    engine = db.connect(url)
    seed(engine)
    script, marker = tmp_path / "killable.py", tmp_path / "marker"
    script.write_text(KILLABLE, "utf-8")
    base = ["--db", url, "--playbook", str(scheduled.path)]
    proc = subprocess.Popen(
        [
            sys.executable,
            str(script),
            point,
            str(marker),
            command,
            *base,
            "--now",
            "2024-07-03T09:00",
        ],
        env=env,
    )
    deadline = time.monotonic() + 120
    while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert marker.exists(), f"never reached {point}"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = len(server.plan.seen)
    assert (before > 0) == (point == "answered")

    # Restart 10 minutes later: past the 5-minute delivery claim; the run's claimant is dead.
    restart = subprocess.run(
        _cli("tick", *base, "--now", "2024-07-03T09:10"), env=env, capture_output=True, text=True
    )
    assert restart.returncode == 0, restart.stderr
    assert rows(engine, ITEMS) == expected
    assert [r["status"] for r in runs_ledger(engine)] == ["succeeded"]
    sent = rows(engine, "select id, status from deliveries order by id")
    assert sent and {r["status"] for r in sent} == {"sent"}
    keys = {s["headers"]["Idempotency-Key"] for s in server.plan.seen}
    assert keys == {str(r["id"]) for r in sent}  # every item delivered, at least once
    server.httpd.shutdown()
