"""The schedule, tick, runs and deliveries commands through click's runner."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "book.yaml"
    path.write_text("extends: default\n" + textwrap.dedent(text), "utf-8")
    return str(path)


def test_schedule_lists_every_job_in_local_time_and_utc() -> None:
    result = invoke("schedule", "--from", "2024-07-01T08:30", "--next", "2", "--format", "json")
    assert result.exit_code == 0, result.output
    # --from without an offset is local (Shanghai, +8): after 08:30 on Monday 07-01, the daily
    # 08:00 job fires 07-02 and 07-03; the Monday 09:00 job fires 07-01 and 07-08.
    assert json.loads(result.output) == [
        {
            "job": "daily",
            "cron": "0 8 * * *",
            "timezone": "Asia/Shanghai",
            "fires": [
                {"local": "2024-07-02T08:00:00+08:00", "utc": "2024-07-02T00:00:00+00:00"},
                {"local": "2024-07-03T08:00:00+08:00", "utc": "2024-07-03T00:00:00+00:00"},
            ],
        },
        {
            "job": "weekly_goals",
            "cron": "0 9 * * 1",
            "timezone": "Asia/Shanghai",
            "fires": [
                {"local": "2024-07-01T09:00:00+08:00", "utc": "2024-07-01T01:00:00+00:00"},
                {"local": "2024-07-08T09:00:00+08:00", "utc": "2024-07-08T01:00:00+00:00"},
            ],
        },
    ]


def test_schedule_previews_an_expression_in_any_zone() -> None:
    result = invoke(
        "schedule",
        *("--cron", "30 2 * * *", "--tz", "Europe/Berlin"),
        *("--from", "2024-03-30T12:00:00+00:00", "--next", "2"),
    )
    assert result.exit_code == 0, result.output
    # 2024-03-31 02:30 does not exist in Berlin: once at the jump, 03:00 CEST = 01:00Z
    assert "2024-03-31T03:00:00+02:00  2024-03-31T01:00:00+00:00" in result.output
    assert "2024-04-01T02:30:00+02:00  2024-04-01T00:30:00+00:00" in result.output
    bad = invoke("schedule", "--cron", "0 25 * * *", "--tz", "Asia/Shanghai")
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: --cron: '0 25 * * *' is not a cron expression")


def test_every_two_weeks_from_a_start(tmp_path: Path) -> None:
    book = write(
        tmp_path,
        """
        jobs:
          review: {every: 2 weeks, start: "2024-01-01 09:00", rules: [follow_up]}
        """,
    )
    result = invoke(
        "schedule", "--playbook", book, "--from", "2024-07-01T00:00", "--format", "json"
    )
    review = next(j for j in json.loads(result.output) if j["job"] == "review")
    # 2024-01-01 + 26 weeks = 2024-07-01 (182 days): every other Monday from there
    assert [f["local"][:10] for f in review["fires"][:3]] == [
        "2024-07-01",
        "2024-07-15",
        "2024-07-29",
    ]


@pytest.mark.parametrize(
    ("jobs", "message"),
    [
        (
            'jobs:\n  daily: {cron: "0 8 * *", rules: [grading]}\n',
            "book.yaml:3: jobs.daily.cron: '0 8 * *' is not a cron expression: give five fields "
            "(minute hour day-of-month month day-of-week), e.g. '0 8 * * *'",
        ),
        (
            "jobs:\n  daily:\n    cron: 0 8 * * *\n    rules: [grading, warnings.goal_lagg]\n",
            "book.yaml:5: jobs.daily.rules[1]: unknown rule 'warnings.goal_lagg' "
            "(did you mean 'warnings.goal_lag'?)",
        ),
        (
            "jobs:\n  daily:\n    cron: 0 8 * * *\n    timezone: Asia/Shanghia\n"
            "    rules: [grading]\n",
            "book.yaml:5: jobs.daily.timezone: unknown time zone 'Asia/Shanghia' "
            "(did you mean 'Asia/Shanghai'?)",
        ),
        (
            "jobs:\n  review:\n    every: 2 weeks\n    rules: [grading]\n",
            "book.yaml:4: jobs.review.every: needs start: the first fire time, e.g. "
            "'2024-01-01 09:00'",
        ),
        (
            "delivery:\n  channels:\n    hook: {type: webhook, url: 'https://x'}\n",
            "book.yaml:4: delivery.channels.hook.url: unknown key 'url' (did you mean 'url_env'?)",
        ),
        (
            "delivery:\n  channels:\n    hook: {type: webhook, url_env: HOOK, path: out.jsonl}\n",
            "book.yaml:4: delivery.channels.hook.path: a webhook channel takes no path "
            "(it takes url_env, rate_per_minute, max_attempts, timeout, description)",
        ),
        (
            "delivery:\n  routes:\n    - {channel: robot}\n",
            "book.yaml:4: delivery.routes[0].channel: unknown channel 'robot' "
            "(channels: none defined under delivery.channels)",
        ),
    ],
)
def test_bad_jobs_and_channels_are_located(tmp_path: Path, jobs: str, message: str) -> None:
    result = invoke("validate", write(tmp_path, jobs))
    assert result.exit_code == 2
    assert result.stderr.strip().endswith(message), result.stderr


def test_tick_then_runs_and_deliveries(tmp_path: Path, db_url: str) -> None:
    out = tmp_path / "out.jsonl"
    book = write(
        tmp_path,
        f"""
        delivery:
          channels: {{file: {{type: jsonl, path: "{out}"}}}}
          routes: [{{channel: file, kinds: [tasks]}}]
        """,
    )
    demo = invoke("demo", "--customers", "100", "--as-of", "2024-06-15", "--db", db_url)
    assert demo.exit_code == 0, demo.output
    first = invoke("tick", "--db", db_url, "--playbook", book, "--now", "2024-06-17T09:30")
    assert first.exit_code == 0, first.output
    assert "2024-06-17T00:00:00+00:00 daily: succeeded" in first.output
    assert "2024-06-17T01:00:00+00:00 weekly_goals: succeeded" in first.output
    again = invoke("tick", "--db", db_url, "--playbook", book, "--now", "2024-06-17T09:30")
    assert again.output == ""  # the same pass twice: nothing runs twice, nothing to send
    ledger = json.loads(invoke("runs", "--db", db_url, "--job", "daily", "--format", "json").output)
    assert [
        set(r)
        >= {
            "id",
            "job",
            "slot",
            "status",
            "started_at",
            "finished_at",
            "as_of",
            "playbook_hash",
            "emitted",
        }
        for r in ledger
    ] == [True]
    assert ledger[0]["slot"] == "2024-06-17T00:00:00+00:00" and ledger[0]["as_of"] == "2024-06-17"
    manual = json.loads(
        invoke("runs", "--db", db_url, "--job", "manual", "--format", "json").output
    )
    assert [r["slot"] for r in manual] == [None]  # the demo's evaluate
    sent = json.loads(invoke("deliveries", "--db", db_url, "--format", "json").output)
    tasks = ledger[0]["emitted"]["tasks"]
    assert len(sent) == tasks and {d["status"] for d in sent} == {"sent"}
    assert len(out.read_text("utf-8").splitlines()) == tasks
    retried = invoke("deliveries", "retry", "--db", db_url)
    assert retried.output.strip() == "0 deliveries queued again"
