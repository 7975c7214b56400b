"""Late tasks escalate (DOMAIN.md §3): due 09-27 escalates on 09-30, due 09-28 does not; help
tasks never escalate and close when the late task is done; plan tasks; reassignment."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from salesplay.engine.present import queries
from tests.conftest import load, rows, run


def plans(engine: Engine) -> None:
    load(
        engine,
        "plan_tasks",
        [
            {"id": "P1", "owner_id": "R1", "title": "拜访 3 家新客户", "due_on": "2024-09-27"},
            {"id": "P2", "owner_id": "R1", "title": "整理报价单", "due_on": "2024-09-28"},
        ],
    )


def help_tasks(engine: Engine) -> list[dict[str, object]]:
    return queries.tasks(engine, rule="escalation")


def test_plan_tasks_become_open_tasks(org: Engine) -> None:
    plans(org)
    run(org, "2024-09-20")
    found = {
        (t["subject_id"], t["assignee_id"], str(t["due"]), t["title"]) for t in queries.tasks(org)
    }
    assert found == {
        ("P1", "R1", "2024-09-27", "拜访 3 家新客户"),
        ("P2", "R1", "2024-09-28", "整理报价单"),
    }
    assert {t["subject_type"] for t in queries.tasks(org)} == {"plan_task"}


def test_escalation_on_day_3_not_day_2(org: Engine) -> None:
    plans(org)
    run(org, "2024-09-29")  # P1: 2 days late
    assert help_tasks(org) == []
    run(org, "2024-09-30")  # P1: 3 days late -> help; P2 (due 09-28): 2 days, not yet
    found = help_tasks(org)
    assert [(t["subject_id"], t["assignee_id"], t["status"]) for t in found] == [
        ("plan/P1", "M1", "open")
    ]
    assert found[0]["title"] == "协助 张伟：拜访 3 家新客户（已逾期 3 天）"
    run(org, "2024-10-01")  # P2: 3 days late now
    assert sorted(t["subject_id"] for t in help_tasks(org)) == ["plan/P1", "plan/P2"]
    again = run(org, "2024-10-01")
    assert again.emitted.get("tasks", 0) == 0


def test_help_tasks_never_escalate_and_close_when_the_late_task_is_done(org: Engine) -> None:
    plans(org)
    run(org, "2024-09-30")
    run(org, "2024-10-20")  # the help tasks (due 09-30, 10-01) are 19-20 days old by now
    assert {t["assignee_id"] for t in queries.tasks(org, rule="escalation")} == {"M1"}
    assert len(help_tasks(org)) == 2  # no help task about a help task, none for M0
    late = next(t for t in queries.tasks(org, rule="plan") if t["subject_id"] == "P1")
    queries.complete_task(org, late["id"], "已完成", date(2024, 10, 21))
    run(org, "2024-10-21")
    status = {t["subject_id"]: (t["status"]) for t in help_tasks(org)}
    assert status == {"plan/P1": "closed", "plan/P2": "open"}
    closed = rows(org, "select closed_on from tasks where subject_id = 'plan/P1'")
    assert str(closed[0]["closed_on"]) == "2024-10-21"


def test_follow_up_tasks_escalate_too(org: Engine) -> None:
    load(
        org,
        "customers",
        [{"id": "C1", "name": "恒通商贸", "owner_id": "R1", "created_on": "2024-09-27"}],
    )
    run(org, "2024-09-29")  # never contacted: follow-up due 09-27, 2 days late
    assert help_tasks(org) == []
    run(org, "2024-09-30")
    assert [(t["subject_id"], t["assignee_id"]) for t in help_tasks(org)] == [
        ("follow_up/C1", "M1")
    ]


def test_open_tasks_follow_the_customer_to_its_new_owner(org: Engine) -> None:
    load(
        org,
        "customers",
        [{"id": "C1", "name": "恒通商贸", "owner_id": "R1", "created_on": "2024-09-01"}],
    )
    run(org, "2024-09-02")
    load(
        org,
        "customers",
        [{"id": "C1", "name": "恒通商贸", "owner_id": "R2", "created_on": "2024-09-01"}],
    )
    run(org, "2024-09-03")
    task = queries.tasks(org, rule="follow_up")
    assert [(t["assignee_id"], t["status"]) for t in task] == [("R2", "open")]
    moves = rows(org, "select * from task_reassignments")
    assert [(m["old_assignee_id"], m["new_assignee_id"], m["reason"]) for m in moves] == [
        ("R1", "R2", "the customer's owner changed")
    ]
    assert str(moves[0]["changed_on"]) == "2024-09-03"


def test_an_inactive_reps_tasks_go_to_the_manager(org: Engine) -> None:
    plans(org)
    run(org, "2024-09-20")
    load(
        org,
        "reps",
        [{"id": "R1", "name": "张伟", "org_unit_id": "SH", "manager_id": "M1", "active": "false"}],
    )
    run(org, "2024-09-21")
    assert {t["assignee_id"] for t in queries.tasks(org, rule="plan")} == {"M1"}
    assert {m["reason"] for m in rows(org, "select reason from task_reassignments")} == {
        "the assignee is inactive or deleted"
    }
    # M1's manager is M0: from now on a late plan task escalates to M0
    run(org, "2024-09-30")
    assert [(t["subject_id"], t["assignee_id"]) for t in help_tasks(org)] == [("plan/P1", "M0")]
