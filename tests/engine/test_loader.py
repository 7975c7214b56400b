"""Loading playbooks: bundled ones load, `extends` merges, and every error is one located line.

Each bad playbook is a small string beside its test, written to a temporary folder that is
also the working directory, so messages read `company.yaml:LINE: yaml.path: reason`. The line
numbers in the expectations were counted by hand (the numbered comments help). Every case is
checked twice: as the exception playbook.load raises, and as `salesplay validate` prints it
(stderr, exit status 2).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from salesplay.cli import cli
from salesplay.engine.errors import PlaybookError, PlaybookErrors
from salesplay.engine.lang import document
from tests.conftest import load_playbook

Rejects = Callable[..., None]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def write(files: dict[str, str]) -> None:
    for name, text in files.items():
        Path(name).parent.mkdir(parents=True, exist_ok=True)
        Path(name).write_text(text, encoding="utf-8")


@pytest.fixture
def rejects(folder: Path) -> Rejects:
    """rejects(text, expected, **other_files): company.yaml fails with exactly these lines."""

    def check(text: str, expected: str, **others: str) -> None:
        write(
            {"company.yaml": text, **{k.replace("__", "/") + ".yaml": v for k, v in others.items()}}
        )
        with pytest.raises((PlaybookError, PlaybookErrors)) as caught:
            load_playbook("company.yaml")
        assert str(caught.value) == expected
        result = CliRunner().invoke(cli, ["validate", "company.yaml"])
        assert (result.exit_code, result.stderr, result.stdout) == (2, expected + "\n", "")

    return check


# ---- what loads -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", document.bundled_names())
def test_every_bundled_playbook_loads(name: str) -> None:
    book = load_playbook(name)
    assert book.name == name
    assert book.path == f"playbooks/{name}.yaml"
    assert book.files[-1] == book.path
    result = CliRunner().invoke(cli, ["validate", name])
    assert result.exit_code == 0, result.stderr


def test_default_is_what_loads_without_a_name() -> None:
    assert "default" in document.bundled_names()
    assert load_playbook().data == load_playbook("default").data


def test_validate_prints_ok(folder: Path) -> None:
    write({"company.yaml": "extends: default\ncurrency: CNY\n"})
    result = CliRunner().invoke(cli, ["validate", "company.yaml"])
    assert result.exit_code == 0, result.stderr
    # the name is the file's own, not the parent's `playbook: default`
    assert result.stdout == "company.yaml: ok (company, 32 metrics)\n"


# ---- extends: maps merge key by key, a list replaces, null deletes ---------------------------

PARENT = """\
playbook: base
timezone: Asia/Shanghai
metrics:
  revenue_6m: {sum: orders.amount, window: last 6 months}
  pipeline: {sum: deals.amount, where: "status = 'open'"}
grading:
  grades:
    - grade: A
      when: revenue_6m >= 500000
    - grade: B
      when: pipeline >= 300000
    - grade: C
follow_up:
  cadence:
    A: {every: 1 week, channels: [visit, video]}
    B: {every: 2 weeks}
    C: {every: 1 month}
  task: {to: owner, title: "跟进 {customer.name}"}
  overdue: {after: 3 days, level: yellow, message: "{customer.name} 逾期 {days_overdue} 天"}
"""

CHILD = """\
extends: ../base/parent.yaml
timezone: Asia/Urumqi
grading:
  grades:
    - grade: A
      when: revenue_6m >= 1000000
    - grade: C
follow_up:
  cadence:
    A: {every: 3 days}
    B: null
  overdue: null
"""


def test_extends_merges_maps_replaces_lists_and_null_deletes(folder: Path) -> None:
    write({"base/parent.yaml": PARENT, "teams/east.yaml": CHILD})
    book = load_playbook("teams/east.yaml")  # ../base is relative to teams/, not to the cwd
    assert book.files == ["base/parent.yaml", "teams/east.yaml"]
    assert book.name == "east"  # `playbook: base` names the parent only
    assert book.timezone == "Asia/Urumqi"
    assert book.data["metrics"] == {
        "revenue_6m": {"sum": "orders.amount", "window": "last 6 months"},
        "pipeline": {"sum": "deals.amount", "where": "status = 'open'"},
    }
    # a list replaces the parent's list whole: B is gone
    assert book.data["grading"] == {
        "grades": [{"grade": "A", "when": "revenue_6m >= 1000000"}, {"grade": "C"}]
    }
    # maps merge key by key, at every depth; null deletes (B's cadence, the overdue alert)
    assert book.data["follow_up"] == {
        "cadence": {
            "A": {"every": "3 days", "channels": ["visit", "video"]},
            "C": {"every": "1 month"},
        },
        "task": {"to": "owner", "title": "跟进 {customer.name}"},
    }
    assert "extends" not in book.data and "playbook" not in book.data
    # every path still knows the file and line it came from
    assert book.where(("timezone",)) == ("teams/east.yaml", 2)
    assert book.where(("grading", "grades", 0, "when")) == ("teams/east.yaml", 6)
    assert book.where(("grading", "grades", 1)) == ("teams/east.yaml", 7)
    assert book.where(("follow_up", "cadence", "A", "every")) == ("teams/east.yaml", 10)
    assert book.where(("follow_up", "cadence", "A", "channels")) == ("base/parent.yaml", 15)
    assert book.where(("follow_up", "cadence", "C", "every")) == ("base/parent.yaml", 17)
    assert book.where(("follow_up", "task", "title")) == ("base/parent.yaml", 18)
    assert book.where(("metrics", "pipeline", "where")) == ("base/parent.yaml", 5)
    assert book.where(("follow_up", "overdue")) == ("teams/east.yaml", 8)  # gone: its section


def test_extends_a_bundled_playbook_by_name(folder: Path) -> None:
    write(
        {
            "company.yaml": "extends: default\nplaybook: mine\nfollow_up:\n  cadence:\n"
            "    A: {every: 3 days}\n"
        }
    )
    book = load_playbook("company.yaml")
    default = load_playbook("default")
    assert book.files == ["playbooks/default.yaml", "company.yaml"]
    assert book.name == "mine"
    assert book.data["follow_up"]["cadence"]["A"] == {
        "every": "3 days",
        "channels": ["visit", "video"],
    }
    assert book.data["follow_up"]["cadence"]["B"] == default.data["follow_up"]["cadence"]["B"]
    assert book.data["grading"] == default.data["grading"]
    assert book.content_hash != default.content_hash


def test_a_chain_of_three(folder: Path) -> None:
    write(
        {
            "base/parent.yaml": PARENT,
            "teams/east.yaml": CHILD,
            "teams/shanghai.yaml": "extends: east.yaml\nfollow_up:\n  cadence:\n"
            "    C: {every: 2 weeks}\n",
        }
    )
    book = load_playbook("teams/shanghai.yaml")
    assert book.files == ["base/parent.yaml", "teams/east.yaml", "teams/shanghai.yaml"]
    assert book.data["follow_up"]["cadence"] == {
        "A": {"every": "3 days", "channels": ["visit", "video"]},
        "C": {"every": "2 weeks"},
    }
    assert book.where(("follow_up", "cadence", "C")) == ("teams/shanghai.yaml", 4)


# ---- one bad playbook per error class ------------------------------------------------------


def test_unknown_section_with_did_you_mean(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
timezone: Asia/Shanghai
metric:
  visits: {count: activities}
""",
        "company.yaml:3: metric: unknown key 'metric' (did you mean 'metrics'?)",
    )


def test_unknown_section_lists_the_sections(rejects: Rejects) -> None:
    rejects(
        "extends: default\nnotify:\n  managers: {levels: [red]}\n",
        "company.yaml:2: notify: unknown key 'notify'; allowed: playbook, description, "
        "extends, timezone, currency, language, fields, metrics, grading, pool, follow_up, goals, "
        "scorecards, warnings, escalation, incentives, jobs, delivery, imports",
    )


def test_schema_type_error(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
grading:
  grades: 5
""",
        "company.yaml:3: grading.grades: must be a list, not 5",
    )


def test_enum_error(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
follow_up:
  overdue:
    level: orange
""",
        "company.yaml:4: follow_up.overdue.level: must be one of green, yellow, red, not 'orange'",
    )


def test_several_schema_errors_one_line_each_in_line_order(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
grading:
  grades: []
currency: 5
""",
        "company.yaml:3: grading.grades: needs at least one item\n"
        "company.yaml:4: currency: must be text, not 5",
    )


def test_a_metric_needs_one_aggregate(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
metrics:
  visits_3m:
    where: channel = 'visit'
""",
        "company.yaml:3: metrics.visits_3m: needs one of sum, count, distinct, min, max, avg, "
        "latest",
    )


def test_a_metric_takes_only_one_aggregate(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
metrics:
  visits:
    count: activities
    sum: orders.amount
""",
        "company.yaml:5: metrics.visits.sum: give only one of sum, count, distinct, min, max, "
        "avg, latest, not both count and sum",
    )


def test_bad_warning_name(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
warnings:
  exam failed:
    for: reps
    when: exam_score < 80
    level: yellow
    message: "{name} 考试未达标"
""",
        "company.yaml:3: warnings.exam failed: 'exam failed' cannot be a name here: start with a "
        "letter, then use letters, digits and _",
    )


def test_unknown_metric_in_a_condition(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
grading:
  grades:
    - grade: A
      when: revenue_6m >= 500000
    - grade: B
      when: revenu_6m >= 100000
    - grade: C
""",
        "company.yaml:7: grading.grades[1].when: unknown name 'revenu_6m' (did you mean "
        "'revenue_6m'?)",
    )


def test_bad_condition_syntax(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
grading:
  grades:
    - grade: A
      when: revenue_6m >= 500000 or
    - grade: C
""",
        "company.yaml:5: grading.grades[0].when: incomplete: something is missing after 'or' at "
        "the end",
    )


def test_unknown_field_in_a_metric_filter(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
metrics:
  visits:
    count: activities
    where: chanel = 'visit'
""",
        "company.yaml:5: metrics.visits.where: unknown name 'chanel' (did you mean 'channel'?)",
    )


def test_unknown_source_table(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
metrics:
  visits:
    count: activity
""",
        "company.yaml:4: metrics.visits.count: unknown record kind 'activity' (did you mean "
        "'activities'?)",
    )


def test_sum_of_a_text_field(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
metrics:
  products:
    sum: orders.product
""",
        "company.yaml:4: metrics.products.sum: cannot sum orders.product: it is text, not a number",
    )


def test_type_mismatch(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
grading:
  grades:
    - grade: A
      when: revenue_6m >= '50万'
    - grade: B
      when: pipeline >= 300000
    - grade: C
""",
        "company.yaml:5: grading.grades[0].when: cannot compare an amount with text '50万'",
    )


def test_a_condition_must_be_true_or_false(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
warnings:
  goal_lag:
    when: actual - target
""",
        "company.yaml:4: warnings.goal_lag.when: a condition must be true or false, but this is an "
        "amount: compare it with something, e.g. revenue_6m >= 500000",
    )


def test_bad_duration(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
follow_up:
  cadence:
    B: {every: 1 fortnight}
""",
        "company.yaml:4: follow_up.cadence.B.every: '1 fortnight' is not a duration: write a "
        "number and days, weeks, months or years, e.g. '2 weeks'",
    )


def test_duration_unit_in_capitals(rejects: Rejects) -> None:
    rejects(
        "extends: default\nfollow_up:\n  cadence:\n    B: {every: 2 Weeks}\n",
        "company.yaml:4: follow_up.cadence.B.every: '2 Weeks' is not a duration: write the "
        "unit in small letters, e.g. '2 weeks'",
    )


def test_bad_duration_in_a_condition(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
warnings:
  silent:
    for: customers
    when: last_contact < today - 1 fortnight
    level: yellow
    message: "{name} 很久没有联系"
""",
        "company.yaml:5: warnings.silent.when: '1 fortnight' is not a duration: write a number and "
        "days, weeks, months or years, e.g. '2 weeks'",
    )


def test_bad_window(rejects: Rejects) -> None:
    # the child overrides only the window; the error is at the child's line
    rejects(
        """\
extends: default
metrics:
  revenue_6m:
    window: last half year
""",
        "company.yaml:4: metrics.revenue_6m.window: unknown window 'last half year': a window is "
        "'last N days|weeks|months|years', 'this week|month|quarter|year', 'target period' or "
        "'all time'",
    )


def test_bad_time_zone(rejects: Rejects) -> None:
    rejects(
        "extends: default\ntimezone: Asia/Shanghia\n",
        "company.yaml:2: timezone: unknown time zone 'Asia/Shanghia' (did you mean "
        "'Asia/Shanghai'?)",
    )


def test_unknown_placeholder_in_a_template(rejects: Rejects) -> None:
    rejects(
        """\
extends: default
follow_up:
  task:
    title: 跟进 {customer.nmae}
""",
        "company.yaml:4: follow_up.task.title: unknown placeholder {customer.nmae} (did you mean "
        "'customer.name'?)",
    )


def test_extends_a_missing_file(rejects: Rejects) -> None:
    rejects(
        "extends: base.yaml\ncurrency: CNY\n",
        "company.yaml:1: extends: playbook file not found: base.yaml",
    )


def test_extends_a_missing_bundled_playbook(rejects: Rejects) -> None:
    rejects(
        "currency: CNY\nextends: defualt\n",
        "company.yaml:2: extends: no playbook 'defualt': give a .yaml file or one of "
        f"{', '.join(document.bundled_names())} (did you mean 'default'?)",
    )


def test_extends_must_name_one_playbook(rejects: Rejects) -> None:
    rejects(
        "extends: [default, fmcg]\n",
        "company.yaml:1: extends: must name one playbook: a bundled name like 'default' or a "
        "path to a .yaml file",
    )


def test_extends_cycle(rejects: Rejects) -> None:
    rejects(
        "extends: b.yaml\n",
        "b.yaml:2: extends: loops back: company.yaml -> b.yaml -> "
        "company.yaml (a playbook cannot extend itself, directly or through others)",
        b="playbook: b\nextends: company.yaml\n",
    )


def test_extends_itself(rejects: Rejects) -> None:
    rejects(
        "extends: ./company.yaml\n",
        "company.yaml:1: extends: loops back: company.yaml -> "
        "company.yaml (a playbook cannot extend itself, directly or through others)",
    )


def test_error_in_the_parent_is_located_in_the_parent(rejects: Rejects) -> None:
    rejects(
        "extends: base/parent.yaml\ncurrency: CNY\n",
        "base/parent.yaml:5: metrics.visits.where: unknown name 'chanel' (did you mean 'channel'?)",
        base__parent="""\
extends: default
metrics:
  visits:
    count: activities
    where: chanel = 'visit'
""",
    )


def test_schema_error_in_the_parent_is_located_in_the_parent(rejects: Rejects) -> None:
    rejects(
        "extends: base/parent.yaml\ncurrency: CNY\n",
        "base/parent.yaml:4: follow_up.overdue.level: must be one of green, yellow, red, "
        "not 'orange'",
        base__parent="extends: default\nfollow_up:\n  overdue:\n    level: orange\n",
    )


def test_yaml_error_in_the_parent(rejects: Rejects) -> None:
    rejects(
        "extends: base/parent.yaml\n",
        "base/parent.yaml:3: timezone: duplicate key 'timezone' (it is already on line 2): "
        "keep only one",
        base__parent="extends: default\ntimezone: Asia/Shanghai\ntimezone: UTC\n",
    )


def test_a_playbook_is_a_map(rejects: Rejects) -> None:
    rejects(
        "- grading\n- follow_up\n",
        "company.yaml:1: a playbook is a map of sections (grading:, follow_up: …)",
    )


def test_missing_playbook_file(folder: Path) -> None:
    with pytest.raises(PlaybookError) as caught:
        load_playbook("nowhere.yaml")
    assert str(caught.value) == "playbook file not found: nowhere.yaml"
    result = CliRunner().invoke(cli, ["validate", "nowhere.yaml"])
    assert (result.exit_code, result.stderr) == (
        2,
        "error: playbook file not found: nowhere.yaml\n",
    )


def test_a_folder_is_not_a_playbook(folder: Path) -> None:
    (folder / "books.yaml").mkdir()
    with pytest.raises(PlaybookError) as caught:
        load_playbook("books.yaml")
    assert str(caught.value) == "books.yaml is a folder: give the playbook's .yaml file"


# ---- a bundled name means the bundled playbook, whatever lies in the folder -----------------

# What a stray `default` would say if it were read: an unknown key, a located error.
IMPOSTOR = "playbook: impostor\nnot_a_section: 1\n"
# The sections fmcg.yaml does not write, so they come from what it extends.
INHERITED = ("goals", "escalation", "incentives", "scorecards")


def impostor(folder: Path, kind: str) -> None:
    """A folder `default/` (holding a playbook-looking file), or a file `default` (no suffix)."""
    if kind == "folder":
        (folder / "default").mkdir()
        (folder / "default" / "default.yaml").write_text(IMPOSTOR, "utf-8")
    else:
        (folder / "default").write_text(IMPOSTOR, "utf-8")


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_bundled_playbook_extends_the_bundled_default(folder: Path, kind: str) -> None:
    bundled = load_playbook("default").data  # read while the folder is still empty
    impostor(folder, kind)
    book = load_playbook("fmcg")
    assert book.files == ["playbooks/default.yaml", "playbooks/fmcg.yaml"]
    for section in INHERITED:
        assert book.data[section] == bundled[section], section
        assert book.where((section,))[0] == "playbooks/default.yaml"
    assert book.where(("grading",))[0] == "playbooks/fmcg.yaml"  # fmcg's own section
    result = CliRunner().invoke(cli, ["validate", "fmcg"])
    # default's 32 metrics and fmcg's revenue_3m and last_order
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "playbooks/fmcg.yaml: ok (fmcg, 34 metrics)\n",
        "",
    )


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_the_bundled_default_by_name_and_by_default(folder: Path, kind: str) -> None:
    """`salesplay validate default`, and any command without --playbook (whose default is the
    name `default`), in a folder that holds a `default` folder or file."""
    impostor(folder, kind)
    assert load_playbook("default").files == ["playbooks/default.yaml"]
    assert load_playbook().files == ["playbooks/default.yaml"]
    result = CliRunner().invoke(cli, ["validate", "default"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "playbooks/default.yaml: ok (default, 32 metrics)\n",
        "",
    )


@pytest.mark.parametrize("kind", ["folder", "file"])
def test_a_users_extends_default_beside_a_default_folder_or_file(folder: Path, kind: str) -> None:
    """A user's `extends: default` means the bundled default too: a folder can never be a
    playbook, and a stray suffix-less file is no reason to read it as one."""
    impostor(folder, kind)
    write({"teams/company.yaml": "extends: default\ncurrency: CNY\n"})
    if kind == "folder":
        (folder / "teams" / "default").mkdir()  # beside the playbook as well as in the cwd
    else:
        (folder / "teams" / "default").write_text(IMPOSTOR, "utf-8")
    book = load_playbook("teams/company.yaml")
    assert book.files == ["playbooks/default.yaml", "teams/company.yaml"]
    result = CliRunner().invoke(cli, ["validate", "teams/company.yaml"])
    assert (result.exit_code, result.stdout, result.stderr) == (
        0,
        "teams/company.yaml: ok (company, 32 metrics)\n",
        "",
    )


def test_a_file_named_like_a_bundled_playbook_is_reached_as_a_path(rejects: Rejects) -> None:
    Path("default").write_text(IMPOSTOR, "utf-8")
    rejects(
        "extends: ./default\n",
        "default:2: not_a_section: unknown key 'not_a_section'; allowed: playbook, description, "
        "extends, timezone, currency, language, fields, metrics, grading, pool, follow_up, goals, "
        "scorecards, warnings, escalation, incentives, jobs, delivery, imports",
    )


def test_a_folder_named_like_a_bundled_playbook_given_as_a_path(rejects: Rejects) -> None:
    Path("default").mkdir()
    rejects(
        "extends: ./default\n",
        "company.yaml:1: extends: default is a folder: give the playbook's .yaml file",
    )


def test_a_bare_name_that_is_no_bundled_playbook_is_read_as_a_file(folder: Path) -> None:
    write({"base": "extends: default\nplaybook: base\ncurrency: USD\n"})
    write({"company.yaml": "extends: base\n"})
    book = load_playbook("company.yaml")
    assert book.files == ["playbooks/default.yaml", "base", "company.yaml"]
    assert book.data["currency"] == "USD"


# ---- a condition nested too deep is located like any other error -----------------------------

TOO_DEEP = (
    "nested 200 levels deep; at most 16 levels are allowed (each bracket, 'not' and negating "
    "'-' is one): write it more simply"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "extends: default\n"  # 1
            "warnings:\n"  # 2
            "  x:\n"  # 3
            "    for: customers\n"  # 4
            "    level: red\n"  # 5
            "    message: m\n"  # 6
            f"    when: {'not ' * 200}strategic\n",  # 7
            f"company.yaml:7: warnings.x.when: {TOO_DEEP}",
        ),
        (
            "extends: default\n"  # 1
            "grading:\n"  # 2
            "  grades:\n"  # 3
            "    - grade: A\n"  # 4
            f'      when: "{"(" * 200}revenue_6m > 1{")" * 200}"\n'  # 5
            "    - grade: B\n"  # 6
            "    - grade: C\n",  # 7
            f"company.yaml:5: grading.grades[0].when: {TOO_DEEP}",
        ),
        (
            "extends: default\n"  # 1
            "metrics:\n"  # 2
            "  refunds:\n"  # 3
            "    sum: orders.amount\n"  # 4
            f'    where: "{"- " * 200}amount > 0"\n',  # 5
            f"company.yaml:5: metrics.refunds.where: {TOO_DEEP}",
        ),
    ],
    ids=["not", "brackets", "minus"],
)
def test_a_condition_nested_too_deep(rejects: Rejects, text: str, expected: str) -> None:
    rejects(text, expected)
