"""Connecting to the database, creating its tables, and small helpers every layer above uses.

What SQLite and PostgreSQL do differently is asked of store/dialects, never decided here.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from functools import cache
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store import dialects, migrate

DEFAULT_URL = "sqlite:///salesplay.db"
# The days the calendar table holds (migration 0003 fills it).
CALENDAR_FIRST = date(1950, 1, 1)
CALENDAR_LAST = date(2149, 12, 31)


@cache
def release() -> str:
    """This salesplay's version as installed: each run records it (runs.salesplay_version)."""
    try:
        return version("salesplay")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown"


def database_url(url: str | None = None) -> str:
    """--db, else SALESPLAY_DB, else an SQLite file in the working directory."""
    return url or os.environ.get("SALESPLAY_DB") or DEFAULT_URL


def connect(
    url: str | None = None, create: bool = True, note: Callable[[str], None] | None = None
) -> Engine:
    """An engine for the URL. With `create`, the tables are made (and the calendar filled) in
    an empty database and brought to this release's schema in an older one (see migrate.py);
    `note` is told of an upgrade (default: a line on stderr)."""
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
            migrate.prepare(engine, note or _note)
        except sa.exc.OperationalError as exc:
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise SalesplayError(
                f"--db {engine.url!r}: cannot open the database: {reason}"
            ) from None
    return engine


def _note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr)


@contextmanager
def scratch() -> Iterator[Engine]:
    """A new, empty database in a temporary folder, removed with it afterwards: what a dry run
    checks against when the database it names does not exist yet (and must not be created)."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="salesplay-") as folder:
        engine = connect(f"sqlite:///{folder}/scratch.db")
        try:
            yield engine
        finally:
            engine.dispose()


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
