"""Every shipped playbook validates and evaluates; the shipped schema file is current."""

from __future__ import annotations

from datetime import date
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine import demo
from salesplay.engine.lang import document
from salesplay.engine.loader import schema_json
from salesplay.engine.run.evaluate import evaluate
from salesplay.rules import FAMILIES
from tests.conftest import load_playbook

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("name", document.bundled_names())
def test_bundled_playbook_evaluates(name: str, sqlite_engine: Engine) -> None:
    book = load_playbook(name)
    demo.build(sqlite_engine, date(2024, 6, 15), demo.DemoSize(customers=200))
    result = evaluate(sqlite_engine, book, date(2024, 6, 15))
    assert result.emitted.get("grade_changes") == 200


@pytest.mark.parametrize("name", document.bundled_names())
def test_bundled_playbook_points_editors_at_the_schema(name: str) -> None:
    text = resources.files("salesplay.playbooks").joinpath(f"{name}.yaml").read_text("utf-8")
    assert text.startswith("# yaml-language-server: $schema=./playbook.schema.json\n")


def test_shipped_schema_file_is_current() -> None:
    shipped = (
        resources.files("salesplay.playbooks").joinpath("playbook.schema.json").read_text("utf-8")
    )
    assert shipped == schema_json(FAMILIES), (
        "run: salesplay schema > playbooks/playbook.schema.json"
    )
