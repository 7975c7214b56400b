"""The follow-up load (`salesplay load`): Σ customers ÷ the cadence in weeks per rep, against
follow_up.capacity; a rep over it is flagged, and a team over its reps' capacity warned."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.errors import PlaybookError
from salesplay.rules.follow_up import load as follow_up_load
from tests.conftest import load, load_playbook, run

PLAYBOOK = """\
extends: default
fields:
  tier: text
grading:
  grades:
    - {grade: A, when: "tier = 'A'"}
    - {grade: B, when: "tier = 'B'"}
    - {grade: C}
follow_up:
  capacity: 30 per week
  cadence:
    A: {every: 1 week}
    B: {every: 2 weeks}
    C: {every: 1 month}
"""


def team(engine: Engine, second_rep_active: str = "true") -> None:
    """R1 in team T1 with 10 A, 20 B and 60 C customers; R2 in T1 with none; R3 in T2 with 10
    C customers; one customer of T1 in the shared pool (no owner: no follow-up)."""
    load(
        engine,
        "org_units",
        [
            {"id": "T1", "name": "一组", "parent_id": "", "kind": "team"},
            {"id": "T2", "name": "二组", "parent_id": "", "kind": "team"},
        ],
    )
    rep = {"manager_id": "", "hired_on": "2020-01-01", "exam_score": "90", "active": "true"}
    load(
        engine,
        "reps",
        [
            {**rep, "id": "R1", "name": "张伟", "org_unit_id": "T1"},
            {**rep, "id": "R2", "name": "李娜", "org_unit_id": "T1", "active": second_rep_active},
            {**rep, "id": "R3", "name": "王芳", "org_unit_id": "T2"},
        ],
    )
    customers = [("R1", "A", 10), ("R1", "B", 20), ("R1", "C", 60), ("R3", "C", 10), ("", "A", 1)]
    load(
        engine,
        "customers",
        [
            # created lately: not idle long enough for the default pool to take them back
            {
                "id": f"C{owner}{tier}{i:02}",
                "name": f"客户{i}",
                "owner_id": owner,
                "tier": tier,
                "created_on": "2024-07-01",
            }
            for owner, tier, count in customers
            for i in range(count)
        ],
    )


@pytest.fixture
def book(tmp_path: Path) -> str:
    path = tmp_path / "playbook.yaml"
    path.write_text(PLAYBOOK, "utf-8")
    return str(path)


def test_a_rep_over_capacity_is_flagged(engine: Engine, book: str) -> None:
    team(engine)
    playbook = load_playbook(book)
    run(engine, "2024-07-05", playbook)
    with engine.connect() as conn:
        found = follow_up_load.compute(conn, playbook, date(2024, 7, 5))
    by_rep = {r.rep_id: r.as_json() for r in found.reps}
    assert by_rep == {
        "R1": {
            "rep_id": "R1",
            "customers": {"A": 10, "B": 20, "C": 60},
            # 10 ÷ 1 + 20 ÷ 2 + 60 ÷ (30/7) = 10 + 10 + 14
            "required_per_week": Decimal("34.00"),
            "capacity": 30,
            "utilisation": Decimal("1.1333"),
            "over": True,
        },
        "R3": {
            "rep_id": "R3",
            "customers": {"A": 0, "B": 0, "C": 10},
            "required_per_week": Decimal("2.33"),  # 70/30 = 2.333…
            "capacity": 30,
            "utilisation": Decimal("0.0778"),
            "over": False,
        },
    }
    # T1 has two active reps: 60 a week between them covers 34, so the team is not over
    assert follow_up_load.warnings(found) == []


def test_a_team_over_its_capacity_is_warned(engine: Engine, book: str, tmp_path: Path) -> None:
    team(engine, second_rep_active="false")
    run(engine, "2024-07-05", load_playbook(book))
    db = str(engine.url.render_as_string(hide_password=False))
    result = CliRunner().invoke(
        cli, ["load", "--as-of", "2024-07-05", "--format", "json", "--db", db, "--playbook", book]
    )
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    assert [(r["rep_id"], r["required_per_week"], r["over"]) for r in found] == [
        ("R1", 34, True),
        ("R3", 2.33, False),
    ]
    assert result.stderr == (
        "warning: team 一组 (T1) needs 34.00 contacts a week; its 1 active reps can make 30 "
        "(30 per week each)\n"
    )
    table = (
        CliRunner()
        .invoke(
            cli, ["load", "--as-of", "2024-07-05", "--lang", "en", "--db", db, "--playbook", book]
        )
        .stdout.splitlines()
    )
    assert table[0].split() == [
        "rep_id",
        "rep",
        "team",
        "A",
        "B",
        "C",
        "required_per_week",
        "capacity",
        "utilisation",
        "over",
    ]
    assert table[2].split() == [
        "R1",
        "张伟",
        "T1",
        "10",
        "20",
        "60",
        "34.00",
        "30",
        "113.3%",
        "OVER",
    ]
    assert table[-2:] == [
        "2 reps",
        "warning: team 一组 (T1) needs 34.00 contacts a week; its 1 active reps can make 30 "
        "(30 per week each)",
    ]
    # in the playbook's own language (the default playbook's: zh)
    zh = CliRunner().invoke(cli, ["load", "--as-of", "2024-07-05", "--db", db, "--playbook", book])
    lines = zh.stdout.splitlines()
    assert lines[0].split() == [
        "销售",
        "姓名",
        "团队",
        "A",
        "B",
        "C",
        "每周需跟进",
        "每周可跟进",
        "负荷率",
        "超负荷",
    ]
    assert lines[2].split()[-1] == "超出" and lines[-2] == "2 名销售"


@pytest.mark.parametrize(
    ("every", "weeks"),
    [
        ("1 week", Fraction(1)),
        ("2 weeks", Fraction(2)),
        ("3 days", Fraction(3, 7)),
        ("1 month", Fraction(30, 7)),
        ("2个月", Fraction(60, 7)),
    ],
)
def test_cadence_in_weeks(every: str, weeks: Fraction) -> None:
    assert follow_up_load.cadence_weeks(every) == weeks


@pytest.mark.parametrize("text", ["30 per week", "30 / week", "每周 30 次", "每周30", "30次/周"])
def test_capacity_as_people_write_it(text: str) -> None:
    assert follow_up_load.parse_capacity(text) == 30


@pytest.mark.parametrize("value", ["30", "30 per day", "0 per week", "30"])
def test_a_capacity_that_says_no_week_is_refused_at_its_line(tmp_path: Path, value: str) -> None:
    path = tmp_path / "company.yaml"
    path.write_text(f"extends: default\nfollow_up:\n  capacity: {value}\n", "utf-8")
    with pytest.raises(PlaybookError) as caught:
        load_playbook(str(path))
    assert str(caught.value) == (
        f"{path}:3: follow_up.capacity: '{value}' is not a capacity: write how many contacts "
        "one rep can make in a week, e.g. '30 per week'"
    )
