"""One bad message stops nothing: whatever a channel raises for one message is a failed attempt
of that delivery (dead at once when retrying cannot help), the other channels deliver in the
same pass, `tick` exits 0 and the daemon lives on, saying what failed."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import trustme
from click.testing import CliRunner, Result
from sqlalchemy.engine import Engine

from salesplay.cli import cli
from salesplay.engine.delivery.channels.email import Email
from salesplay.engine.delivery.channels.jsonl import JsonLines
from salesplay.engine.delivery.dispatch import deliveries
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.schedule import scheduler
from salesplay.engine.store import db
from tests.engine.delivery.support import (
    NOW,
    OK,
    Server,
    make_book,
    seed,
    send,
    smtp_server,
)

TICK_AT = "2024-07-01T09:30"  # the daily 08:00 slot in Shanghai: as of 2024-07-01
BROKEN_NAME = "客户1\r\nBcc: everyone@example.com"


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    yield found
    found.httpd.shutdown()


# ---- the dispatcher ----------------------------------------------------------------------

WEBHOOK = """
delivery:
  channels:
    hook: {type: webhook, url_env: HOOK_URL, max_attempts: 3}
  routes:
    - {channel: hook, kinds: [tasks]}
"""


def test_a_4xx_is_dead_at_once_but_a_429_is_retried(
    engine: Engine, tmp_path: Path, server: Server
) -> None:
    seed(engine, customers=2)
    book = make_book(tmp_path, WEBHOOK)
    evaluate(engine, book, NOW.date())
    server.answer((400, {}, 0.0, {}), (429, {}, 0.0, {}))
    result = send(engine, book, 0, HOOK_URL=server.url)
    assert (result.sent, result.retried, result.dead) == (0, 1, 1)
    assert [(d["status"], d["attempts"], d["last_error"]) for d in deliveries(engine)] == [
        ("dead", 1, "HTTP 400"),  # the payload as it is will never be taken: no retries
        ("pending", 1, "HTTP 429"),
    ]


@pytest.mark.parametrize(
    "url",
    [
        "{server}/hook?token=tok-SECRET-4711 two",  # a space: http.client's InvalidURL
        "ftp://127.0.0.1/hook?token=tok-SECRET-4711",
        "127.0.0.1/hook?token=tok-SECRET-4711",
        "http://127.0.0.1:port/hook?token=tok-SECRET-4711",
    ],
)
def test_a_malformed_url_is_dead_at_once_and_never_quoted(
    sqlite_engine: Engine, tmp_path: Path, server: Server, url: str
) -> None:
    seed(sqlite_engine, customers=1)
    book = make_book(tmp_path, WEBHOOK)
    evaluate(sqlite_engine, book, NOW.date())
    result = send(sqlite_engine, book, 0, HOOK_URL=url.format(server=server.url))
    assert (result.sent, result.retried, result.dead) == (0, 0, 1)
    assert result.errors == ["hook 1: HOOK_URL does not hold a valid http(s) URL"]
    [row] = deliveries(sqlite_engine)
    assert (row["status"], row["last_error"]) == ("dead", result.errors[0][len("hook 1: ") :])
    assert server.plan.seen == []


def test_anything_a_channel_raises_fails_that_message_only(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"
    real = JsonLines.send

    def picky(self: JsonLines, message: Any) -> None:
        if "客户1" in message.text():
            raise RuntimeError("a channel's own bug\nover two lines")
        real(self, message)

    monkeypatch.setattr(JsonLines, "send", picky)
    seed(sqlite_engine, customers=2)
    book = make_book(
        tmp_path,
        f"""
        delivery:
          channels: {{file: {{type: jsonl, path: "{out}"}}}}
          routes: [{{channel: file, kinds: [tasks]}}]
        """,
    )
    evaluate(sqlite_engine, book, NOW.date())
    result = send(sqlite_engine, book, 0)
    assert (result.sent, result.retried, result.dead) == (1, 1, 0)
    assert result.errors == ["file 1: RuntimeError: a channel's own bug over two lines"]
    [trace] = result.tracebacks
    assert trace.startswith("Traceback") and "RuntimeError" in trace
    rows = deliveries(sqlite_engine)
    assert [(d["status"], d["attempts"]) for d in rows] == [("pending", 1), ("sent", 1)]
    assert rows[0]["last_error"] == "RuntimeError: a channel's own bug over two lines"
    assert len(out.read_text("utf-8").splitlines()) == 1


def test_a_channel_that_cannot_be_made_fails_its_own_messages_only(
    sqlite_engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out.jsonl"

    def broken(self: Email, *args: Any) -> None:
        raise RuntimeError("no such setting")

    monkeypatch.setattr(Email, "__init__", broken)
    seed(sqlite_engine, customers=1)
    book = make_book(
        tmp_path,
        f"""
        delivery:
          channels:
            mail: {{type: email, smtp_host: 127.0.0.1, sender: salesplay@example.com}}
            file: {{type: jsonl, path: "{out}"}}
          routes: [{{channel: mail, kinds: [tasks]}}, {{channel: file, kinds: [tasks]}}]
        """,
    )
    evaluate(sqlite_engine, book, NOW.date())
    result = send(sqlite_engine, book, 0)
    assert (result.sent, result.retried) == (1, 1)
    assert result.errors == ["mail 1: cannot set the channel up: RuntimeError: no such setting"]


# ---- tick and the daemon -------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate() -> tuple[trustme.LeafCert, trustme.CA]:
    ca = trustme.CA()
    return ca.issue_cert("127.0.0.1"), ca


def _project(tmp_path: Path, server: Server, mail_port: int, ca_pem: str) -> tuple[str, str]:
    """A database whose one customer's name carries a line break, and a playbook sending each
    task to mail, then a JSON Lines file, then a webhook, in that order."""
    url = f"sqlite:///{tmp_path / 'sales.db'}"
    engine = db.connect(url)
    seed(engine, customers=1)
    with engine.begin() as conn:  # as an import that keeps line breaks would have stored it
        conn.execute(sa.text("update customers set name = :n where id = 'C1'"), {"n": BROKEN_NAME})
    engine.dispose()
    book = tmp_path / "book.yaml"
    book.write_text(
        f"""extends: default
jobs: {{weekly_goals: null}}
delivery:
  channels:
    mail: {{type: email, smtp_host: 127.0.0.1, smtp_port: {mail_port},
            sender: salesplay@example.com, ca_file: "{ca_pem}"}}
    file: {{type: jsonl, path: "{tmp_path / "out.jsonl"}"}}
    hook: {{type: webhook, url_env: HOOK_URL}}
  routes:
    - {{channel: mail, kinds: [tasks]}}
    - {{channel: file, kinds: [tasks]}}
    - {{channel: hook, kinds: [tasks]}}
""",
        "utf-8",
    )
    return url, str(book)


def _invoke(*args: str, **env: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def _statuses(url: str) -> dict[str, tuple[str, int, str | None]]:
    listed = json.loads(_invoke("deliveries", "--db", url, "--format", "json").output)
    return {d["channel"]: (d["status"], d["attempts"], d["last_error"]) for d in listed}


def test_a_line_break_in_a_name_stops_nothing(
    tmp_path: Path, server: Server, certificate: tuple[trustme.LeafCert, trustme.CA]
) -> None:
    leaf, ca = certificate
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    server.answer(OK)
    with smtp_server(leaf) as smtp:
        url, book = _project(tmp_path, server, smtp.port, str(ca_pem))
        ticked = _invoke(
            "tick", "--db", url, "--playbook", book, "--now", TICK_AT, HOOK_URL=server.url
        )
    assert ticked.exit_code == 0, ticked.output
    assert ticked.stderr == ""
    assert "deliveries: 3 sent, 0 to retry, 0 dead" in ticked.stdout
    [envelope] = smtp.received
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Subject"] == "跟进 客户1 Bcc: everyone@example.com（C 级客户，应于 2024-06-01 前）"
    assert mail["Bcc"] is None and envelope.rcpt_tos == ["zhangwei@example.com"]
    [line] = (tmp_path / "out.jsonl").read_text("utf-8").splitlines()
    assert BROKEN_NAME in json.loads(line)["text"]  # the line break kept where it does no harm
    [posted] = server.plan.seen
    assert BROKEN_NAME in posted["body"]["text"]
    assert {status for status, _, _ in _statuses(url).values()} == {"sent"}


def test_a_channel_raising_on_an_item_in_tick_counts_a_failure(
    tmp_path: Path,
    server: Server,
    certificate: tuple[trustme.LeafCert, trustme.CA],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def raising(self: Email, message: Any) -> None:
        raise ValueError("Header values may not contain linefeed or carriage return characters")

    monkeypatch.setattr(Email, "send", raising)
    server.answer(OK)
    url, book = _project(tmp_path, server, 1, str(tmp_path / "unused.pem"))
    ticked = _invoke("tick", "--db", url, "--playbook", book, "--now", TICK_AT, HOOK_URL=server.url)
    assert ticked.exit_code == 0, ticked.output
    assert ticked.stderr == (
        "delivery: mail 1: ValueError: Header values may not contain linefeed or carriage "
        "return characters\n"
    )
    assert "deliveries: 2 sent, 1 to retry, 0 dead" in ticked.stdout
    assert _statuses(url) == {
        "mail": (
            "pending",
            1,
            "ValueError: Header values may not contain linefeed or carriage return characters",
        ),
        "file": ("sent", 1, None),
        "hook": ("sent", 1, None),
    }


def test_the_daemon_lives_through_a_channel_raising_and_says_so(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    def raising(self: JsonLines, message: Any) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(JsonLines, "send", raising)
    passes: list[str] = []
    real_serve = scheduler.serve

    def two_passes(sched: Any, clock: Any, sleep: Any, after_pass: Any = None) -> None:
        """The real loop, with a sleep that ends it after its second pass."""

        def nap(seconds: float) -> bool:
            passes.append(f"slept {seconds:.0f}")
            return len(passes) == 2

        real_serve(sched, clock, nap, after_pass)

    monkeypatch.setattr(scheduler, "serve", two_passes)
    server.answer(OK)
    url, book = _project(tmp_path, server, 1, str(tmp_path / "unused.pem"))
    ran = _invoke("run", "--db", url, "--playbook", book, "--now", TICK_AT, HOOK_URL=server.url)
    assert ran.exit_code == 0, ran.output
    assert len(passes) == 2  # the pass after the failure came, and the daemon stopped cleanly
    assert "delivery: file 2: RuntimeError: disk on fire\n" in ran.stderr
    assert ran.stderr.rstrip().endswith("salesplay run: stopped")
    statuses = _statuses(url)
    assert statuses["file"] == ("pending", 1, "RuntimeError: disk on fire")
    assert statuses["hook"] == ("sent", 1, None)
