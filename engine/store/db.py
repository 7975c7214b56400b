"""Connecting to the database, creating its tables, and small helpers every layer above uses.

What SQLite and PostgreSQL do differently is asked of store/dialects, never decided here.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store import dialects, models

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
    dialects.of(engine).setup(engine)
    if create:
        try:
            create_tables(engine)
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise SalesplayError(
                f"--db {engine.url!r}: cannot open the database: {reason}"
            ) from None
    return engine


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
    dialects.bulk_insert(conn, "calendar", ["day", "day_num", "month_num", "dom"], days)
    dialects.bulk_insert(
        conn,
        "calendar_months",
        ["month_num", "first_day_num", "days"],
        [tuple(m) for m in months.values()],
    )


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One all-or-nothing unit of work."""
    with engine.begin() as conn:
        yield conn


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
