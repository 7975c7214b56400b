"""The table's form of the listings, on SQLite and PostgreSQL: each id of a rep, customer or org
unit with its name beside it, joined in SQL; an id without a name stays as it is; the plain
form (JSON, CSV) keeps ids only."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.present import queries
from salesplay.engine.store.models import Alert, Task, table_of
from tests.conftest import load


def test_names_beside_ids_in_the_table_form_only(engine: Engine) -> None:
    load(engine, "org_units", [{"id": "EC", "name": "华东大区"}])
    load(engine, "reps", [{"id": "R1", "name": "张三", "org_unit_id": "EC"}])
    load(engine, "customers", [{"id": "C1", "name": "华鑫机械", "owner_id": "R1"}])
    task = {"rule": "r", "episode": "-", "seq": 0, "title": "t", "created_on": date(2024, 6, 1)}
    alert = {"rule": "r", "episode": "-", "seq": 0, "level": "red", "message": "m"}
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table_of(Task)),
            [
                {**task, "subject_type": "customer", "subject_id": "C1", "assignee_id": "R1"},
                {**task, "subject_type": "org_unit", "subject_id": "EC", "assignee_id": "GONE"},
                {
                    **task,
                    "subject_type": "target",
                    "subject_id": "rep:R1:sales",
                    "assignee_id": None,
                },
            ],
        )
        conn.execute(
            sa.insert(table_of(Alert)),
            [{**alert, "subject_type": "rep", "subject_id": "R1", "recipient_id": "R1",
              "raised_on": date(2024, 6, 1)}],
        )  # fmt: skip
    named = queries.tasks(engine, table=True)
    assert [(t["subject_id"], t["assignee_id"]) for t in named] == [
        ("C1 华鑫机械", "R1 张三"),
        ("EC 华东大区", "GONE"),  # a rep no longer on record: the id alone
        ("rep:R1:sales", None),  # a target has no name
    ]
    assert [(t["subject_id"], t["assignee_id"]) for t in queries.tasks(engine)] == [
        ("C1", "R1"),
        ("EC", "GONE"),
        ("rep:R1:sales", None),
    ]
    (shown,) = queries.alerts(engine, table=True)
    assert (shown["subject_id"], shown["recipient_id"]) == ("R1 张三", "R1 张三")
    assert "recipient_id" not in queries.alerts(engine)[0]
    assert queries.customers(engine, table=True)[0]["owner_id"] == "R1 张三"
    assert queries.grades(engine, table=True) == []
