"""Grading by DOMAIN.md §2 with the default playbook's numbers, boundaries computed by hand."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from salesplay.engine.store.db import transaction
from salesplay.rules.grading import set_manual_grade
from tests.conftest import load, load_playbook, rows, run

AS_OF = "2024-08-31"  # last 6 months: 2024-02-29 .. 2024-08-31, both ends included


def customer(cid: str, **extra: str) -> dict[str, str]:
    base = {
        "id": cid,
        "name": f"客户{cid}",
        "owner_id": "R1",
        "org_unit_id": "SH",
        "industry": "制造",
        "strategic": "false",
        "status": "active",
        "created_on": "2023-01-01",
    }
    return {**base, **extra}


def grade_of(engine: Engine) -> dict[str, str]:
    return {r["customer_id"]: r["grade"] for r in rows(engine, "select * from grades")}


def test_grade_boundaries_and_window(org: Engine) -> None:
    load(
        org,
        "customers",
        [customer(f"C{i}") for i in range(1, 11)] + [customer("C11", strategic="true")],
    )
    load(
        org,
        "orders",
        [
            # exactly 500,000 inside the window -> A
            {
                "id": "O1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "500000",
                "ordered_on": "2024-02-29",
            },
            # 499,999.99 -> B
            {
                "id": "O2",
                "customer_id": "C2",
                "rep_id": "R1",
                "amount": "499999.99",
                "ordered_on": "2024-08-31",
            },
            # exactly 100,000 -> B ; 99,999.99 -> C
            {
                "id": "O3",
                "customer_id": "C3",
                "rep_id": "R1",
                "amount": "100000",
                "ordered_on": "2024-05-01",
            },
            {
                "id": "O4",
                "customer_id": "C4",
                "rep_id": "R1",
                "amount": "99999.99",
                "ordered_on": "2024-05-01",
            },
            # 600,000 one day before the window opens -> does not count -> C
            {
                "id": "O5",
                "customer_id": "C5",
                "rep_id": "R1",
                "amount": "600000",
                "ordered_on": "2024-02-28",
            },
            # dated after the as-of date -> ignored -> C
            {
                "id": "O6",
                "customer_id": "C6",
                "rep_id": "R1",
                "amount": "600000",
                "ordered_on": "2024-09-01",
            },
        ],
    )
    load(
        org,
        "deals",
        [
            # open pipeline exactly 1,000,000 -> A; 999,999.99 -> B (>= 300,000)
            {
                "id": "D1",
                "customer_id": "C7",
                "rep_id": "R1",
                "stage": "proposal",
                "amount": "600000",
                "status": "open",
            },
            {
                "id": "D2",
                "customer_id": "C7",
                "rep_id": "R1",
                "stage": "lead",
                "amount": "400000",
                "status": "open",
            },
            {
                "id": "D3",
                "customer_id": "C8",
                "rep_id": "R1",
                "stage": "proposal",
                "amount": "999999.99",
                "status": "open",
            },
            # exactly 300,000 open -> B; a lost 2,000,000 deal does not count -> C
            {
                "id": "D4",
                "customer_id": "C9",
                "rep_id": "R1",
                "stage": "lead",
                "amount": "300000",
                "status": "open",
            },
            {
                "id": "D5",
                "customer_id": "C10",
                "rep_id": "R1",
                "stage": "contract",
                "amount": "2000000",
                "status": "lost",
            },
            {
                "id": "D6",
                "customer_id": "C10",
                "rep_id": "R1",
                "stage": "lead",
                "amount": "299999.99",
                "status": "open",
            },
        ],
    )
    run(org, AS_OF)
    assert grade_of(org) == {
        "C1": "A",
        "C2": "B",
        "C3": "B",
        "C4": "C",
        "C5": "C",
        "C6": "C",
        "C7": "A",
        "C8": "B",
        "C9": "B",
        "C10": "C",
        "C11": "A",
    }


def test_grade_change_is_recorded_with_date_and_values(org: Engine) -> None:
    load(org, "customers", [customer("C1")])
    load(
        org,
        "orders",
        [
            {
                "id": "O1",
                "customer_id": "C1",
                "rep_id": "R1",
                "amount": "150000",
                "ordered_on": "2024-03-15",
            }
        ],
    )
    run(org, "2024-08-31")
    # 2024-09-16: the order of 2024-03-15 has left the window (2024-03-16 .. 2024-09-16)
    run(org, "2024-09-16")
    changes = rows(org, "select * from grade_changes order by id")
    assert [(c["old_grade"], c["new_grade"], str(c["changed_on"])) for c in changes] == [
        (None, "B", "2024-08-31"),
        ("B", "C", "2024-09-16"),
    ]
    grade = rows(org, "select grade, since from grades")[0]
    assert (grade["grade"], str(grade["since"])) == ("C", "2024-09-16")
    assert '"revenue_6m"' in str(changes[0]["detail"]).replace("'", '"')


def test_manual_grade_wins_until_it_expires(org: Engine) -> None:
    load(org, "customers", [customer("C1")])
    book = load_playbook("default")
    with transaction(org) as conn:
        set_manual_grade(
            conn, book, "C1", "A", "M1", "战略潜力", None, __import__("datetime").date(2024, 6, 1)
        )
    run(org, "2024-06-30")
    assert grade_of(org) == {"C1": "A"}
    with transaction(org) as conn:
        set_manual_grade(
            conn,
            book,
            "C1",
            "B",
            "M1",
            "试用期",
            __import__("datetime").date(2024, 7, 15),
            __import__("datetime").date(2024, 7, 1),
        )
    run(org, "2024-07-15")
    assert grade_of(org) == {"C1": "B"}
    run(org, "2024-07-16")  # expired: the rules decide again
    assert grade_of(org) == {"C1": "C"}
