"""The CLI end to end through click's runner: the JSON contracts, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cli.db'}"


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def demo_db(db_url: str) -> str:
    result = invoke("demo", "--customers", "300", "--as-of", "2024-06-15", "--db", db_url)
    assert result.exit_code == 0, result.output
    return db_url


def test_demo_prints_a_summary(db_url: str) -> None:
    result = invoke("demo", "--customers", "300", "--as-of", "2024-06-15", "--db", db_url)
    assert result.exit_code == 0, result.output
    assert "300 customers" in result.output
    assert "grades: A " in result.output and "follow_up " in result.output
    again = invoke("demo", "--customers", "300", "--as-of", "2024-06-15", "--db", db_url)
    assert again.exit_code == 2
    assert again.stderr.strip().endswith("(add --reset to empty it)")


def test_json_outputs_keep_their_keys(demo_db: str) -> None:
    grades = json.loads(invoke("grades", "--format", "json", "--db", demo_db).output)
    assert len(grades) == 300
    assert set(grades[0]) == {"customer_id", "grade", "since"}
    tasks = json.loads(invoke("tasks", "--format", "json", "--db", demo_db).output)
    assert tasks and set(tasks[0]) == {
        "id",
        "rule",
        "subject_type",
        "subject_id",
        "assignee_id",
        "due",
        "title",
        "status",
    }
    assert {t["status"] for t in tasks} == {"open"}
    alerts = json.loads(invoke("alerts", "--format", "json", "--db", demo_db).output)
    assert alerts and set(alerts[0]) == {
        "id",
        "rule",
        "subject_type",
        "subject_id",
        "level",
        "message",
        "raised_on",
        "status",
        "resolved_on",
    }
    red = json.loads(invoke("alerts", "--level", "red", "--format", "json", "--db", demo_db).output)
    assert {a["level"] for a in red} <= {"red"}


def test_csv_and_table_formats(demo_db: str) -> None:
    csv_out = invoke("grades", "--format", "csv", "--db", demo_db).output.splitlines()
    assert csv_out[0] == "customer_id,grade,since"
    assert len(csv_out) == 301
    # the bundled playbook says `language: zh`; a table names each subject and assignee, so
    # their headers say what the column holds rather than its key
    table = invoke("tasks", "--status", "open", "--db", demo_db).output.splitlines()
    assert table[0].split() == ["编号", "规则", "对象", "负责人", "截止日期", "任务", "状态"]
    english = invoke("tasks", "--status", "open", "--lang", "en", "--db", demo_db).output
    assert english.splitlines()[0].split() == [
        "id",
        "rule",
        "subject",
        "assignee",
        "due",
        "title",
        "status",
    ]


def test_evaluate_twice_emits_nothing_new(demo_db: str) -> None:
    result = invoke("evaluate", "--as-of", "2024-06-15", "--db", demo_db)
    assert result.exit_code == 0, result.output
    assert "nothing new" in result.output
    runs = json.loads(invoke("runs", "--format", "json", "--db", demo_db).output)
    assert [r["as_of"] for r in runs] == ["2024-06-15", "2024-06-15"]


def test_task_done_and_grade_set(demo_db: str) -> None:
    tasks = json.loads(invoke("tasks", "--format", "json", "--db", demo_db).output)
    done = invoke("task", "done", str(tasks[0]["id"]), "--note", "已处理", "--db", demo_db)
    assert done.exit_code == 0, done.output
    again = invoke("task", "done", str(tasks[0]["id"]), "--db", demo_db)
    assert again.exit_code == 2
    assert again.stderr.strip() == f"error: ID: task {tasks[0]['id']} is already done"
    cid = tasks[0]["subject_id"]
    result = invoke("grade", "set", cid, "A", "--by", "M1", "--reason", "战略客户", "--db", demo_db)
    assert result.exit_code == 0, result.output
    shown = json.loads(
        invoke("grades", "--customer", cid, "--format", "json", "--db", demo_db).output
    )
    assert shown[0]["grade"] == "A"
    bad = invoke("grade", "set", cid, "Z", "--by", "M1", "--reason", "x", "--db", demo_db)
    assert bad.exit_code == 2
    assert bad.stderr.strip() == "error: grade: 'Z' is not a grade of this playbook (A, B, C)"


def test_explain_shows_rules_and_values(demo_db: str) -> None:
    result = invoke("explain", "customer", "C0000001", "--as-of", "2024-06-15", "--db", demo_db)
    assert result.exit_code == 0, result.output
    assert "grading: A" in result.output and "revenue_6m = " in result.output
    assert "follow_up" in result.output
    missing = invoke("explain", "customer", "NOPE", "--db", demo_db)
    assert missing.exit_code == 2
    assert missing.stderr.strip() == "error: no customer with id 'NOPE'"


def test_errors_are_one_line_without_traceback_unless_debug(tmp_path: Path, db_url: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "extends: default\ngrading:\n  grades:\n    - grade: A\n      when: revenu_6m > 1\n"
        "    - grade: B\n",
        encoding="utf-8",
    )
    result = invoke("validate", str(bad))
    assert result.exit_code == 2
    assert result.stderr == (
        f"{bad}:5: grading.grades[0].when: unknown name 'revenu_6m' (did you mean 'revenue_6m'?)\n"
    )
    assert "Traceback" not in result.output
    debug = invoke("validate", str(bad), "--debug")
    assert debug.exit_code != 0 and debug.exception is not None
    evaluate = invoke("evaluate", "--playbook", str(bad), "--db", db_url)
    assert evaluate.exit_code == 2 and evaluate.stderr.count("\n") == 1


def test_playbook_from_the_environment(tmp_path: Path, db_url: str) -> None:
    result = CliRunner(env={"SALESPLAY_PLAYBOOK": "fmcg"}).invoke(cli, ["validate", "fmcg"])
    assert result.exit_code == 0
    schema = json.loads(invoke("schema").output)
    assert set(schema["properties"]) >= {"metrics", "grading", "follow_up", "warnings"}


def test_python_cli_py_from_a_checkout() -> None:
    result = subprocess.run(
        [sys.executable, "cli.py", "--help"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr
    assert "evaluate" in result.stdout and "import" in result.stdout


def test_demo_writes_csv_files_that_import(tmp_path: Path, db_url: str) -> None:
    out = tmp_path / "csv"
    result = invoke("demo", "--customers", "40", "--as-of", "2024-06-15", "--csv", str(out))
    assert result.exit_code == 0, result.output
    files = sorted(out.iterdir())
    assert [f.name[3:-4] for f in files] == [
        "org_units",
        "reps",
        "customers",
        "orders",
        "deals",
        "activities",
        "surveys",
        "targets",
        "progress_notes",
    ]
    for file in files:
        imported = invoke("import", file.name[3:-4], str(file), "--db", db_url)
        assert imported.exit_code == 0, imported.output
    grades = invoke("evaluate", "--as-of", "2024-06-15", "--db", db_url)
    assert grades.exit_code == 0, grades.output
    direct = f"sqlite:///{tmp_path / 'direct.db'}"
    assert (
        invoke("demo", "--customers", "40", "--as-of", "2024-06-15", "--db", direct).exit_code == 0
    )
    a = json.loads(invoke("grades", "--format", "json", "--db", db_url).output)
    b = json.loads(invoke("grades", "--format", "json", "--db", direct).output)
    assert a == b and len(a) == 40
    goals_a = invoke("goals", "--as-of", "2024-06-15", "--format", "json", "--db", db_url)
    goals_b = invoke("goals", "--as-of", "2024-06-15", "--format", "json", "--db", direct)
    assert json.loads(goals_a.stdout) == json.loads(goals_b.stdout)


def test_alerts_for_one_recipient(demo_db: str) -> None:
    everyone = json.loads(invoke("alerts", "--format", "json", "--db", demo_db).output)
    red = [a for a in everyone if a["level"] == "red"]
    assert red, "the demo has lagging reps"
    managers = {
        r["assignee_id"]
        for r in json.loads(
            invoke("tasks", "--rule", "goal_lag", "--format", "json", "--db", demo_db).output
        )
    }
    manager = sorted(managers)[0]
    mine = json.loads(
        invoke(
            "alerts",
            "--assignee",
            manager,
            "--rule",
            "goal_lag",
            "--format",
            "json",
            "--db",
            demo_db,
        ).output
    )
    assert mine and all(a["rule"] == "goal_lag" for a in mine)
    assert len(mine) < len(everyone)


def test_goals_prints_the_tree_with_lights_and_forecasts(demo_db: str) -> None:
    result = invoke("goals", "--as-of", "2024-06-15", "--format", "json", "--db", demo_db)
    assert result.exit_code == 0, result.output
    goals = json.loads(result.stdout)
    assert set(goals[0]) == {
        "owner_type",
        "owner_id",
        "metric",
        "period_start",
        "period_end",
        "target",
        "current",
        "completion",
        "pace",
        "light",
        "forecast",
        "reason",
        "plan",
    }
    # the company first, then its regions; every goal of the demo's quarter has a light
    assert (goals[0]["owner_type"], goals[0]["owner_id"], goals[0]["metric"]) == (
        "org_unit",
        "HQ",
        "sales",
    )
    assert {g["period_start"] for g in goals} == {"2024-04-01"}
    assert {g["light"] for g in goals} <= {"green", "yellow", "red"}
    assert {g["metric"] for g in goals} >= {"sales", "new_customers", "collection_rate", "visits"}
    assert any(g["reason"] for g in goals)  # the demo's progress notes
    # the company's sales target is 110% of its regions': the report says so, on stderr
    assert "note: 总部 (HQ) sales 2024-Q2: target" in result.stderr
    table = invoke(
        "goals", "--as-of", "2024-06-15", "--under", "CT1", "--lang", "en", "--db", demo_db
    )
    assert table.exit_code == 0
    assert table.stdout.splitlines()[0].split()[:4] == ["dimension", "sub_goal", "owner", "metric"]
    bad = invoke("goals", "--period", "2024-Q5", "--db", demo_db)
    assert bad.exit_code == 2
    assert bad.stderr.strip() == (
        "error: --period: unknown period '2024-Q5': write '2024', '2024-Q2', '2024-06', "
        "'2024-W23' or '2024-04-01..2024-06-30'"
    )


def test_progress_notes_import_checks_the_period(db_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.csv"
    notes.write_text(
        "owner_type,owner_id,metric,period,reason,plan\n"
        "rep,R1,sales,2024-Q2,大客户延迟签约,总监陪同拜访\n"
        "rep,R1,sales,2024-Q5,x,y\n",
        "utf-8",
    )
    result = invoke("import", "progress_notes", str(notes), "--db", db_url)
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"{notes}:3: period: unknown period '2024-Q5': write '2024', '2024-Q2', "
        "'2024-06', '2024-W23' or '2024-04-01..2024-06-30'"
    )


def test_payouts_statements_and_their_explanation(demo_db: str) -> None:
    """The demo is evaluated on 2024-06-15: Q2 is open (provisional); April closed on 05-10."""
    result = invoke("payouts", "--period", "2024-Q2", "--format", "json", "--db", demo_db)
    assert result.exit_code == 0, result.output
    found = json.loads(result.stdout)
    reps = [s for s in found if "rep_id" in s]
    assert reps and set(reps[0]) == {"rep_id", "period", "status", "total", "lines"}
    assert set(reps[0]["lines"][0]) == {"rule", "base", "rate", "amount", "detail"}
    by_period = {(s["period"], s["status"]) for s in reps}
    assert ("2024-Q2", "provisional") in by_period and ("2024-04", "closed") in by_period
    for statement in found:  # totals are the sum of their lines, to the cent
        cents = sum(round(line["amount"] * 100) for line in statement["lines"])
        assert round(statement["total"] * 100) == cents
    rep = next(s["rep_id"] for s in reps if s["period"] == "2024-Q2")
    explained = invoke(
        "explain", "rep", rep, "--period", "2024-Q2", "--as-of", "2024-06-15", "--db", demo_db
    )
    assert explained.exit_code == 0, explained.output
    assert "[FIRES] sales_commission: 2024-Q2:" in explained.stdout
    assert "orders = O" in explained.stdout  # the orders the base is made of
    table = invoke("payouts", "--period", "2024-Q2", "--rep", rep, "--lang", "en", "--db", demo_db)
    assert table.stdout.splitlines()[0].split() == [
        "owner",
        "period",
        "status",
        "rule",
        "base",
        "rate",
        "amount",
        "total",
    ]
