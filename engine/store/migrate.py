"""Which schema a database's tables are at, and upgrading them in place.

The schema changes through Alembic migrations shipped in migrations/versions/, numbered as
`SCHEMA_VERSION` used to be: revision 0003 is the tables release 542acbb made (the first
that can be upgraded), each later revision one change, and `salesplay_meta.schema_version`
always equals the number of the revision a database is at. A database that release made has
no alembic_version table: it is taken as 0003 and stamped so inside its upgrade.

    status(engine)            the database's schema and this release's (`salesplay db status`)
    upgrade(engine)           create or upgrade to head, SQLite copied aside first
    prepare(engine, note)     what opening a database does (db.connect)
    reset(engine)             drop every salesplay table and create them afresh (demo --reset)

An upgrade is one transaction that first takes the upgrade lock (PostgreSQL: an advisory
lock; SQLite: the write lock, taken by BEGIN IMMEDIATE) and then reads the version again, so
of two processes opening an old database at once one upgrades and the other finds it done.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.store import dialects

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

MIGRATIONS = Path(__file__).with_name("migrations")
FIRST = 3  # the oldest schema that upgrades: release 542acbb's
AUTO_UPGRADE = "SALESPLAY_AUTO_UPGRADE"  # "no": opening an older database is refused instead
LOCK = "salesplay schema upgrade"


@dataclass(frozen=True)
class Status:
    """A database's schema version (None: no tables yet) and the one this release needs."""

    url: str
    version: int | None
    head: int

    @property
    def current(self) -> bool:
        return self.version == self.head

    def __str__(self) -> str:
        if self.version is None:
            return f"{self.url}: no tables yet; they are made at schema {self.head} on first use"
        if self.version == self.head:
            return f"{self.url}: schema {self.head} (current)"
        if self.version < self.head:
            return (
                f"{self.url}: schema {self.version}, current is {self.head} — "
                "run salesplay db upgrade"
            )
        return (
            f"{self.url}: schema {self.version}, made by a newer salesplay (this one knows up "
            f"to {self.head}) — upgrade salesplay"
        )


@dataclass(frozen=True)
class Upgrade:
    """What upgrade() did: from which version (None: an empty database) to which, and where
    the copy of the database as it was is (SQLite only)."""

    url: str
    old: int | None
    new: int
    backup: str | None = None

    def __str__(self) -> str:
        if self.old is None:
            return f"{self.url}: created the tables at schema {self.new}"
        if self.old == self.new:
            return f"{self.url}: schema {self.new} is current; nothing to do"
        kept = f"; the database as it was is kept in {self.backup}" if self.backup else ""
        return f"{self.url}: upgraded schema {self.old} → {self.new}{kept}"


@cache
def revisions() -> list[str]:
    """Every revision, oldest first: each migration's file is v<revision>_<slug>.py. Read
    from the names, so that opening a current database never imports Alembic (about 0.1 s
    of every command's start); test_migrations checks the names against the scripts."""
    names = (MIGRATIONS / "versions").glob("v[0-9][0-9][0-9][0-9]_*.py")
    return sorted(path.name[1:5] for path in names)


def head() -> int:
    """The schema version this release makes and needs."""
    return int(revisions()[-1])


def _config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@cache
def _scripts() -> ScriptDirectory:
    """The migrations, read once per process (the suite creates hundreds of databases)."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config())


def _migrate(conn: Connection, stamp: str | None = None) -> None:
    """Run env.py on this connection, in its transaction: every revision after the database's
    (after `stamp`, written first, for a database made before migrations) up to head. What
    `alembic upgrade head` does, with the migrations read once."""
    from alembic.runtime.environment import EnvironmentContext
    from alembic.runtime.migration import MigrationContext

    scripts = _scripts()
    if stamp is not None:
        MigrationContext.configure(conn).stamp(scripts, stamp)
    config = _config()
    config.attributes["connection"] = conn
    with EnvironmentContext(
        config,
        scripts,
        fn=lambda revision, _context: scripts._upgrade_revs("head", revision),
        destination_rev="head",
    ):
        scripts.run_env()


def tables() -> set[str]:
    """Every table a salesplay database holds: what each migration says it creates, and
    Alembic's version table."""
    made = {"alembic_version"}
    for script in _scripts().walk_revisions():
        made.update(script.module.creates)
    return made


def _url(engine: Engine | Connection) -> str:
    return engine.engine.url.render_as_string(hide_password=True)


def _version(conn: Connection) -> int | None:
    """The schema the tables are at; None when there are none; refused when they are not a
    salesplay database that can be upgraded."""
    names = set(sa.inspect(conn).get_table_names())
    url = _url(conn)
    if "alembic_version" in names:
        found = list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars())
        newer = len(found) == 1 and found[0].isdigit() and int(found[0]) > head()
        if len(found) == 1 and (found[0] in revisions() or newer):
            return int(found[0])
        raise SalesplayError(
            f"--db {url}: not a salesplay database (its alembic_version is "
            f"{', '.join(found) or 'empty'}); give salesplay a database of its own"
        )
    if "salesplay_meta" in names:
        version = conn.exec_driver_sql("SELECT schema_version FROM salesplay_meta").scalar()
        if version == FIRST:
            return FIRST
        if isinstance(version, int) and version > head():
            return version
        if isinstance(version, int) and version > FIRST:
            raise SalesplayError(
                f"--db {url}: salesplay_meta says schema {version}, but the alembic_version "
                "table that records its upgrades is gone; restore the database from a backup"
            )
        _too_old(url, version or 0)
    if "customers" in names:
        _too_old(url, 0)
    return None


def _too_old(url: str, version: int) -> NoReturn:
    raise SalesplayError(
        f"--db {url}: the database was made by another version of salesplay (tables version "
        f"{version}, upgrades start at {FIRST}); export your records and import them into a "
        "new database"
    )


def _newer(status: Status) -> SalesplayError:
    return SalesplayError(f"--db {status}")


def status(engine: Engine) -> Status:
    """The database's schema version and the one this release needs; nothing is changed."""
    with engine.connect() as conn:
        return Status(_url(engine), _version(conn), head())


def upgrade(engine: Engine) -> Upgrade:
    """Bring the tables to this release's schema: create them in an empty database, upgrade an
    older one in place (SQLite: after copying the file to NAME.bak-<version>). One transaction,
    under the upgrade lock, the version read again inside it."""
    url, new = _url(engine), head()
    with engine.connect() as conn, conn.begin():
        dialects.of(conn).lock(conn, LOCK)
        old = _version(conn)
        if old is not None and old > new:
            raise _newer(Status(url, old, new))
        if old == new:
            return Upgrade(url, old, new)
        backup = dialects.of(conn).backup(conn, f"bak-{old}") if old is not None else None
        made_before = old is not None and not sa.inspect(conn).has_table("alembic_version")
        _migrate(conn, stamp=f"{old:04d}" if made_before else None)
    return Upgrade(url, old, new, backup)


def prepare(engine: Engine, note: Callable[[str], None]) -> None:
    """Opening a database: create its tables when it has none, upgrade it when it is older
    (unless SALESPLAY_AUTO_UPGRADE=no; `note` is told what was done), refuse it when it is
    newer, not salesplay's, or older than schema 3."""
    url, new = _url(engine), head()
    with engine.connect() as conn:
        old = _version(conn)
    if old == new:
        return
    if old is not None and old > new:
        raise _newer(Status(url, old, new))
    if old is not None and os.environ.get(AUTO_UPGRADE, "").strip().lower() in (
        "no",
        "false",
        "0",
        "off",
    ):
        raise SalesplayError(
            f"--db {url}: the tables are at schema {old} and this salesplay needs {new}; "
            f"run salesplay db upgrade ({AUTO_UPGRADE}=no)"
        )
    done = upgrade(engine)
    if old is not None and done.old != done.new:
        note(str(done))


def reset(engine: Engine) -> None:
    """Drop every salesplay table, alembic_version and salesplay_meta included, and create
    them afresh at this release's schema: one transaction."""
    with engine.connect() as conn, conn.begin():
        dialects.of(conn).lock(conn, LOCK)
        for name in sorted(tables() & set(sa.inspect(conn).get_table_names())):
            sa.Table(name, sa.MetaData()).drop(conn)
        _migrate(conn)
