"""What the delivery tests share: local servers on 127.0.0.1 (HTTP; SMTP plain, STARTTLS and
SMTPS with a certificate from a CA made for the test; an SMTP server that offers no STARTTLS
and records every byte it is sent), a seeded organisation, and a dispatch at a given second.
"""

from __future__ import annotations

import json
import random
import socket
import socketserver
import ssl
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from sqlalchemy.engine import Engine

from salesplay.engine.delivery.dispatch import DispatchResult, dispatch
from salesplay.engine.run.family import Playbook
from tests.conftest import load, load_playbook

NOW = datetime(2024, 7, 1, 1, 0, tzinfo=UTC)
OK = (200, {"errcode": 0, "errmsg": "ok"}, 0.0, {})


@dataclass
class Plan:
    """What the server answers, in order; the last answer repeats."""

    answers: list[tuple[int, Any, float, dict[str, str]]] = field(default_factory=list)
    seen: list[dict[str, Any]] = field(default_factory=list)


class Server:
    def __init__(self) -> None:
        self.plan = Plan()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.plan.seen.append(
                    {"path": self.path, "headers": dict(self.headers), "body": json.loads(body)}
                )
                answers = outer.plan.answers
                status, answer, delay, headers = answers.pop(0) if len(answers) > 1 else answers[0]
                time.sleep(delay)
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass

            def log_message(self, *args: Any) -> None: ...

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def answer(self, *answers: tuple[int, Any, float, dict[str, str]]) -> None:
        self.plan.answers = list(answers)


def make_book(tmp_path: Path, delivery: str) -> Playbook:
    path = tmp_path / "deliver.yaml"
    path.write_text("extends: default\n" + textwrap.dedent(delivery), "utf-8")
    return load_playbook(str(path))


def seed(engine: Engine, customers: int = 2) -> None:
    load(engine, "org_units", [{"id": "SH", "name": "上海", "parent_id": "", "kind": "city"}])
    load(
        engine,
        "reps",
        [
            {
                "id": "R1",
                "name": "张伟",
                "org_unit_id": "SH",
                "active": "true",
                "email": "zhangwei@example.com",
                "mobile": "13800000001",
                "im_id": "zhangwei",
            }
        ],
    )
    load(
        engine,
        "customers",
        [
            {"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1", "created_on": "2024-06-01"}
            for i in range(1, customers + 1)
        ],
    )


def at(seconds: float) -> datetime:
    return NOW + timedelta(seconds=seconds)


def send(engine: Engine, book: Playbook, seconds: float, **env: str) -> DispatchResult:
    return dispatch(engine, book, lambda: at(seconds), env=env, rng=random.Random(7))


# ---- SMTP --------------------------------------------------------------------------------


def free_port() -> int:
    """A port nobody listens on (aiosmtpd's controller cannot start on port 0)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@dataclass
class Smtp:
    """A running local SMTP server: its port, the mails it accepted, the logins it saw."""

    port: int
    received: list[Any] = field(default_factory=list)
    logins: list[tuple[str, str, bool]] = field(default_factory=list)  # user, password, over TLS


@contextmanager
def smtp_server(
    certificate: trustme.LeafCert | None = None, implicit_tls: bool = False, logins: bool = True
) -> Iterator[Smtp]:
    """aiosmtpd on 127.0.0.1: plain text; with a certificate, offering STARTTLS (or, with
    implicit_tls, speaking TLS from the first byte, as SMTPS on port 465 does). It records
    every login, offered over TLS only, and accepts it (refuses it: logins=False)."""
    found = Smtp(free_port())

    class Sink:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            found.received.append(envelope)
            return "250 OK"

    def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        login, password = (part.decode() for part in (data.login, data.password))
        tls = server.transport.get_extra_info("ssl_object") is not None
        found.logins.append((login, password, tls))
        return AuthResult(success=logins, handled=False)  # a refusal: aiosmtpd says 535

    context = None
    if certificate is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(context)
    kwargs: dict[str, Any] = {"authenticator": authenticate}
    if implicit_tls:  # aiosmtpd knows only STARTTLS as TLS: this connection is TLS already
        kwargs.update(ssl_context=context, auth_require_tls=False)
    elif context is not None:
        kwargs["tls_context"] = context
    controller = Controller(Sink(), hostname="127.0.0.1", port=found.port, **kwargs)
    controller.start()
    try:
        yield found
    finally:
        controller.stop()


@dataclass
class Recorded:
    port: int
    lines: list[bytes] = field(default_factory=list)

    @property
    def data(self) -> bytes:
        return b"".join(self.lines)


@contextmanager
def smtp_without_starttls() -> Iterator[Recorded]:
    """An SMTP server that offers AUTH but no STARTTLS, recording every byte a client sends:
    a client that logged in here would have sent its password in the clear."""
    found = Recorded(0)

    class Handler(socketserver.StreamRequestHandler):
        def handle(self) -> None:
            self.wfile.write(b"220 plain.example ESMTP\r\n")
            for line in self.rfile:
                found.lines.append(line)
                verb = line[:4].upper()
                if verb in (b"EHLO", b"HELO"):
                    self.wfile.write(b"250-plain.example\r\n250-AUTH PLAIN LOGIN\r\n250 OK\r\n")
                elif verb == b"QUIT":
                    self.wfile.write(b"221 bye\r\n")
                    return
                else:  # AUTH, MAIL, RCPT, DATA: this server only listens
                    self.wfile.write(b"502 not here\r\n")

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    found.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield found
    finally:
        server.shutdown()
        server.server_close()
