"""Delivery through the outbox against real local servers on 127.0.0.1 (email: test_email.py).

The clock is injected and the jitter seeded: with BACKOFF_BASE = 30 s, the first retry waits
between 15 and 30 s (half of 30 plus up to another half), the second between 30 and 60 s.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.delivery.dispatch import deliveries, retry_dead
from salesplay.engine.run.evaluate import evaluate
from tests.conftest import rows
from tests.engine.delivery.support import NOW, OK, Server, at, make_book, seed, send


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    yield found
    found.httpd.shutdown()


WEBHOOK = """
delivery:
  channels:
    hook: {type: webhook, url_env: HOOK_URL, max_attempts: 3, timeout: 0.5}
  routes:
    - {channel: hook, kinds: [tasks]}
"""


def test_the_outbox_is_written_with_the_items(engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    book = make_book(tmp_path, WEBHOOK)
    result = evaluate(engine, book, NOW.date())
    # 2 customers never contacted, created 06-01: 2 follow-up tasks (and 2 overdue alerts,
    # which this route does not take) -> 2 deliveries, one per (task, channel)
    assert result.emitted["tasks"] == 2 and result.emitted["deliveries"] == 2
    found = deliveries(engine)
    assert [(d["item_kind"], d["channel"], d["status"]) for d in found] == [
        ("task", "hook", "pending"),
        ("task", "hook", "pending"),
    ]
    evaluate(engine, book, NOW.date())  # nothing new: nothing queued twice
    assert len(deliveries(engine)) == 2


def test_500_then_success_with_backoff_and_the_idempotency_key(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=1)
    book = make_book(tmp_path, WEBHOOK)
    evaluate(engine, book, NOW.date())
    server.answer((500, {}, 0.0, {}), OK)
    first = send(engine, book, 0, HOOK_URL=server.url)
    assert (first.sent, first.retried) == (0, 1)
    [row] = deliveries(engine)
    wait = (row["next_attempt_at"] - at(0).replace(tzinfo=None)).total_seconds()
    assert 15 <= wait <= 30, wait  # first retry: 30 s halved plus jitter of up to 15 s
    assert row["last_error"] == "HTTP 500"
    assert send(engine, book, 10, HOOK_URL=server.url).sent == 0  # not due yet
    assert send(engine, book, 31, HOOK_URL=server.url).sent == 1
    assert [d["status"] for d in deliveries(engine)] == ["sent"]
    keys = [s["headers"]["Idempotency-Key"] for s in server.plan.seen]
    assert keys == [str(row["id"]), str(row["id"])]  # the same key on the retry
    body = server.plan.seen[-1]["body"]
    assert body["text"].startswith("跟进 客户1") and body["recipient"]["mobile"] == "13800000001"


def test_a_timeout_and_a_429_are_retried_later(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=1)
    book = make_book(tmp_path, WEBHOOK)
    evaluate(engine, book, NOW.date())
    server.answer((200, {}, 1.5, {}), (429, {}, 0.0, {"Retry-After": "120"}), OK)
    first = send(engine, book, 0, HOOK_URL=server.url)
    assert first.retried == 1 and "no answer within 0.5s" in first.errors[0]
    second = send(engine, book, 31, HOOK_URL=server.url)  # due again after at most 30 s
    assert second.retried == 1 and "HTTP 429" in second.errors[0]
    [row] = deliveries(engine)
    # Retry-After 120 beats the second backoff (30-60 s): due at 31 + 120 = 151 s
    assert row["next_attempt_at"] == at(151).replace(tzinfo=None)
    assert send(engine, book, 150, HOOK_URL=server.url).sent == 0
    assert send(engine, book, 151, HOOK_URL=server.url).sent == 1


def test_dead_after_max_attempts_and_retry_requeues(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=1)
    book = make_book(tmp_path, WEBHOOK)
    evaluate(engine, book, NOW.date())
    server.answer((503, {}, 0.0, {}))
    # max_attempts 3: fails at 0 s, at 31 s (after <= 30 s), at 92 s (after <= 60 s): dead
    for second in (0, 31, 92):
        send(engine, book, second, HOOK_URL=server.url)
    [row] = deliveries(engine)
    assert (row["status"], row["attempts"]) == ("dead", 3)
    assert send(engine, book, 10_000, HOOK_URL=server.url).sent == 0  # dead stays dead
    assert retry_dead(engine) == 1
    server.answer(OK)
    assert send(engine, book, 10_001, HOOK_URL=server.url).sent == 1


def test_a_missing_secret_is_a_failure_that_names_the_variable(
    engine: Engine, tmp_path: Path
) -> None:
    seed(engine, customers=1)
    book = make_book(tmp_path, WEBHOOK)
    evaluate(engine, book, NOW.date())
    result = send(engine, book, 0)
    assert result.errors == ["hook 1: environment variable HOOK_URL (url_env) is not set"]


ROBOTS = """
delivery:
  channels:
    wecom: {type: wecom, url_env: WECOM_URL}
    dingtalk: {type: dingtalk, url_env: DINGTALK_URL}
    feishu: {type: feishu, url_env: FEISHU_URL}
  routes:
    - {channel: wecom, kinds: [tasks]}
    - {channel: dingtalk, kinds: [tasks]}
    - {channel: feishu, kinds: [tasks]}
"""


def test_robots_send_their_own_formats_and_errcode_is_a_failure(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=1)
    book = make_book(tmp_path, ROBOTS)
    evaluate(engine, book, NOW.date())
    env = {
        "WECOM_URL": server.url + "/wecom",
        "DINGTALK_URL": server.url + "/dingtalk",
        "FEISHU_URL": server.url + "/feishu",
    }
    # HTTP 200 with errcode / code != 0 is a failure on every robot
    server.answer(
        (200, {"errcode": 45009, "errmsg": "api freq out of limit"}, 0.0, {}),
        (200, {"errcode": 310000, "errmsg": "keywords not in content"}, 0.0, {}),
        (200, {"code": 19021, "msg": "sign match fail"}, 0.0, {}),
        OK,
    )
    failed = send(engine, book, 0, **env)
    assert failed.retried == 3
    assert sorted(failed.errors) == [
        "dingtalk 2: errcode 310000: keywords not in content",
        "feishu 3: code 19021: sign match fail",
        "wecom 1: errcode 45009: api freq out of limit",
    ]
    server.answer((200, {"errcode": 0, "code": 0}, 0.0, {}))
    assert send(engine, book, 60, **env).sent == 3
    bodies = {s["path"]: s["body"] for s in server.plan.seen[3:]}
    title = "跟进 客户1（C 级客户，应于 2024-06-01 前）"
    assert bodies["/wecom"] == {
        "msgtype": "text",
        "text": {
            "content": title,
            "mentioned_mobile_list": ["13800000001"],
            "mentioned_list": ["zhangwei"],
        },
    }
    assert bodies["/dingtalk"] == {
        "msgtype": "text",
        "text": {"content": title + " @13800000001"},
        "at": {"atMobiles": ["13800000001"], "atUserIds": ["zhangwei"], "isAtAll": False},
    }
    assert bodies["/feishu"] == {
        "msg_type": "text",
        "content": {"text": f'<at user_id="zhangwei">张伟</at> {title}'},
    }


def test_a_robot_sends_at_most_20_messages_a_minute(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=25)
    book = make_book(
        tmp_path,
        """
        delivery:
          channels: {robot: {type: wecom, url_env: WECOM_URL}}
          routes: [{channel: robot, kinds: [tasks]}]
        """,
    )
    evaluate(engine, book, NOW.date())
    server.answer(OK)
    # 25 tasks: 20 in the first minute, none more at 59 s, the other 5 once a minute has passed
    assert send(engine, book, 0, WECOM_URL=server.url).sent == 20
    assert send(engine, book, 59, WECOM_URL=server.url).sent == 0
    assert send(engine, book, 61, WECOM_URL=server.url).sent == 5


def test_digest_sends_one_message_per_recipient_per_run(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=3)
    book = make_book(
        tmp_path,
        """
        delivery:
          channels: {robot: {type: wecom, url_env: WECOM_URL}}
          routes: [{channel: robot, digest: true}]
        """,
    )
    evaluate(engine, book, NOW.date())
    server.answer(OK)
    # 3 tasks and 3 overdue alerts, all for R1: one message of 6 lines
    assert send(engine, book, 0, WECOM_URL=server.url).sent == 6
    [message] = server.plan.seen
    content = message["body"]["text"]["content"]
    assert content.splitlines()[0] == "张伟 本次共 6 条提醒："
    assert len(content.splitlines()) == 7


def test_levels_route_only_those_alerts_to_a_jsonl_file(engine: Engine, tmp_path: Path) -> None:
    seed(engine, customers=2)
    out = tmp_path / "out.jsonl"
    book = make_book(
        tmp_path,
        f"""
        delivery:
          channels: {{file: {{type: jsonl, path: "{out}"}}}}
          routes: [{{channel: file, levels: [yellow]}}]
        """,
    )
    evaluate(engine, book, NOW.date())
    assert send(engine, book, 0).sent == 2  # the two yellow overdue alerts, no tasks
    lines = [json.loads(line) for line in out.read_text("utf-8").splitlines()]
    assert [line["items"][0]["kind"] for line in lines] == ["alert", "alert"]
    assert lines[0]["text"].startswith("客户1（C 级）已逾期")
    assert lines[0]["key"] == "1" and lines[0]["channel"] == "file"


def test_nothing_is_queued_by_a_failed_run(
    engine: Engine, tmp_path: Path, monkeypatch: Any
) -> None:
    class Exploding:
        section = "grading"
        schema: dict[str, Any] = {}  # noqa: RUF012
        settings_only = False
        tables = ()
        subjects: dict[str, Any] = {}  # noqa: RUF012
        commands = ()

        def rule_names(self, playbook: object) -> list[str]:
            return [self.section]

        def check(self, playbook: object) -> None: ...

        def run(self, ctx: object) -> None:
            raise RuntimeError("disk full")

        def explain(self, *args: object) -> list[object]:
            return []

    seed(engine, customers=1)
    book = make_book(tmp_path, WEBHOOK)
    with pytest.raises(RuntimeError):
        evaluate(engine, replace(book, families=(*book.families, Exploding())), NOW.date())
    assert rows(engine, "select count(*) as n from deliveries")[0]["n"] == 0


def test_a_snoozed_alert_is_not_sent_until_it_wakes(engine: Engine, tmp_path: Path) -> None:
    from salesplay.engine.run import alert_status

    seed(engine, customers=2)
    out = tmp_path / "out.jsonl"
    book = make_book(
        tmp_path,
        f"""
        delivery:
          channels: {{file: {{type: jsonl, path: "{out}"}}}}
          routes: [{{channel: file, levels: [yellow]}}]
        """,
    )
    evaluate(engine, book, NOW.date())
    first, second = (d["item_id"] for d in deliveries(engine))
    alert_status.snooze(engine, first, NOW.date() + timedelta(days=3))
    assert send(engine, book, 0).sent == 1  # only the alert that is not snoozed
    assert [d["status"] for d in deliveries(engine)] == ["pending", "sent"]
    evaluate(engine, book, NOW.date() + timedelta(days=3))  # wakes: still overdue, open again
    assert send(engine, book, 60).sent == 1
    assert [d["status"] for d in deliveries(engine)] == ["sent", "sent"]
    assert second != first
