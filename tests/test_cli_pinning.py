"""evaluate, tick and run against a pinned playbook and a clock that only moves forward; evaluate
--replay changes nothing stored. The fixture and its grades are tests/engine/run/test_pinning.py's.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from tests.conftest import load
from tests.engine.run.test_pinning import DAILY, everything, grades, medical, seed

ROOT = Path(__file__).resolve().parents[1]


def url_of(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def invoke(engine: Engine, *args: str, playbook_env: str | None = None) -> Result:
    env = {"SALESPLAY_PLAYBOOK": playbook_env} if playbook_env else {}
    return CliRunner(env=env).invoke(cli, [*args, "--db", url_of(engine)])


def test_medical_then_default_is_refused_until_default_is_named(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    path = medical(tmp_path).resolve()
    first = invoke(org, "evaluate", "--as-of", "2024-07-01", "--playbook", str(path))
    assert first.exit_code == 0, first.output
    before = everything(org)
    refused = invoke(org, "evaluate", "--as-of", "2024-07-02")
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: the last evaluation (run 1, as of 2024-07-01) used playbook medical ({path}); "
        "this one would use default (bundled): name it with --playbook to switch\n"
    )
    assert refused.stdout == ""
    # SALESPLAY_PLAYBOOK is not naming it on this command's line either
    from_env = invoke(org, "evaluate", "--as-of", "2024-07-02", playbook_env="default")
    assert from_env.exit_code == 2
    assert everything(org) == before
    # named before the command name, it is named on this command's line all the same
    switched = invoke(org, "--playbook", "default", "evaluate", "--as-of", "2024-07-02")
    assert switched.exit_code == 0, switched.output
    assert switched.stdout.splitlines()[-1] == (
        f"playbook changed to default (bundled) from medical ({path}) (run 1): 2 grades moved"
    )
    assert grades(org) == {"C1": "C", "C2": "A", "C3": "C", "C4": "B"}


def test_an_edited_playbook_at_the_same_path_runs_with_a_changed_line(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    path = str(medical(tmp_path).resolve())
    assert invoke(org, "evaluate", "--as-of", "2024-07-01", playbook_env=path).exit_code == 0
    old_hash = invoke(org, "runs", "--format", "json").stdout.split('"playbook_hash": "')[1][:16]
    medical(tmp_path, b=200000)
    result = invoke(org, "evaluate", "--as-of", "2024-07-02", playbook_env=path)
    assert result.exit_code == 0, result.output
    new_hash = invoke(org, "runs", "--format", "json").stdout.split('"playbook_hash": "')[2][:16]
    assert old_hash != new_hash
    assert result.stdout.splitlines()[-1] == (
        f"playbook medical ({path}) changed since run 1 (hash {old_hash} → {new_hash})"
    )


def test_tick_and_run_with_another_playbook_are_refused_and_write_nothing(
    org: Engine, tmp_path: Path
) -> None:
    seed(org)
    assert invoke(org, "evaluate", "--as-of", "2024-07-01", "--playbook", "default").exit_code == 0
    book = tmp_path / "scheduled.yaml"
    book.write_text(DAILY, "utf-8")
    before = everything(org)
    for command in ("tick", "run"):
        # the daily slot of 07-02 08:00 (Shanghai) is due at 01:00Z
        result = invoke(org, command, "--now", "2024-07-02T01:00:00+00:00", playbook_env=str(book))
        assert result.exit_code == 2, result.output
        assert result.stderr == (
            "error: the last evaluation (run 1, as of 2024-07-01) used playbook default "
            f"(bundled); this one would use scheduled ({book.resolve()}): name it with "
            "--playbook to switch\n"
        )
        assert result.stdout == ""
        assert everything(org) == before  # no claim, no missed slot, nothing sent
    named = invoke(
        org, "tick", "--now", "2024-07-02T01:00:00+00:00", "--playbook", str(book), "--quiet"
    )
    assert named.exit_code == 0, named.output
    assert len(everything(org)["runs"]) == 2


def test_evaluate_before_the_latest_as_of_is_refused(org: Engine) -> None:
    seed(org)
    assert invoke(org, "evaluate", "--as-of", "2024-07-05").exit_code == 0
    before = everything(org)
    refused = invoke(org, "evaluate", "--as-of", "2024-07-01")
    assert refused.exit_code == 2
    assert refused.stderr == (
        "error: run 1 already evaluated as of 2024-07-05; 2024-07-01 is earlier: use --replay "
        "to see what it would have emitted without changing anything\n"
    )
    assert everything(org) == before
    same_day = invoke(org, "evaluate", "--as-of", "2024-07-05")
    assert same_day.exit_code == 0, same_day.output
    assert "nothing new" in same_day.stdout


def test_replay_cannot_be_split_over_workers(org: Engine) -> None:
    result = invoke(org, "evaluate", "--replay", "--workers", "2")
    assert result.exit_code == 2
    assert result.stderr == (
        "error: --replay evaluates in one transaction that is rolled back: it cannot be split "
        "with --workers, --partitions or --join\n"
    )


def _files(engine: Engine) -> tuple[bytes, bytes]:
    """The SQLite file's bytes and its WAL's (empty when there is none). The -shm file is no
    part of the database: readers write their marks in it."""
    name = str(engine.url.database)
    wal = Path(f"{name}-wal")
    return Path(name).read_bytes(), wal.read_bytes() if wal.exists() else b""


def _checkpoint(engine: Engine) -> None:
    """Move every committed page into the file and empty the WAL, as the last connection to
    close would: what is left in the WAL afterwards can only come from the replay."""
    with closing(sqlite3.connect(str(engine.url.database))) as conn:
        busy, _, _ = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        assert busy == 0


def test_replay_prints_the_would_be_items_and_changes_nothing_stored(org: Engine) -> None:
    """On SQLite the file stays byte for byte the same; on PostgreSQL every table row for row
    (the id sequences the rolled-back rows drew from stay advanced: sequences never roll back).
    The replay runs in its own process, so that no connection of this one is left open."""
    load(
        org,
        "customers",
        [{"id": "C1", "name": "客户一", "owner_id": "R1", "created_on": "2024-07-01"}],
    )
    assert invoke(org, "evaluate", "--as-of", "2024-07-01").exit_code == 0
    load(
        org,
        "customers",
        [{"id": "C2", "name": "客户二", "owner_id": "R2", "created_on": "2024-06-20"}],
    )
    before = everything(org)
    sqlite = org.dialect.name == "sqlite"
    if sqlite:
        _checkpoint(org)
        files = _files(org)
    command = ["evaluate", "--replay", "--as-of", "2024-06-25", "--db", url_of(org)]
    done = subprocess.run(
        [sys.executable, "-m", "salesplay.cli", *command],
        env={**os.environ, "PYTHONPATH": str(ROOT.parent)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    if sqlite:
        assert _files(org) == files
    assert everything(org) == before
    # the items of tests/engine/run/test_pinning.py's replay, as a listing and a counts line
    lines = done.stdout.splitlines()
    assert lines[0] == "tasks (2):"
    # a table in the playbook's language (the default playbook's is zh): 客户 = customer
    assert lines[3].split() == [
        "follow_up",
        "客户",
        "C2",
        "R2",
        "2024-06-20",
        "跟进",
        "客户二（C",
        "级客户，应于",
        "2024-06-20",
        "前）",
    ]
    assert lines[4].split()[:4] == ["escalation", "任务", "follow_up/C2", "M1"]
    assert lines[5] == "2 条任务"
    assert lines[6] == "alerts (1):"
    assert lines[9].split()[:5] == ["follow_up.overdue", "客户", "C2", "R2", "黄"]
    assert lines[-1] == (
        "replay as of 2024-06-25, nothing stored: alerts 1, grade_changes 1, tasks 2, "
        "tasks_closed 1"
    )


def test_a_replay_with_nothing_evaluated_yet_is_a_dry_run(org: Engine) -> None:
    seed(org)
    result = invoke(org, "evaluate", "--replay", "--as-of", "2024-07-01")
    assert result.exit_code == 0, result.output
    assert everything(org)["runs"] == []
    # four customers due 06-01, a month late: 4 follow-up tasks, 4 overdue alerts, 4 help tasks
    assert result.stdout.splitlines()[-1] == (
        "replay as of 2024-07-01, nothing stored: alerts 4, grade_changes 4, tasks 8"
    )
