"""Compile condition syntax trees to SQLAlchemy expressions, checking every name and type first.

Exactness: amounts are integers ×100; constants are exact fractions (`1/3` stays a third), and
a constant p/q multiplies as (x × p) / q with a single correctly-rounded division, so
`actual < 0.8 * expected` is exact at the boundary on SQLite and PostgreSQL alike. Date
arithmetic goes through the calendar table, never through either database's own date functions.
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

from salesplay.engine.errors import ExpressionError, UnknownName
from salesplay.engine.lang import dates, values
from salesplay.engine.lang import expressions as ex
from salesplay.engine.lang.operators import ARITHMETIC, COMPARISONS, NUMERIC, TYPE_WORDS
from salesplay.engine.store.dialects import add_days, days_between
from salesplay.engine.store.models import CalendarDay, CalendarMonth, table_of

Sql = ColumnElement[Any]


@dataclass(frozen=True)
class Typed:
    """A compiled expression with its value type; constants keep their Python value.

    `plain`: a number constant written without a percent sign (80, not 80%), or computed from
    one; beside a share it must be at most 1, since 80 would be 8000%.
    """

    sql: Sql
    type: str
    const: Any = None
    is_const: bool = False
    plain: bool = False


def constant(value: Any, type_: str, plain: bool = False) -> Typed:
    """A constant; numbers keep their exact value (Decimal or Fraction) for folding."""
    if type_ == "duration":
        return Typed(sa.null(), "duration", value, True)
    if isinstance(value, Decimal | Fraction):
        bound: Any = int(value) if value == int(value) else float(value)
    else:
        bound = value
    return Typed(sa.literal(bound), type_, value, True, plain)


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
            raise UnknownName(unknown_name(name, self.names), pos)
        if callable(entry):
            entry = entry()
            self.names[name] = entry
        if name not in self.used:
            self.used.append(name)
        return entry


def unknown_name(name: str, known: Iterable[str], *, noun: str = "name") -> str:
    """ "unknown name 'x' (did you mean 'y'?)", or the names there are when none is close."""
    names = list(known)
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    if close:
        return f"unknown {noun} '{name}' (did you mean '{close[0]}'?)"
    # customer.name and name are one name: list it once
    shown = [n for n in names if not ("." in n and n.partition(".")[2] in names)]
    if not shown:
        return f"unknown {noun} '{name}'"
    more = ", …" if len(shown) > _LISTED else ""
    return f"unknown {noun} '{name}' (use one of: {', '.join(shown[:_LISTED])}{more})"


_LISTED = 30


def ratio(numerator: Sql, denominator: Sql) -> Sql:
    """numerator / denominator as a double, correctly rounded on both; null when dividing by 0."""
    return sa.cast(numerator, sa.Double()) / sa.func.nullif(denominator, 0)


# ---- calendar arithmetic in SQL -----------------------------------------------------------


def _date_sql(value: Typed) -> Sql:
    return sa.literal(value.const, sa.Date()) if value.is_const else value.sql


def add_months(day: Sql, months: Sql) -> Sql:
    """day + months in calendar terms, clamped to the month's last day, as a scalar subquery."""
    start = table_of(CalendarDay).alias()
    end = table_of(CalendarDay).alias()
    month = table_of(CalendarMonth).alias()
    dom = sa.case((start.c.dom < month.c.days, start.c.dom), else_=month.c.days)
    query = (
        sa.select(end.c.day)
        .select_from(start)
        .join(month, month.c.month_num == start.c.month_num + months)
        .join(end, end.c.day_num == month.c.first_day_num + dom - 1)
        .where(start.c.day == day)
        .correlate_except(start, end, month)
    )
    result: Sql = query.scalar_subquery()
    return result


def add_duration(day: Sql, count: Sql | int, unit: str) -> Sql:
    """A date column plus a (possibly per-row) number of days, weeks, months or years."""
    count_sql = sa.literal(count) if isinstance(count, int) else count
    if unit == "days":
        return add_days(day, count_sql)
    if unit == "weeks":
        return add_days(day, count_sql * 7)
    factor = 12 if unit == "years" else 1
    return add_months(day, count_sql * factor if factor != 1 else count_sql)


# ---- the compiler ---------------------------------------------------------------------------


def compile_expression(text: str, scope: Scope) -> Typed:
    """Parse and compile; ExpressionError carries the column of the problem."""
    return _compile(ex.parse(text), scope)


def compile_condition(text: str, scope: Scope) -> Sql:
    """Compile a condition: it must be true or false (a comparison, not a bare amount)."""
    typed = compile_expression(text, scope)
    if typed.type != "bool":
        raise ExpressionError(
            f"a condition must be true or false, but this is {TYPE_WORDS[typed.type]}: "
            "compare it with something, e.g. revenue_6m >= 500000"
        )
    return typed.sql


def _compile(node: ex.Node, scope: Scope) -> Typed:
    if isinstance(node, ex.Num):
        return constant(node.value, "number", plain=not node.percent)
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
        if inner.type not in NUMERIC:
            raise ExpressionError(f"cannot negate {TYPE_WORDS[inner.type]}", node.pos)
        if inner.is_const:
            return constant(-inner.const, inner.type, inner.plain)
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
        items = []
        for source in node.items:
            item = _compile(source, scope)
            if not item.is_const:
                raise ExpressionError(
                    "the list after 'in' must hold constants, e.g. channel in ('visit', 'video')",
                    source.pos,
                )
            items.append(_coerce_for(operand, item, source.pos, _called(node.operand)))
        member = operand.sql.in_([item.sql for item in items])
        return Typed(sa.not_(member) if node.negated else member, "bool")
    if isinstance(node, ex.Between):
        operand = _compile(node.operand, scope)
        low, high = _compile(node.low, scope), _compile(node.high, scope)
        about = _called(node.operand)
        operand, low = _unify(operand, low, node.low.pos, about)
        operand, high = _unify(operand, high, node.high.pos, about)
        operand, low = _unify(operand, low, node.low.pos, about)  # operand may be an amount now
        inside = sa.and_(operand.sql >= low.sql, operand.sql <= high.sql)
        return Typed(sa.not_(inside) if node.negated else inside, "bool")
    if isinstance(node, ex.IsNull):
        operand = _compile(node.operand, scope)
        missing = operand.sql.is_not(None) if node.negated else operand.sql.is_(None)
        return Typed(missing, "bool")
    if isinstance(node, ex.Call):
        return _call(node, scope)
    raise ExpressionError("cannot compile this expression", node.pos)


def _need(value: Typed, type_: str, where: str, pos: int) -> None:
    if value.type != type_:
        raise ExpressionError(
            f"{where} needs {TYPE_WORDS[type_]}, not {TYPE_WORDS[value.type]}", pos
        )


def _called(node: ex.Node) -> str:
    """How a message names the value beside a constant: its name, if it has one."""
    return node.name if isinstance(node, ex.Name) else "the value compared"


def _coerce_for(target: Typed, other: Typed, pos: int, about: str = "") -> Typed:
    """Make a constant comparable with target: scale numbers to amounts, read date text, and
    take a number beside a share as a fraction of 1 (refusing a plain 80, which would be
    8000%). `about` names target in messages."""
    if other.type == target.type or other.type == "null":
        return other
    if target.type == "amount" and other.type == "number" and other.is_const:
        return _as_amount(other)
    if target.type == "share" and other.type == "number" and other.is_const:
        return _as_share(other, pos, about or "the value compared")
    if target.type == "date" and other.type == "text" and other.is_const:
        try:
            return constant(date.fromisoformat(other.const), "date")
        except ValueError:
            raise ExpressionError(
                f"'{other.const}' is not a date: write it as YYYY-MM-DD, e.g. '2024-06-30'", pos
            ) from None
    if target.type == "bool" and other.type == "text" and other.is_const:
        raise ExpressionError(f"a yes/no value is written true or false, not '{other.const}'", pos)
    shown = ""
    if other.is_const and other.type in ("text", "number"):
        shown = f" '{other.const}'" if other.type == "text" else f" {_number_text(other.const)}"
    raise ExpressionError(
        f"cannot compare {TYPE_WORDS[target.type]} with {TYPE_WORDS[other.type]}{shown}", pos
    )


def _unify(left: Typed, right: Typed, pos: int, about: str = "") -> tuple[Typed, Typed]:
    """Make two values comparable, converting whichever side is a constant."""
    if left.type == right.type or "null" in (left.type, right.type):
        return left, right
    if left.is_const and not right.is_const:
        return _coerce_for(right, left, pos, about), right
    return left, _coerce_for(left, right, pos, about)


def _number_text(value: Any) -> str:
    if isinstance(value, Fraction) and value.denominator != 1:
        return str(float(value))
    return str(value)


def _as_amount(number: Typed) -> Typed:
    return constant(Fraction(number.const) * 100, "amount")


def _as_share(number: Typed, pos: int, about: str) -> Typed:
    """A number constant beside a share: 80% and 0.8 are 80%; a plain number above 1 is
    refused, since 80 would be 8000% (1.2 could mean 120% or 1.2%: it is refused too)."""
    value = Fraction(number.const)
    if number.plain and abs(value) > 1:
        written, meant = values.plain_text(value), values.percent_text(value)
        fix = f"write {written}%"
        if abs(value) <= values.MOST_PLAIN_OVER_100:
            fix = f"write {written}% or {meant}, whichever you mean"
        raise ExpressionError(f"{about} is a share, so {written} would be {meant}; {fix}", pos)
    return constant(number.const, "share")


def _comparison(node: ex.Binary, scope: Scope) -> Typed:
    left, right = _compile(node.left, scope), _compile(node.right, scope)
    if left.type == "null" or right.type == "null":
        raise ExpressionError("compare with null using 'is null' or 'is not null'", node.pos)
    if "duration" in (left.type, right.type):
        raise ExpressionError(
            "cannot compare a duration: compare dates (last_contact < today "
            "- 30 days) or numbers of days (days_since(last_contact) > 30)",
            node.pos,
        )
    left_const = left.is_const and not right.is_const
    const_pos = node.left.pos if left_const else node.right.pos
    about = _called(node.right if left_const else node.left)
    left, right = _unify(left, right, const_pos, about)
    if left.type == "bool" and node.op not in ("=", "!="):
        raise ExpressionError("yes/no values compare only with = or !=", node.pos)
    return Typed(COMPARISONS[node.op].build(left.sql, right.sql), "bool")


def _arithmetic(node: ex.Binary, scope: Scope) -> Typed:
    left, right = _compile(node.left, scope), _compile(node.right, scope)
    op = node.op
    if op in "+-":
        if left.type in ("amount", "share") and right.type == "number" and right.is_const:
            right = _coerce_for(left, right, node.right.pos, _called(node.left))
        elif right.type in ("amount", "share") and left.type == "number" and left.is_const:
            left = _coerce_for(right, left, node.left.pos, _called(node.right))
    if op == "+" and left.type == "duration" and right.type == "date":
        left, right = right, left  # 1 month + d reads as d + 1 month
    result = ARITHMETIC.get((op, left.type, right.type))
    if op in "*/" and {left.type, right.type} == {"share", "number"}:
        number = left if left.type == "number" else right
        if number.is_const:
            result = "share"  # a share scaled by a constant: 2 × completion, completion / 2
    if op == "/" and left.type == right.type == "number" and not (left.is_const or right.is_const):
        result = "share"  # one count over another: won deals ÷ customers
    if result is None:
        hint = ""
        if {left.type, right.type} == {"date", "number"} and op in "+-":
            hint = ": add or subtract a duration, e.g. today - 30 days"
        raise ExpressionError(
            f"cannot use '{op}' on {TYPE_WORDS[left.type]} and {TYPE_WORDS[right.type]}{hint}",
            node.pos,
        )
    if left.type == "date" or right.type == "date":
        return _date_arithmetic(op, left, right)
    if left.is_const and right.is_const:
        # Exact fractions: amount × number keeps the amount's scale, amount ÷ amount cancels it.
        a, b = Fraction(left.const), Fraction(right.const)
        if op == "/" and b == 0:
            return Typed(sa.null(), result)
        value = {"+": a + b, "-": a - b, "*": a * b}[op] if op != "/" else a / b
        return constant(value, result, left.plain or right.plain)
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
    """value × p/q with one rounding: (value × p) / q.

    value × p is computed in double precision, exact while below 2**53 (90 trillion yuan in
    cents × a small p); integer arithmetic would overflow on PostgreSQL long before that.
    """
    if fraction.denominator == 1:
        return value * fraction.numerator if fraction.numerator != 1 else value
    if max(abs(fraction.numerator), fraction.denominator) > _EXACT:
        return sa.cast(value, sa.Double()) * float(fraction)  # too many digits to be exact
    scaled: Sql = sa.cast(value, sa.Double())
    if fraction.numerator != 1:
        scaled = scaled * fraction.numerator
    return scaled / fraction.denominator


_EXACT = 2**53


def _date_arithmetic(op: str, left: Typed, right: Typed) -> Typed:
    if right.type == "duration":
        count, unit = right.const
        count = -count if op == "-" else count
        if left.is_const:
            return constant(dates.shift(left.const, count, unit), "date")
        return Typed(add_duration(left.sql, count, unit), "date")
    if left.is_const and right.is_const:
        return constant(Decimal((left.const - right.const).days), "number")
    return Typed(days_between(_date_sql(left), _date_sql(right)), "number")


def _call(node: ex.Call, scope: Scope) -> Typed:
    args = [_compile(arg, scope) for arg in node.args]

    def arity(n: int) -> None:
        if len(args) != n:
            example = {
                "days_since": "days_since(last_contact)",
                "date": "date('2024-06-30')",
                "abs": "abs(gap)",
                "coalesce": "coalesce(pipeline, 0)",
            }[node.func]
            count = "one value" if n == 1 else f"{n} values"
            raise ExpressionError(f"{node.func}() takes {count}, e.g. {example}", node.pos)

    known = ["days_since", "date", "abs", "coalesce"]
    if node.func not in known:
        raise ExpressionError(unknown_name(node.func, known, noun="function"), node.pos)
    if node.func == "days_since":
        arity(1)
        day = args[0]
        if day.type == "text" and day.is_const:
            day = _coerce_for(Typed(sa.null(), "date"), day, node.args[0].pos)
        _need(day, "date", "days_since()", node.pos)
        if day.is_const:
            return constant(Decimal((scope.as_of - day.const).days), "number")
        return Typed(days_between(sa.literal(scope.as_of, sa.Date()), day.sql), "number")
    if node.func == "date":
        arity(1)
        if not (args[0].is_const and args[0].type == "text"):
            raise ExpressionError("date() takes a text like '2024-06-30'", node.pos)
        return _coerce_for(Typed(sa.null(), "date"), args[0], node.pos)
    if node.func == "abs":
        arity(1)
        if args[0].type not in NUMERIC:
            raise ExpressionError(f"abs() takes a number, not {TYPE_WORDS[args[0].type]}", node.pos)
        if args[0].is_const:
            return constant(abs(args[0].const), args[0].type, args[0].plain)
        return Typed(sa.func.abs(args[0].sql), args[0].type)
    arity(2)  # coalesce
    first, second = _unify(args[0], args[1], node.args[1].pos, _called(node.args[0]))
    kind = second.type if first.type == "null" else first.type
    return Typed(sa.func.coalesce(first.sql, second.sql), kind)
