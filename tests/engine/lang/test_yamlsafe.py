"""The strict YAML reader: YAML 1.2 scalars, exact numbers, lines per path, and the traps closed.

Bad playbooks are small strings beside the test; each error class is checked word for word,
both from playbook.load and from `salesplay validate` (one line on stderr, exit status 2).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from salesplay.cli import cli
from salesplay.engine.errors import PlaybookError, PlaybookErrors
from salesplay.engine.lang.yamlsafe import load_yaml, render_path
from tests.conftest import load_playbook


def test_yaml_12_scalars() -> None:
    data, _ = load_yaml(
        "a: yes\nb: no\nc: on\nd: off\ne: y\nf: true\ng: False\nh: TRUE\n"
        "i: 0755\nj: 010\nk: 0x1F\nl: 1_000\nm: .inf\nn: 2024-06-01\n"
        "o: 12\np: -3\nq: 0.8\nr: 1e3\ns: -0.5\nt: 0\n"
        "u: ~\nv: null\nw:\nx: 'true'\ny: \"12\"\nz: |\n  0.8\n",
        "x.yaml",
    )
    assert data == {
        # YAML 1.1's booleans stay text; only true/false are yes/no values
        "a": "yes",
        "b": "no",
        "c": "on",
        "d": "off",
        "e": "y",
        "f": True,
        "g": False,
        "h": True,
        # no octal, hex, underscores, infinities or timestamps: all text
        "i": "0755",
        "j": "010",
        "k": "0x1F",
        "l": "1_000",
        "m": ".inf",
        "n": "2024-06-01",
        "o": 12,
        "p": -3,
        "q": Decimal("0.8"),
        "r": Decimal("1000"),
        "s": Decimal("-0.5"),
        "t": 0,
        "u": None,
        "v": None,
        "w": None,
        # quoted and block scalars are always text
        "x": "true",
        "y": "12",
        "z": "0.8\n",
    }


def test_numbers_are_int_or_decimal_never_float() -> None:
    data, _ = load_yaml("rates: [0.1, 0.2, 3, 0.8]\n", "x.yaml")
    assert [type(v) for v in data["rates"]] == [Decimal, Decimal, int, Decimal]
    # as floats, 0.1 + 0.2 would be 0.30000000000000004
    assert data["rates"][0] + data["rates"][1] == Decimal("0.3")
    assert data["rates"][3] * 120000000 == 96000000


def test_every_path_has_its_line() -> None:
    text = """\
playbook: x
grading:
  grades:
    - grade: A
      when: revenue_6m >= 500000
    - grade: C
follow_up: {cadence: {A: {every: 1 week}}}
"""
    data, lines = load_yaml(text, "x.yaml")
    assert data["grading"]["grades"][1] == {"grade": "C"}
    assert lines[()] == 1
    assert lines[("playbook",)] == 1
    assert lines[("grading",)] == 2
    assert lines[("grading", "grades")] == 3
    assert lines[("grading", "grades", 0)] == 4
    assert lines[("grading", "grades", 0, "when")] == 5
    assert lines[("grading", "grades", 1, "grade")] == 6
    assert lines[("follow_up", "cadence", "A", "every")] == 7


def test_empty_document_is_an_empty_map() -> None:
    assert load_yaml("# only a comment\n", "x.yaml") == ({}, {})


def test_render_path() -> None:
    assert render_path(("grading", "grades", 1, "when")) == "grading.grades[1].when"
    assert render_path(()) == ""
    assert render_path((0, "a")) == "[0].a"


# ---- the traps, as whole playbooks through load() and the CLI -----------------------------


@pytest.fixture
def rejects(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """rejects(text, expected): company.yaml holding text fails with exactly these lines."""
    monkeypatch.chdir(tmp_path)

    def check(text: str, expected: str) -> None:
        Path("company.yaml").write_text(text, encoding="utf-8")
        with pytest.raises((PlaybookError, PlaybookErrors)) as caught:
            load_playbook("company.yaml")
        assert str(caught.value) == expected
        result = CliRunner().invoke(cli, ["validate", "company.yaml"])
        assert result.exit_code == 2
        assert result.stderr == expected + "\n"
        assert result.stdout == ""

    return check


def test_syntax_error_points_at_the_unclosed_list(rejects: Callable[..., Any]) -> None:
    rejects(
        """\
extends: default
follow_up:
  cadence:
    A: {every: 1 week, channels: [visit, video}
""",
        "company.yaml:4: YAML syntax error: a [ … ] list opened on this line is not closed "
        "(found '}' on line 4)",
    )


def test_tab_indentation(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\ntimezone: Asia/Shanghai\n\tcurrency: CNY\n",
        "company.yaml:3: YAML syntax error: a tab character: indent with spaces, not tabs",
    )


def test_key_without_colon(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\ncurrency CNY\ntimezone: Asia/Shanghai\n",
        "company.yaml:2: YAML syntax error: a line with no ':' after its key (write 'key: value')",
    )


def test_bad_indentation(rejects: Callable[..., Any]) -> None:
    rejects(
        """\
extends: default
follow_up:
  overdue:
    after: 5 days
   level: red
""",
        "company.yaml:5: YAML syntax error: this line does not line up with the lines above it: "
        "check the indentation",
    )


def test_two_documents(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\n---\ncurrency: CNY\n",
        "company.yaml:2: YAML syntax error: a playbook is one YAML document; remove the '---' line",
    )


def test_duplicate_key_is_reported_at_the_second_key(rejects: Callable[..., Any]) -> None:
    rejects(
        """\
extends: default
follow_up:
  cadence:
    A: {every: 1 week}
    B: {every: 2 weeks}
    A: {every: 3 days}
""",
        "company.yaml:6: follow_up.cadence.A: duplicate key 'A' (it is already on line 4): keep "
        "only one",
    )


def test_duplicate_top_level_key(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\ntimezone: Asia/Shanghai\ncurrency: CNY\ntimezone: UTC\n",
        "company.yaml:4: timezone: duplicate key 'timezone' (it is already on line 2): keep "
        "only one",
    )


def test_duplicate_key_in_a_flow_map(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\nfollow_up:\n  cadence:\n    A: {every: 1 week, every: 2 weeks}\n",
        "company.yaml:4: follow_up.cadence.A.every: duplicate key 'every' (it is already on "
        "line 4): keep only one",
    )


def test_a_thousands_separator_inside_a_flow_map(rejects: Callable[..., Any]) -> None:
    # {amount: 20,000} is YAML for amount 20 and a key '000' without a value, which a playbook
    # extending another would drop unseen: a 20 paid where 20,000 was meant
    rejects(
        "extends: default\nincentives:\n  bonuses:\n    travel_fund: {amount: 20,000}\n",
        "company.yaml:4: incentives.bonuses.travel_fund: '000' has no ':' and no value: inside "
        "{ } a comma starts the next entry, so 20,000 reads as 20 and then '000': write 20000, "
        "or quote it: '20,000'",
    )


def test_a_key_without_a_value_inside_a_flow_map(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\nfollow_up:\n  cadence:\n    A: {every: 1 week, visit}\n",
        "company.yaml:4: follow_up.cadence.A: 'visit' has no ':' and no value: inside { } write "
        "key: value",
    )


def test_alias_is_refused(rejects: Callable[..., Any]) -> None:
    # the anchor comes first, so it is what the message names
    rejects(
        """\
extends: default
follow_up:
  cadence:
    A: &weekly {every: 1 week}
    B: *weekly
""",
        "company.yaml:4: follow_up.cadence.A: anchors (&weekly) are not allowed in playbooks: "
        "write the value out in full instead of reusing it",
    )


def test_alias_without_anchor_is_refused(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\nfollow_up:\n  cadence:\n    B: *weekly\n",
        "company.yaml:4: follow_up.cadence.B: aliases (*weekly) are not allowed in playbooks: "
        "write the value out in full instead of reusing it",
    )


def test_merge_key_is_refused(rejects: Callable[..., Any]) -> None:
    rejects(
        """\
extends: default
follow_up:
  cadence:
    A:
      <<: {every: 1 week}
      channels: [visit]
""",
        "company.yaml:5: follow_up.cadence.A: merge keys (<<) are not allowed in playbooks: write "
        "the keys out in full, or build on another playbook with extends:",
    )


def test_tags_are_refused(rejects: Callable[..., Any]) -> None:
    rejects(
        "extends: default\ndescription: !!float 0.8\n",
        "company.yaml:2: description: YAML tags like !!float are not allowed in playbooks: "
        "write the value without it",
    )


def test_yes_no_and_octal_looking_values_stay_text(tmp_path: Path) -> None:
    path = tmp_path / "company.yaml"
    path.write_text("extends: default\ncurrency: no\ndescription: 0755\n", encoding="utf-8")
    book = load_playbook(str(path))
    assert book.data["currency"] == "no"
    assert book.data["description"] == "0755"
