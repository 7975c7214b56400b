"""Every shipped playbook validates, evaluates and passes its own YAML tests; each industry's
sample data imports and makes its distinctive rules fire; the shipped schema file is current."""

from __future__ import annotations

import json
import re
from datetime import date
from importlib import resources
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from salesplay.cli import cli
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


# ---- the bundled playbooks' own tests and sample data ----------------------------------------

INDUSTRIES = [name for name in document.bundled_names() if name != "default"]
# The order the README gives: org_units, reps, customers, then the rest (payments after orders).
IMPORT_ORDER = [
    "org_units",
    "reps",
    "customers",
    "orders",
    "payments",
    "surveys",
    "deals",
    "activities",
    "targets",
    "progress_notes",
    "plan_tasks",
]
# What each industry adds to the default, and which its sample data must make fire.
DISTINCTIVE = {
    "saas": {"renewal_due", "churn_risk", "expansion_opportunity"},
    "fmcg": {"order_gap", "visit_lag", "follow_up"},
    "manufacturing": {"stalled_project", "receivable_overdue", "collection_lag"},
    "medical": {"tender_closing", "approval_stalled"},
    "retail": {"dormant_member", "repurchase_lag", "order_value_lag"},
    "education": {"new_lead_untouched", "season_enrolment_lag", "conversion_lag"},
}


@pytest.mark.slow
def test_every_bundled_playbook_passes_its_own_tests(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    result = CliRunner().invoke(cli, ["test", "playbooks/"])
    assert result.exit_code == 0, result.stdout + result.stderr
    tested = {line.split("::")[0] for line in result.stdout.splitlines() if "::" in line}
    assert tested == {f"playbooks/{name}.test.yaml" for name in document.bundled_names()}


@pytest.mark.parametrize("name", document.bundled_names())
def test_each_test_file_names_its_playbook(name: str) -> None:
    text = (ROOT / "playbooks" / f"{name}.test.yaml").read_text("utf-8")
    assert f"\nplaybook: {name}.yaml\n" in text


def test_every_industry_has_a_sample_set_and_distinctive_rules() -> None:
    assert sorted(DISTINCTIVE) == sorted(INDUSTRIES)
    samples = ROOT / "playbooks" / "samples"
    assert sorted(p.name for p in samples.iterdir()) == sorted(INDUSTRIES)
    for folder in samples.iterdir():
        kinds = {p.stem for p in folder.iterdir()}
        assert {p.suffix for p in folder.iterdir()} == {".csv"}
        assert {"org_units", "reps", "customers"} <= kinds <= set(IMPORT_ORDER), folder


@pytest.mark.parametrize("name", sorted(DISTINCTIVE))
def test_sample_data_imports_in_order_and_fires_the_industrys_rules(
    name: str, tmp_path: Path
) -> None:
    """`salesplay import` file by file in the README's order, then `evaluate` on the date the
    playbook's header gives: the rules that set the industry apart fire."""
    header = (ROOT / "playbooks" / f"{name}.yaml").read_text("utf-8")
    stated = re.search(r"`salesplay evaluate --as-of (\d{4}-\d{2}-\d{2})`", header)
    assert stated, f"{name}.yaml's header names the date to evaluate its sample data on"
    shared = ["--db", str(tmp_path / "sample.db"), "--playbook", name]
    for kind in IMPORT_ORDER:
        path = ROOT / "playbooks" / "samples" / name / f"{kind}.csv"
        if path.exists():
            result = CliRunner().invoke(cli, [*shared, "import", kind, str(path), "--quiet"])
            assert result.exit_code == 0, result.stderr
            assert "row by row" not in result.stderr  # canonical CSV: the bulk path takes it
    result = CliRunner().invoke(cli, [*shared, "evaluate", "--as-of", stated.group(1), "--quiet"])
    assert result.exit_code == 0, result.stderr
    fired = set()
    for listing in ("alerts", "tasks"):
        found = CliRunner().invoke(cli, [*shared, listing, "--format", "json"])
        fired |= {item["rule"] for item in json.loads(found.stdout)}
    assert DISTINCTIVE[name] <= fired, DISTINCTIVE[name] - fired
