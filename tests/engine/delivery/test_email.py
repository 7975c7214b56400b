"""The email channel against local SMTP servers: the server's certificate is verified (STARTTLS
by default, SMTPS with tls: ssl), a login never goes out without TLS, and a line break in a
customer's name cannot end the Subject header."""

from __future__ import annotations

import base64
import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trustme
from sqlalchemy.engine import Engine

from salesplay.engine.delivery.dispatch import deliveries
from salesplay.engine.errors import SalesplayError
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.run.family import Playbook
from tests.engine.delivery.support import (
    NOW,
    make_book,
    seed,
    send,
    smtp_server,
    smtp_without_starttls,
)

TITLE = "跟进 客户1（C 级客户，应于 2024-06-01 前）"
LOGIN = {"SMTP_USER": "salesplay", "SMTP_PASSWORD": "pw-7f3a-not-in-the-clear"}


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def certificate(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1")  # the name the channel connects to


@pytest.fixture(scope="module")
def ca_file(ca: trustme.CA, tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("ca") / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return str(path)


def mail_book(tmp_path: Path, port: int, settings: str = "") -> Playbook:
    return make_book(
        tmp_path,
        f"""
        delivery:
          channels:
            mail: {{type: email, smtp_host: 127.0.0.1, smtp_port: {port},
                    sender: salesplay@example.com, max_attempts: 3{settings}}}
          routes: [{{channel: mail, kinds: [tasks]}}]
        """,
    )


@pytest.fixture
def one_task(engine: Engine) -> Iterator[Engine]:
    seed(engine, customers=1)
    yield engine


def test_starttls_to_a_trusted_server_then_the_login(
    one_task: Engine, tmp_path: Path, certificate: trustme.LeafCert, ca_file: str
) -> None:
    with smtp_server(certificate) as server:
        book = mail_book(
            tmp_path,
            server.port,
            f", ca_file: {ca_file}, user_env: SMTP_USER, password_env: SMTP_PASSWORD",
        )
        evaluate(one_task, book, NOW.date())
        assert send(one_task, book, 0, **LOGIN).sent == 1
    assert server.logins == [("salesplay", LOGIN["SMTP_PASSWORD"], True)]  # over TLS
    [envelope] = server.received
    assert envelope.rcpt_tos == ["zhangwei@example.com"]
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["To"] == "zhangwei@example.com"
    assert mail["Subject"] == TITLE
    assert mail.get_content().strip() == TITLE


def test_an_unverified_certificate_is_refused_by_default(
    one_task: Engine, tmp_path: Path, certificate: trustme.LeafCert
) -> None:
    with smtp_server(certificate) as server:  # signed by a CA this machine does not trust
        book = mail_book(
            tmp_path, server.port, ", user_env: SMTP_USER, password_env: SMTP_PASSWORD"
        )
        evaluate(one_task, book, NOW.date())
        result = send(one_task, book, 0, **LOGIN)
    assert (result.sent, result.retried) == (0, 1)
    [error] = result.errors
    assert error.startswith("mail 1: SMTP: [SSL: CERTIFICATE_VERIFY_FAILED]"), error
    assert server.received == [] and server.logins == []


def test_smtps_speaks_tls_from_the_first_byte(
    one_task: Engine, tmp_path: Path, certificate: trustme.LeafCert, ca_file: str
) -> None:
    with smtp_server(certificate, implicit_tls=True) as server:
        book = mail_book(
            tmp_path,
            server.port,
            f", tls: ssl, ca_file: {ca_file}, user_env: SMTP_USER, password_env: SMTP_PASSWORD",
        )
        evaluate(one_task, book, NOW.date())
        assert send(one_task, book, 0, **LOGIN).sent == 1
    assert server.logins == [("salesplay", LOGIN["SMTP_PASSWORD"], True)]
    assert len(server.received) == 1


def test_a_server_without_starttls_never_sees_the_login(one_task: Engine, tmp_path: Path) -> None:
    with smtp_without_starttls() as server:
        book = mail_book(
            tmp_path, server.port, ", user_env: SMTP_USER, password_env: SMTP_PASSWORD"
        )
        evaluate(one_task, book, NOW.date())
        result = send(one_task, book, 0, **LOGIN)
    assert (result.sent, result.retried) == (0, 1)  # a failed delivery, tried again later
    assert result.errors == ["mail 1: the server offers no STARTTLS (tls: starttls): not sent"]
    password = LOGIN["SMTP_PASSWORD"].encode()
    said = server.data
    assert b"AUTH" not in said.upper() and password not in said
    assert base64.b64encode(b"\0salesplay\0" + password) not in said
    assert base64.b64encode(password) not in said
    assert [line.split()[0].upper() for line in server.lines] == [b"EHLO", b"QUIT"]


def test_starttls_true_is_the_older_name_of_tls_starttls(
    one_task: Engine, tmp_path: Path, certificate: trustme.LeafCert, ca_file: str
) -> None:
    with smtp_server(certificate) as server:
        book = mail_book(tmp_path, server.port, f", starttls: true, ca_file: {ca_file}")
        evaluate(one_task, book, NOW.date())
        assert send(one_task, book, 0).sent == 1
    assert len(server.received) == 1


def test_tls_none_is_plain_text_and_sends_no_login(one_task: Engine, tmp_path: Path) -> None:
    with smtp_server() as server:
        book = mail_book(tmp_path, server.port, ", tls: none")
        evaluate(one_task, book, NOW.date())
        assert send(one_task, book, 0).sent == 1
    assert len(server.received) == 1


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            ", tls: none, user_env: SMTP_USER, password_env: SMTP_PASSWORD",
            "6: delivery.channels.mail.tls: a password is never sent without TLS: use tls: "
            "starttls or ssl",
        ),
        (
            ", starttls: false, user_env: SMTP_USER, password_env: SMTP_PASSWORD",
            "6: delivery.channels.mail.starttls: a password is never sent without TLS: use tls: "
            "starttls or ssl",
        ),
        (
            ", tls: ssl, starttls: true",
            "6: delivery.channels.mail.starttls: starttls is the older name of tls: "
            "write tls alone",
        ),
        (
            ", user_env: SMTP_USER",
            "5: delivery.channels.mail: logging in needs user_env and password_env "
            "(add password_env)",
        ),
        (
            ", tls: none, ca_file: ca.pem",
            "6: delivery.channels.mail.ca_file: ca_file verifies a TLS server; tls is none",
        ),
        (
            ", tls: plain",
            "6: delivery.channels.mail.tls: must be one of starttls, ssl, none, not 'plain'",
        ),
    ],
)
def test_tls_settings_that_cannot_work_are_refused_at_their_line(
    tmp_path: Path, settings: str, message: str
) -> None:
    with pytest.raises(SalesplayError) as caught:
        mail_book(tmp_path, 25, settings)
    assert str(caught.value) == f"{tmp_path / 'deliver.yaml'}:{message}"  # each at its key


def test_tls_none_is_warned_about(tmp_path: Path) -> None:
    from salesplay.engine.delivery.config import warnings

    assert warnings(mail_book(tmp_path, 25)) == []
    assert warnings(mail_book(tmp_path, 25, ", tls: none")) == [
        f"{tmp_path / 'deliver.yaml'}:6: delivery.channels.mail.tls: warning: no TLS: mail goes "
        "out unencrypted to a server nobody verifies"
    ]


def test_a_line_break_in_a_name_cannot_start_a_header(
    one_task: Engine, tmp_path: Path, certificate: trustme.LeafCert, ca_file: str
) -> None:
    with one_task.begin() as conn:  # as an import that keeps line breaks would have stored it
        conn.execute(
            sa.text("update customers set name = :name where id = 'C1'"),
            {"name": "客户1\r\nBcc: everyone@example.com"},
        )
    with smtp_server(certificate) as server:
        book = mail_book(tmp_path, server.port, f", ca_file: {ca_file}")
        evaluate(one_task, book, NOW.date())
        assert send(one_task, book, 0).sent == 1
    [envelope] = server.received
    assert envelope.rcpt_tos == ["zhangwei@example.com"]  # nobody else
    mail = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert mail["Bcc"] is None
    assert mail["Subject"] == "跟进 客户1 Bcc: everyone@example.com（C 级客户，应于 2024-06-01 前）"
    assert "客户1\r\nBcc: everyone@example.com" in mail.get_content()  # the body keeps it


def test_a_mail_that_cannot_be_written_is_dead_at_once(
    one_task: Engine, tmp_path: Path, ca_file: str
) -> None:
    with one_task.begin() as conn:
        conn.execute(sa.text("update reps set email = 'zhangwei@' where id = 'R1'"))
    book = mail_book(tmp_path, 1, f", ca_file: {ca_file}")  # never reaches a server
    evaluate(one_task, book, NOW.date())
    result = send(one_task, book, 0)
    assert (result.sent, result.retried, result.dead) == (0, 0, 1)
    [row] = deliveries(one_task)
    assert row["status"] == "dead" and row["attempts"] == 1
    assert row["last_error"].startswith("cannot write the mail: "), row["last_error"]
