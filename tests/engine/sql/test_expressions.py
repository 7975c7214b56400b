"""The condition language: the parser's trees and messages, and the compiler run on real databases.

Compiled expressions are evaluated with `SELECT <expression>` over literal values on SQLite and
PostgreSQL (the `engine` fixture), many expressions per query to keep the suite fast. Amounts
are cents: `actual` 96000000 is 960,000.00 yuan. Every expectation was worked out by hand.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.lang import expressions as ex
from salesplay.engine.run.explain import explain
from salesplay.engine.sql.compiler import Scope, Typed, compile_condition, compile_expression
from tests.conftest import load, load_playbook, rows, run

AS_OF = date(2024, 8, 31)
D = date.fromisoformat

# ---- parser -----------------------------------------------------------------------------------


def test_precedence_not_and_or() -> None:
    assert ex.parse("a or b and not c") == ex.Binary(
        2,
        "or",
        ex.Name(0, "a"),
        ex.Binary(7, "and", ex.Name(5, "b"), ex.Unary(11, "not", ex.Name(15, "c"))),
    )


def test_precedence_arithmetic_and_comparison() -> None:
    assert ex.parse("x >= a + b * -2") == ex.Binary(
        2,
        ">=",
        ex.Name(0, "x"),
        ex.Binary(
            7,
            "+",
            ex.Name(5, "a"),
            ex.Binary(11, "*", ex.Name(9, "b"), ex.Unary(13, "neg", ex.Num(14, Decimal(2)))),
        ),
    )


def test_keywords_ignore_case() -> None:
    assert ex.parse("a AND NOT b Or c") == ex.parse("a and not b or c")


@pytest.mark.parametrize(
    ("typed", "plain"),
    [
        ("a ≥ 1 and b ≤ 2 and c ≠ 3", "a >= 1 and b <= 2 and c != 3"),
        ("a × 2 ÷ 4", "a * 2 / 4"),
        ("x == 1", "x = 1"),
        ("x <> 1", "x != 1"),
        ("（a + b）× 2", "(a + b) * 2"),
        ("x in （'a'，'b'）", "x in ('a', 'b')"),
        ("name = “张三”", "name = '张三'"),
        ("name = ‘张三’", 'name = "张三"'),
    ],
)
def test_operators_people_type(typed: str, plain: str) -> None:
    def shape(node: ex.Node) -> Any:  # the tree without positions
        if isinstance(node, ex.Binary):
            return (node.op, shape(node.left), shape(node.right))
        if isinstance(node, ex.In):
            return ("in", shape(node.operand), [shape(i) for i in node.items], node.negated)
        return type(node).__name__, getattr(node, "name", getattr(node, "value", None))

    assert shape(ex.parse(typed)) == shape(ex.parse(plain))


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("80%", Decimal("0.8")),
        ("80 %", Decimal("0.8")),
        ("120％", Decimal("1.2")),
        ("12.5%", Decimal("0.125")),
        ("50万", Decimal(500000)),
        ("50 万", Decimal(500000)),
        ("1.5亿", Decimal(150000000)),
        ("0.8", Decimal("0.8")),
        (".5", Decimal("0.5")),
    ],
)
def test_numbers_are_exact(text: str, value: Decimal) -> None:
    node = ex.parse(text)
    assert isinstance(node, ex.Num)
    assert node.value == value


@pytest.mark.parametrize(
    ("text", "count", "unit"),
    [
        ("7 days", 7, "days"),
        ("1 day", 1, "days"),
        ("1 week", 1, "weeks"),
        ("2 weeks", 2, "weeks"),
        ("1 month", 1, "months"),
        ("6 Months", 6, "months"),
        ("1 year", 1, "years"),
        ("3天", 3, "days"),
        ("3日", 3, "days"),
        ("2周", 2, "weeks"),
        ("1个月", 1, "months"),
        ("1月", 1, "months"),
        ("1年", 1, "years"),
    ],
)
def test_durations(text: str, count: int, unit: str) -> None:
    assert ex.parse(text) == ex.Duration(0, count, unit)


def test_the_other_forms() -> None:
    assert ex.parse("completion between 80% and 120%") == ex.Between(
        11, ex.Name(0, "completion"), ex.Num(19, Decimal("0.8")), ex.Num(27, Decimal("1.2")), False
    )
    assert ex.parse("x not between 1 and 2").negated is True  # type: ignore[attr-defined]
    assert ex.parse("channel not in ('visit', \"video\")") == ex.In(
        8, ex.Name(0, "channel"), (ex.Str(16, "visit"), ex.Str(25, "video")), True
    )
    assert ex.parse("last_contact is not null") == ex.IsNull(13, ex.Name(0, "last_contact"), True)
    assert ex.parse("d is null") == ex.IsNull(2, ex.Name(0, "d"), False)
    assert ex.parse("today - 7 days") == ex.Binary(6, "-", ex.Today(0), ex.Duration(8, 7, "days"))
    assert ex.parse("days_since(last_contact) > 30") == ex.Binary(
        25, ">", ex.Call(0, "days_since", (ex.Name(11, "last_contact"),)), ex.Num(27, Decimal(30))
    )
    assert ex.parse("customer.name = 'x'") == ex.Binary(
        14, "=", ex.Name(0, "customer.name"), ex.Str(16, "x")
    )
    assert ex.parse("strategic = TRUE") == ex.Binary(
        10, "=", ex.Name(0, "strategic"), ex.Bool(12, True)
    )
    assert ex.parse("x = null") == ex.Binary(2, "=", ex.Name(0, "x"), ex.Null(4))
    assert ex.parse("金额 > 5") == ex.Binary(3, ">", ex.Name(0, "金额"), ex.Num(5, Decimal(5)))
    assert ex.parse(r"t = 'it\'s'") == ex.Binary(2, "=", ex.Name(0, "t"), ex.Str(4, "it's"))


def test_names_in() -> None:
    node = ex.parse("a > 1 and rep.name in ('x') or d between e and f(g)")
    assert ex.names_in(node) == ["a", "rep.name", "d", "e", "g"]


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ("revenue_6m >=", "incomplete: something is missing after '>=' at the end", 13),
        ("revenue_6m >= 500000 or", "incomplete: something is missing after 'or' at the end", 23),
        ("(a > 1", "a ')' is missing at the end", 6),
        ("a in 1", "expected '(' but found '1'", 5),
        ("x in ()", "the list after 'in' is empty", 6),
        ("a between 1", "'between' needs 'and': x between 1 and 5", 11),
        ("a is 5", "'is' goes with null: write 'x is null' or 'x is not null'", 5),
        ("name = '张三", "quoted text '张三 has no closing quote (')", 7),
        ("a $ b", "unexpected character '$'", 2),
        ("", "empty expression", 0),
        ("   ", "empty expression", 0),
        ("1.5 days", "a duration needs a whole number", 0),
        ("a > 1 an b > 2", "unexpected 'an' (did you mean 'and'?)", 6),
        ("a > 1 oder b > 2", "unexpected 'oder' (did you mean 'or'?)", 6),
        (
            "today - 1 fortnight",
            "'1 fortnight' is not a duration: write a number and days, weeks, months or years, "
            "e.g. '2 weeks'",
            8,
        ),
        ("a < b < c", "unexpected '<'", 6),
        ("a = = 1", "unexpected '='", 4),
        ("and a", "unexpected 'and'", 0),
        ("__import__('os').system('ls')", "unexpected character '.'", 16),
    ],
)
def test_syntax_errors(text: str, message: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        ex.parse(text)
    assert (caught.value.message, caught.value.column) == (message, column)


# ---- nesting: bounded, and measured as the parser counts --------------------------------------

# Each bracket, prefix `not` and negating `-` is a level; a subtracting `-`, `not in`,
# `not between` and `is not null` are not. Depths counted by hand.
NESTED = [
    ("a", 0),
    ("(a)", 1),
    ("not a", 1),
    ("a - b > 0", 0),
    ("a - -b > 0", 1),
    ("- - 1 = x", 2),
    ("not not a", 2),
    ("not a and not b", 1),
    ("a not in (1, 2)", 1),
    ("a is not null", 0),
    ("a not between -1 and -2", 1),
    ("x between -(1) and 2", 2),
    ("-abs(-x) > 0", 3),
    ("coalesce(-a, -b) > 0", 2),
    ("(-1) * (-2) > x", 2),
    ("today - 30 days < d", 0),
    ("not (a or not (b and -c > 0))", 5),
    ("not x in (-1, 2) and y", 3),
]


@pytest.mark.parametrize(("text", "depth"), NESTED)
def test_nesting_is_measured_as_the_parser_counts(text: str, depth: int) -> None:
    assert ex.nesting(ex.tokenize(text)) == depth
    # brackets around it bring it to the bound, which parses, and one past it, which does not
    at_bound = "(" * (ex.MAX_NESTING - depth) + text + ")" * (ex.MAX_NESTING - depth)
    ex.parse(at_bound)
    with pytest.raises(ExpressionError) as caught:
        ex.parse(f"({at_bound})")
    assert caught.value.message.startswith(f"nested {ex.MAX_NESTING + 1} levels deep; ")


@pytest.mark.parametrize(
    ("text", "column"),
    [
        ("(" * 200 + "a > 1" + ")" * 200, 16),  # the 17th bracket
        ("not " * 200 + "a", 64),  # the 17th not, 4 characters each
        ("- " * 200 + "a > 1", 32),
        ("a > " + "abs(" * 200 + "b" + ")" * 200, 7 + 16 * 4),  # the 17th abs's bracket
        # mixed: the 17th level is the 9th bracket
        ("(not " * 100 + "a" + ")" * 100, 8 * 5),
        ("a > " + "abs(-" * 100 + "b" + ")" * 100, 4 + 8 * 5 + 3),
    ],
)
def test_too_deep_is_an_error_not_a_recursion_error(text: str, column: int) -> None:
    with pytest.raises(ExpressionError) as caught:
        ex.parse(text)
    assert (caught.value.message, caught.value.column) == (
        "nested 200 levels deep; at most 16 levels are allowed (each bracket, 'not' and "
        "negating '-' is one): write it more simply",
        column,
    )


# Conditions at the bound, in the places that nest SQL deepest (a function call nested in a
# metric's `where`), compile and evaluate on both databases and explain. Orders: C1 5.00 and
# 4.00, C2 7.00, so big_sales (orders of at least 5.00) is 5 for C1 and 7 for C2.
AT_BOUND = {
    "deep_not": ("not (" * 8 + "big_sales = 5" + ")" * 8, {"C1"}),  # 8 nots: big_sales = 5
    "deep_minus": ("- " * 16 + "big_sales = 7", {"C2"}),  # 16 minuses: big_sales
    "deep_mixed": ("abs(-" * 8 + "big_sales" + ")" * 8 + " >= 6", {"C2"}),
    "deep_brackets": ("(" * 16 + "big_sales > 4" + ")" * 16, {"C1", "C2"}),
    "deep_calls": ("coalesce(" * 16 + "big_sales" + ", 0)" * 16 + " in (5)", {"C1"}),
}
BIG_SALES_WHERE = "abs(" * 16 + "amount" + ")" * 16 + " >= 5"


def test_conditions_at_the_bound_evaluate_and_explain(org: Engine, tmp_path: Path) -> None:
    texts = [BIG_SALES_WHERE, *(text for text, _ in AT_BOUND.values())]
    assert [ex.nesting(ex.tokenize(t)) for t in texts] == [ex.MAX_NESTING] * len(texts)
    warnings = "".join(
        f'  {name}:\n    for: customers\n    when: "{text}"\n    level: red\n    message: {name}\n'
        for name, (text, _) in AT_BOUND.items()
    )
    (tmp_path / "deep.yaml").write_text(
        "extends: default\nmetrics:\n  big_sales:\n    sum: orders.amount\n"
        f'    window: last 6 months\n    where: "{BIG_SALES_WHERE}"\nwarnings:\n{warnings}',
        "utf-8",
    )
    book = load_playbook(str(tmp_path / "deep.yaml"))
    customers = [{"id": c, "name": c, "owner_id": "R1"} for c in ("C1", "C2")]
    load(org, "customers", customers)
    orders = [("O1", "C1", "5.00"), ("O2", "C1", "4.00"), ("O3", "C2", "7.00")]
    load(
        org,
        "orders",
        [
            {"id": i, "customer_id": c, "rep_id": "R1", "amount": a, "ordered_on": "2024-06-01"}
            for i, c, a in orders
        ],
    )
    run(org, "2024-06-15", book)
    fired = rows(org, "SELECT rule, subject_id FROM alerts WHERE rule LIKE 'deep%'")
    assert {(r["rule"], r["subject_id"]) for r in fired} == {
        (name, c) for name, (_, subjects) in AT_BOUND.items() for c in subjects
    }
    for customer in ("C1", "C2"):
        report = explain(org, book, "customer", customer, date(2024, 6, 15))
        findings = {f["rule"]: f["fired"] for f in report["findings"]}
        assert {name: findings[name] for name in AT_BOUND} == {
            name: customer in subjects for name, (_, subjects) in AT_BOUND.items()
        }


# ---- compiler: evaluated on SQLite and PostgreSQL ---------------------------------------------

SQL_TYPES = {
    "amount": sa.BigInteger(),
    "number": sa.Float(),
    "share": sa.Float(),
    "date": sa.Date(),
    "text": sa.String(),
    "bool": sa.Boolean(),
}


def lit(value: Any, type_: str) -> Typed:
    """A literal of a value type; None is that type's null."""
    if value is None:
        return Typed(sa.cast(sa.null(), SQL_TYPES[type_]), type_)
    sql_type = sa.Integer() if type_ == "number" and isinstance(value, int) else SQL_TYPES[type_]
    return Typed(sa.literal(value, sql_type), type_)


NAMES: dict[str, Typed | Callable[[], Typed]] = {
    "actual": lit(96000000, "amount"),  # 960,000.00 yuan
    "expected": lit(120000000, "amount"),  # 1,200,000.00 yuan
    "zero": lit(0, "amount"),
    "nothing": lit(None, "amount"),
    "n": lit(7, "number"),
    "nz": lit(0, "number"),
    "d": lit(D("2024-01-31"), "date"),
    "w": lit(D("2024-06-28"), "date"),
    "leap": lit(D("2024-02-29"), "date"),
    "end": lit(D("2024-08-31"), "date"),
    "none": lit(None, "date"),
    "t": lit("visit", "text"),
    "b": lit(True, "bool"),
}


def scope(**extra: Typed) -> Scope:
    return Scope({**NAMES, **extra}, AS_OF)


def results(engine: Engine, texts: list[str], names: Scope | None = None) -> list[Any]:
    """Every expression's value, from one SELECT."""
    sc = names or scope()
    columns = [compile_expression(text, sc).sql.label(f"v{i}") for i, text in enumerate(texts)]
    with engine.connect() as conn:
        return list(conn.execute(sa.select(*columns)).one())


def check(engine: Engine, cases: list[tuple[str, Any]], names: Scope | None = None) -> None:
    got = results(engine, [text for text, _ in cases], names)
    # SQLite answers some yes/no expressions with 1/0
    got = [
        bool(g) if isinstance(want, bool) and g in (0, 1) else g
        for g, (_, want) in zip(got, cases, strict=True)
    ]
    assert list(zip([text for text, _ in cases], got, strict=True)) == cases


def test_decimal_constants_are_exact_at_the_boundary(engine: Engine) -> None:
    check(
        engine,
        [
            # 0.8 × 1,200,000.00 is exactly 960,000.00
            ("actual < 0.8 * expected", False),
            ("actual <= 0.8 * expected", True),
            ("actual = 0.8 * expected", True),
            ("actual >= 80% * expected", True),
            ("actual < expected * 80%", False),
            ("actual / expected", 0.8),
            ("actual / expected >= 80%", True),
            ("actual * (1/3)", 32000000),
            ("actual / 3", 32000000),
            ("expected - actual", 24000000),
            ("0.8 * expected - actual", 0),
        ],
    )


def test_exact_where_binary_floats_are_not(engine: Engine) -> None:
    # In binary floating point 1.1 × 120000000 = 132000000.00000001 and
    # 1.15 × 100000000 = 114999999.99999999; the exact answers are whole numbers.
    names = scope(
        big=lit(132000000, "amount"),
        base=lit(120000000, "amount"),
        x=lit(115000000, "amount"),
        y=lit(100000000, "amount"),
    )
    check(
        engine,
        [
            ("big >= 110% * base", True),
            ("big > 1.1 * base", False),
            ("big = base * 1.1", True),
            ("x <= 1.15 * y", True),
            ("x = 115% * y", True),
            ("x > y * 1.15", False),
        ],
        names,
    )


def test_plain_numbers_next_to_amounts_are_yuan(engine: Engine) -> None:
    check(
        engine,
        [
            ("actual >= 960000", True),
            ("actual > 960000", False),
            ("actual > 959999.99", True),
            ("actual <= 96万", True),
            ("actual < 96万", False),
            ("960000 <= actual", True),
            ("actual - 960000", 0),
            ("actual + 0.01", 96000001),
            ("actual in (960000, 5)", True),
            ("actual between 960000 and 1000000", True),
            ("actual not between 960000 and 1000000", False),
            ("960000 between actual and expected", True),
            ("959999.99 between actual and expected", False),
            ("coalesce(nothing, 5)", 500),
            ("coalesce(5, nothing)", 500),
            ("coalesce(nothing, actual)", 96000000),
            ("-actual", -96000000),
            ("abs(-actual)", 96000000),
            ("n * actual", 672000000),
        ],
    )


def test_calendar_arithmetic(engine: Engine) -> None:
    check(
        engine,
        [
            ("d + 1 month", D("2024-02-29")),
            ("1 month + d", D("2024-02-29")),
            ("w + 1 week", D("2024-07-05")),
            ("leap + 1 year", D("2025-02-28")),
            ("end - 6 months", D("2024-02-29")),
            ("today - 6 months", D("2024-02-29")),  # folded in Python: same answer
            ("d - 1 day", D("2024-01-30")),
            ("d + 30 days", D("2024-03-01")),
            ("date('2024-06-30') + 2 months", D("2024-08-30")),
            ("w - d", 149),
            ("today - d", 213),
            ("days_since(d)", 213),
            ("days_since('2024-08-01')", 30),
            ("none + 1 month", None),
            ("days_since(none)", None),
            ("d >= '2024-01-31'", True),
            ("d between '2024-01-01' and '2024-01-31'", True),
            ("d in ('2024-01-31')", True),
            ("d < today - 6 months", True),
            ("coalesce(none, today)", AS_OF),
        ],
    )


def test_sql_calendar_agrees_with_python(engine: Engine) -> None:
    days = [
        "2024-01-31",
        "2024-02-29",
        "2023-12-31",
        "2024-03-31",
        "2024-05-31",
        "2025-02-28",
        "2024-12-30",
    ]
    durations = [
        (1, "months"),
        (-1, "months"),
        (13, "months"),
        (1, "years"),
        (-4, "years"),
        (2, "weeks"),
        (45, "days"),
        (-60, "days"),
    ]
    names = scope(**{f"d{i}": lit(D(day), "date") for i, day in enumerate(days)})
    texts, expected = [], []
    for i, day in enumerate(days):
        for count, unit in durations:
            texts.append(f"d{i} {'+' if count > 0 else '-'} {abs(count)} {unit}")
            expected.append(dates.shift(D(day), count, unit))
    assert results(engine, texts, names) == expected


def test_division_by_zero_is_null(engine: Engine) -> None:
    check(
        engine,
        [
            ("actual / zero", None),
            ("actual / 0", None),
            ("n / nz", None),
            ("n / 0", None),
            ("1 / 0", None),
            ("actual / zero >= 80%", None),
            ("coalesce(actual / zero, 0)", 0),
        ],
    )


def test_logic_text_and_numbers(engine: Engine) -> None:
    check(
        engine,
        [
            ("t in ('visit', 'video')", True),
            ("t not in ('visit', 'video')", False),
            ("t in ('call')", False),
            ("t = 'visit' and b", True),
            ("not b or n > 6", True),
            ("not (b and n > 7)", True),
            ("b = true", True),
            ("b != false", True),
            ("nothing is null", True),
            ("d is not null", True),
            ("none is not null", False),
            ("n between 7 and 7", True),
            ("n ≥ 7 and n ≤ 7 and n ≠ 8", True),
            ("n * 1.5", 10.5),
            ("abs(n - 10)", 3),
            ("2 × 3 ÷ 4", 1.5),
            ("50万 = 500000", True),
            ("1.5亿", 150000000),
        ],
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("actual > 'x'", "cannot compare an amount with text 'x'"),
        ("t = 5", "cannot compare text with a number 5"),
        ("b = 'yes'", "a yes/no value is written true or false, not 'yes'"),
        ("d > 'soon'", "'soon' is not a date: write it as YYYY-MM-DD, e.g. '2024-06-30'"),
        ("n = 7 and actual", "'and' needs a yes/no value, not an amount"),
        ("not n", "'not' needs a yes/no value, not a number"),
        ("n + actual", "cannot use '+' on a number and an amount"),
        ("actual * actual", "cannot use '*' on an amount and an amount"),
        (
            "d + 1",
            "cannot use '+' on a date and a number: add or subtract a duration, "
            "e.g. today - 30 days",
        ),
        ("t = null", "compare with null using 'is null' or 'is not null'"),
        (
            "days_since(d) > 30 days",
            "cannot compare a duration: compare dates (last_contact < "
            "today - 30 days) or numbers of days (days_since(last_contact) "
            "> 30)",
        ),
        ("b > true", "yes/no values compare only with = or !="),
        ("-t", "cannot negate text"),
        (
            "actual in (expected)",
            "the list after 'in' must hold constants, e.g. channel in ('visit', 'video')",
        ),
        ("abs(t)", "abs() takes a number, not text"),
        ("coalesce(n)", "coalesce() takes 2 values, e.g. coalesce(pipeline, 0)"),
        ("days_since(d, d)", "days_since() takes one value, e.g. days_since(last_contact)"),
        ("days_since(n)", "days_since() needs a date, not a number"),
        ("date(d)", "date() takes a text like '2024-06-30'"),
        ("foo(1)", "unknown function 'foo' (use one of: days_since, date, abs, coalesce)"),
        ("days_sinc(d)", "unknown function 'days_sinc' (did you mean 'days_since'?)"),
        (
            "__import__('os')",
            "unknown function '__import__' (use one of: days_since, date, abs, coalesce)",
        ),
        ("actul > 1", "unknown name 'actul' (did you mean 'actual'?)"),
    ],
)
def test_type_and_name_errors(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, scope())
    assert caught.value.message == message


def test_unknown_name_lists_the_names_when_none_is_close() -> None:
    names = Scope(
        {
            "revenue_6m": lit(1, "amount"),
            "customer.revenue_6m": lit(1, "amount"),
            "pipeline": lit(1, "amount"),
            "rep.name": lit("x", "text"),
        },
        AS_OF,
    )
    with pytest.raises(ExpressionError) as caught:
        compile_expression("gmv > 1", names)
    # customer.revenue_6m is revenue_6m under its long name: listed once
    assert caught.value.message == "unknown name 'gmv' (use one of: revenue_6m, pipeline, rep.name)"


def test_a_condition_is_true_or_false() -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_condition("actual - expected", scope())
    assert caught.value.message == (
        "a condition must be true or false, but this is an amount: "
        "compare it with something, e.g. revenue_6m >= 500000"
    )


# ---- shares: a ratio beside a plain number ------------------------------------------------

SHARES = {
    "completion": lit(0.8, "share"),  # 80%
    "pace": lit(1.2, "share"),  # 120%
    "revenue_6m": lit(50000000, "amount"),  # 500,000.00 yuan
    "won": lit(3, "number"),
    "customers": lit(4, "number"),
}


def test_a_share_compares_with_a_percentage_or_a_fraction_of_1(engine: Engine) -> None:
    """completion is 0.8 and pace 1.2: 80% and 0.8 are the same share, 1 is 100%."""
    check(
        engine,
        [
            ("completion >= 80%", True),
            ("completion > 80%", False),
            ("completion >= 0.8", True),
            ("80% <= completion", True),
            ("pace > 1", True),
            ("pace between 80% and 120%", True),
            ("pace not between 80% and 119.9%", True),
            ("completion in (80%, 90%)", True),
            ("completion - 10% >= 70%", True),
            ("coalesce(completion, 0) = 0.8", True),
            ("revenue_6m >= 500000", True),  # an amount: a plain number is yuan
            ("revenue_6m > 500000", False),
            ("won / customers >= 75%", True),  # 3 of 4
            ("won / customers > 75%", False),
        ],
        scope(**SHARES),
    )


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("actual / expected", "share"),  # an amount of an amount
        ("won / customers", "share"),  # a count of a count
        ("won / 2", "number"),  # half of a count
        ("revenue_6m / 10000", "amount"),
        ("revenue_6m / won", "amount"),  # an average
        ("completion * pace", "share"),
        ("completion / 2", "share"),
        ("2 * completion", "share"),
        ("80% * expected", "amount"),  # a share of an amount is an amount
        ("completion * expected", "amount"),
        ("completion * won", "number"),  # a share of a count is a count
        ("-completion", "share"),
        ("abs(completion - pace)", "share"),
    ],
)
def test_which_values_are_shares(text: str, kind: str) -> None:
    assert compile_expression(text, scope(**SHARES)).type == kind


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("completion >= 80", "completion is a share, so 80 would be 8000%; write 80%"),
        ("80 <= pace", "pace is a share, so 80 would be 8000%; write 80%"),
        ("pace between 80 and 120", "pace is a share, so 80 would be 8000%; write 80%"),
        ("pace between 80% and 120", "pace is a share, so 120 would be 12000%; write 120%"),
        ("completion in (80%, 90)", "completion is a share, so 90 would be 9000%; write 90%"),
        ("completion - 10 > 0", "completion is a share, so 10 would be 1000%; write 10% or "
         "1000%, whichever you mean"),
        ("pace <= 1.2", "pace is a share, so 1.2 would be 120%; write 1.2% or 120%, whichever "
         "you mean"),
        ("won / customers >= 75", "the value compared is a share, so 75 would be 7500%; "
         "write 75%"),
        ("completion * 100 >= 80", "the value compared is a share, so 80 would be 8000%; "
         "write 80%"),
        ("completion >= 0.5万", "completion is a share, so 5000 would be 500000%; write 5000%"),
        ("completion > won", "cannot compare a share with a number"),
        ("completion > revenue_6m", "cannot compare a share with an amount"),
    ],
)  # fmt: skip
def test_a_plain_number_above_1_beside_a_share_is_refused(text: str, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_expression(text, scope(**SHARES))
    assert caught.value.message == message


def test_names_are_built_once_and_recorded() -> None:
    built: list[str] = []

    def pipeline() -> Typed:
        built.append("pipeline")
        return lit(30000000, "amount")

    sc = Scope({"pipeline": pipeline, "n": lit(1, "number")}, AS_OF)
    compile_condition("pipeline >= 300000 or pipeline < 1 and n = 1", sc)
    assert built == ["pipeline"]
    assert sc.used == ["pipeline", "n"]
