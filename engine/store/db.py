"""Connecting, creating tables, and the few SQL constructs the two databases spell differently.

Anything SQLite and PostgreSQL would answer differently is decided here, once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement
from sqlmodel import SQLModel

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store import models

DEFAULT_URL = "sqlite:///salesplay.db"
CALENDAR_FIRST = date(1950, 1, 1)
CALENDAR_LAST = date(2149, 12, 31)


def database_url(url: str | None = None) -> str:
    """--db, else SALESPLAY_DB, else an SQLite file in the working directory."""
    return url or os.environ.get("SALESPLAY_DB") or DEFAULT_URL


def connect(url: str | None = None, create: bool = True) -> Engine:
    """An engine for the URL, with the tables created and the calendar filled."""
    url = database_url(url)
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    try:
        engine = sa.create_engine(url, future=True)
    except (sa.exc.ArgumentError, ModuleNotFoundError) as exc:
        raise SalesplayError(f"--db {url}: not a database URL I can use ({exc})") from None
    if engine.dialect.name == "sqlite":
        _sqlite_setup(engine)
    if create:
        try:
            create_tables(engine)
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise SalesplayError(
                f"--db {engine.url!r}: cannot open the database: {reason}"
            ) from None
    return engine


def _sqlite_setup(engine: Engine) -> None:
    """WAL, a busy timeout, and write transactions that take the lock up front (BEGIN IMMEDIATE)."""

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


SCHEMA_VERSION = 3  # bump when a table changes shape; older databases are refused, not misread


def create_tables(engine: Engine) -> None:
    """Create what is missing; refuse a database made by another version of the tables."""
    names = set(sa.inspect(engine).get_table_names())
    if names and "customers" in names:
        found = None
        if "salesplay_meta" in names:
            with engine.connect() as conn:
                found = conn.execute(sa.text("SELECT schema_version FROM salesplay_meta")).scalar()
        if found != SCHEMA_VERSION:
            raise SalesplayError(
                f"--db {engine.url!r}: the database was made by another version of salesplay "
                f"(tables version {found or 0}, this one needs {SCHEMA_VERSION}); export your "
                "records and import them into a new database"
            )
    SQLModel.metadata.create_all(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE IF NOT EXISTS salesplay_meta (schema_version INTEGER NOT NULL)"
        )
        if conn.execute(sa.text("SELECT count(*) FROM salesplay_meta")).scalar() == 0:
            conn.execute(
                sa.text("INSERT INTO salesplay_meta (schema_version) VALUES (:v)"),
                {"v": SCHEMA_VERSION},
            )
        have = conn.execute(sa.select(sa.func.count()).select_from(models.CalendarMonth)).scalar()
        if not have:
            _fill_calendar(conn)


def _fill_calendar(conn: Connection) -> None:
    """Fill calendar and calendar_months in bulk (COPY on PostgreSQL): every test DB does this."""
    days = []
    months: dict[int, list[int]] = {}
    day = CALENDAR_FIRST
    while day <= CALENDAR_LAST:
        month_num = day.year * 12 + day.month - 1
        days.append((day, day.toordinal(), month_num, day.day))
        months.setdefault(month_num, [month_num, day.toordinal(), 0])[2] += 1
        day += timedelta(days=1)
    bulk_insert(conn, "calendar", ["day", "day_num", "month_num", "dom"], days)
    bulk_insert(
        conn,
        "calendar_months",
        ["month_num", "first_day_num", "days"],
        [tuple(m) for m in months.values()],
    )


def bulk_insert(
    conn: Connection, table: str, columns: list[str], rows: list[tuple[Any, ...]]
) -> None:
    """Insert many rows at driver speed: COPY on PostgreSQL, executemany elsewhere."""
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    marks = ", ".join("?" for _ in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", rows)


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One all-or-nothing unit of work."""
    with engine.begin() as conn:
        yield conn


def upsert(table: sa.Table, dialect: str) -> Any:
    """The dialect's INSERT that understands ON CONFLICT."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def insert_ignore(table: sa.Table, select: Any, columns: list[str], dialect: str) -> Any:
    """INSERT … SELECT … ON CONFLICT DO NOTHING: the database's unique keys decide, not Python."""
    # WHERE true: SQLite cannot otherwise tell ON CONFLICT from a join's ON after a SELECT.
    return (
        upsert(table, dialect)
        .from_select(columns, select.where(sa.true()))
        .on_conflict_do_nothing()
    )


# ---- constructs spelled differently by the two databases --------------------------------


class json_object(FunctionElement[Any]):
    """json_object('k', v, …) on SQLite, json_build_object on PostgreSQL."""

    inherit_cache = True
    type = sa.JSON()


@compiles(json_object)
def _json_object_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_object({compiler.process(element.clauses, **kw)})"


@compiles(json_object, "postgresql")
def _json_object_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


class floor_int(FunctionElement[int]):
    """The largest integer not above x, as an integer, the same on both databases."""

    inherit_cache = True
    type = sa.BigInteger()


@compiles(floor_int)
def _floor_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    # CAST truncates toward zero; step down one where that went up.
    return f"(CAST(({x}) AS INTEGER) - (({x}) < CAST(({x}) AS INTEGER)))"


@compiles(floor_int, "postgresql")
def _floor_pg(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS BIGINT)"


def ratio(numerator: ColumnElement[Any], denominator: ColumnElement[Any]) -> ColumnElement[Any]:
    """numerator / denominator as a double, correctly rounded on both; null when dividing by 0."""
    return sa.cast(numerator, sa.Double()) / sa.func.nullif(denominator, 0)


def as_text(value: ColumnElement[Any]) -> ColumnElement[str]:
    return sa.cast(value, sa.String())


def fetch(conn: Connection, model: Any, key: Any) -> Any:
    """One row by primary key, or None."""
    table = model.__table__
    pk = next(iter(table.primary_key.columns))
    return conn.execute(sa.select(table).where(pk == key)).first()


def count_rows(conn: Connection, statement: Any) -> int:
    """Execute an INSERT/UPDATE and return how many rows it wrote (SQLAlchemy 2.1 only keeps
    an INSERT's rowcount when asked to)."""
    result = conn.execute(statement.execution_options(preserve_rowcount=True))
    return int(result.rowcount)


class text_to_number(FunctionElement[float]):
    """A custom attribute's text as a number, or null when it is not one ('n/a', '1,500'):
    the same answer on both databases, where a plain CAST fails on one and guesses on the other."""

    inherit_cache = True
    type = sa.Double()


@compiles(text_to_number)
def _text_to_number_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return (
        f"(CASE WHEN trim({x}) <> '' AND trim({x}) NOT GLOB '*[^0-9.+-]*' "
        f"AND trim({x}) GLOB '*[0-9]*' AND trim({x}) NOT GLOB '?*[+-]*' "
        f"AND trim({x}) NOT GLOB '*.*.*' THEN CAST(trim({x}) AS REAL) END)"
    )


@compiles(text_to_number, "postgresql")
def _text_to_number_pg(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return (
        f"(CASE WHEN trim({x}) ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$' "
        f"THEN CAST(trim({x}) AS DOUBLE PRECISION) END)"
    )


def temp_table(conn: Connection, name: str, columns: dict[str, Any]) -> sa.Table:
    """(Re)create a temporary table of these columns (name → SQLAlchemy type) for this run."""
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    table = sa.Table(
        name,
        sa.MetaData(),
        *[sa.Column(n, t) for n, t in columns.items()],
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    return table


def analyze(conn: Connection, table: str) -> None:
    """PostgreSQL never auto-analyzes temporary tables and would plan joins on them blind;
    SQLite plans well enough without statistics."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"ANALYZE {table}")


class add_days(FunctionElement[Any]):
    """date + n days. Whole days are exact and identical on both databases (unlike months,
    which go through the calendar table)."""

    inherit_cache = True
    type = sa.Date()


@compiles(add_days)
def _add_days_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    day, count = list(element.clauses)
    return (
        f"date({compiler.process(day, **kw)}, printf('%+d days', {compiler.process(count, **kw)}))"
    )


@compiles(add_days, "postgresql")
def _add_days_pg(element: Any, compiler: Any, **kw: Any) -> str:
    day, count = list(element.clauses)
    return f"CAST(({compiler.process(day, **kw)}) + ({compiler.process(count, **kw)}) AS DATE)"


class days_between(FunctionElement[int]):
    """later - earlier in whole days."""

    inherit_cache = True
    type = sa.Integer()


@compiles(days_between)
def _days_between_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"CAST(julianday({compiler.process(later, **kw)}) - "
        f"julianday({compiler.process(earlier, **kw)}) AS INTEGER)"
    )


@compiles(days_between, "postgresql")
def _days_between_pg(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(CAST({compiler.process(later, **kw)} AS DATE) - "
        f"CAST({compiler.process(earlier, **kw)} AS DATE))"
    )


def materialize_ctes(conn: Connection) -> bool:
    """Whether `WITH x AS MATERIALIZED (…)` is understood: PostgreSQL 12+, SQLite 3.35+."""
    if conn.dialect.name == "sqlite":
        import sqlite3

        return sqlite3.sqlite_version_info >= (3, 35)
    return conn.dialect.name == "postgresql"
