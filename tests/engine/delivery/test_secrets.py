"""A channel's secrets are written nowhere: a recognisable secret is planted in every variable a
playbook names (webhook and robot URLs, a malformed one among them; an SMTP password the
server refuses), a channel raises an error quoting its URL, and the secret is looked for in
everything salesplay prints (with and without --debug), in the database file's bytes and in
the JSON Lines output."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.delivery.channels.wecom import WeCom
from salesplay.engine.store import db
from tests.engine.delivery.support import OK, Server, seed, smtp_server

MARK = "sEcReT"  # in every secret below, and nowhere else
ENV = {
    "HOOK_URL": "{server}/hook/" + MARK + "-path-4f2a9c?token=" + MARK + "-query-77",
    "BAD_URL": "{server}/hook?token=" + MARK + "-spaced-91 two",  # http.client: InvalidURL
    "ROBOT_URL": "{server}/cgi-bin/webhook/send?key=" + MARK + "-robot-3e8d",
    "SMTP_USER": "salesplay",
    "SMTP_PASSWORD": MARK + "-password-5b1",
}


@pytest.fixture
def server() -> Iterator[Server]:
    found = Server()
    yield found
    found.httpd.shutdown()


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), env=env)


def shown(result: Result) -> str:
    return result.stdout + result.stderr + (str(result.exception) if result.exception else "")


@pytest.mark.parametrize("debug", [False, True], ids=["plain", "debug"])
def test_a_planted_secret_is_nowhere_to_be_found(
    tmp_path: Path, server: Server, monkeypatch: pytest.MonkeyPatch, debug: bool
) -> None:
    def quoting(self: WeCom, message: Any) -> None:  # a careless channel: its error has the URL
        raise RuntimeError(f"cannot reach {self.env[self.spec['url_env']]}")

    monkeypatch.setattr(WeCom, "send", quoting)
    ca = trustme.CA()
    ca_pem = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_pem))
    url = f"sqlite:///{tmp_path / 'sales.db'}"
    engine = db.connect(url)
    seed(engine, customers=2)
    engine.dispose()
    out = tmp_path / "out.jsonl"
    env = {key: value.format(server=server.url) for key, value in ENV.items()}
    server.answer((500, {"echo": env["HOOK_URL"]}, 0.0, {}), OK)
    flags = ["--debug"] if debug else []
    outputs: list[Result] = []
    with smtp_server(ca.issue_cert("127.0.0.1"), logins=False) as smtp:
        book = tmp_path / "book.yaml"
        book.write_text(
            f"""extends: default
delivery:
  channels:
    hook: {{type: webhook, url_env: HOOK_URL}}
    bad: {{type: webhook, url_env: BAD_URL}}
    robot: {{type: wecom, url_env: ROBOT_URL}}
    mail: {{type: email, smtp_host: 127.0.0.1, smtp_port: {smtp.port}, ca_file: "{ca_pem}",
            sender: salesplay@example.com, user_env: SMTP_USER, password_env: SMTP_PASSWORD}}
    file: {{type: jsonl, path: "{out}"}}
  routes:
    - {{channel: hook}}
    - {{channel: bad}}
    - {{channel: robot}}
    - {{channel: mail}}
    - {{channel: file}}
""",
            "utf-8",
        )
        base = ["--db", url, "--playbook", str(book)]
        for now in ("2024-07-01T09:30", "2024-07-01T10:30"):  # a failure, then its retry
            outputs.append(invoke(*flags, "tick", *base, "--now", now, env=env))
            assert outputs[-1].exit_code == 0, shown(outputs[-1])
    items = out.read_text("utf-8").count("\n")
    assert items >= 2
    assert len(server.plan.seen) == items + 1  # hook: a 500, then every item; bad and robot: 0
    assert {login for login in smtp.logins} == {("salesplay", env["SMTP_PASSWORD"], True)}
    for args in (["deliveries"], ["deliveries", "--format", "json"], ["runs", "--format", "json"]):
        outputs.append(invoke(*flags, *args, *base, env=env))
    outputs.append(invoke(*flags, "deliveries", "retry", *base, env=env))
    outputs.append(invoke(*flags, "tick", *base, "--now", "2024-07-01T11:30", env=env))
    printed = "\n".join(shown(result) for result in outputs)
    # what failed is said, without the secret
    for said in (
        "BAD_URL does not hold a valid http(s) URL",
        "HTTP 500",
        "RuntimeError: cannot reach ***",
        "SMTP 535: 5.7.8 Authentication credentials invalid",
    ):
        assert f": {said}\n" in printed, said
    assert ("Traceback (most recent call last)" in printed) == debug
    assert MARK not in printed
    files = sorted(tmp_path.glob("sales.db*"))  # the database, and its journal if any
    assert files and all(MARK.encode() not in path.read_bytes() for path in files)
    assert MARK not in out.read_text("utf-8")


@pytest.mark.parametrize(
    ("written", "said"),
    [
        (
            f"'https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={MARK}-1'",
            "a URL: write the name of the environment variable",
        ),
        (f"'{MARK} pass word'", "not the name of an environment variable: write the name"),
    ],
)
def test_a_secret_written_in_place_of_its_variable_is_not_echoed(
    tmp_path: Path, written: str, said: str
) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(
        "extends: default\ndelivery:\n  channels:\n"
        f"    robot: {{type: wecom, url_env: {written}}}\n",
        "utf-8",
    )
    for flags in ([], ["--debug"]):
        result = invoke(*flags, "validate", str(book))
        assert result.exit_code != 0
        message = shown(result)
        assert f"book.yaml:4: delivery.channels.robot.url_env: {said}" in message
        assert MARK not in message
