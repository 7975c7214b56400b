"""Record values carrying SQL or Python come out literally, and never as code: customers and a
rep named like an injection are imported, evaluated and delivered, every statement sent to the
database on the way is watched, and not one of them has a planted value in its text (each
value travels as a bound parameter or is read from a column)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from salesplay.engine.run.evaluate import evaluate
from tests.conftest import load, rows
from tests.engine.delivery.support import NOW, OK, Server, make_book, send

PLANTED = {
    "C1": "'); drop table customers;--",
    "C2": "{customer.__class__}",
    "C3": "{0.__init__}",
}
REP = "Robert'); DROP TABLE reps;-- {owner.__dict__}"
# the planted values, and pieces of them no statement of ours contains
TELLTALES = (*PLANTED.values(), REP, "customers;--", "reps;--", "__class__", "__init__", "Robert")


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    yield found
    found.httpd.shutdown()


@pytest.fixture
def statements(engine: Engine) -> Iterator[list[str]]:
    """The text of every statement the engine sends, from here on."""
    seen: list[str] = []

    def watch(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", watch)
    yield seen
    event.remove(engine, "before_cursor_execute", watch)


def test_planted_sql_and_python_come_out_literally(
    engine: Engine, statements: list[str], tmp_path: Path, server: Server
) -> None:
    out = tmp_path / "out.jsonl"
    load(engine, "org_units", [{"id": "SH", "name": "上海", "parent_id": "", "kind": "city"}])
    load(
        engine,
        "reps",
        [{"id": "R1", "name": REP, "org_unit_id": "SH", "active": "true", "im_id": "r1"}],
    )
    load(
        engine,
        "customers",
        [
            {"id": key, "name": name, "owner_id": "R1", "created_on": "2024-06-01"}
            for key, name in PLANTED.items()
        ],
    )
    book = make_book(
        tmp_path,
        f"""
        delivery:
          channels:
            hook: {{type: webhook, url_env: HOOK_URL}}
            file: {{type: jsonl, path: "{out}"}}
          routes: [{{channel: hook, kinds: [tasks]}}, {{channel: file}}]
        """,
    )
    evaluate(engine, book, NOW.date())
    server.answer(OK)
    assert send(engine, book, 0, HOOK_URL=server.url).errors == []

    assert statements, "the listener saw nothing"
    leaked = [s for s in statements if any(t in s for t in TELLTALES)]
    assert leaked == []

    titles = {r["subject_id"]: r["title"] for r in rows(engine, "select * from tasks")}
    assert titles == {
        key: f"跟进 {name}（C 级客户，应于 2024-06-01 前）" for key, name in PLANTED.items()
    }
    messages = [r["message"] for r in rows(engine, "select message from alerts")]
    for name in PLANTED.values():
        assert any(message.startswith(f"{name}（C 级）已逾期") for message in messages), messages
    posted = {s["body"]["items"][0]["subject_id"]: s["body"] for s in server.plan.seen}
    assert {key: body["text"] for key, body in posted.items()} == titles
    assert {body["recipient"]["name"] for body in posted.values()} == {REP}
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert {line["text"] for line in lines} >= set(titles.values())
    assert len(rows(engine, "select id from customers")) == 3  # and the tables are all there
