"""Writing imported records: rows staged in a temporary table, checked set-based (every
reference), then upserted by id with one INSERT … SELECT … ON CONFLICT, owner changes recorded.
Both import paths (importer.py, fastload.py) end here.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
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
    unchanged: int = 0  # counted by a dry run only: rows already stored exactly so (not updated)
    missing: int = 0  # a dry run: the records --full would mark deleted, with or without it


def header_problems(
    kind: Kind,
    header: list[str],
    source: str,
    found: Sequence[str] | None = None,
    names_of: Callable[[str], list[str]] | None = None,
) -> tuple[list[str], list[str]]:
    """(one line per required column the header lacks and one listing the headers found and
    the columns expected, notes on the columns it ignores). `found`: the header as the file
    wrote it; `names_of`: the names a column's header may have (the import mapping's)."""
    known = {c.name for c in kind.columns}
    missing = [c.name for c in kind.columns if c.header and c.name not in header]
    notes: list[str] = []
    if not kind.extra_to_attrs:
        for name in (h for h in header if h and h not in known):
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            notes.append(f"{source}:1: {name}: not a column of {kind.name}{hint}; ignored")
    if not missing:
        return [], notes
    lines = []
    for name in missing:
        names = names_of(name) if names_of else [name]
        shown = ", ".join(names[:-1]) + f" or {names[-1]}" if len(names) > 1 else names[0]
        lines.append(
            f"{source}:1: {name}: missing column: name a header {shown}, or map yours to "
            f"{name} with columns: in the import mapping (--map FILE.yaml)"
        )
    written = [h for h in (found if found is not None else header) if h]
    required = [c.name for c in kind.columns if c.header]
    optional = [c.name for c in kind.columns if not c.header]
    lines.append(
        f"{source}:1: the header has {', '.join(written) or 'no names'}; {kind.name} takes "
        f"{', '.join(required)}" + (f" (and optionally {', '.join(optional)})" if optional else "")
    )
    return lines, notes


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
    compare: bool = False,
) -> ImportResult:
    """Write the staged rows (a table, or the bulk path's converting subquery) into the kind's
    table. `empty`: the table has no row at all, so a plain INSERT does (a repeated id then
    fails on the primary key instead of updating the row it inserted a moment before).
    `compare` (a dry run, whose transaction is rolled back): also count the rows the upsert
    leaves exactly as they were, and the records --full would mark deleted."""
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
    live_elsewhere = sa.and_(
        target.c.deleted == sa.false(), ~sa.exists().where(stage.c.id == target.c.id)
    )
    before = _copy_of_stored(conn, target, stage) if compare else None
    missing = 0
    if compare:
        missing = conn.execute(
            sa.select(sa.func.count()).select_from(target).where(live_elsewhere)
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
        deleted = conn.execute(target.update().where(live_elsewhere).values(deleted=True)).rowcount
    result = ImportResult(kind.name, total, total - existing, existing, deleted, missing=missing)
    if before is not None:
        result.unchanged = _unchanged(conn, target, before)
        result.updated -= result.unchanged
    return result


def _copy_of_stored(conn: Connection, target: sa.Table, stage: sa.Table | sa.Subquery) -> sa.Table:
    """The stored rows the staged ones will update, as they are before the upsert."""
    copy = sa.Table(
        "dry_run_before",
        sa.MetaData(),
        *[sa.Column(c.name, c.type) for c in target.columns],
        prefixes=["TEMPORARY"],
    )
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {copy.name}")
    copy.create(conn)
    names = [c.name for c in target.columns]
    conn.execute(
        copy.insert().from_select(
            names,
            sa.select(*[target.c[n] for n in names]).where(
                sa.exists().where(stage.c.id == target.c.id)
            ),
        )
    )
    return copy


def _unchanged(conn: Connection, target: sa.Table, before: sa.Table) -> int:
    """How many rows the upsert left exactly as they were. JSON values (a customer's custom
    columns) count as the same when they hold the same keys and values, however written."""
    plain = [c.name for c in target.columns if not isinstance(c.type, sa.JSON)]
    structured = [c.name for c in target.columns if isinstance(c.type, sa.JSON)]
    same = [before.c[n].is_not_distinct_from(target.c[n]) for n in plain]
    pair = before.join(target, before.c.id == target.c.id)
    as_text = [
        sa.cast(before.c[n], sa.Text).is_not_distinct_from(sa.cast(target.c[n], sa.Text))
        for n in structured
    ]
    count = conn.execute(
        sa.select(sa.func.count()).select_from(pair).where(*same, *as_text)
    ).scalar_one()
    if structured:  # written otherwise, perhaps the same: compare what they hold
        differ = sa.or_(*[~t for t in as_text])
        columns = [c for n in structured for c in (before.c[n], target.c[n])]
        for row in conn.execute(sa.select(*columns).select_from(pair).where(*same, differ)):
            count += all(row[i] == row[i + 1] for i in range(0, len(row), 2))
    conn.exec_driver_sql(f"DROP TABLE {before.name}")
    return int(count)


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
