"""README.md's "Adding a delivery channel" is true: its module, its KIND and one entry in KINDS
make a channel the playbook schema accepts, the checks hold to what it needs, and the dispatcher
delivers to, with no other change.

The blocks are read out of README.md (each marked with the file it is), so the section and this
test cannot drift apart; KINDS gets the new kind for the test only (monkeypatch).
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine.delivery.channels import KINDS, ChannelKind
from salesplay.engine.delivery.dispatch import deliveries, dispatch
from salesplay.engine.errors import SalesplayError
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.run.family import Playbook
from tests.conftest import load, load_playbook

README = (Path(__file__).resolve().parents[3] / "README.md").read_text("utf-8")
NOW = datetime(2024, 7, 1, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai: as of 2024-07-01


def blocks(title: str) -> dict[str, str]:
    """The code blocks of README.md's `## title`, by the file each is marked as."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return dict(re.findall(r"<!-- (\S+) -->\n```\w*\n(.*?)```", match.group(1), re.S))


BLOCKS = blocks("Adding a delivery channel")
MODULE = "engine/delivery/channels/folder.py"
REGISTRY = "engine/delivery/channels/__init__.py"
PLAYBOOK = "playbook.yaml"
DIR = "/srv/salesplay/outbox"  # the README's folder; each test writes to its own instead


@pytest.fixture
def kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ChannelKind:
    """The README's module, imported from where it says it goes, registered as it says."""
    path = tmp_path / MODULE
    path.parent.mkdir(parents=True)
    path.write_text(BLOCKS[MODULE], "utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made: ChannelKind = module.KIND
    # the registry block lists every kind there is, plus this one, and imports its module
    assert made.type == path.stem
    assert re.findall(r"(\w+)\.KIND", BLOCKS[REGISTRY]) == [*KINDS, made.type]
    imports = BLOCKS[REGISTRY].split("KINDS")[0]
    assert imports.startswith("from salesplay.engine.delivery.channels import (\n")
    assert f"    {path.stem},\n" in imports
    monkeypatch.setitem(KINDS, made.type, made)
    return made


def playbook(tmp_path: Path, text: str | None = None) -> Playbook:
    text = BLOCKS[PLAYBOOK] if text is None else text
    assert text.count(DIR) <= 1
    path = tmp_path / "playbook.yaml"
    path.write_text(text.replace(DIR, str(tmp_path / "outbox")), "utf-8")
    return load_playbook(str(path))


def test_the_schema_takes_the_new_type_and_its_settings(kind: ChannelKind, tmp_path: Path) -> None:
    book = playbook(tmp_path)
    assert book.section("delivery")["channels"]["drop"] == {
        "type": "folder",
        "dir": str(tmp_path / "outbox"),
    }
    with pytest.raises(SalesplayError) as caught:
        playbook(tmp_path, BLOCKS[PLAYBOOK].replace("type: folder", "type: fodler"))
    assert str(caught.value) == (
        f"{tmp_path / 'playbook.yaml'}:4: delivery.channels.drop.type: must be one of "
        "jsonl, webhook, wecom, dingtalk, feishu, email, folder, not 'fodler'"
    )


def test_a_missing_setting_is_an_error_at_its_line(kind: ChannelKind, tmp_path: Path) -> None:
    text = BLOCKS[PLAYBOOK].replace(f", dir: {DIR}", "")
    assert "dir" not in text.split("delivery:")[1]
    with pytest.raises(SalesplayError) as caught:
        playbook(tmp_path, text)
    assert str(caught.value) == (
        f"{tmp_path / 'playbook.yaml'}:4: delivery.channels.drop: a folder channel needs dir"
    )


def test_without_the_registry_entry_the_type_is_unknown(tmp_path: Path) -> None:
    with pytest.raises(SalesplayError) as caught:
        playbook(tmp_path)
    where = f"{tmp_path / 'playbook.yaml'}:4: delivery.channels.drop"
    assert str(caught.value).splitlines() == [
        f"{where}.dir: unknown key 'dir'; allowed: type, path, url_env, smtp_host, smtp_port, "
        "sender, subject, user_env, password_env, tls, starttls, ca_file, rate_per_minute, "
        "max_attempts, timeout, description",
        f"{where}.type: must be one of jsonl, webhook, wecom, dingtalk, feishu, email, "
        "not 'folder'",
    ]


def seed(engine: Engine) -> None:
    load(engine, "org_units", [{"id": "SH", "name": "上海", "parent_id": "", "kind": "city"}])
    load(engine, "reps", [{"id": "R1", "name": "张伟", "org_unit_id": "SH", "active": "true"}])
    load(
        engine,
        "customers",
        [
            {"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1", "created_on": "2024-06-01"}
            for i in (1, 2)
        ],
    )


def test_the_dispatcher_delivers_to_it(kind: ChannelKind, engine: Engine, tmp_path: Path) -> None:
    seed(engine)
    book = playbook(tmp_path)
    outbox = tmp_path / "outbox"
    outbox.mkdir()
    # two customers created 06-01 and never contacted: a follow-up task each, due 06-01
    evaluate(engine, book, NOW.date())
    result = dispatch(engine, book, lambda: NOW, env={}, rng=random.Random(7))
    assert (result.sent, result.retried, result.dead) == (2, 0, 0)
    written = {p.name: json.loads(p.read_text("utf-8")) for p in sorted(outbox.iterdir())}
    assert sorted(written) == ["1.json", "2.json"]
    assert [(m["channel"], m["key"], m["recipient"]["id"]) for m in written.values()] == [
        ("drop", "1", "R1"),
        ("drop", "2", "R1"),
    ]
    assert sorted(m["text"] for m in written.values()) == [
        "跟进 客户1（C 级客户，应于 2024-06-01 前）",
        "跟进 客户2（C 级客户，应于 2024-06-01 前）",
    ]
    assert [(d["channel"], d["status"]) for d in deliveries(engine)] == [("drop", "sent")] * 2
    # sent is sent: the next pass has nothing to do
    assert dispatch(engine, book, lambda: NOW, env={}, rng=random.Random(7)).sent == 0


def test_a_send_error_is_retried_like_any_channel_s(
    kind: ChannelKind, engine: Engine, tmp_path: Path
) -> None:
    seed(engine)
    book = playbook(tmp_path)  # no outbox folder: every write fails
    evaluate(engine, book, NOW.date())
    result = dispatch(engine, book, lambda: NOW, env={}, rng=random.Random(7))
    assert (result.sent, result.retried, result.dead) == (0, 2, 0)
    found = deliveries(engine)
    assert [(d["status"], d["attempts"]) for d in found] == [("pending", 1)] * 2
    target = tmp_path / "outbox" / "1.json"
    assert found[0]["last_error"] == f"cannot write {target}: No such file or directory"
    # the first retry waits 15 to 30 s (half of 30 s plus jitter): none is due at 14 s
    later = dispatch(engine, book, lambda: NOW + timedelta(seconds=14), env={})
    assert later.sent == later.retried == 0
    (tmp_path / "outbox").mkdir()
    later = dispatch(engine, book, lambda: NOW + timedelta(seconds=31), env={})
    assert later.sent == 2
    assert sorted(p.name for p in (tmp_path / "outbox").iterdir()) == ["1.json", "2.json"]
