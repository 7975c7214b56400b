"""`salesplay scorecards` end to end through click's runner: the JSON contract, CSV, the table,
one-line errors, and real scores on the demo."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.store import db
from tests.conftest import load


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    """One rep, 张伟 of 一组, June 2024 under a monthly card: sales 700,000 of a 1,000,000
    target (70%) weighs 80%; satisfaction 90 of 80 (112.5%, capped at 100%) weighs 20%.
    Score 0.8 × 0.7 × 100 + 0.2 × 1 × 100 = 56 + 20 = 76."""
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    engine = db.connect(url)
    load(engine, "org_units", [{"id": "T1", "name": "一组"}])
    load(engine, "reps", [{"id": "R1", "name": "张伟", "org_unit_id": "T1"}])
    load(engine, "customers", [{"id": "C1", "name": "华鑫机械", "owner_id": "R1"}])
    load(
        engine,
        "orders",
        [{"id": "O1", "customer_id": "C1", "rep_id": "R1", "amount": 700_000,
          "ordered_on": "2024-06-03"}],
    )  # fmt: skip
    load(
        engine,
        "surveys",
        [{"id": "V1", "customer_id": "C1", "surveyed_on": "2024-06-20", "satisfaction": 90}],
    )
    june = {"owner_type": "rep", "owner_id": "R1", "period_start": "2024-06-01"}
    june["period_end"] = "2024-06-30"
    load(
        engine,
        "targets",
        [
            {"id": "T-s", "metric": "sales", "value": "1000000", **june},
            {"id": "T-q", "metric": "satisfaction", "value": "80", **june},
        ],
    )
    engine.dispose()
    return url


MONTHLY = """\
extends: default
scorecards:
  monthly:
    period: month
    versions:
      - from: 2024-01-01
        kpis:
          - {metric: sales, weight: 80%}
          - {metric: satisfaction, weight: 20%, cap: 100%}
"""


@pytest.fixture
def book(tmp_path: Path) -> str:
    path = tmp_path / "monthly.yaml"
    path.write_text(MONTHLY, "utf-8")
    return str(path)


def test_json_contract(db_url: str, book: str) -> None:
    args = ["--period", "2024-06", "--as-of", "2024-07-02", "--db", db_url, "--playbook", book]
    result = invoke("scorecards", *args, "--format", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == [
        {
            "rep_id": "R1",
            "org_unit_id": "T1",
            "period": "2024-06",
            "card": "monthly",
            "score": 76,
            "rank": 1,
            "team_size": 1,
            "provisional": False,
            "kpis": [
                {"metric": "sales", "weight": 0.8, "cap": None, "target": 1000000,
                 "actual": 700000, "attainment": 0.7, "capped": 0.7, "points": 56.0,
                 "detail": ""},
                {"metric": "satisfaction", "weight": 0.2, "cap": 1.0, "target": 80.0,
                 "actual": 90.0, "attainment": 1.125, "capped": 1.0, "points": 20.0,
                 "detail": "capped"},
            ],
        }
    ]  # fmt: skip


def test_csv_and_table(db_url: str, book: str) -> None:
    args = ["--period", "2024-06", "--as-of", "2024-06-20", "--db", db_url, "--playbook", book]
    rows = list(csv.DictReader(io.StringIO(invoke("scorecards", *args, "--format", "csv").output)))
    assert [(r["rep"], r["metric"], r["points"], r["score"]) for r in rows] == [
        ("R1", "sales", "56.0", "76"),
        ("R1", "satisfaction", "20.0", "76"),
    ]
    table = invoke("scorecards", *args, "--lang", "en").output.splitlines()
    assert table[0].split() == [
        "card", "period", "team", "rep", "name", "score", "rank", "metric", "weight", "target",
        "actual", "attainment", "cap", "counted", "points", "note",
    ]  # fmt: skip
    # as of 06-20 June has not ended: the card is a score so far
    assert table[2].split()[:9] == [
        "monthly", "2024-06", "(so", "far)", "T1", "R1", "张伟", "76.00", "1/1",
    ]  # fmt: skip
    assert table[3].split() == ["satisfaction", "20%", "80", "90", "112.5%", "100%", "100%",
                                "20.00", "capped"]  # fmt: skip


def test_errors_are_one_line(db_url: str, book: str) -> None:
    result = invoke("scorecards", "--period", "2024-13", "--db", db_url, "--playbook", book)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --period: '2024-13' is not a real period")
    result = invoke("scorecards", "--rep", "R9", "--db", db_url, "--playbook", book)
    assert (result.exit_code, result.stderr) == (2, "error: --rep: no rep with id 'R9'\n")


def test_the_demo_scores_every_kpi(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    assert invoke("demo", "--customers", "300", "--as-of", "2024-06-15", "--db", url).exit_code == 0
    result = invoke("scorecards", "--period", "2024-Q2", "--as-of", "2024-06-15", "--db", url)
    assert result.exit_code == 0, result.output
    found = json.loads(
        invoke("scorecards", "--as-of", "2024-06-15", "--db", url, "--format", "json").output
    )
    assert found and {c["period"] for c in found} == {"2024-Q2"}
    assert all(c["provisional"] for c in found)
    # every seller has all four targets, so no KPI says "no target"; ranks start at 1 per team
    assert {k["detail"] for c in found for k in c["kpis"]} <= {"", "capped"}
    assert {k["metric"] for c in found for k in c["kpis"]} == {
        "sales",
        "new_customers",
        "collection_rate",
        "satisfaction",
    }
    for team in {c["org_unit_id"] for c in found}:
        ranks = sorted(c["rank"] for c in found if c["org_unit_id"] == team)
        assert ranks[0] == 1
