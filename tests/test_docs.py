"""README.md tells the truth: every command, every playbook key, the two set-up commands."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import click

from salesplay.cli import cli
from salesplay.engine.loader import playbook_schema
from salesplay.rules import FAMILIES

README = (Path(__file__).resolve().parents[1] / "README.md").read_text("utf-8")
CI = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text("utf-8")


def commands(group: click.Group, prefix: str = "salesplay") -> list[str]:
    out = []
    for name, command in group.commands.items():
        out.append(f"{prefix} {name}")
        if isinstance(command, click.Group):
            out.extend(commands(command, f"{prefix} {name}"))
    return out


def keys(schema: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(schema, dict):
        for name, sub in schema.get("properties", {}).items():
            found.add(name)
            found |= keys(sub)
        for key in ("items", "additionalProperties", "then", "else"):
            if isinstance(schema.get(key), dict):
                found |= keys(schema[key])
    return found


def test_every_command_is_documented() -> None:
    missing = [c for c in commands(cli) if c not in README]
    assert not missing, f"README.md does not mention: {missing}"


def test_every_playbook_key_is_documented() -> None:
    missing = sorted(
        k
        for k in keys(playbook_schema(FAMILIES))
        if f"`{k}`" not in README and f"{k}:" not in README
    )
    assert not missing, f"README.md does not document the playbook keys: {missing}"


def test_ci_runs_the_readme_test_command() -> None:
    match = re.search(r"<!-- test-command -->\s*```sh\n(.+?)\n```", README, re.S)
    assert match, "README.md marks its test command with <!-- test-command -->"
    assert match.group(1).strip() in CI
