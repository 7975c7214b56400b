"""Follow-up cadence (DOMAIN.md §2): due = last qualifying contact + cadence in calendar terms,
a task when due, an overdue alert after a 3-day grace, closed when a qualifying contact comes."""

from __future__ import annotations

from datetime import date

from sqlalchemy.engine import Engine

from salesplay.engine.present import queries
from tests.conftest import load, rows, run


def customers(engine: Engine) -> None:
    # created 2024-06-01: never contacted, they stay out of the default shared pool (60 days)
    load(
        engine,
        "customers",
        [
            {
                "id": "CA",
                "name": "华鑫机械",
                "owner_id": "R1",
                "strategic": "true",
                "created_on": "2024-06-01",
            },
            {
                "id": "CB",
                "name": "恒通商贸",
                "owner_id": "R1",
                "strategic": "false",
                "created_on": "2024-06-01",
            },
            {
                "id": "CC",
                "name": "瑞康医药",
                "owner_id": "R2",
                "strategic": "false",
                "created_on": "2024-06-01",
            },
            {
                "id": "CN",
                "name": "新客户",
                "owner_id": "R2",
                "strategic": "false",
                "created_on": "2024-06-01",
            },
            {
                "id": "CP",
                "name": "公海客户",
                "owner_id": "",
                "strategic": "false",
                "created_on": "2023-01-01",
            },
        ],
    )
    load(
        engine,
        "orders",
        [  # 200,000 in the last 6 months: grade B
            {
                "id": "O1",
                "customer_id": "CB",
                "rep_id": "R1",
                "amount": "200000",
                "ordered_on": "2024-05-01",
            },
        ],
    )


def act(aid: str, cid: str, day: str, channel: str) -> dict[str, str]:
    return {
        "id": aid,
        "customer_id": cid,
        "rep_id": "R1",
        "occurred_at": f"{day} 10:00",
        "channel": channel,
        "content": "跟进",
        "feedback": "",
        "next_step": "",
    }


def open_tasks(engine: Engine) -> dict[str, str]:
    tasks = queries.tasks(engine, rule="follow_up", status="open")  # help tasks aside
    return {t["subject_id"]: str(t["due"]) for t in tasks}


def test_due_dates_per_grade(org: Engine) -> None:
    customers(org)
    load(
        org,
        "activities",
        [
            act("A1", "CA", "2024-06-28", "visit"),  # A: + 1 week = 2024-07-05
            act("A2", "CA", "2024-07-01", "call"),  # a call does not count for A
            act("A3", "CB", "2024-06-21", "wechat"),  # B: + 2 weeks = 2024-07-05
            act("A4", "CC", "2024-06-10", "email"),  # C: + 1 month = 2024-07-10
        ],
    )
    run(org, "2024-07-04")
    # never contacted: due the day it was created; the pooled customer gets no task
    assert open_tasks(org) == {"CN": "2024-06-01"}
    run(org, "2024-07-05")
    assert open_tasks(org) == {"CN": "2024-06-01", "CA": "2024-07-05", "CB": "2024-07-05"}
    run(org, "2024-07-10")
    assert open_tasks(org)["CC"] == "2024-07-10"
    task = next(t for t in queries.tasks(org) if t["subject_id"] == "CA")
    assert task["assignee_id"] == "R1"
    assert task["title"] == "跟进 华鑫机械（A 级客户，应于 2024-07-05 前）"
    assert task["rule"] == "follow_up"


def test_month_end_cadence_clamps(org: Engine) -> None:
    load(
        org,
        "customers",
        [{"id": "CC", "name": "瑞康医药", "owner_id": "R2", "created_on": "2023-01-01"}],
    )
    load(org, "activities", [act("A1", "CC", "2024-01-31", "call")])
    run(org, "2024-02-29")  # 2024-01-31 + 1 month = 2024-02-29
    assert open_tasks(org) == {"CC": "2024-02-29"}


def test_overdue_alert_after_grace_and_resolution(org: Engine) -> None:
    customers(org)
    load(
        org,
        "activities",
        [
            act("A1", "CA", "2024-06-28", "visit"),
            act("A3", "CB", "2024-07-01", "visit"),
            act("A4", "CC", "2024-07-01", "call"),
            act("A5", "CN", "2024-07-01", "call"),
        ],
    )
    run(org, "2024-07-08")  # due 07-05 + 3 days grace = 07-08: not yet overdue
    assert queries.alerts(org) == []
    run(org, "2024-07-09")
    alerts = queries.alerts(org, status="open")
    assert [(a["subject_id"], a["level"], str(a["raised_on"])) for a in alerts] == [
        ("CA", "yellow", "2024-07-09")
    ]
    assert alerts[0]["message"] == "华鑫机械（A 级）已逾期 4 天未跟进，应于 2024-07-05 跟进"
    # a call does not restart an A customer's clock ...
    load(org, "activities", [act("A6", "CA", "2024-07-10", "call")])
    run(org, "2024-07-10")
    assert open_tasks(org) == {"CA": "2024-07-05"}
    # ... a visit does: the task closes, the alert resolves, the next one is due 07-18
    load(org, "activities", [act("A7", "CA", "2024-07-11", "visit")])
    run(org, "2024-07-11")
    assert open_tasks(org) == {}
    closed = queries.tasks(org, subject="CA")[0]
    assert (closed["status"], str(closed["due"])) == ("closed", "2024-07-05")
    resolved = queries.alerts(org, subject="CA")[0]
    assert (resolved["status"], str(resolved["resolved_on"])) == ("resolved", "2024-07-11")
    run(org, "2024-07-18")  # CB's visit of 07-01 + 2 weeks = 07-15; CC and CN are due 08-01
    assert open_tasks(org) == {"CA": "2024-07-18", "CB": "2024-07-15"}


def test_second_evaluation_emits_nothing_and_done_tasks_stay_done(org: Engine) -> None:
    customers(org)
    first = run(org, "2024-07-09")
    # CA, CB, CC, CN never contacted: 4 follow-up tasks due 06-01, each 38 days late, so 4
    # help tasks for the managers (M1 for R1; for R2 the head of 华东, M1 again)
    assert first.emitted["tasks"] == 8
    second = run(org, "2024-07-09")
    assert second.emitted.get("tasks", 0) == 0 and second.emitted.get("alerts", 0) == 0
    task_id = next(t["id"] for t in queries.tasks(org) if t["subject_id"] == "CA")
    queries.complete_task(org, task_id, "已拜访", date(2024, 7, 9))
    third = run(org, "2024-07-10")
    assert third.emitted.get("tasks", 0) == 0
    statuses = {t["subject_id"]: t["status"] for t in queries.tasks(org)}
    assert statuses["CA"] == "done"
    assert len(rows(org, "select id from tasks")) == 8


def test_deleted_customer_closes_its_task(org: Engine) -> None:
    customers(org)
    run(org, "2024-07-09")
    keep = [c for c in ("CA", "CB", "CC", "CN", "CP") if c != "CB"]
    load(
        org,
        "customers",
        [{"id": c, "name": c, "owner_id": "R1" if c != "CP" else ""} for c in keep],
        full=True,
    )
    run(org, "2024-07-10")
    task = queries.tasks(org, subject="CB")[0]
    assert task["status"] == "closed"
