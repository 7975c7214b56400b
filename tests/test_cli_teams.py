"""The team commands through click's runner: customers, alert ack/snooze, import plan_tasks,
task done --note."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from salesplay.cli import cli


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write(path: Path, text: str) -> Path:
    path.write_text(text, "utf-8")
    return path


def setup(tmp_path: Path) -> str:
    db = f"sqlite:///{tmp_path / 'teams.db'}"
    files = {
        "org_units": "id,name,parent_id,kind,manager_id\nSH,上海,,city,M1\n",
        "reps": "id,name,org_unit_id,manager_id,hired_on,exam_score,active\n"
        "M1,经理,SH,,2015-01-01,95,true\nR1,张伟,SH,M1,2020-01-01,85,true\n",
        "customers": "id,name,owner_id,org_unit_id,industry,strategic,status,created_on\n"
        "C1,恒通商贸,R1,SH,,false,,2024-01-01\nC2,华鑫机械,R1,SH,,false,,2024-06-01\n",
        "plan_tasks": "id,owner_id,title,due_on\nP1,R1,拜访 3 家新客户,2024-06-03\n",
    }
    for kind, text in files.items():
        result = invoke("import", kind, str(write(tmp_path / f"{kind}.csv", text)), "--db", db)
        assert result.exit_code == 0, result.output
    assert invoke("evaluate", "--as-of", "2024-06-06", "--db", db, "--quiet").exit_code == 0
    return db


def test_customers_lists_the_pool(tmp_path: Path) -> None:
    db = setup(tmp_path)
    # C1: created 01-01, never contacted: idle 157 days by 06-06, released; C2: 5 days
    listed = json.loads(invoke("customers", "--format", "json", "--db", db).output)
    assert listed == [
        {"id": "C1", "name": "恒通商贸", "owner_id": None, "grade": "C", "pooled": True},
        {"id": "C2", "name": "华鑫机械", "owner_id": "R1", "grade": "C", "pooled": False},
    ]
    pooled = json.loads(invoke("customers", "--pooled", "--format", "json", "--db", db).output)
    assert [c["id"] for c in pooled] == ["C1"]


def test_import_plan_tasks_and_task_done_with_a_note(tmp_path: Path) -> None:
    db = setup(tmp_path)
    tasks = json.loads(invoke("tasks", "--rule", "plan", "--format", "json", "--db", db).output)
    assert [(t["subject_id"], t["assignee_id"], t["due"]) for t in tasks] == [
        ("P1", "R1", "2024-06-03")
    ]
    # due 06-03, 3 days late on 06-06: a help task for M1; so is C2's follow-up (due 06-01)
    helps = json.loads(
        invoke("tasks", "--rule", "escalation", "--format", "json", "--db", db).output
    )
    assert sorted((t["subject_id"], t["assignee_id"]) for t in helps) == [
        ("follow_up/C2", "M1"),
        ("plan/P1", "M1"),
    ]
    done = invoke("task", "done", str(tasks[0]["id"]), "--note", "已完成拜访", "--db", db)
    assert done.exit_code == 0, done.output
    import sqlalchemy as sa

    engine = sa.create_engine(db)
    with engine.connect() as conn:
        note = conn.execute(sa.text("select note, status from tasks where rule = 'plan'")).one()
    assert tuple(note) == ("已完成拜访", "done")


def test_alert_ack_and_snooze(tmp_path: Path) -> None:
    db = setup(tmp_path)
    alerts = json.loads(invoke("alerts", "--format", "json", "--db", db).output)
    overdue = next(
        a for a in alerts if a["rule"] == "follow_up.overdue" and a["subject_id"] == "C2"
    )
    acked = invoke("alert", "ack", str(overdue["id"]), "--db", db)
    assert acked.exit_code == 0 and acked.output.strip() == f"alert {overdue['id']}: acknowledged"
    snoozed = invoke("alert", "snooze", str(overdue["id"]), "--until", "2024-06-20", "--db", db)
    assert snoozed.output.strip() == f"alert {overdue['id']}: snoozed until 2024-06-20"
    listed = json.loads(invoke("alerts", "--format", "json", "--db", db).output)
    assert overdue["id"] not in [a["id"] for a in listed]
    quiet = json.loads(
        invoke("alerts", "--status", "snoozed", "--format", "json", "--db", db).output
    )
    assert [a["id"] for a in quiet] == [overdue["id"]]
    bad = invoke("alert", "snooze", "999", "--until", "2024-06-20", "--db", db)
    assert bad.exit_code == 2 and bad.stderr.strip() == "error: ID: no alert with id 999"
