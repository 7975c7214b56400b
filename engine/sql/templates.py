"""Message templates rendered in SQL: '跟进 {customer.name}（{grade} 级客户）' → one text
expression, set-based, the same way on SQLite and PostgreSQL (lang/templates.py parses them).

Placeholders are checked when the playbook loads. The Python formatters here print values the
same way for `explain`.
"""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement

from salesplay.engine.errors import ExpressionError, UnknownName
from salesplay.engine.lang.templates import parse_template
from salesplay.engine.sql.compiler import Scope, Typed
from salesplay.engine.store.dialects import date_text, floor_int

Sql = ColumnElement[Any]
# What {name:%} prints as a percentage: a share, or a number someone computed as a ratio. Either
# prints as a plain number without the format, as it always has.
RATIOS = ("share", "number")


def compile_template(template: str, scope: Scope) -> Sql:
    """The template as one SQL text expression; every placeholder resolved through scope."""
    parts: list[Sql] = []
    for piece in parse_template(template):
        if piece.name:
            parts.append(
                sa.func.coalesce(value_text(scope.resolve(piece.name, 0), piece.format), "")
            )
        elif piece.text:
            parts.append(sa.literal(piece.text, sa.String()))
    if not parts:
        return sa.literal("", sa.String())
    out = parts[0]
    for part in parts[1:]:
        out = out.op("||")(part)
    return sa.cast(out, sa.String())


class int_div(FunctionElement[int]):
    """Integer division of two integers (both databases truncate toward zero)."""

    inherit_cache = True
    type = sa.BigInteger()


@compiles(int_div)
def _int_div(element: Any, compiler: Any, **kw: Any) -> str:
    a, b = list(element.clauses)
    return f"(({compiler.process(a, **kw)}) / ({compiler.process(b, **kw)}))"


def _int_text(value: Sql) -> Sql:
    return sa.cast(value, sa.String())


def scaled_text(scaled: Sql, places: int) -> Sql:
    """Text of a value already multiplied by 10**places, rounded half up, trailing zeros cut.

    The value is computed once, in a one-row derived table, however often the text refers to
    it: a placeholder like {days_overdue} would otherwise repeat its whole expression.
    """
    once = sa.select(floor_int(scaled + 0.5).label("n")).correlate_except().subquery()
    n = once.c.n
    mag = sa.func.abs(n)
    unit = 10**places
    whole = int_div(mag, sa.literal(unit))
    frac = mag - whole * unit
    sign = sa.case((n < 0, "-"), else_="")
    if places == 1:
        frac_text = _int_text(frac)
    else:
        frac_text = sa.case(
            (frac % 10 == 0, _int_text(int_div(frac, sa.literal(10)))),
            (frac < 10, sa.literal("0").op("||")(_int_text(frac))),
            else_=_int_text(frac),
        )
    with_frac = sign.op("||")(_int_text(whole)).op("||")(".").op("||")(frac_text)
    text = sa.case((frac == 0, sign.op("||")(_int_text(whole))), else_=with_frac)
    return sa.select(text).select_from(once).correlate_except(once).scalar_subquery()


def value_text(value: Typed, fmt: str = "") -> Sql:
    """SQL text for a value, formatted by its type: amounts in units, dates ISO, % as percent."""
    if fmt == "%":
        if value.type not in RATIOS:
            raise ExpressionError(
                f"{{name:%}} formats a ratio such as completion, not {value.type} values"
            )
        return scaled_text(value.sql * 1000, 1).op("||")("%")
    if value.type == "amount":
        return scaled_text(value.sql, 2)
    if value.type in RATIOS:
        return scaled_text(value.sql * 100, 2)
    if value.type == "date":
        return date_text(value.sql)
    if value.type == "bool":
        return sa.case((value.sql, "yes"), else_="no")
    return sa.cast(value.sql, sa.String())


# ---- the same formats in Python ----------------------------------------------------------


def _decimal_text(value: Decimal, places: int) -> str:
    quant = Decimal(1).scaleb(-places)
    text = f"{value.quantize(quant, rounding=ROUND_HALF_UP):f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def format_value(value: Any, type_: str, fmt: str = "") -> str:
    """What value_text prints, for values read back into Python."""
    if value is None:
        return "—"
    if fmt == "%":
        return _decimal_text(Decimal(str(value)) * 100, 1) + "%"
    if type_ == "amount":
        return _decimal_text(Decimal(str(value)) / 100, 2)
    if type_ in RATIOS:
        return _decimal_text(Decimal(str(value)), 2)
    if isinstance(value, date):
        return value.isoformat()
    if type_ == "bool":
        return "yes" if value in (True, 1, "1", "true") else "no"
    return str(value)


def check_template(template: str, scope: Scope) -> None:
    """Raise ExpressionError for an unknown placeholder or a format that does not fit it."""
    for piece in parse_template(template):
        if piece.name:
            try:
                typed = scope.resolve(piece.name, 0)
            except UnknownName as exc:
                raise UnknownName(
                    exc.message.replace(
                        f"unknown name '{piece.name}'", f"unknown placeholder {{{piece.name}}}", 1
                    )
                ) from None
            if piece.format == "%" and typed.type not in RATIOS:
                raise ExpressionError(f"{{{piece.name}:%}}: only ratios format as a percentage")
