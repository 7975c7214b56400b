"""`salesplay lint`: one FILE:LINE: path: message per finding, exit 1 with findings, 0 clean,
2 invalid; `salesplay validate` shows the same findings as warnings and does not fail."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.lang import document
from salesplay.engine.loader import lint
from tests.conftest import load_playbook


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def write(tmp_path: Path, text: str, name: str = "company.yaml") -> str:
    path = tmp_path / name
    path.write_text(text, "utf-8")
    return str(path)


@pytest.mark.parametrize("name", document.bundled_names())
def test_the_bundled_playbooks_lint_clean(name: str) -> None:
    assert lint(load_playbook(name)) == []
    result = invoke("lint", name)
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == f"playbooks/{name}.yaml: no findings\n"


SHADOWED = """\
extends: default
grading:
  grades:
    - grade: A
      when: revenue_6m >= 500000 or strategic
    - grade: B
      when: revenue_6m >= 100000
    - grade: VIP
      when: revenue_6m >= 800000 or (strategic and pipeline > 0)
    - grade: C
"""


def test_a_shadowed_grade_is_a_finding_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, SHADOWED)
    result = invoke("lint", path)
    assert result.exit_code == 1
    assert result.stdout == (
        f"{path}:9: grading.grades[2].when: grade VIP can never match: grade A before it "
        "takes every customer it would\n"
    )
    assert result.stderr == f"{path}: 1 findings\n"


@pytest.mark.parametrize(
    ("grades", "line", "message"),
    [
        (  # together: A takes the high ones, B the low ones
            ["A: x >= 500000", "B: x < 100000", "M: x >= 600000 or x < 50000"],
            11,
            "grade M can never match: the grades before it (A, B) take every customer it would",
        ),
        (["A: 'true'", "B: x > 1"], 9, "grade B can never match: grade A before it takes"),
        (["A: x > 1 and x < 0", "B: x > 1"], 7, "grade A can never match: its condition can"),
        (  # an earlier grade takes everyone, so the default gets nobody
            ["A: x >= 100 or x < 100 or x is null", "B: x > 1"],
            10,
            "grade C can never match: grade A before it takes every",
        ),
    ],
)
def test_shadowed_forms(tmp_path: Path, grades: list[str], line: int, message: str) -> None:
    text = "extends: default\nmetrics:\n  x: {sum: orders.amount}\ngrading:\n  grades:\n"
    for grade in grades:
        name, _, when = grade.partition(": ")
        text += f"    - grade: {name}\n      when: {when}\n"
    text += "    - grade: C\n"
    path = write(tmp_path, text)
    found = [str(f) for f in lint(load_playbook(path))]
    assert any(f.startswith(f"{path}:{line}: ") and message in f for f in found), found


def test_the_findings_of_every_kind(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
extends: default
metrics:
  revenue_6m: {sum: orders.amount, window: last 6 months}
  revenue_1y: {sum: orders.amount, window: last 1 year}
  calls: {count: activities, where: "channel in ('call', 'phone')"}
  call_share: {formula: calls / visits}
warnings:
  odd:
    for: customers
    when: revenue_6m > 100 and revenue_6m < 50
    level: red
    message: "｛customer.name｝ 近半年 {revenue_6m}"
  lag:
    for: targets
    where: metric = 'sale'
    when: completion < 50%
    level: red
    message: "{owner.name} {{completion:%}}"
  late:
    for: targets
    where: elapsed_days > 20
    when: elapsed_days < 10
    level: yellow
    message: "{owner.name}"
""",
    )
    result = invoke("lint", path)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"{path}:4: metrics.revenue_1y: nothing uses this metric: no rule, formula, scorecard "
        "or incentive names it, and no target can be measured by it (remove it, or use it)",
        f"{path}:5: metrics.calls.where: no activities record has channel 'phone': channel "
        "is one of visit, video, call, wechat, email, message, so nothing matches it",
        f"{path}:10: warnings.odd.when: can never hold, so warning odd never fires",
        f"{path}:12: warnings.odd.message: ｛customer.name｝ prints as it stands: a placeholder "
        "is written in plain braces, {customer.name}",
        f"{path}:15: warnings.lag.where: unknown metric 'sale' (did you mean 'sales'?): no "
        "target is measured by it, so warning lag never fires for it",
        f"{path}:18: warnings.lag.message: {{{{completion:%}}}} prints as it stands: a "
        "placeholder is written in plain braces, {completion:%}",
        f"{path}:22: warnings.late.when: can never hold together with its where, so warning "
        "late never fires",
    ]
    # calls is named by a formula (call_share, itself unused: the formula counts), and the
    # metrics the default playbook brings (last 6 months' revenue is overridden here, but used)
    # are its business, not this file's


def test_an_inherited_unused_metric_is_not_reported(tmp_path: Path) -> None:
    base = write(tmp_path, "extends: default\nmetrics:\n  spare: {count: orders}\n", "base.yaml")
    assert [str(f) for f in lint(load_playbook(base))] == [
        f"{base}:3: metrics.spare: nothing uses this metric: no rule, formula, scorecard or "
        "incentive names it, and no target can be measured by it (remove it, or use it)"
    ]
    child = write(tmp_path, "extends: base.yaml\nplaybook: child\n", "child.yaml")
    assert lint(load_playbook(child)) == []


@pytest.mark.parametrize(
    ("text", "error"),
    [
        (  # tiers out of order: refused by validation, at the tiers' line
            """\
extends: default
incentives:
  commission:
    sales_commission:
      tiers:
        - {upto: 120%, rate: 3%}
        - {upto: 100%, rate: 5%}
        - {rate: 8%}
""",
            "5: incentives.commission.sales_commission.tiers: tiers must rise: upto 100%, 120% …",
        ),
        (  # weights adding up to 95%
            """\
extends: default
scorecards:
  quarterly:
    period: quarter
    versions:
      - from: 2024-01-01
        kpis:
          - {metric: sales, weight: 50%}
          - {metric: new_customers, weight: 45%}
""",
            "7: scorecards.quarterly.versions[0].kpis: the weights add up to 95%, not 100%",
        ),
        (  # a cadence channel outside the canonical ones
            "extends: default\nfollow_up:\n  cadence:\n    A: {every: 1 week, channels: [phone]}\n",
            "4: follow_up.cadence.A.channels[0]: must be one of",
        ),
        (  # a placeholder that does not exist
            "extends: default\nfollow_up:\n  task:\n    title: 跟进 {customer.nam}\n",
            "4: follow_up.task.title: unknown placeholder {customer.nam} (did you mean "
            "'customer.name'?)",
        ),
        ("grading: [\n", "2: YAML syntax error"),
    ],
)
def test_an_invalid_playbook_is_exit_2_at_its_line(tmp_path: Path, text: str, error: str) -> None:
    path = write(tmp_path, text)
    result = invoke("lint", path)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith(f"{path}:{error}"), result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_missing_playbook_is_one_line(tmp_path: Path) -> None:
    result = invoke("lint", str(tmp_path / "nowhere.yaml"))
    assert result.exit_code == 2
    assert result.stderr == f"error: playbook file not found: {tmp_path / 'nowhere.yaml'}\n"


def test_validate_shows_the_findings_as_warnings_and_passes(tmp_path: Path) -> None:
    path = write(tmp_path, SHADOWED)
    result = invoke("validate", path)
    assert result.exit_code == 0
    assert result.stdout == f"{path}: ok (company, 32 metrics, 1 warnings)\n"
    assert result.stderr == (
        f"warning: {path}:9: grading.grades[2].when: grade VIP can never match: grade A before "
        "it takes every customer it would\n"
    )
    clean = invoke("validate", "fmcg")
    assert (clean.exit_code, clean.stderr) == (0, "")
