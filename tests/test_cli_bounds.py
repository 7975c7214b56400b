"""Input a fuzzing probe found crashing `salesplay validate` or `evaluate` with a Python error:
each is now refused when the playbook loads, as one line at its file and line, exit status 2."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesplay.cli import cli

LOCATED = re.compile(r"^[^\n:]+\.yaml:\d+: ")


def warning(when: str) -> str:
    """A playbook over the default with one customer warning of the given condition."""
    return (
        "extends: default\nwarnings:\n  x:\n    for: customers\n    level: red\n"
        f"    message: hi\n    when: {when}\n"
    )


def refused(tmp_path: Path, text: str | bytes, name: str = "company.yaml") -> str:
    """The one line `salesplay validate` prints for a playbook text it refuses."""
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, "utf-8")
    result = CliRunner().invoke(cli, ["validate", "--playbook", str(path)])
    assert result.exit_code == 2, result.output
    line = result.stderr.strip()
    assert "\n" not in line, line
    assert LOCATED.match(line), line
    assert "Error:" not in line and "Error " not in line, line
    return line


@pytest.mark.parametrize(
    ("character", "name"),
    [("\x00", "NUL (U+0000)"), ("\x1b", "ESC (U+001B)"), ("\x7f", "DEL (U+007F)"),
     ("\x0c", "form feed (U+000C)")],
)  # fmt: skip
def test_a_control_character_is_refused_at_its_line_and_column(
    tmp_path: Path, character: str, name: str
) -> None:
    line = refused(tmp_path, f"extends: default\ndescription: a{character}b\n")
    assert line.endswith(
        f"company.yaml:2: column 15: {name} cannot be in a playbook: remove it "
        "(it is invisible in most editors; a YAML file is plain text)"
    )


def test_three_thousand_nested_parentheses(tmp_path: Path) -> None:
    when = "(" * 3000 + "strategic" + ")" * 3000
    line = refused(tmp_path, warning(when))
    assert "warnings.x.when: nested 3000 levels deep; at most 16" in line


@pytest.mark.parametrize(
    "nested",
    [
        "".join(" " * (i + 1) + f"k{i}:\n" for i in range(3000)),
        "[" * 3000 + "]" * 3000 + "\n",
    ],
    ids=["block", "flow"],
)
def test_a_three_thousand_deep_map(tmp_path: Path, nested: str) -> None:
    line = refused(
        tmp_path, "extends: default\ndescription:" + ("\n" if "k0" in nested else " ") + nested
    )
    assert line.endswith("maps and lists nested more than 32 levels deep: write it more simply")


def test_twelve_hundred_chained_extends(tmp_path: Path) -> None:
    for i in range(1, 1200):
        (tmp_path / f"p{i}.yaml").write_text(f"extends: p{i + 1}.yaml\n", "utf-8")
    (tmp_path / "p1200.yaml").write_text("extends: default\n", "utf-8")
    line = refused(tmp_path, "extends: p1.yaml\n")
    assert line.startswith(f"{tmp_path / 'p15.yaml'}:1: extends: extends more than 16 playbooks")


def test_a_two_thousand_term_or(tmp_path: Path) -> None:
    when = " or ".join(["strategic"] * 2000)
    line = refused(tmp_path, warning(when))
    assert "1999 operators in one expression; at most 100 are allowed" in line


def test_a_title_repeating_a_placeholder_two_thousand_times(tmp_path: Path) -> None:
    title = "{customer.name}" * 2000
    line = refused(tmp_path, f'extends: default\nfollow_up:\n  task:\n    title: "{title}"\n')
    assert line.endswith(
        "company.yaml:4: follow_up.task.title: 2000 placeholders in one text; at most 50 are "
        "allowed"
    )


def test_every_of_99999999999999999999_weeks(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "extends: default\nfollow_up:\n  cadence:\n    A: {every: 99999999999999999999 weeks}\n",
    )
    assert line.endswith(
        "company.yaml:4: follow_up.cadence.A.every: '99999999999999999999 weeks' is too long: "
        "a duration is at most 10 years (520 weeks)"
    )


def test_a_41_digit_threshold(tmp_path: Path) -> None:
    line = refused(tmp_path, warning(f"pipeline > {'9' * 41}"))
    assert "is more than 10,000,000,000,000, the largest number a condition may hold" in line


def test_green_of_1e400_percent(tmp_path: Path) -> None:
    line = refused(tmp_path, "extends: default\ngoals:\n  lights:\n    green: 1e400%\n")
    assert line.endswith(
        "company.yaml:4: goals.lights.green: '1e400%' is more than 1000%, the most a share can be"
    )


def test_after_99999999999_days(tmp_path: Path) -> None:
    line = refused(
        tmp_path, "extends: default\nfollow_up:\n  overdue:\n    after: 99999999999 days\n"
    )
    assert line.endswith(
        "follow_up.overdue.after: '99999999999 days' is too long: a duration is at most "
        "10 years (3650 days)"
    )


def test_a_window_of_the_last_99999999999_months(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "extends: default\nmetrics:\n  revenue_6m:\n    window: last 99999999999 months\n",
    )
    assert line.endswith(
        "company.yaml:4: metrics.revenue_6m.window: '99999999999 months' is too long: a window "
        "is at most 100 years (1200 months)"
    )


def test_a_cap_of_1e30(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        "extends: default\nincentives:\n  commission:\n    sales_commission:\n      cap: 1e30\n",
    )
    assert (
        "commission.sales_commission.cap: '1E+30' is more than 10,000,000,000,000, the most "
        "an amount" in line
    )


def test_three_thousand_metrics(tmp_path: Path) -> None:
    metrics = "".join(f"  m{i}: {{count: orders}}\n" for i in range(3000))
    line = refused(tmp_path, f"extends: default\nmetrics:\n{metrics}")
    assert line.endswith("company.yaml:2: metrics: at most 500 entries, not 3032")


def test_a_cron_expression_that_never_fires(tmp_path: Path) -> None:
    line = refused(
        tmp_path,
        'extends: default\njobs:\n  never:\n    cron: "0 8 31 2 *"\n    rules: [grading]\n',
    )
    assert line.endswith(
        "company.yaml:4: jobs.never.cron: '0 8 31 2 *' never fires: no day matches it (is it a "
        "date that does not exist, like 31 February?)"
    )


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero here")
def test_extends_of_a_device(tmp_path: Path) -> None:
    line = refused(tmp_path, "extends: /dev/zero\n")
    assert line.endswith(
        "company.yaml:1: extends: /dev/zero is not a file (a device or a pipe): give a .yaml file"
    )


def test_a_playbook_over_five_megabytes_is_refused_unread(tmp_path: Path) -> None:
    line = refused(tmp_path, "description: " + "a" * (5 * 1024 * 1024) + "\n")
    assert line.endswith("is larger than 5 MB, the most a playbook may be: is it the right file?")
    (tmp_path / "huge.yaml").write_bytes(b"description: " + b"a" * (6 * 1024 * 1024))
    line = refused(tmp_path, "extends: huge.yaml\n", name="over.yaml")
    assert line.startswith(f"{tmp_path / 'over.yaml'}:1: extends: ")


def test_aliases_and_python_tags_are_refused(tmp_path: Path) -> None:
    laughs = "a: &a [x, x, x, x, x, x, x, x, x]\nb: [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    assert "anchors (&a) are not allowed" in refused(tmp_path, laughs)
    tag = "extends: default\ndescription: !!python/object/apply:os.system ['true']\n"
    assert "YAML tags like !!python/object/apply:os.system are not allowed" in refused(
        tmp_path, tag
    )


def test_values_at_the_bounds_validate_and_evaluate(tmp_path: Path) -> None:
    """The bounds refuse only what cannot run: values at them load and evaluate."""
    path = tmp_path / "company.yaml"
    when = " or ".join(["pipeline > 10000000000000"] * 50)
    path.write_text(
        "extends: default\n"
        "follow_up:\n  cadence:\n    C: {every: 520 weeks}\n  overdue:\n    after: 3650 days\n"
        "  task:\n    title: '" + "{customer.name}" * 50 + "'\n"
        "metrics:\n  revenue_6m:\n    window: last 100 years\n"
        f"warnings:\n  x:\n    for: customers\n    when: {when}\n    level: red\n"
        "    message: '{customer.name}'\n"
        "goals:\n  lights:\n    green: 100%\n    red: 60%\n"
        "incentives:\n  commission:\n    sales_commission:\n      cap: 10000000000000\n"
        'jobs:\n  leap:\n    cron: "0 8 29 2 *"\n    rules: [grading]\n',
        "utf-8",
    )
    db = f"sqlite:///{tmp_path / 'tiny.db'}"
    runner = CliRunner()
    demo = runner.invoke(cli, ["demo", "--customers", "10", "--as-of", "2024-06-15", "--db", db])
    assert demo.exit_code == 0, demo.output
    result = runner.invoke(
        cli, ["evaluate", "--as-of", "2024-06-15", "--db", db, "--playbook", str(path)]
    )
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("job", "message"),
    [
        (
            "{every: 1 week, start: '9999-12-31 09:00', rules: [grading]}",
            "jobs.j.start: '9999-12-31 09:00' is too late: start in 2999 at the latest",
        ),
        (
            "{cron: '0 8 * * *', rules: [grading], starting_deadline: 99999999999999 weeks}",
            "jobs.j.starting_deadline: '99999999999999 weeks' is too long: a deadline is at most "
            "3650 days",
        ),
        (
            "{every: 9999999 weeks, start: '2024-01-01 09:00', rules: [grading]}",
            "jobs.j.every: '9999999 weeks' is too long: a duration is at most 10 years (520 weeks)",
        ),
    ],
    ids=["start", "deadline", "every"],
)
def test_a_job_whose_times_would_overflow(tmp_path: Path, job: str, message: str) -> None:
    line = refused(tmp_path, f"extends: default\njobs:\n  j: {job}\n")
    assert line.endswith(f"company.yaml:3: {message}")


def test_formulas_over_formulas_too_deep_or_too_large(tmp_path: Path) -> None:
    chain = "".join(f"  f{i + 1}: {{formula: f{i} + f{i} + 1}}\n" for i in range(60))
    line = refused(tmp_path, f"extends: default\nmetrics:\n  f0: {{count: orders}}\n{chain}")
    assert line.endswith(
        "company.yaml:9: metrics.f6.formula: formulas over formulas more than 5 deep: compute "
        "it in fewer steps"
    )
    wide = "".join(f"  f{i + 1}: {{formula: {' + '.join([f'f{i}'] * 50)}}}\n" for i in range(3))
    line = refused(tmp_path, f"extends: default\nmetrics:\n  f0: {{count: orders}}\n{wide}")
    assert "metrics.f2.formula: with the formulas it names written out, more than 1000" in line


def test_a_control_character_in_a_quoted_value_stays_on_its_line(tmp_path: Path) -> None:
    line = refused(tmp_path, 'extends: "0\\r"\n')
    assert line.endswith(
        "company.yaml:1: extends: no playbook '0\\x0d': give a .yaml file or "
        "one of default, education, fmcg, manufacturing, medical, retail, saas"
    )
