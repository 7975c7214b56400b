"""The project folder and the command-line habits: salesplay finds its database and playbook
from any folder, makes no database by accident, and takes options and dates as people write
them."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner, Result

from salesplay.cli import cli
from salesplay.engine.lang.document import bundled_names

ROOT = Path(__file__).resolve().parents[1]
SALESPLAY = str(Path(sys.executable).parent / "salesplay")
CUSTOMERS = (
    "id,name,owner_id,org_unit_id,industry,strategic,status,created_on\n"
    "C1,华鑫机械,,,制造,true,active,2024-01-05\n"
    "C2,小店,,,零售,false,active,2024-01-05\n"
)


def invoke(*args: str, env: dict[str, str] | None = None) -> Result:
    return CliRunner(env=env).invoke(cli, list(args))


def shell(line: str, cwd: Path | str, **env: str) -> subprocess.CompletedProcess[str]:
    """A command line as a user types it, `salesplay` being this installation's script."""
    line = re.sub(r"(^|&& |\| )salesplay ", rf"\g<1>{SALESPLAY} ", line)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SALESPLAY_")}
    return subprocess.run(
        ["bash", "-o", "pipefail", "-c", line],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**clean, **env},
        check=False,
    )


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project made by init, with two customers imported and evaluated on 2024-07-05; the
    test runs in the folder above it."""
    monkeypatch.chdir(tmp_path)
    for key in [k for k in os.environ if k.startswith("SALESPLAY_")]:
        monkeypatch.delenv(key)
    (tmp_path / "customers.csv").write_text(CUSTOMERS, "utf-8")
    for line in (
        "init sales",
        "--project sales import customers customers.csv",
        "--project sales evaluate --as-of 2024-07-05",
    ):
        done = invoke(*line.split())
        assert done.exit_code == 0, done.output
    return tmp_path / "sales"


def test_init_then_the_three_printed_commands(tmp_path: Path) -> None:
    made = shell("salesplay init . --industry fmcg", tmp_path)
    assert made.returncode == 0, made.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "playbook.schema.json",
        "playbook.test.yaml",
        "playbook.yaml",
        "salesplay.db",
        "salesplay.toml",
    ]
    playbook = (tmp_path / "playbook.yaml").read_text("utf-8")
    assert "\nextends: fmcg\n" in playbook
    assert playbook.startswith("# yaml-language-server: $schema=./playbook.schema.json")
    printed = made.stdout.split("next:\n")[1].splitlines()
    commands = [line.strip() for line in printed if line.strip()]
    assert commands == [
        "salesplay validate",
        "salesplay import customers customers.csv",
        "salesplay evaluate",
    ]
    (tmp_path / "customers.csv").write_text(CUSTOMERS, "utf-8")
    for line in commands:
        done = shell(line, tmp_path)
        assert done.returncode == 0, f"{line}: {done.stderr}"
    # the bundled playbook's worked examples come along, aimed at the project's playbook
    tested = shell("salesplay test", tmp_path)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert tested.stdout.strip().endswith(" passed, 0 failed")
    listed = shell("salesplay grades --format json", tmp_path)
    # C1 is strategic: A whatever its revenue, in fmcg as in the default playbook
    assert {g["customer_id"]: g["grade"] for g in json.loads(listed.stdout)} == {
        "C1": "A",
        "C2": "C",
    }


@pytest.mark.parametrize("industry", bundled_names())
def test_the_commented_examples_of_the_new_playbook_are_valid_once_uncommented(
    tmp_path: Path, industry: str
) -> None:
    assert invoke("init", str(tmp_path / "p"), "--industry", industry).exit_code == 0
    book = tmp_path / "p" / "playbook.yaml"
    lines = book.read_text("utf-8").splitlines()
    # uncomment the YAML of every example block; keep the prose comments
    yaml_lines = [re.sub(r"^# (?=[a-z_]+:|  )", "", line) for line in lines]
    book.write_text("\n".join(yaml_lines) + "\n", "utf-8")
    result = invoke("validate", str(book))
    assert result.exit_code == 0, result.output
    uncommented = book.read_text("utf-8")
    assert "\ngrading:\n" in uncommented and "\nincentives:\n" in uncommented


def test_init_never_overwrites(tmp_path: Path) -> None:
    (tmp_path / "playbook.yaml").write_text("mine", "utf-8")
    result = invoke("init", str(tmp_path))
    assert result.exit_code == 2
    assert "already holds playbook.yaml: nothing was changed" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["playbook.yaml"]
    assert (tmp_path / "playbook.yaml").read_text("utf-8") == "mine"


def test_commands_find_the_project_from_a_folder_inside_it(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inside = project / "reports" / "2024"
    inside.mkdir(parents=True)
    monkeypatch.chdir(inside)
    result = invoke("grades", "--format", "json")
    assert result.exit_code == 0, result.output
    assert len(json.loads(result.output)) == 2
    assert not (inside / "salesplay.db").exists()


def test_the_readme_crontab_line_works_from_the_root_folder(project: Path) -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    found = re.search(r"`\*/5 \* \* \* \* (/srv/sales/\S+ --project /srv/sales tick[^`]*)`", readme)
    assert found, "the README's crontab line"
    line = found.group(1).replace("/srv/sales/.venv/bin/salesplay", "salesplay")
    line = line.replace("/srv/sales", shlex.quote(str(project)))
    result = shell(line + " --now 2024-07-05T08:30+08:00", "/")
    assert result.returncode == 0, result.stderr
    assert not Path("/salesplay.db").exists()
    runs = shell(f"salesplay --project {shlex.quote(str(project))} runs --format json", "/")
    assert [r["job"] for r in json.loads(runs.stdout)].count("daily") == 1


def test_the_readme_systemd_unit_names_its_project() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert "ExecStart=/srv/sales/.venv/bin/salesplay --project /srv/sales run" in readme


@pytest.mark.parametrize("command", ["tick", "tasks", "evaluate", "grades", "db status"])
def test_no_database_is_made_by_accident(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SALESPLAY_DB", raising=False)
    result = invoke(*command.split())
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert f"no database at {tmp_path / 'salesplay.db'}" in result.stderr
    assert "salesplay init" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "command", ["validate", "schema", "info", "schedule --next 1", "--version", "tasks --help"]
)
def test_commands_that_need_no_database_never_look_for_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str
) -> None:
    monkeypatch.chdir(tmp_path)
    result = invoke(*command.split(), env={"SALESPLAY_DB": "/nonexistent/folder/x.db"})
    assert result.exit_code == 0, result.output
    assert list(tmp_path.iterdir()) == []


def test_db_takes_a_file_path_and_options_stand_before_or_after_the_command(
    project: Path,
) -> None:
    path = str(project / "salesplay.db")
    after = invoke("grades", "--db", path, "--format", "json")
    before = invoke("--db", path, "grades", "--format", "json")
    assert after.exit_code == before.exit_code == 0, after.output + before.output
    assert json.loads(after.output) == json.loads(before.output)
    assert len(json.loads(before.output)) == 2
    nested = invoke("--project", str(project), "db", "status")
    assert nested.exit_code == 0 and "(current)" in nested.output


def test_info_says_what_is_in_force_and_where_it_came_from(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(project)
    result = invoke("info", env={"SALESPLAY_PLAYBOOK": "fmcg"})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == f"project:   {project}"
    assert lines[2] == f"database:  sqlite:///{project / 'salesplay.db'}"
    assert lines[3].strip() == f"from {project / 'salesplay.toml'}"
    assert lines[4].startswith("playbook:  fmcg (")
    assert lines[5].strip() == "from SALESPLAY_PLAYBOOK"
    assert lines[6] == "timezone:  Asia/Shanghai"
    hidden = invoke("info", "--db", "postgresql://ops:s3cret@db.example.com/sales")
    assert "postgresql://ops:***@db.example.com/sales" in hidden.output
    assert "s3cret" not in hidden.output


@pytest.mark.parametrize("day", ["2024-07-05", "2024/7/5", "2024/07/05", "2024年7月5日"])
def test_dates_as_people_write_them(project: Path, day: str) -> None:
    result = invoke("--project", str(project), "evaluate", "--as-of", day)
    assert result.exit_code == 0, result.output
    assert "as of 2024-07-05" in result.output


def test_a_date_that_does_not_parse_is_refused_with_the_forms(project: Path) -> None:
    result = invoke("--project", str(project), "evaluate", "--as-of", "7/5/2024")
    assert result.exit_code == 2
    assert "'7/5/2024' is not a date: write 2024-07-05, 2024/7/5 or 2024年7月5日" in result.output


def test_an_unknown_zone_suggests_the_iana_name() -> None:
    result = invoke("schedule", "--cron", "0 8 * * *", "--tz", "Beijing")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        "error: --tz: unknown time zone 'Beijing' (did you mean 'Asia/Shanghai'?)"
    )


def _into_closed_pipe(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run salesplay with its stdout a pipe whose reader has already gone, as `| head` leaves
    it once head has read enough: the first write fails with EPIPE, every time."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [SALESPLAY, *args], cwd=cwd, stdout=write_end, stderr=subprocess.PIPE, text=True
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize(
    "args",
    [
        ["explain", "customer", "C1", "--as-of", "2024-07-05"],
        ["grades"],
        ["schema"],
        ["--help"],
    ],
)
def test_writing_into_a_closed_pipe_ends_quietly(project: Path, args: list[str]) -> None:
    result = _into_closed_pipe(args, project)
    assert (result.returncode, result.stderr) == (0, "")


def test_head_takes_the_first_line(project: Path) -> None:
    result = shell("salesplay explain customer C1 --as-of 2024-07-05 | head -1", project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("customer C1 as of 2024-07-05")


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    found: list[tuple[str, click.Command]] = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        if isinstance(command, click.Group):
            found += _commands(command, prefix + name + " ")
    return found


def test_every_commands_help_has_an_example() -> None:
    missing = [name for name, command in _commands(cli) if "Example" not in (command.help or "")]
    assert missing == []


def test_a_first_import_says_where_it_made_the_database_and_a_refused_one_makes_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("SALESPLAY_DB", raising=False)
    (tmp_path / "bad.csv").write_text(CUSTOMERS.replace("2024-01-05\n", "2024-13-45\n", 1))
    refused = invoke("import", "customers", "bad.csv")
    assert refused.exit_code == 2
    assert refused.output.startswith("bad.csv:2: created_on:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.csv"]
    (tmp_path / "customers.csv").write_text(CUSTOMERS, "utf-8")
    done = invoke("import", "customers", "customers.csv")
    assert done.exit_code == 0, done.output
    assert f"note: created the database {tmp_path / 'salesplay.db'} (no salesplay.toml" in (
        done.stderr
    )
