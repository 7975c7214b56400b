"""Writing imported records: rows staged in a temporary table, checked set-based (every
reference), then upserted by id with one INSERT … SELECT … ON CONFLICT, owner changes recorded.
Both import paths (importer.py, fastload.py) end here.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.store.crash import crash_point
from salesplay.engine.store.dialects import upsert
from salesplay.engine.store.models import Customer, OwnerChange, table_of
from salesplay.engine.store.records import KINDS, Kind


@dataclass
class ImportResult:
    kind: str
    rows: int
    inserted: int
    updated: int
    deleted: int = 0
    notes: list[str] = field(default_factory=list)


def header_problems(kind: Kind, header: list[str], source: str) -> tuple[list[str], list[str]]:
    """(one line per required column the header lacks, notes on the columns it ignores)."""
    known = {c.name for c in kind.columns}
    missing = [c.name for c in kind.columns if c.header and c.name not in header]
    notes: list[str] = []
    if not kind.extra_to_attrs:
        for name in (h for h in header if h and h not in known):
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            notes.append(f"{source}:1: {name}: not a column of {kind.name}{hint}; ignored")
    return [f"{source}:1: {name}: missing column" for name in missing], notes


def kept_columns(kind: Kind, header: list[str]) -> set[str]:
    """Columns the file does not have: they keep their stored values when a row is updated."""
    keep = {c.column for c in kind.columns if not c.header and c.name not in header}
    known = {c.name for c in kind.columns}
    if kind.extra_to_attrs and not any(h and h not in known for h in header):
        keep.add("attrs")
    return keep


def is_empty(conn: Connection, kind: Kind) -> bool:
    """No row at all, deleted ones included: an import can then INSERT rather than upsert."""
    target = table_of(kind.model)
    return conn.execute(sa.select(sa.literal(1)).select_from(target).limit(1)).first() is None


def staging_table(kind: Kind) -> sa.Table:
    target = table_of(kind.model)
    cols = [sa.Column("_line", sa.Integer())]
    for column in target.columns:
        if column.name == "deleted":
            continue
        # a missing JSON value is SQL NULL, not the JSON text 'null'
        kind_of: Any = column.type
        if isinstance(kind_of, sa.JSON):
            kind_of = sa.JSON(none_as_null=True)
        cols.append(sa.Column(column.name, kind_of))
    return sa.Table(f"staging_{kind.name}", sa.MetaData(), *cols, prefixes=["TEMPORARY"])


def reference_problems(
    conn: Connection, kind: Kind, stage: sa.Table, source: str, position: dict[str, int]
) -> list[tuple[int, int, str]]:
    problems: list[tuple[int, int, str]] = []
    refs = [(c, c.ref) for c in kind.columns if c.ref]
    if kind.name == "targets":
        refs = [(c, "reps") for c in kind.columns if c.name == "owner_id"]
    for column, ref in refs:
        target = table_of(KINDS[ref].model)
        value = stage.c[column.column]
        exists = sa.exists().where(target.c.id == value)
        condition = [value.is_not(None), ~exists]
        if ref == kind.name:  # a row may point at another row of the same file
            other = stage.alias("other")
            condition.append(~sa.exists().where(other.c.id == value))
        if kind.name == "targets":
            org = table_of(KINDS["org_units"].model)
            is_rep = stage.c.owner_type == "rep"
            condition = [
                value.is_not(None),
                sa.or_(
                    sa.and_(is_rep, ~exists),
                    sa.and_(~is_rep, ~sa.exists().where(org.c.id == value)),
                ),
            ]
        for line, bad, owner_type in conn.execute(
            sa.select(
                stage.c._line,
                value,
                stage.c.owner_type if kind.name == "targets" else sa.literal(""),
            )
            .where(*condition)
            .order_by(stage.c._line)
        ):
            what = (owner_type or ref.rstrip("s")).replace("org_unit", "org unit")
            problems.append(
                (
                    line,
                    position[column.name],
                    f"{source}:{line}: {column.name}: unknown {what} '{bad}'",
                )
            )
    return problems


def apply(
    conn: Connection,
    kind: Kind,
    stage: sa.Table | sa.Subquery,
    full: bool,
    keep: set[str],
    empty: bool = False,
) -> ImportResult:
    """Write the staged rows (a table, or the bulk path's converting subquery) into the kind's
    table. `empty`: the table has no row at all, so a plain INSERT does (a repeated id then
    fails on the primary key instead of updating the row it inserted a moment before)."""
    target = table_of(kind.model)
    names = [c.name for c in stage.columns if c.name != "_line"]
    total = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    rows = sa.select(*[stage.c[n] for n in names], sa.false()).where(sa.true())
    crash_point("importing")
    if empty:
        conn.execute(sa.insert(target).from_select([*names, "deleted"], rows))
        return ImportResult(kind.name, total, total, 0, 0)
    existing = conn.execute(
        sa.select(sa.func.count())
        .select_from(stage)
        .where(sa.exists().where(target.c.id == stage.c.id))
    ).scalar_one()
    if kind.model is Customer:
        _record_owner_changes(conn, stage)
        keep = keep | POOL_COLUMNS
    insert = upsert(target, conn).from_select([*names, "deleted"], rows)
    overrides = _pool_aware_owner(target, insert.excluded) if kind.model is Customer else {}
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                **{n: insert.excluded[n] for n in names if n != "id" and n not in keep},
                **overrides,
                "deleted": sa.false(),
            },
        )
    )
    deleted = 0
    if full:
        deleted = conn.execute(
            target.update()
            .where(target.c.deleted == sa.false(), ~sa.exists().where(stage.c.id == target.c.id))
            .values(deleted=True)
        ).rowcount
    return ImportResult(kind.name, total, total - existing, existing, deleted)


def _record_owner_changes(conn: Connection, stage: sa.Table | sa.Subquery) -> None:
    """The CRM is the source of truth for owners: record every owner it changes, with why."""
    c = table_of(Customer)
    now = datetime.now(UTC).replace(tzinfo=None)
    changed = sa.and_(
        sa.or_(
            sa.and_(c.c.owner_id.is_(None), stage.c.owner_id.is_not(None)),
            sa.and_(c.c.owner_id.is_not(None), stage.c.owner_id.is_(None)),
            c.c.owner_id != stage.c.owner_id,
        ),
        ~_stale_owner(c, stage.c.owner_id),
    )
    conn.execute(
        sa.insert(table_of(OwnerChange)).from_select(
            ["customer_id", "old_owner_id", "new_owner_id", "changed_at", "reason", "source"],
            sa.select(
                stage.c.id,
                c.c.owner_id,
                stage.c.owner_id,
                sa.literal(now, sa.DateTime()),
                sa.literal("owner changed in the CRM export"),
                sa.literal("import"),
            )
            .join(c, c.c.id == stage.c.id)
            .where(changed),
        )
    )


# Columns the shared-pool rules own: an import never overwrites them.
POOL_COLUMNS = {"pooled_on", "pooled_from", "crm_owner_id", "owner_seen", "owner_since"}


def _stale_owner(customers: Any, incoming: Any) -> Any:
    """The export still names the owner a rule took the customer from (or none): the CRM has
    not caught up with the pool, so the rule's decision stands. Any other owner is the CRM's
    deliberate new decision and wins (it takes the customer out of the pool)."""
    return sa.and_(
        customers.c.crm_owner_id.is_not(None),
        sa.or_(incoming.is_(None), incoming == customers.c.crm_owner_id),
    )


def _pool_aware_owner(customers: Any, excluded: Any) -> dict[str, Any]:
    stale = _stale_owner(customers, excluded.owner_id)
    return {
        "owner_id": sa.case((stale, customers.c.owner_id), else_=excluded.owner_id),
        "crm_owner_id": sa.case((stale, customers.c.crm_owner_id), else_=sa.null()),
    }
