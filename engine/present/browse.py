"""`salesplay records KIND`: the imported records of one kind, in their canonical import columns.

A record reads as it was imported: amounts in units (cents back to 1200.50), a target's value
as written (0.9 for 90%), an activity's time as the local time it was stored in, a customer's
custom attributes as columns of their own after the canonical ones (sorted by name). So what
`records KIND --format csv` (or xlsx) writes imports back unchanged.

`--where` is a condition in the playbook's language over those columns, compiled to SQL like
any `when:` (checked first: an unknown name is one line with a "did you mean").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import ExpressionError, SalesplayError, UnknownName
from salesplay.engine.lang.document import Document
from salesplay.engine.present.output import Money
from salesplay.engine.sql.compiler import Scope, Typed, compile_condition
from salesplay.engine.sql.metrics import custom_fields, custom_value
from salesplay.engine.store.models import table_of
from salesplay.engine.store.records import Column, Kind, kind_named

# The condition language's type of each kind of import column. A money column or a target's
# value is an amount: `amount >= 1200.5` compares exactly with the stored hundredths.
WHERE_TYPES = {
    "text": "text",
    "period": "text",
    "date": "date",
    "datetime": "date",
    "money": "amount",
    "decimal": "amount",
    "int": "number",
    "number": "number",
    "bool": "bool",
}
# An activity's time is compared by its day, as in a metric's `where` (occurred_at >= date(…)).
DAY_OF = {"occurred_at": "occurred_on"}


@dataclass
class Found:
    """A kind's records: the columns (canonical, then custom ones) and one dict per record."""

    kind: str
    columns: list[str]
    rows: list[dict[str, Any]]


def records(
    engine: Engine,
    playbook: Document,
    kind_name: str,
    where: str | None = None,
    limit: int | None = None,
    deleted: bool = False,
    as_of: date | None = None,
) -> Found:
    """The live records of a kind matching `where` (None: all), by id; with `deleted`, only
    those a `--full` import marked deleted. `as_of` is `today` in the condition."""
    kind = kind_named(kind_name)
    table = table_of(kind.model)
    query = sa.select(table).where(table.c.deleted == (sa.true() if deleted else sa.false()))
    if where:
        query = query.where(_condition(kind, table, playbook, where, as_of or playbook.today()))
    query = query.order_by(table.c.id)
    if limit is not None:
        if limit < 0:
            raise SalesplayError(f"--limit: {limit} is less than 0")
        query = query.limit(limit)
    with engine.connect() as conn:
        stored = [dict(r) for r in conn.execute(query).mappings()]
    rows = [{c.name: _value(c, r[c.column]) for c in kind.columns} for r in stored]
    columns = [c.name for c in kind.columns]
    if kind.extra_to_attrs:
        custom = sorted({k for r in stored for k in r["attrs"] or {}})
        for row, record in zip(rows, stored, strict=True):
            row.update({k: (record["attrs"] or {}).get(k) for k in custom})
        columns += custom
    return Found(kind.name, columns, rows)


def _condition(kind: Kind, table: Any, playbook: Document, text: str, as_of: date) -> Any:
    names: dict[str, Any] = {
        c.name: Typed(table.c[DAY_OF.get(c.name, c.column)], WHERE_TYPES[c.type])
        for c in kind.columns
    }
    if kind.extra_to_attrs:  # the playbook's declared custom fields, by name and type
        for name, type_ in custom_fields(playbook).items():
            names.setdefault(name, Typed(custom_value(table.c.attrs, name, type_), type_))
    try:
        return compile_condition(text, Scope(names, as_of, f"{kind.name} records"))
    except ExpressionError as exc:
        hint = ""
        if kind.extra_to_attrs and isinstance(exc, UnknownName):
            hint = "; a custom column is a name once the playbook declares it under fields:"
        raise SalesplayError(f"--where: {exc.message}{hint}") from None


def _value(column: Column, stored: Any) -> Any:
    """A stored value as the import file had it: cents and hundredths back in units."""
    if stored is None:
        return None
    if column.type == "money":
        return Money(Decimal(int(stored)).scaleb(-2))
    if column.type == "decimal":
        return Decimal(int(stored)).scaleb(-2)
    return stored


def as_text(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for JSON, CSV and a table: amounts as the importer's canonical text where CSV
    holds them (1200 · 1200.50 · -0.05), times as `2024-05-06 09:30:00` (local, as stored)."""
    out = []
    for row in rows:
        shown = dict(row)
        for key, value in row.items():
            if isinstance(value, datetime):
                shown[key] = value.isoformat(sep=" ")
        out.append(shown)
    return out


def amount_text(value: Decimal) -> str:
    """An amount as the bulk import reads it fastest: 1200, or two decimals (1200.50)."""
    whole = value == value.to_integral_value()
    return str(int(value)) if whole else f"{value:.2f}"


def csv_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for CSV: as as_text(), amounts as canonical text."""
    return [
        {k: amount_text(v) if isinstance(v, Decimal) else v for k, v in row.items()}
        for row in as_text(rows)
    ]
