"""What the structure of conditions tells: never holds, implies, shadowed; sound, not complete."""

from __future__ import annotations

import pytest

from salesplay.engine.lang import logic
from salesplay.engine.lang.expressions import Bool, parse


@pytest.mark.parametrize(
    "text",
    [
        "x > 10 and x < 5",
        "x >= 80% and x < 0.8",
        "x = 'a' and x = 'b'",
        "x in ('a', 'b') and x not in ('a', 'b')",
        "x between 10 and 5",
        "strategic and not strategic",
        "x is null and x > 3",
        "x > 5 and (x < 3 or x < 4)",
        "x > 1 and not (x > 0)",
        "x = 2 and x != 2",
        "false",
        "x >= 50万 and x < 500000",
        "1 > 2",
    ],
)
def test_never_holds(text: str) -> None:
    assert logic.never_holds(parse(text))


@pytest.mark.parametrize(
    "text",
    [
        "x > 10",
        "x > 5 and (x < 3 or y < 4)",  # y < 4 may hold
        "x >= 5 and x <= 5",
        "x > y and x < y",  # two names: not looked into, so nothing is claimed
        "created_on > today and created_on < today",
        "x not between 1 and 3 and x > 0",
        "true",
    ],
)
def test_may_hold(text: str) -> None:
    assert not logic.never_holds(parse(text))


@pytest.mark.parametrize(
    ("this", "that"),
    [
        ("revenue_6m >= 600000", "revenue_6m >= 500000"),
        ("revenue_6m >= 500000", "revenue_6m >= 500000"),
        ("revenue_6m >= 500000 or pipeline >= 1000000", "revenue_6m >= 100000 or pipeline >= 1"),
        ("grade = 'A'", "grade in ('A', 'B')"),
        ("a > 1 and b > 2", "a > 0"),
        ("x > 1", "x is not null"),
        ("strategic", "strategic or y > 1"),
        ("x between 1 and 3", "x >= 1"),
        ("x = 2", "x not between 3 and 5"),
        ("x = 1", "not (x = 2)"),
        ("x > 3", "x > 5 or x <= 5"),
        ("x > 1", "true"),
    ],
)
def test_implies(this: str, that: str) -> None:
    assert logic.implies(parse(this), parse(that))


@pytest.mark.parametrize(
    ("this", "that"),
    [
        ("revenue_6m >= 500000", "revenue_6m >= 600000"),
        ("revenue_6m >= 100000 or pipeline >= 300000", "revenue_6m >= 500000 or strategic"),
        ("x > 5", "x > 5 and y > 1"),
        # an empty x leaves both comparisons undecided: `x > 5 or x <= 5` is not always met
        ("x is null", "x > 5 or x <= 5"),
        ("true", "x > 1"),
        ("x > 1", "y > 1"),
    ],
)
def test_does_not_imply(this: str, that: str) -> None:
    assert not logic.implies(parse(this), parse(that))


def test_shadowed_by_the_conditions_before_it_together() -> None:
    before = [parse("revenue_6m >= 500000"), parse("revenue_6m < 100000")]
    assert logic.shadowed(parse("revenue_6m >= 600000"), before)
    assert logic.shadowed(parse("revenue_6m < 50000"), before)
    assert not logic.shadowed(parse("revenue_6m >= 200000"), before)
    # the default: whoever the grades before it leave; with a `when: true` before it, nobody
    assert logic.shadowed(Bool(0, True), [parse("true")])
    assert not logic.shadowed(Bool(0, True), before)


def test_literals_name_the_text_compared_with_a_name() -> None:
    found = logic.literals(parse("channel in ('visit', 'vist') and status = 'open' and x > 1"))
    assert [(name, text) for name, text, _ in found] == [
        ("channel", "visit"),
        ("channel", "vist"),
        ("status", "open"),
    ]
