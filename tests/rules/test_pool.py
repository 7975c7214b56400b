"""The shared pool (公海): release after 60 days without activity (A and strategic excepted),
alerts to the former owner and their manager, owner changes recorded, re-imports, assignment."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import Engine

from salesplay.engine.present import queries
from salesplay.engine.run.family import Playbook
from tests.conftest import load, load_playbook, rows, run


def customer(cid: str, name: str, owner: str = "R1", strategic: str = "false") -> dict[str, str]:
    return {
        "id": cid,
        "name": name,
        "owner_id": owner,
        "strategic": strategic,
        "created_on": "2024-01-01",
    }


def visit(aid: str, cid: str, day: str) -> dict[str, str]:
    return {
        "id": aid,
        "customer_id": cid,
        "rep_id": "R1",
        "occurred_at": f"{day} 10:00",
        "channel": "visit",
    }


def seed(engine: Engine) -> None:
    load(
        engine,
        "customers",
        [
            customer("CB", "恒通商贸"),
            customer("CS", "华鑫机械", strategic="true"),
            customer("CA", "瑞康医药"),
        ],
    )
    load(  # CA: 600,000 in the last 6 months -> grade A
        engine,
        "orders",
        [
            {
                "id": "O1",
                "customer_id": "CA",
                "rep_id": "R1",
                "amount": "600000",
                "ordered_on": "2024-04-01",
            }
        ],
    )
    # last activity 2024-05-06 for all three: 60 days before 2024-07-05
    load(engine, "activities", [visit(f"A{c}", c, "2024-05-06") for c in ("CB", "CS", "CA")])


def pooled(engine: Engine) -> list[str]:
    return [c["id"] for c in queries.customers(engine, pooled=True)]


def test_release_at_60_days_not_59(org: Engine) -> None:
    seed(org)
    run(org, "2024-07-04")  # 05-06 + 59 days
    assert pooled(org) == []
    run(org, "2024-07-05")  # 05-06 + 60 days: CB goes; CS (strategic) and CA (grade A) stay
    assert pooled(org) == ["CB"]
    listed = {c["id"]: c for c in queries.customers(org)}
    assert listed["CB"] == {
        "id": "CB",
        "name": "恒通商贸",
        "owner_id": None,
        "grade": "C",
        "pooled": True,
    }
    assert listed["CA"]["grade"] == "A" and listed["CA"]["owner_id"] == "R1"
    changes = rows(org, "select * from owner_changes where source = 'rule'")
    assert [(c["customer_id"], c["old_owner_id"], c["new_owner_id"]) for c in changes] == [
        ("CB", "R1", None)
    ]
    assert changes[0]["reason"] == "pool.release: no activity for 60 days"
    alerts = {(a["rule"], a["subject_id"]): a for a in queries.alerts(org, status="open")}
    release = alerts[("pool.release", "CB")]
    assert release["message"] == "恒通商贸 已 60 天无跟进，退回公海"
    assert release["level"] == "yellow"
    assert alerts[("pool.release.manager", "CB")]["message"] == release["message"]
    recipients = rows(org, "select rule, recipient_id from alerts where rule like 'pool%'")
    assert sorted((r["rule"], r["recipient_id"]) for r in recipients) == [
        ("pool.release", "R1"),
        ("pool.release.manager", "M1"),
    ]
    # the pooled customer's follow-up task went away with its owner; nothing new next day
    assert queries.tasks(org, rule="follow_up", subject="CB", status="open") == []
    again = run(org, "2024-07-06")
    assert again.emitted.get("alerts", 0) == 0 and again.emitted.get("customers_pooled", 0) == 0


def test_a_stale_crm_export_does_not_undo_the_pool_a_new_owner_does(org: Engine) -> None:
    seed(org)
    run(org, "2024-07-05")
    load(org, "customers", [customer("CB", "恒通商贸", owner="R1")])  # the CRM still says R1
    assert pooled(org) == ["CB"]
    assert rows(org, "select count(*) as n from owner_changes where source = 'import'")[0]["n"] == 0
    load(org, "customers", [customer("CB", "恒通商贸", owner="R2")])  # a deliberate new owner
    assert pooled(org) == []
    change = rows(org, "select * from owner_changes where source = 'import'")
    assert [(c["old_owner_id"], c["new_owner_id"]) for c in change] == [(None, "R2")]
    run(org, "2024-07-06")  # the alerts resolve: the customer has an owner again
    resolved = queries.alerts(org, rule="pool.release")
    assert [(a["status"], str(a["resolved_on"])) for a in resolved] == [("resolved", "2024-07-06")]
    load(org, "customers", [customer("CB", "恒通商贸", owner="R1")])  # from now on the CRM wins
    assert queries.customers(org, owner="R1")[0]["id"] == "CA"
    assert "CB" in [c["id"] for c in queries.customers(org, owner="R1")]


def assigning(tmp_path: Path, strategy: str) -> Playbook:
    path = tmp_path / "company.yaml"
    path.write_text(
        f"extends: default\npool:\n  assign:\n    strategy: {strategy}\n    within: team\n",
        "utf-8",
    )
    return load_playbook(str(path))


def team(engine: Engine) -> None:
    load(
        engine,
        "reps",
        [
            {
                "id": "R3",
                "name": "王芳",
                "org_unit_id": "SH",
                "manager_id": "M1",
                "hired_on": "2020-01-01",
                "exam_score": "90",
                "active": "true",
            },
            {
                "id": "R4",
                "name": "赵磊",
                "org_unit_id": "SH",
                "manager_id": "M1",
                "hired_on": "2020-01-01",
                "exam_score": "90",
                "active": "false",
            },
        ],
    )


def test_round_robin_within_the_team(org: Engine, tmp_path: Path) -> None:
    team(org)
    load(org, "customers", [customer(f"P{i}", f"客户{i}") for i in range(1, 5)])
    run(org, "2024-07-05", assigning(tmp_path, "round_robin"))  # never contacted since 01-01
    # active reps of 上海 in id order R1, R2, R3 (R4 inactive): P1 R1, P2 R2, P3 R3, P4 R1
    owners = {c["id"]: c["owner_id"] for c in queries.customers(org)}
    assert owners == {"P1": "R1", "P2": "R2", "P3": "R3", "P4": "R1"}
    changes = rows(org, "select * from owner_changes where new_owner_id is not null")
    assert len(changes) == 4
    assert {c["reason"] for c in changes} == {"pool.assign: round_robin within team SH"}
    again = run(org, "2024-07-06", assigning(tmp_path, "round_robin"))  # the clock restarted
    assert again.emitted.get("customers_pooled", 0) == 0


def test_least_loaded_within_the_team(org: Engine, tmp_path: Path) -> None:
    team(org)
    load(
        org,
        "customers",
        [
            *[customer(f"P{i}", f"客户{i}") for i in range(1, 4)],  # idle: released from R1
            customer("K1", "老客户1"),  # R1 keeps one (recent visit)
            customer("K2", "老客户2", owner="R2"),
            customer("K3", "老客户3", owner="R2"),
        ],
    )
    load(org, "activities", [visit(f"A{c}", c, "2024-07-01") for c in ("K1", "K2", "K3")])
    run(org, "2024-07-05", assigning(tmp_path, "least_loaded"))
    # loads after release R1 1, R2 2, R3 0: P1 -> R3 (0), P2 -> R1 (1, ties R3 at 1, lower id),
    # P3 -> R3 (1; R1 and R2 have 2)
    owners = {c["id"]: c["owner_id"] for c in queries.customers(org) if c["id"].startswith("P")}
    assert owners == {"P1": "R3", "P2": "R1", "P3": "R3"}
