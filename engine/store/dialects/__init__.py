"""Every difference between the databases salesplay runs on, one adapter per database.

    of(conn).skip_locked(query)      # FOR UPDATE SKIP LOCKED where there is such a thing
    json_object("k", v)              # json_object on SQLite, json_build_object on PostgreSQL

A new database is one module here with its Dialect subclass and its spellings of the
functions in base.py, and one line in DIALECTS.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store.dialects.base import (
    Dialect,
    add_days,
    date_text,
    days_between,
    floor_int,
    json_object,
    text_to_number,
)
from salesplay.engine.store.dialects.postgresql import PostgreSQL
from salesplay.engine.store.dialects.sqlite import SQLite

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLite(), PostgreSQL())}


def of(bind: Connection | Engine) -> Dialect:
    """The adapter for a connection's or engine's database."""
    found = DIALECTS.get(bind.dialect.name)
    if found is None:
        raise SalesplayError(f"salesplay runs on {' and '.join(DIALECTS)}, not {bind.dialect.name}")
    return found


def analyze(conn: Connection, table: str) -> None:
    of(conn).analyze(conn, table)


def bulk_insert(
    conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
) -> None:
    of(conn).bulk_insert(conn, table, columns, rows)


def upsert(table: sa.Table, conn: Connection) -> Any:
    """The database's INSERT that understands ON CONFLICT."""
    return of(conn).insert(table)


def insert_ignore(table: sa.Table, select: Any, columns: list[str], conn: Connection) -> Any:
    """INSERT … SELECT … ON CONFLICT DO NOTHING: the database's unique keys decide, not Python."""
    # WHERE true: SQLite cannot otherwise tell ON CONFLICT from a join's ON after a SELECT.
    return (
        upsert(table, conn).from_select(columns, select.where(sa.true())).on_conflict_do_nothing()
    )


__all__ = [
    "DIALECTS",
    "Dialect",
    "add_days",
    "analyze",
    "bulk_insert",
    "date_text",
    "days_between",
    "floor_int",
    "insert_ignore",
    "json_object",
    "of",
    "text_to_number",
    "upsert",
]
