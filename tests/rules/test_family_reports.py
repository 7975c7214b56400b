"""The reports families offer (`salesplay report follow-up`, `grades`, …), each on a small data
set whose figures are computed by hand below, on both databases."""

from __future__ import annotations

from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.present import reports
from salesplay.engine.store.models import Grade, table_of
from salesplay.rules.grading import GradeChange
from tests.conftest import load, load_playbook

AS_OF = date(2024, 6, 30)


def rows_of(engine: Engine, kind: str, **asked: Any) -> list[dict[str, Any]]:
    book = load_playbook("default")
    found = reports.query(engine, book, AS_OF, asked.pop("period", "2024-06"), **asked)
    return reports.run(kind, found).rows


def grade(engine: Engine, *given: tuple[str, str]) -> None:
    with engine.begin() as conn:
        for customer, name in given:
            conn.execute(
                sa.insert(table_of(Grade)).values(
                    customer_id=customer, grade=name, since=date(2024, 1, 1)
                )
            )


def visit(id_: str, customer: str, day: str, channel: str = "visit") -> dict[str, str]:
    return {"id": id_, "customer_id": customer, "rep_id": "R1", "occurred_at": f"{day} 10:00",
            "channel": channel}  # fmt: skip


def test_follow_up_compliance_by_hand(org: Engine) -> None:
    """Default cadences: A every week by visit or video, B every 2 weeks, C every month.

    CA (A, R1): visits 05-01, 05-28, 06-03, 06-12, 06-25 and a call 06-15 (not an A contact).
    Due in June: 06-04 (05-28 + 1 week; met 06-03: on time), 06-10 (met 06-12: late), 06-19
    (met 06-25: late); 07-02 is after June and 05-08 before it. CB (B, R1), created 06-05 and
    never contacted: due 06-05, open. CC (C, R2): wechat 05-20, due 06-20, open."""
    load(
        org,
        "customers",
        [
            {"id": "CA", "name": "华鑫机械", "owner_id": "R1", "created_on": "2024-01-01"},
            {"id": "CB", "name": "恒通商贸", "owner_id": "R1", "created_on": "2024-06-05"},
            {"id": "CC", "name": "瑞康医药", "owner_id": "R2", "created_on": "2024-01-01"},
        ],
    )
    load(
        org,
        "activities",
        [
            visit("V1", "CA", "2024-05-01"),
            visit("V2", "CA", "2024-05-28"),
            visit("V3", "CA", "2024-06-03"),
            visit("V4", "CA", "2024-06-12"),
            visit("V5", "CA", "2024-06-15", "call"),
            visit("V6", "CA", "2024-06-25"),
            visit("V7", "CC", "2024-05-20", "wechat"),
        ],
    )
    grade(org, ("CA", "A"), ("CB", "B"), ("CC", "C"))
    got = {(row["rep_id"], row["grade"]): row for row in rows_of(org, "follow-up")}
    a = got[("R1", "A")]
    assert (a["due"], a["on_time"], a["late"], a["open"]) == (3, 1, 2, 0)
    assert a["on_time_rate"] == 0.3333
    assert (got[("R1", "B")]["due"], got[("R1", "B")]["open"]) == (1, 1)
    assert got[("R1", "B")]["on_time_rate"] == 0.0
    assert (got[("R2", "C")]["due"], got[("R2", "C")]["open"]) == (1, 1)
    may = {(r["rep_id"], r["grade"]): r for r in rows_of(org, "follow-up", period="2024-05")}
    assert (may[("R1", "A")]["due"], may[("R1", "A")]["late"]) == (1, 1)  # 05-08, met 05-28
    assert rows_of(org, "follow-up", under="EC") != []
    load(org, "org_units", [{"id": "BJ", "name": "北京", "parent_id": "HQ"}])
    assert rows_of(org, "follow-up", under="BJ") == []


def test_grade_mix_and_movements_by_hand(org: Engine) -> None:
    """Grades on 06-01 → 06-30: C1 B → A, C2 C → C, C3 (none) → C, C4 B → C; C2 won a deal."""
    load(
        org,
        "customers",
        [{"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1"} for i in range(1, 5)],
    )
    changes = [
        ("C1", None, "B", "2024-05-01"),
        ("C1", "B", "A", "2024-06-10"),
        ("C2", None, "C", "2024-05-01"),
        ("C3", None, "C", "2024-06-15"),
        ("C4", None, "B", "2024-05-01"),
        ("C4", "B", "C", "2024-06-20"),
    ]
    with org.begin() as conn:
        for customer, old, new, day in changes:
            conn.execute(
                sa.insert(table_of(GradeChange)).values(
                    customer_id=customer,
                    old_grade=old,
                    new_grade=new,
                    changed_on=date.fromisoformat(day),
                )
            )
    load(
        org,
        "deals",
        [{"id": "D1", "customer_id": "C2", "rep_id": "R1", "stage": "contract",
          "amount": 10, "stage_changed_on": "2024-06-10", "status": "won"}],
    )  # fmt: skip
    got = {row["grade"]: row for row in rows_of(org, "grades", since=date(2024, 6, 1))}
    a, b, c = got["A"], got["B"], got["C"]
    assert (a["customers"], a["share"], a["at_since"], a["moved_in"], a["moved_out"]) == (
        1,
        0.25,
        0,
        1,
        0,
    )
    assert (b["customers"], b["at_since"], b["moved_out"], b["to"]) == (0, 2, 2, {"A": 1, "C": 1})
    assert (c["customers"], c["share"], c["at_since"], c["moved_in"]) == (3, 0.75, 1, 2)
    assert (c["won"], c["conversion"]) == (1, 0.3333)
    assert b["conversion"] is None
