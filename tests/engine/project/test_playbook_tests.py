"""`salesplay test`: playbook tests in YAML, each in a scratch database of its own; a failure
shows what was expected beside the nearest emitted item, a wrong test file is an error at its
line, and --coverage names what no test reaches."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.lang import document
from salesplay.engine.project import playbook_tests
from tests.conftest import load_playbook

# A small organisation and two customers, written once and reused by the tests below: C1 is A
# by its 500,000 of orders, last visited 2024-06-28, so due for follow-up on 2024-07-05; C2,
# never contacted, was due on the day it came, 07-03 (overdue only after 3 days' grace).
RECORDS = """\
    records:
      org_units: [{id: SH, name: 上海, kind: city}]
      reps: [{id: R1, name: 张伟, org_unit_id: SH, hired_on: 2022-03-01, exam_score: 85}]
      customers:
        - {id: C1, name: 华鑫机械, owner_id: R1, created_on: 2024-01-01}
        - {id: C2, name: 恒达贸易, owner_id: R1, created_on: 2024-07-03}
      orders:
        - {id: O1, customer_id: C1, rep_id: R1, amount: 500000, ordered_on: 2024-03-01}
      activities:
        - {id: A1, customer_id: C1, rep_id: R1, occurred_at: 2024-06-28, channel: visit}
"""
PASSING = f"""\
playbook: default
tests:
  - name: A 级客户到期跟进
    as_of: 2024-07-05
{RECORDS}\
    expect:
      grades: {{C1: A, C2: C}}
      tasks: [{{rule: follow_up, subject_id: C1, assignee_id: R1, due: 2024-07-05}}]
      no_alerts: [{{rule: follow_up}}]
"""


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SALESPLAY_")]:
        monkeypatch.delenv(key)
    return tmp_path


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["test", *args])


def write(name: str, text: str) -> Path:
    path = Path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def test_a_passing_file_prints_a_line_per_test_and_exits_0(folder: Path) -> None:
    write("tests/company.test.yaml", PASSING)
    result = run("tests")
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout == (
        "tests/company.test.yaml::A 级客户到期跟进 PASSED\n\n1 passed, 0 failed\n"
    )


def test_a_failing_expectation_shows_the_nearest_emitted_item_and_exits_1(folder: Path) -> None:
    text = PASSING.replace("assignee_id: R1, due: 2024-07-05", "assignee_id: R9, due: 2024-07-05")
    text = text.replace("grades: {C1: A, C2: C}", "grades: {C1: B, C2: C}")
    write("company.test.yaml", text)
    result = run("company.test.yaml")
    assert result.exit_code == 1
    assert result.stdout == (
        "company.test.yaml::A 级客户到期跟进 FAILED\n"
        "\n"
        "____ company.test.yaml::A 级客户到期跟进 ____\n"
        "company.test.yaml:16: tests[0].expect.grades.C1: expected B, emitted A\n"
        "company.test.yaml:17: tests[0].expect.tasks[0]: no emitted task matches\n"
        "    expected: {rule: follow_up, subject_id: C1, assignee_id: R9, due: 2024-07-05}\n"
        "    nearest:  {rule: follow_up, subject_type: customer, subject_id: C1, "
        "assignee_id: R1, due: 2024-07-05, title: 跟进 华鑫机械（A 级客户，应于 2024-07-05 前）, "
        "status: open}\n"
        "    assignee_id: expected R9, emitted R1\n"
        "\n"
        "0 passed, 1 failed\n"
    )


def test_an_unwanted_item_that_was_emitted_fails(folder: Path) -> None:
    write("company.test.yaml", PASSING.replace("no_alerts: [{rule: follow_up}]", "no_tasks: [{}]"))
    assert run("company.test.yaml").exit_code == 2  # an empty item would match any: refused
    text = PASSING.replace("no_alerts: [{rule: follow_up}]", "no_tasks: [{rule: follow_up}]")
    write("company.test.yaml", text)
    result = run("company.test.yaml")
    assert result.exit_code == 1
    assert (
        "company.test.yaml:18: tests[0].expect.no_tasks[0]: 2 emitted task(s) match\n"
        "    expected none like: {rule: follow_up}\n"
        "    emitted:  {rule: follow_up, subject_type: customer, subject_id: C"
    ) in result.stdout


def test_a_rule_names_the_rules_under_it_and_text_may_be_matched_in_part(folder: Path) -> None:
    text = PASSING.replace(
        "tasks: [{rule: follow_up, subject_id: C1, assignee_id: R1, due: 2024-07-05}]",
        "tasks: [{rule: follow_up, title: {contains: 华鑫机械}}]",
    )
    text = text.replace("no_alerts: [{rule: follow_up}]", "alerts: [{rule: follow_up}]")
    text = text.replace("as_of: 2024-07-05", "as_of: [2024-07-05, 2024-07-09]")
    write("company.test.yaml", text)
    result = run("company.test.yaml")
    assert result.exit_code == 0, result.stdout  # follow_up matches follow_up.overdue


def test_payouts_sum_the_statements_holding_the_last_date_or_within_a_period(
    folder: Path,
) -> None:
    # R1 sells 1,296,000 in Q2 against a target of 1,200,000: 36,000 + 4,800 = 40,800 for Q2,
    # and as the team's only seller, 5% of each month's sales (June: 496,000 → 24,800).
    text = """\
tests:
  - name: 提成
    as_of: 2024-06-30
    records:
      org_units: [{id: SH, name: 上海, kind: city}]
      reps: [{id: R1, name: 张伟, org_unit_id: SH, hired_on: 2022-03-01}]
      customers: [{id: C1, name: 华鑫机械, owner_id: R1}]
      orders:
        - {id: O1, customer_id: C1, rep_id: R1, amount: 800000, ordered_on: 2024-04-10}
        - {id: O2, customer_id: C1, rep_id: R1, amount: 496000, ordered_on: 2024-06-10}
      targets:
        - {id: T1, owner_type: rep, owner_id: R1, metric: sales,
           period_start: 2024-04-01, period_end: 2024-06-30, value: 1200000}
    expect:
      payouts:
        R1: {total: 65600}
"""
    write("company.test.yaml", text)
    assert run("company.test.yaml").exit_code == 0
    write("company.test.yaml", text.replace("{total: 65600}", "{total: 105600, period: 2024-Q2}"))
    assert run("company.test.yaml").exit_code == 0
    write("company.test.yaml", text.replace("{total: 65600}", "{total: 40800, period: 2024-Q2}"))
    result = run("company.test.yaml")
    assert result.exit_code == 1
    assert (
        "company.test.yaml:16: tests[0].expect.payouts.R1.total: expected 40800, emitted 105600\n"
        "    2024-Q2 (provisional): 40800 = sales_commission 36000 + sales_commission 4800\n"
        "    2024-04 (closed): 40000 = top_seller 40000\n"
        "    2024-06 (provisional): 24800 = top_seller 24800\n"
    ) in result.stdout


@pytest.mark.parametrize(
    ("change", "error"),
    [
        (
            ("expect:", "expected:"),
            "company.test.yaml:3: tests[0]: 'expect' is required\ncompany.test.yaml:15: "
            "tests[0].expected: unknown key 'expected' (did you mean 'expect'?)",
        ),
        (
            ("as_of: 2024-07-05", "as_of: 2024-07-35"),
            "company.test.yaml:4: tests[0].as_of: '2024-07-35' is no such day",
        ),
        (
            ("as_of: 2024-07-05", "as_of: [2024-07-09, 2024-07-05]"),
            "company.test.yaml:4: tests[0].as_of[1]: 2024-07-05 is before 2024-07-09: list the "
            "dates in the order they come",
        ),
        (
            ("assignee_id: R1, due", "assignee: R1, due"),
            "company.test.yaml:17: tests[0].expect.tasks[0].assignee: unknown key 'assignee' "
            "(did you mean 'assignee_id'?)",
        ),
        (
            ("orders:\n", "order:\n"),
            "company.test.yaml:11: tests[0].records.order: unknown key 'order' (did you mean "
            "'orders'?)",
        ),
        (
            ("amount: 500000,", "amout: 500000,"),
            "company.test.yaml:12: tests[0].records.orders[0].amout: not a column of orders "
            "(did you mean 'amount'?)",
        ),
        (
            ("tests:\n  - name: A", "tests:\n  - name: A\n    name: B"),
            "company.test.yaml:4: tests[0].name: duplicate key 'name' (it is already on line 3): "
            "keep only one",
        ),
        (
            ("playbook: default", "playbook: defualt"),
            "company.test.yaml:1: playbook: no playbook 'defualt': give a .yaml file or one of "
            f"{', '.join(document.bundled_names())} (did you mean 'default'?)",
        ),
    ],
)
def test_a_wrong_test_file_exits_2_at_its_line(
    folder: Path, change: tuple[str, str], error: str
) -> None:
    write("company.test.yaml", PASSING.replace(*change))
    result = run("company.test.yaml")
    assert (result.exit_code, result.stdout, result.stderr) == (2, "", error + "\n")


def test_a_bad_record_value_is_an_error_at_its_line_in_the_test_file(folder: Path) -> None:
    text = PASSING.replace("amount: 500000,", "amount: 12abc,")
    text = text.replace("hired_on: 2022-03-01", "hired_on: 2022-13-01")
    write("company.test.yaml", text)
    result = run("company.test.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith("company.test.yaml:7: tests[0].records.reps[0].hired_on: "), (
        result.stderr
    )
    write(
        "company.test.yaml", PASSING.replace("owner_id: R1, created_on: 2024-07-03", "owner_id: R7")
    )
    result = run("company.test.yaml")
    assert result.exit_code == 2
    assert result.stderr.startswith(
        "company.test.yaml:10: tests[0].records.customers[1].owner_id: "
    ), result.stderr


def test_coverage_names_an_unreached_grade(folder: Path) -> None:
    text = PASSING.replace("grades: {C1: A, C2: C}", "grades: {C1: A}")
    text = text.replace(
        "        - {id: C2, name: 恒达贸易, owner_id: R1, created_on: 2024-07-03}\n", ""
    )
    write("company.test.yaml", text)
    result = run("company.test.yaml", "--coverage")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    book = load_playbook("default")
    b, c = (book.where(("grading", "grades", i))[1] for i in (1, 2))
    assert "coverage of playbooks/default.yaml: " in result.stdout
    assert f"  playbooks/default.yaml:{b}: grading.grades[1]: grade B" in lines
    assert f"  playbooks/default.yaml:{c}: grading.grades[2]: grade C" in lines
    assert not any("grading.grades[0]" in line for line in lines)  # A was reached


def test_each_test_has_its_own_database_and_the_users_is_never_touched(folder: Path) -> None:
    second = PASSING.replace("- name: A 级客户到期跟进", "- name: 另一个").split("tests:\n")[1]
    write("company.test.yaml", PASSING + second)  # the same ids twice: no clash
    before = set(folder.iterdir())
    result = CliRunner().invoke(cli, ["--db", "sales.db", "test", "company.test.yaml"])
    assert result.exit_code == 0, result.stdout
    assert result.stdout.endswith("2 passed, 0 failed\n")
    assert set(folder.iterdir()) == before  # no database made, no scratch file left


def test_without_a_path_the_playbooks_folder_is_searched(folder: Path) -> None:
    write("sales/playbook.yaml", "extends: default\nplaybook: sales\n")
    write("sales/playbook.test.yaml", PASSING.replace("playbook: default\n", ""))
    write("sales/salesplay.toml", 'playbook = "playbook.yaml"\n')
    os.chdir("sales")
    result = run()
    assert result.exit_code == 0, result.stdout + result.stderr
    assert result.stdout.startswith("playbook.test.yaml::A 级客户到期跟进 PASSED\n")


def test_no_test_file_is_an_error(folder: Path) -> None:
    (folder / "empty").mkdir()
    result = run("empty")
    assert (result.exit_code, result.stderr) == (
        2,
        "error: no playbook tests under empty: a test file is named NAME.test.yaml "
        "(see salesplay test --help)\n",
    )


def test_test_files_are_not_bundled_playbooks() -> None:
    names = document.bundled_names()
    assert "default" in names
    assert not [n for n in names if n.endswith(".test")]
    assert playbook_tests.default_folder("default").joinpath("default.test.yaml").is_file()
