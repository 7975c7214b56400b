"""SQLite: the embedded default. One writer at a time, so locks are the write lock itself."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles

from salesplay.engine.store.dialects.base import (
    Dialect,
    add_days,
    date_text,
    days_between,
    floor_int,
    json_object,
    text_to_number,
)


class SQLite(Dialect):
    name = "sqlite"

    def setup(self, engine: Engine) -> None:
        """WAL, a busy timeout, and write transactions that take the lock up front (BEGIN
        IMMEDIATE): a second process waits instead of failing half way."""

        @sa.event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout = 30000")
            # 16 KB pages (a new file only): bulk imports of millions of rows go ~10% faster.
            cursor.execute("PRAGMA page_size = 16384")
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            # Temporary tables (a run's facts) go to disk and the page cache stays at 64 MB, so
            # memory does not grow with the data: a million customers evaluate in < 500 MB.
            cursor.execute("PRAGMA cache_size = -65536")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    def insert(self, table: sa.Table) -> Any:
        return sqlite.insert(table)

    def greatest(self, *values: Any) -> Any:
        return sa.func.max(*values)  # SQLite's max() of several arguments is the scalar one

    def materialize_ctes(self, conn: Connection) -> bool:
        return sqlite3.sqlite_version_info >= (3, 35)

    def secondary_indexes(self, conn: Connection, table: str) -> list[tuple[str, str]]:
        found = conn.exec_driver_sql(
            "SELECT '\"' || replace(name, '\"', '\"\"') || '\"', sql FROM sqlite_master "
            "WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).all()
        return [(name, ddl) for name, ddl in found]

    def backup(self, conn: Connection, suffix: str) -> str | None:
        """NAME.<suffix> beside the file (NAME.<suffix>-2 … when taken), made with SQLite's
        backup API: pages still in the WAL are included. It reads through a connection of its
        own (SQLite will not back up from one holding the write lock); `conn` holds that lock,
        so nothing changes while it copies."""
        name = conn.engine.url.database
        if not name or name == ":memory:" or conn.engine.url.query.get("mode") == "memory":
            return None
        target = Path(f"{name}.{suffix}")
        n = 1
        while target.exists():
            n += 1
            target = Path(f"{name}.{suffix}-{n}")
        source, copy = sqlite3.connect(name, timeout=30), sqlite3.connect(target)
        try:
            source.backup(copy)
        finally:
            copy.close()
            source.close()
        return str(target)


# SQLAlchemy takes an unqualified @compiles as every database's spelling: these are SQLite's,
# and postgresql.py registers its own.


@compiles(json_object)
def _json_object(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(floor_int)
def _floor(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    # CAST truncates toward zero; step down one where that went up.
    return f"(CAST(({x}) AS INTEGER) - (({x}) < CAST(({x}) AS INTEGER)))"


@compiles(text_to_number)
def _text_to_number(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return (
        f"(CASE WHEN trim({x}) <> '' AND trim({x}) NOT GLOB '*[^0-9.+-]*' "
        f"AND trim({x}) GLOB '*[0-9]*' AND trim({x}) NOT GLOB '?*[+-]*' "
        f"AND trim({x}) NOT GLOB '*.*.*' THEN CAST(trim({x}) AS REAL) END)"
    )


@compiles(add_days)
def _add_days(element: Any, compiler: Any, **kw: Any) -> str:
    day, count = list(element.clauses)
    return (
        f"date({compiler.process(day, **kw)}, printf('%+d days', {compiler.process(count, **kw)}))"
    )


@compiles(days_between)
def _days_between(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


@compiles(date_text)
def _date_text(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS TEXT)"
