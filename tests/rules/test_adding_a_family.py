"""README.md's "Adding a rule family" is true: its code blocks, taken as they are written, make a
family that loads, validates, evaluates and explains without a change anywhere else.

The blocks are read out of README.md (each marked with the file it is, `<!-- rules/… -->`), so
the walkthrough and this test cannot drift apart. The family is registered the way the section
says a test does it, `loader.load(path, [*FAMILIES, family])`: the registry is left alone.
"""

from __future__ import annotations

import importlib.util
import re
from datetime import date
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from salesplay.engine import loader
from salesplay.engine.errors import SalesplayError
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.run.explain import explain
from salesplay.engine.run.family import RuleFamily
from salesplay.engine.schedule import jobs
from salesplay.rules import FAMILIES
from tests.conftest import load, rows

README = (Path(__file__).resolve().parents[2] / "README.md").read_text("utf-8")


def section(title: str) -> str:
    """The text of one `## title` section of README.md."""
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match, f"README.md has no section '## {title}'"
    return match.group(1)


def blocks(title: str) -> dict[str, str]:
    """The section's code blocks, by the file each is marked as (`<!-- rules/x.py -->`)."""
    found = re.findall(r"<!-- (\S+) -->\n```\w*\n(.*?)```", section(title), re.S)
    return dict(found)


BLOCKS = blocks("Adding a rule family")
MODULE = "rules/contact_check.py"
REGISTRY = "rules/__init__.py"
PLAYBOOK = "playbook.yaml"
TEST = "tests/rules/test_contact_check.py"


def module(path: Path, text: str) -> ModuleType:
    """Write a README block where the section says it goes and import it from there."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.fixture
def family(tmp_path: Path) -> RuleFamily:
    """The family of the README's module block, by the class its registry block names."""
    defined = module(tmp_path / MODULE, BLOCKS[MODULE])
    named = re.findall(r"^    (\w+)\(\),$", BLOCKS[REGISTRY], re.M)
    assert named[:-1] == [type(f).__name__ for f in FAMILIES], "the registry as it is, plus one"
    assert f"from salesplay.rules.contact_check import {named[-1]}\n" in BLOCKS[REGISTRY]
    made: RuleFamily = getattr(defined, named[-1])()
    return made


def playbook_file(tmp_path: Path, text: str = BLOCKS[PLAYBOOK]) -> str:
    path = tmp_path / "playbook.yaml"
    path.write_text(text, "utf-8")
    return str(path)


def test_the_section_has_every_block_it_walks_through() -> None:
    assert sorted(BLOCKS) == sorted([PLAYBOOK, MODULE, REGISTRY, TEST])
    # the family's test loads the playbook the section shows ops staff writing
    assert f'PLAYBOOK = """\\\n{BLOCKS[PLAYBOOK]}"""' in BLOCKS[TEST]


def test_it_loads_once_registered_and_not_before(family: RuleFamily, tmp_path: Path) -> None:
    path = playbook_file(tmp_path)
    with pytest.raises(SalesplayError) as caught:
        loader.load(path, FAMILIES)
    assert f"{path}:6: contact_check: unknown key 'contact_check'" in str(caught.value)

    book = loader.load(path, [*FAMILIES, family])
    assert book.section("contact_check") == {
        "fields": ["phone", "email", "wechat"],
        "level": "yellow",
        "message": "{customer.name} 没有任何联系方式",
    }
    schema = loader.playbook_schema([*FAMILIES, family])
    assert schema["properties"]["contact_check"] == family.schema
    assert "contact_check" in jobs.rule_names(book)  # a job may name it (the daily one does)
    assert "contact_check" in jobs.restrict(book, ("contact_check",)).data


@pytest.mark.parametrize(
    ("change", "error"),
    [
        # the schema phase: the family's fragment in the assembled schema
        (
            ("level: yellow", "level: orange"),
            "8: contact_check.level: must be one of green, yellow, red, not 'orange'",
        ),
        (
            ("  fields: [phone, email, wechat]", "  fields: []"),
            "7: contact_check.fields: needs at least one item",
        ),
        # the check phase: the family's check()
        (
            ("[phone, email, wechat]", "[phone, mobile]"),
            "7: contact_check.fields[1]: unknown field 'mobile' (use one of: phone, email, wechat)",
        ),
        # and a job naming it wrongly: the job's check asks the families what may be named
        (
            ("incentives, contact_check]", "incentives, contact_chek]"),
            "12: jobs.daily.rules[6]: unknown rule 'contact_chek' (did you mean 'contact_check'?)",
        ),
    ],
)
def test_a_bad_value_is_an_error_at_its_file_and_line(
    family: RuleFamily, tmp_path: Path, change: tuple[str, str], error: str
) -> None:
    assert BLOCKS[PLAYBOOK].count(change[0]) == 1
    path = playbook_file(tmp_path, BLOCKS[PLAYBOOK].replace(*change))
    with pytest.raises(SalesplayError) as caught:
        loader.load(path, [*FAMILIES, family])
    assert str(caught.value) == f"{path}:{error}"


@pytest.fixture
def readme_test(family: RuleFamily, tmp_path: Path) -> ModuleType:
    """The README's test module, its load_playbook handed the families as the section says."""
    test = module(tmp_path / TEST, BLOCKS[TEST])
    test.load_playbook = partial(test.load_playbook, families=[*FAMILIES, family])
    return test


def test_the_readme_test_of_evaluating_and_explaining_passes(
    readme_test: ModuleType, org: Engine, tmp_path: Path
) -> None:
    readme_test.test_one_alert_per_customer_without_contact_until_a_phone_is_added(org, tmp_path)
    # what it leaves behind, checked here too: C2 (blank phone) and C4 (nothing) got one alert
    # each, C2's resolved on 07-08 once it had a phone; C1 (phone) and C3 (WeChat) none
    found = rows(
        org,
        "SELECT subject_id, recipient_id, level, status, raised_on, resolved_on, seq FROM alerts"
        " WHERE rule = 'contact_check' ORDER BY subject_id",
    )
    # dates come back as text from SQLite, as dates from PostgreSQL
    assert [{k: str(v) if isinstance(v, date) else v for k, v in a.items()} for a in found] == [
        _alert("C2", "R1", "resolved", "2024-07-08"),
        _alert("C4", "R2", "open", None),
    ]


def _alert(subject: str, owner: str, status: str, resolved: str | None) -> dict[str, Any]:
    return {
        "subject_id": subject,
        "recipient_id": owner,
        "level": "yellow",
        "status": status,
        "raised_on": "2024-07-05",
        "resolved_on": resolved,
        "seq": 1,
    }


def test_the_readme_test_of_located_errors_passes(readme_test: ModuleType, tmp_path: Path) -> None:
    check = readme_test.test_a_bad_value_is_an_error_at_its_line
    cases = check.pytestmark[0].args[1]  # its parametrize list, as pytest would run it
    assert [error.split(": ")[1] for _, error in cases] == [
        "contact_check.fields[1]",
        "contact_check.fields[2]",
        "contact_check.message",
    ]
    for i, (change, error) in enumerate(cases):
        (tmp_path / str(i)).mkdir()
        check(tmp_path / str(i), change, error)


def test_a_partitioned_run_raises_the_same_alerts(
    family: RuleFamily, org: Engine, tmp_path: Path
) -> None:
    book = loader.load(playbook_file(tmp_path), [*FAMILIES, family])
    load(
        org,
        "customers",
        [
            {"id": f"C{i}", "name": f"客户{i}", "owner_id": "R1", "created_on": "2024-07-01"}
            | ({"email": f"c{i}@example.com"} if i % 3 == 0 else {})
            for i in range(1, 13)
        ],
    )
    evaluate(org, book, date(2024, 7, 5), partitions=4)
    found = rows(org, "SELECT subject_id FROM alerts WHERE rule = 'contact_check'")
    # C3, C6, C9 and C12 have an email; the other eight get one alert each, whichever
    # partition they fell in, and the final step (no customers) adds none
    assert sorted(int(a["subject_id"][1:]) for a in found) == [1, 2, 4, 5, 7, 8, 10, 11]


def test_explain_says_which_values_decided(family: RuleFamily, org: Engine, tmp_path: Path) -> None:
    book = loader.load(playbook_file(tmp_path), [*FAMILIES, family])
    load(
        org,
        "customers",
        [{"id": "C3", "name": "明远科技", "owner_id": "R2", "wechat": "mingyuan_li"}],
    )
    found = explain(org, book, "customer", "C3", date(2024, 7, 5))["findings"]
    assert [f for f in found if f["rule"] == "contact_check"] == [
        {
            "rule": "contact_check",
            "fired": False,
            "summary": "phone is null and email is null and wechat is null — does not hold",
            "values": {"phone": "—", "email": "—", "wechat": "mingyuan_li"},
        }
    ]
    # a rep is not a customer: the family has nothing to say about one
    rep = explain(org, book, "rep", "R2", date(2024, 7, 5))["findings"]
    assert [f for f in rep if f["rule"] == "contact_check"] == []
