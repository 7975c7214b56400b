"""Templates print values the same way in SQL (both databases) and in Python (explain)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import ExpressionError, SalesplayError
from salesplay.engine.lang.templates import parse_template
from salesplay.engine.run.family import Playbook
from salesplay.engine.sql.compiler import Scope, Typed
from salesplay.engine.sql.templates import compile_template, format_value, value_text
from tests.conftest import load_playbook

CASES: list[tuple[Any, str, str, str]] = [
    # value, type, format, printed (worked out by hand)
    (12350, "amount", "", "123.5"),
    (12345, "amount", "", "123.45"),
    (12300, "amount", "", "123"),
    (12305, "amount", "", "123.05"),
    (-50, "amount", "", "-0.5"),
    (96000000, "amount", "", "960000"),
    (59340659.34, "amount", "", "593406.59"),  # a pro-rated target, rounded to the cent
    (0.375, "number", "%", "37.5%"),
    (1.1, "number", "%", "110%"),
    (5800000 / 6000000, "number", "%", "96.7%"),
    (0.75, "number", "%", "75%"),
    (4, "number", "", "4"),
    (2.5, "number", "", "2.5"),
]


@pytest.mark.parametrize(("value", "kind", "fmt", "printed"), CASES)
def test_sql_and_python_print_alike(
    engine: Engine, value: Any, kind: str, fmt: str, printed: str
) -> None:
    with engine.connect() as conn:
        sql = conn.execute(sa.select(value_text(Typed(sa.literal(value), kind), fmt))).scalar()
    assert sql == printed
    assert format_value(Decimal(str(value)), kind, fmt) == printed


def test_a_whole_template(engine: Engine) -> None:
    scope = Scope(
        {
            "customer.name": Typed(sa.literal("华鑫机械"), "text"),
            "grade": Typed(sa.literal("A"), "text"),
            "due": Typed(sa.literal(date(2024, 7, 5), sa.Date()), "date"),
            "completion": Typed(sa.literal(0.375), "number"),
        },
        date(2024, 7, 9),
    )
    template = "跟进 {customer.name}（{grade} 级客户，应于 {due} 前）完成 {completion:%} {{x}}"
    with engine.connect() as conn:
        text = conn.execute(sa.select(compile_template(template, scope))).scalar()
    assert text == "跟进 华鑫机械（A 级客户，应于 2024-07-05 前）完成 37.5% {x}"


def test_template_errors() -> None:
    with pytest.raises(ExpressionError, match=r"unknown format '\{x:#\}'"):
        parse_template("{x:#}")
    with pytest.raises(ExpressionError, match="unbalanced"):
        parse_template("a } b")


@pytest.mark.parametrize(
    ("placeholder", "why"),
    [
        ("{customer.__class__}", "names do not start with __"),
        ("{owner.__init__}", "names do not start with __"),
        ("{0}", "a placeholder names what to show, not a position"),
        ("{0.__init__}", "a placeholder names what to show, not a position"),
        ("{}", "a placeholder names what to show, not a position"),
        ("{owner[0]}", "indexes are not supported"),
        ("{owner.name!r}", "conversions such as !r are not supported"),
        ("{owner.name + 1}", "a placeholder is a name, or names joined by dots"),
    ],
)
def test_a_placeholder_is_a_name_and_nothing_more(
    tmp_path: Path, placeholder: str, why: str
) -> None:
    """Python's format language (attributes, indexes, positions, conversions) is refused when the
    playbook loads, at the template's line: a template only ever names a value to show."""
    with pytest.raises(SalesplayError) as caught:
        goal_lag_title(tmp_path, f"辅导 {placeholder}")
    assert str(caught.value) == (
        f"{tmp_path / 'book.yaml'}:5: warnings.goal_lag.task.title: placeholder "
        f"'{placeholder}' is not allowed: {why}; write a name such as {{customer.name}}, or "
        "{completion:%} for a percentage"
    )


def test_only_the_percent_format_is_known(tmp_path: Path) -> None:
    with pytest.raises(SalesplayError) as caught:
        goal_lag_title(tmp_path, "辅导 {owner.name:>10}")
    assert str(caught.value) == (
        f"{tmp_path / 'book.yaml'}:5: warnings.goal_lag.task.title: unknown format "
        "'{owner.name:>10}': use {name} or {name:%} for a percentage"
    )
    book = goal_lag_title(tmp_path, "辅导 { owner.name }：完成 {completion:%}，{{不是占位符}}")
    assert book.section("warnings")["goal_lag"]["task"]["title"].endswith("{{不是占位符}}")


def goal_lag_title(tmp_path: Path, title: str) -> Playbook:
    path = tmp_path / "book.yaml"
    path.write_text(
        f"extends: default\nwarnings:\n  goal_lag:\n    task:\n      title: '{title}'\n", "utf-8"
    )
    return load_playbook(str(path))
