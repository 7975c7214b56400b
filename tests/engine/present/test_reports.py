"""`salesplay report funnel` and `warnings` (the engine's own reports) on a small organisation
whose figures are computed by hand below; the envelope and bad input through the CLI."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.errors import SalesplayError
from salesplay.engine.present import reports
from salesplay.engine.store.models import Alert, Task, table_of
from tests.conftest import load, load_playbook

AS_OF = date(2024, 6, 30)


def city(engine: Engine) -> None:
    """北京 beside 华东 under HQ, with rep R3: what a 上海 report must leave out."""
    load(engine, "org_units", [{"id": "BJ", "name": "北京", "parent_id": "HQ", "kind": "city"}])
    load(engine, "reps", [{"id": "R3", "name": "王芳", "org_unit_id": "BJ"}])


def deals(engine: Engine) -> None:
    city(engine)
    load(
        engine,
        "customers",
        [
            {"id": "C1", "name": "华鑫机械", "owner_id": "R1", "created_on": "2024-05-16"},
            {"id": "C2", "name": "恒通商贸", "owner_id": "R2", "created_on": "2024-01-01"},
            {"id": "C3", "name": "京华科技", "owner_id": "R3", "created_on": "2024-01-01"},
        ],
    )
    d = [
        # id, customer, rep, stage, amount, stage changed, status
        ("D1", "C1", "R1", "lead", 100, "2024-06-10", "open"),  # 20 days in stage
        ("D2", "C1", "R1", "lead", 300, "2024-06-20", "open"),  # 10 days
        ("D3", "C1", "R1", "contract", 50, "2024-06-15", "won"),  # cycle 2024-05-16 → 30 days
        ("D4", "C2", "R2", "contract", 70, "2024-06-05", "lost"),
        ("D5", "C2", "R2", "contract", 90, "2024-05-20", "won"),  # closed before June
        ("D6", "C2", "R2", "proposal", 40, "2024-06-25", "lost"),
        ("D7", "C3", "R3", "lead", 999, "2024-06-01", "open"),  # 北京
    ]
    load(
        engine,
        "deals",
        [
            dict(zip(("id", "customer_id", "rep_id", "stage", "amount", "stage_changed_on",
                      "status"), row, strict=True))
            for row in d
        ],
    )  # fmt: skip


def rows_of(engine: Engine, kind: str, **asked: Any) -> list[dict[str, Any]]:
    book = asked.pop("book", None) or load_playbook("default")
    found = reports.query(engine, book, AS_OF, asked.pop("period", "2024-06"), **asked)
    return reports.run(kind, found).rows


def test_funnel_by_hand(org: Engine) -> None:
    deals(org)
    got = {row["stage"]: row for row in rows_of(org, "funnel", under="SH")}
    assert list(got) == ["lead", "contract", "proposal", None]
    lead, contract, proposal, total = got["lead"], got["contract"], got["proposal"], got[None]
    assert (lead["open_deals"], lead["open_amount"], lead["avg_days_in_stage"]) == (2, 400, 15.0)
    assert (lead["closed_deals"], lead["win_rate"]) == (0, None)
    # D3 won and D4 lost in June at contract; D5 was won in May
    assert (contract["closed_deals"], contract["won_deals"], contract["win_rate"]) == (2, 1, 0.5)
    assert contract["avg_cycle_days"] == 30.0
    assert (proposal["closed_deals"], proposal["win_rate"]) == (1, 0.0)
    assert (total["open_deals"], total["closed_deals"], total["won_deals"]) == (2, 3, 1)
    assert total["win_rate"] == 0.3333
    everyone = {row["stage"]: row for row in rows_of(org, "funnel")}
    assert everyone["lead"]["open_deals"] == 3  # 北京's D7 too


def test_funnel_without_data_is_empty(org: Engine) -> None:
    assert rows_of(org, "funnel") == []


BUDGET = "extends: default\ndelivery:\n  alert_budget: 1 per week\n"


def alerts(engine: Engine) -> None:
    load(engine, "customers", [{"id": "C1", "name": "华鑫机械", "owner_id": "R1"}])
    load(
        engine,
        "activities",
        [{"id": "A1", "customer_id": "C1", "rep_id": "R1", "occurred_at": "2024-06-22 10:00",
          "channel": "visit"}],
    )  # fmt: skip
    raised = [
        # rule, recipient, level, raised, status, acknowledged, resolved
        ("x.noisy", "M1", "red", "2024-06-01", "acknowledged", "2024-06-03", None),  # handled
        ("x.noisy", "M1", "red", "2024-06-02", "resolved", None, "2024-06-20"),  # 18 days: not
        ("x.noisy", "M1", "red", "2024-06-10", "open", None, None),  # 20 days old
        ("x.noisy", "M1", "yellow", "2024-06-20", "open", None, None),  # visit 06-22: acted
        ("x.noisy", "M1", "yellow", "2024-06-28", "open", None, None),  # 2 days old
        ("y.quiet", "R1", "green", "2024-06-15", "open", None, None),  # 15 days old
        ("y.quiet", "R1", "green", "2024-05-20", "resolved", None, "2024-06-05"),
    ]
    a, t = table_of(Alert), table_of(Task)
    with engine.begin() as conn:
        for seq, (rule, to, level, day, status, ack, done) in enumerate(raised):
            conn.execute(
                sa.insert(a).values(
                    rule=rule, subject_type="customer", subject_id="C1", episode="e", seq=seq,
                    recipient_id=to, level=level, message="m", raised_on=date.fromisoformat(day),
                    status=status, acknowledged_on=ack and date.fromisoformat(ack),
                    resolved_on=done and date.fromisoformat(done),
                )
            )  # fmt: skip
        # a task on the same customer done on 06-04: within 7 days of the alerts of 06-01, 06-02
        conn.execute(
            sa.insert(t).values(
                rule="follow_up", subject_type="customer", subject_id="C1", episode="e", seq=0,
                assignee_id="R1", title="t", status="done", created_on=date(2024, 6, 1),
                closed_on=date(2024, 6, 4),
            )
        )  # fmt: skip


def test_warnings_noise_by_hand(org: Engine, tmp_path: Path) -> None:
    alerts(org)
    path = tmp_path / "playbook.yaml"
    path.write_text(BUDGET, "utf-8")
    got = rows_of(org, "warnings", book=load_playbook(str(path)))
    rules = {row["rule"]: row for row in got if row["part"] == "rule"}
    noisy, quiet = rules["x.noisy"], rules["y.quiet"]
    assert (noisy["open"], noisy["open_red"], noisy["open_yellow"], noisy["open_green"]) == (
        3,
        1,
        2,
        0,
    )
    assert (noisy["raised"], noisy["resolved"]) == (5, 1)
    assert noisy["handled_share"] == 0.2  # only the one acknowledged in 2 days
    assert noisy["acted_share"] == 0.6  # the task of 06-04 (twice) and the visit of 06-22
    assert noisy["median_open_days"] == 10.0  # 20, 10, 2
    # 5 alerts to M1 in June's 30 days = 30/7 weeks: 1.17 a week, over a budget of 1
    assert (noisy["per_week"], noisy["budget"], noisy["over_budget"]) == (1.17, 1, True)
    assert (quiet["raised"], quiet["resolved"], quiet["median_open_days"]) == (1, 1, 15.0)
    # the visit of 06-22 came 7 days after its alert of 06-15: within the week, so it acted
    assert (quiet["handled_share"], quiet["acted_share"], quiet["over_budget"]) == (0.0, 1.0, False)
    people = {row["recipient_id"]: row for row in got if row["part"] == "recipient"}
    assert (people["M1"]["raised"], people["M1"]["over_budget"]) == (5, True)
    assert (people["R1"]["per_week"], people["R1"]["over_budget"]) == (0.23, False)
    scoped = rows_of(org, "warnings", under="SH")  # R1 is in 上海, M1 in 华东 above it
    assert {row["rule"] for row in scoped if row["part"] == "rule"} == {"y.quiet"}


def test_no_budget_flags_nothing(org: Engine) -> None:
    alerts(org)
    assert not any(row["over_budget"] for row in rows_of(org, "warnings"))


def test_bad_input_is_one_line(org: Engine) -> None:
    book = load_playbook("default")
    with pytest.raises(SalesplayError, match="--under: no org unit with id 'NOPE'"):
        reports.query(org, book, AS_OF, None, "NOPE")
    with pytest.raises(SalesplayError, match="--period: '2024-13' is not a real period"):
        reports.query(org, book, AS_OF, "2024-13")
    with pytest.raises(SalesplayError, match="unknown report 'nope': choose one of funnel"):
        reports.run("nope", reports.query(org, book, AS_OF))


def test_cli_envelope_and_exit_2(tmp_path: Path) -> None:
    from salesplay.engine.store import db

    url = f"sqlite:///{tmp_path / 'r.db'}"
    engine = db.connect(url)
    load(engine, "org_units", [{"id": "SH", "name": "上海"}])
    given = ["--db", url, "--as-of", "2024-06-30"]
    out = CliRunner().invoke(cli, ["report", "funnel", *given, "--under", "SH", "--format", "json"])
    assert out.exit_code == 0, out.output
    assert json.loads(out.output) == {
        "kind": "funnel",
        "as_of": "2024-06-30",
        "period": "2024-06",
        "under": "SH",
        "rows": [],
    }
    bad = CliRunner().invoke(cli, ["report", "funnel", *given, "--under", "NOPE"])
    assert bad.exit_code == 2
    assert bad.output.strip().splitlines() == ["error: --under: no org unit with id 'NOPE'"]
    bad = CliRunner().invoke(cli, ["report", "grades", *given, "--period", "2024-Q5"])
    assert bad.exit_code == 2 and len(bad.output.strip().splitlines()) == 1


def test_every_kind_answers_no_rows_without_data(org: Engine) -> None:
    """Each report's SQL runs on both databases; a scope without data gives no rows, not an
    error."""
    book = load_playbook("default")
    kinds = reports.available(book)
    assert set(kinds) >= {"funnel", "grades", "follow-up", "warnings", "visits", "goals"}
    assert {"payouts", "scorecards"} <= set(kinds)
    asked = reports.query(org, book, AS_OF, "2024-Q2", "SH", date(2024, 4, 1))
    for kind in kinds:
        found = reports.run(kind, asked)
        assert found.rows == [], kind
        assert found.envelope()["period"] == "2024-Q2"
