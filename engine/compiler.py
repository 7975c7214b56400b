"""Compile condition syntax trees to SQLAlchemy expressions, checking every name and type first.

Exactness: amounts are integers ×100; a decimal constant p/q multiplies as (x × p) / q with a
single correctly-rounded division, so `actual < 0.8 * expected` is exact at the boundary on
SQLite and PostgreSQL alike. Date arithmetic goes through the calendar table, never through
either database's own date functions.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.expression import ColumnElement

from . import dates
from . import expressions as ex
from .db import ratio
from .errors import ExpressionError
from .models import CalendarDay, CalendarMonth
from .operators import ARITHMETIC, COMPARISONS, TYPE_WORDS

Sql = ColumnElement[Any]


@dataclass(frozen=True)
class Typed:
    """A compiled expression with its value type; constants keep their Python value."""

    sql: Sql
    type: str
    const: Any = None
    is_const: bool = False


def constant(value: Any, type_: str) -> Typed:
    if type_ == "duration":
        return Typed(sa.null(), "duration", value, True)
    if isinstance(value, Decimal):
        bound: Any = int(value) if value == int(value) else float(value)
    else:
        bound = value
    return Typed(sa.literal(bound), type_, value, True)


@dataclass
class Scope:
    """The names an expression may use, each a Typed or a factory building one on first use."""

    names: dict[str, Typed | Callable[[], Typed]]
    as_of: date
    what: str = "here"
    used: list[str] = field(default_factory=list)

    def resolve(self, name: str, pos: int) -> Typed:
        entry = self.names.get(name)
        if entry is None:
            raise ExpressionError(unknown_name(name, self.names, self.what), pos)
        if callable(entry):
            entry = entry()
            self.names[name] = entry
        if name not in self.used:
            self.used.append(name)
        return entry


def unknown_name(name: str, known: Iterable[str], what: str = "here") -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"unknown name '{name}'{hint}"


# ---- calendar arithmetic in SQL -----------------------------------------------------------


def day_num(value: Typed) -> Sql:
    if value.is_const:
        return sa.literal(value.const.toordinal())
    cal = CalendarDay.__table__.alias()  # type: ignore[attr-defined]  # own alias: never correlated
    # correlate_except: the outer row may sit several subqueries up (UPDATE … SET x = (…(…)))
    return (sa.select(cal.c.day_num).where(cal.c.day == value.sql).correlate_except(cal)
            .scalar_subquery())


def date_of_day_num(number: Sql) -> Sql:
    cal = CalendarDay.__table__.alias()  # type: ignore[attr-defined]
    return (sa.select(cal.c.day).where(cal.c.day_num == number).correlate_except(cal)
            .scalar_subquery())


def add_months(day: Sql, months: Sql) -> Sql:
    """day + months in calendar terms, clamped to the month's last day, as a scalar subquery."""
    start = sa.orm.aliased(CalendarDay)
    end = sa.orm.aliased(CalendarDay)
    month = sa.orm.aliased(CalendarMonth)
    dom = sa.case((start.dom < month.days, start.dom), else_=month.days)
    return (
        sa.select(end.day)
        .select_from(start)
        .join(month, month.month_num == start.month_num + months)  # type: ignore[arg-type]
        .join(end, end.day_num == month.first_day_num + dom - 1)  # type: ignore[arg-type]
        .where(start.day == day)  # type: ignore[arg-type]
        .correlate_except(start, end, month)
        .scalar_subquery()
    )


def add_duration(day: Sql, count: Sql | int, unit: str) -> Sql:
    """A date column plus a (possibly per-row) number of days, weeks, months or years."""
    count_sql = sa.literal(count) if isinstance(count, int) else count
    if unit == "days":
        return date_of_day_num(day_num(Typed(day, "date")) + count_sql)
    if unit == "weeks":
        return date_of_day_num(day_num(Typed(day, "date")) + count_sql * 7)
    factor = 12 if unit == "years" else 1
    return add_months(day, count_sql * factor if factor != 1 else count_sql)


# ---- the compiler ---------------------------------------------------------------------------


def compile_expression(text: str, scope: Scope) -> Typed:
    """Parse and compile; ExpressionError carries the column of the problem."""
    return _compile(ex.parse(text), scope)


def compile_condition(text: str, scope: Scope) -> Sql:
    typed = compile_expression(text, scope)
    if typed.type != "bool":
        raise ExpressionError(
            f"a condition must be true or false, but this is {TYPE_WORDS[typed.type]}"
        )
    return typed.sql


def _compile(node: ex.Node, scope: Scope) -> Typed:
    if isinstance(node, ex.Num):
        return constant(node.value, "number")
    if isinstance(node, ex.Str):
        return constant(node.value, "text")
    if isinstance(node, ex.Bool):
        return Typed(sa.true() if node.value else sa.false(), "bool", node.value, True)
    if isinstance(node, ex.Null):
        return Typed(sa.null(), "null", None, True)
    if isinstance(node, ex.Today):
        return constant(scope.as_of, "date")
    if isinstance(node, ex.Duration):
        return constant((node.count, node.unit), "duration")
    if isinstance(node, ex.Name):
        return scope.resolve(node.name, node.pos)
    if isinstance(node, ex.Unary):
        inner = _compile(node.operand, scope)
        if node.op == "not":
            _need(inner, "bool", "'not'", node.pos)
            return Typed(sa.not_(inner.sql), "bool")
        if inner.type not in ("number", "amount"):
            raise ExpressionError(f"cannot negate {TYPE_WORDS[inner.type]}", node.pos)
        if inner.is_const:
            return constant(-inner.const, inner.type)
        return Typed(-inner.sql, inner.type)
    if isinstance(node, ex.Binary):
        if node.op in ("and", "or"):
            left, right = _compile(node.left, scope), _compile(node.right, scope)
            _need(left, "bool", f"'{node.op}'", node.left.pos)
            _need(right, "bool", f"'{node.op}'", node.right.pos)
            combine = sa.and_ if node.op == "and" else sa.or_
            return Typed(combine(left.sql, right.sql), "bool")
        if node.op in COMPARISONS:
            return _comparison(node, scope)
        return _arithmetic(node, scope)
    if isinstance(node, ex.In):
        operand = _compile(node.operand, scope)
        items = [_coerce_for(operand, _compile(item, scope), item.pos) for item in node.items]
        for item, source in zip(items, node.items, strict=True):
            if not item.is_const:
                raise ExpressionError("the list after 'in' must hold constants", source.pos)
        clause = operand.sql.in_([item.sql for item in items])
        return Typed(sa.not_(clause) if node.negated else clause, "bool")
    if isinstance(node, ex.Between):
        operand = _compile(node.operand, scope)
        low = _coerce_for(operand, _compile(node.low, scope), node.low.pos)
        high = _coerce_for(operand, _compile(node.high, scope), node.high.pos)
        clause = sa.and_(operand.sql >= low.sql, operand.sql <= high.sql)
        return Typed(sa.not_(clause) if node.negated else clause, "bool")
    if isinstance(node, ex.IsNull):
        operand = _compile(node.operand, scope)
        clause = operand.sql.is_not(None) if node.negated else operand.sql.is_(None)
        return Typed(clause, "bool")
    if isinstance(node, ex.Call):
        return _call(node, scope)
    raise ExpressionError("cannot compile this expression", node.pos)


def _need(value: Typed, type_: str, where: str, pos: int) -> None:
    if value.type != type_:
        raise ExpressionError(
            f"{where} needs {TYPE_WORDS[type_]}, not {TYPE_WORDS[value.type]}", pos
        )


def _coerce_for(target: Typed, other: Typed, pos: int) -> Typed:
    """Make a constant comparable with target: scale numbers to amounts, read date text."""
    if other.type == target.type or other.type == "null":
        return other
    if target.type == "amount" and other.type == "number" and other.is_const:
        return _as_amount(other)
    if target.type == "number" and other.type == "amount" and target.is_const:
        return other
    if target.type == "date" and other.type == "text" and other.is_const:
        try:
            return constant(date.fromisoformat(other.const), "date")
        except ValueError:
            raise ExpressionError(f"'{other.const}' is not a date (YYYY-MM-DD)", pos) from None
    raise ExpressionError(
        f"cannot compare {TYPE_WORDS[target.type]} with {TYPE_WORDS[other.type]}", pos
    )


def _as_amount(number: Typed) -> Typed:
    return constant(Decimal(number.const) * 100, "amount")


def _comparison(node: ex.Binary, scope: Scope) -> Typed:
    left, right = _compile(node.left, scope), _compile(node.right, scope)
    if left.type == "null" or right.type == "null":
        raise ExpressionError("compare with null using 'is null' or 'is not null'", node.pos)
    if left.is_const and not right.is_const:
        left = _coerce_for(right, left, node.left.pos)
    else:
        right = _coerce_for(left, right, node.right.pos)
    if left.type in ("duration",):
        raise ExpressionError("cannot compare durations", node.pos)
    if left.type == "bool" and node.op not in ("=", "!="):
        raise ExpressionError("yes/no values compare only with = or !=", node.pos)
    return Typed(COMPARISONS[node.op].build(left.sql, right.sql), "bool")


def _arithmetic(node: ex.Binary, scope: Scope) -> Typed:
    left, right = _compile(node.left, scope), _compile(node.right, scope)
    op = node.op
    if op in "+-":
        if left.type == "amount" and right.type == "number" and right.is_const:
            right = _as_amount(right)
        elif right.type == "amount" and left.type == "number" and left.is_const:
            left = _as_amount(left)
    result = ARITHMETIC.get((op, left.type, right.type))
    if result is None:
        raise ExpressionError(
            f"cannot use '{op}' on {TYPE_WORDS[left.type]} and {TYPE_WORDS[right.type]}", node.pos
        )
    if left.type == "date" or right.type == "date":
        return _date_arithmetic(op, left, right)
    if left.is_const and right.is_const:
        a, b = Decimal(left.const), Decimal(right.const)
        if op == "/" and b == 0:
            return Typed(sa.null(), result)
        value = {"+": a + b, "-": a - b, "*": a * b}.get(op) if op != "/" else a / b
        if result == "amount" and op in "*/" and "amount" in (left.type, right.type):
            pass  # amount × number keeps the amount's scale
        elif result == "number" and left.type == right.type == "amount":
            pass  # ratio of two scaled values: scale cancels
        return constant(value, result)
    if op == "*":
        const, other = (left, right) if left.is_const else (right, left)
        if const.is_const:
            return Typed(_times_fraction(other.sql, Fraction(const.const)), result)
        return Typed(left.sql * right.sql, result)
    if op == "/":
        if right.is_const and right.const != 0:
            return Typed(_times_fraction(left.sql, 1 / Fraction(right.const)), result)
        return Typed(ratio(left.sql, right.sql), result)
    return Typed(left.sql + right.sql if op == "+" else left.sql - right.sql, result)


def _times_fraction(value: Sql, fraction: Fraction) -> Sql:
    """value × p/q with one rounding: (value × p) / q."""
    scaled = value * fraction.numerator if fraction.numerator != 1 else value
    if fraction.denominator == 1:
        return scaled
    return sa.cast(scaled, sa.Double()) / fraction.denominator


def _date_arithmetic(op: str, left: Typed, right: Typed) -> Typed:
    if right.type == "duration":
        count, unit = right.const
        count = -count if op == "-" else count
        if left.is_const:
            return constant(dates.shift(left.const, count, unit), "date")
        return Typed(add_duration(left.sql, count, unit), "date")
    if left.is_const and right.is_const:
        return constant(Decimal((left.const - right.const).days), "number")
    return Typed(day_num(left) - day_num(right), "number")


def _call(node: ex.Call, scope: Scope) -> Typed:
    args = [_compile(arg, scope) for arg in node.args]

    def arity(n: int) -> None:
        if len(args) != n:
            raise ExpressionError(f"{node.func}() takes {n} argument(s)", node.pos)

    if node.func == "days_since":
        arity(1)
        _need(args[0], "date", "days_since()", node.pos)
        return Typed(sa.literal(scope.as_of.toordinal()) - day_num(args[0]), "number")
    if node.func == "date":
        arity(1)
        if not (args[0].is_const and args[0].type == "text"):
            raise ExpressionError("date() takes a text like '2024-06-30'", node.pos)
        return _coerce_for(Typed(sa.null(), "date"), args[0], node.pos)
    if node.func == "abs":
        arity(1)
        if args[0].type not in ("number", "amount"):
            raise ExpressionError("abs() takes a number", node.pos)
        return Typed(sa.func.abs(args[0].sql), args[0].type)
    if node.func == "coalesce":
        arity(2)
        second = _coerce_for(args[0], args[1], node.pos)
        return Typed(sa.func.coalesce(args[0].sql, second.sql), args[0].type)
    known = ["days_since", "date", "abs", "coalesce"]
    raise ExpressionError(unknown_name(node.func, known).replace("name", "function"), node.pos)
