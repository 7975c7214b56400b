"""Migrations (engine/store/migrate.py): a database made by the release before them
(fixtures/v3, made by commit 542acbb) is upgraded in place on SQLite and PostgreSQL with every
row kept, and evaluation goes on exactly once; the migrations make exactly the schema the
models declare; newer, foreign and older databases are refused; SALESPLAY_AUTO_UPGRADE=no
leaves the upgrade to `salesplay db upgrade`."""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner, Result
from sqlalchemy.pool import NullPool

from salesplay.cli import cli
from salesplay.engine.errors import SalesplayError
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.store import db, migrate
from salesplay.engine.store import models as store_models
from salesplay.rules import FAMILIES
from tests.conftest import _PG_REASON, PG_URL, load_playbook
from tests.engine.store.fixtures.v3 import make

FIXTURES = Path(__file__).parent / "fixtures" / "v3"
HEAD = 4
KINDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


# ---- restoring the fixture, reading every row ------------------------------------------------


def dump(kind: str) -> str:
    return (FIXTURES / f"{kind}.sql").read_text("utf-8")


def fixture_counts(kind: str) -> dict[str, int]:
    """Rows per table, as the dump holds them (the calendar's are left out of it)."""
    pattern = r'^INSERT INTO "(\w+)"' if kind == "sqlite" else rf"^INSERT INTO {make.SCHEMA}\.(\w+)"
    counts = Counter(re.findall(pattern, dump(kind), re.MULTILINE))
    days, months = make.calendar_rows()
    return {**counts, "calendar": len(days), "calendar_months": len(months)}


def restore_postgresql(schema: str) -> str:
    admin = sa.create_engine(PG_URL, poolclass=NullPool)
    with admin.begin() as conn:
        # the driver's own cursor, given no parameters: the dump's % signs are text
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        cursor.execute(dump("postgresql").replace(make.SCHEMA, schema))
        days, months = make.calendar_rows()
        for table, rows in ((f"{schema}.calendar", days), (f"{schema}.calendar_months", months)):
            with cursor.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
    admin.dispose()
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def drop_schema(schema: str) -> None:
    admin = sa.create_engine(PG_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    admin.dispose()


@pytest.fixture(params=KINDS)
def v3(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of a database as release 542acbb left it: restored from the dump, not yet
    opened by this release."""
    if request.param == "sqlite":
        path = tmp_path / "salesplay.db"
        make.restore_sqlite(dump("sqlite"), path)
        yield f"sqlite:///{path}"
        return
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        yield restore_postgresql(schema)
    finally:
        drop_schema(schema)


@contextmanager
def new_database(kind: str, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, or a new PostgreSQL schema."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'new.db'}"
        return
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, poolclass=NullPool)
    with admin.begin() as conn:
        conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    admin.dispose()
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        drop_schema(schema)


@pytest.fixture(params=KINDS)
def empty(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with new_database(request.param, tmp_path) as url:
        yield url


Rows = dict[str, list[tuple[str | None, ...]]]


def columns_of(url: str) -> dict[str, list[str]]:
    """Each table's columns, as the database has them now."""
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        found = {
            t: [c["name"] for c in inspector.get_columns(t)] for t in inspector.get_table_names()
        }
    engine.dispose()
    return found


def snapshot(
    url: str, skip: tuple[str, ...] = (), columns: dict[str, list[str]] | None = None
) -> Rows:
    """Every row of every table, each value as the database's own text (so that JSON, floats
    and dates compare byte for byte), in a stable order. Read without salesplay. `columns`:
    read only these (the ones a table had before an upgrade added others)."""
    engine = sa.create_engine(url, poolclass=NullPool)
    found: Rows = {}
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        for table in inspector.get_table_names():
            if table in skip:
                continue
            names = [c["name"] for c in inspector.get_columns(table)]
            if columns is not None and table in columns:
                names = columns[table]
            columns_sql = ", ".join(f'CAST("{name}" AS TEXT)' for name in names)
            rows = [tuple(r) for r in conn.exec_driver_sql(f'SELECT {columns_sql} FROM "{table}"')]
            found[table] = sorted(rows, key=lambda r: [(v is not None, v or "") for v in r])
    engine.dispose()
    return found


def shown(url: str) -> str:
    """A URL as salesplay prints it (the password hidden)."""
    return sa.make_url(url).render_as_string(hide_password=True)


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


# ---- a v3 database: upgraded in place, every row kept, evaluation goes on exactly once --------


def test_a_v3_database_is_upgraded_in_place_and_keeps_every_row(v3: str) -> None:
    kind = sa.make_url(v3).get_backend_name()
    before = snapshot(v3)
    assert {t: len(rows) for t, rows in before.items() if rows} == fixture_counts(kind)
    assert before["salesplay_meta"] == [("3",)]
    old_columns = columns_of(v3)

    notes: list[str] = []
    engine = db.connect(v3, note=notes.append)

    after = snapshot(v3, columns=old_columns)
    assert set(after) == set(before) | {"alembic_version"}
    assert after["alembic_version"] == [("0004",)]
    assert after["salesplay_meta"] == [("4",)]
    for table, rows in before.items():
        if table != "salesplay_meta":
            assert len(after[table]) == len(rows), table
            assert after[table] == rows, table
    # 0004's column: the runs made before it do not say which release made them
    added = snapshot(v3, columns={"runs": ["salesplay_version"]})["runs"]
    assert added == [(None,)] * len(before["runs"])

    if kind == "sqlite":
        backup = f"{engine.url.database}.bak-3"
        assert notes == [f"{v3}: upgraded schema 3 → 4; the database as it was is kept in {backup}"]
        assert snapshot(f"sqlite:///{backup}") == before
    else:
        assert notes == [f"{shown(v3)}: upgraded schema 3 → 4"]
    result = invoke("db", "status", "--db", v3)
    assert (result.exit_code, result.output) == (0, f"{shown(v3)}: schema 4 (current)\n")
    db.connect(v3, note=notes.append)  # opened again: nothing more to do
    assert len(notes) == 1


def test_evaluation_goes_on_exactly_once_after_the_upgrade(v3: str) -> None:
    """The fixture was last evaluated as of 2024-07-15 and nothing falls due on 2024-07-16
    (fixtures/v3/README.md): the next day's evaluation emits nothing, keeps what people did by
    hand, and rewrites only the lines of the statement periods still open."""
    engine = db.connect(v3, note=lambda _: None)
    before = snapshot(v3, skip=("calendar",))
    result = evaluate(engine, load_playbook(str(FIXTURES / "playbook.yaml")), date(2024, 7, 16))
    after = snapshot(v3, skip=("calendar",))

    assert result.emitted and not any(result.emitted.values()), result.emitted
    for table in set(before) - {"runs", "payout_lines"}:
        assert after[table] == before[table], table
    assert len(after["runs"]) == len(before["runs"]) + 1
    assert set(before["runs"]) < set(after["runs"])

    # the task closed by hand stays closed, and its episode brings no new task
    assert query(v3, "SELECT id, status, closed_on, note FROM tasks WHERE subject_id = 'C2'") == [
        ("1", "done", "2024-07-05", "已电话回访，客户八月再议")
    ]
    # the manual grade still wins; the snoozed alert sleeps on; the acknowledged one stays so
    assert query(v3, "SELECT grade, source FROM grades WHERE customer_id = 'C3'") == [
        ("A", "manual")
    ]
    assert query(
        v3, "SELECT rule, status, snoozed_until FROM alerts WHERE status <> 'open' ORDER BY id"
    ) == [
        ("goal_lag", "acknowledged", None),
        ("goal_lag", "resolved", None),
        ("team_goal_lag", "snoozed", "2024-07-31"),
    ]
    # the outbox: still one delivery per item and channel, none added
    assert not query(
        v3,
        "SELECT item_id FROM deliveries GROUP BY item_kind, item_id, channel HAVING count(*) > 1",
    )
    assert len(after["deliveries"]) == len(before["deliveries"])

    # closed statements byte for byte; the open ones (July, Q3) recomputed to the same lines
    closed = {
        line_id
        for (line_id,) in query(
            v3,
            "SELECT l.id FROM payout_lines l JOIN payout_closings c "
            "ON c.period_start = l.period_start AND c.period_end = l.period_end",
        )
    }
    # April, May and June's top seller, June's recognition, Q2's commission (R1's two tiers, R2)
    assert len(closed) == 7
    assert [r for r in after["payout_lines"] if r[0] in closed] == [
        r for r in before["payout_lines"] if r[0] in closed
    ]
    open_before = [r[1:-1] for r in before["payout_lines"] if r[0] not in closed]
    open_after = [r[1:-1] for r in after["payout_lines"] if r[0] not in closed]
    assert len(open_before) == 2 and sorted(open_after) == sorted(open_before)  # sans id, run_id


def query(url: str, sql: str) -> list[tuple[str | None, ...]]:
    """Rows of a query, every value as text (None for null), read without salesplay."""
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        found = [tuple(None if v is None else str(v) for v in r) for r in conn.exec_driver_sql(sql)]
    engine.dispose()
    return found


# ---- the schema: what the migrations make is what the models declare ---------------------------


def models() -> sa.MetaData:
    """The engine's models, every family's tables and salesplay_meta (not a model)."""
    engine_models = [
        m for m in vars(store_models).values() if isinstance(m, type) and hasattr(m, "__table__")
    ]
    metadata = sa.MetaData()
    for model in [*engine_models, *(t for f in FAMILIES for t in f.tables)]:
        store_models.table_of(model).to_metadata(metadata)
    sa.Table("salesplay_meta", metadata, sa.Column("schema_version", sa.Integer, nullable=False))
    return metadata


def test_the_migrations_make_exactly_the_schema_the_models_declare(empty: str) -> None:
    engine = db.connect(empty)
    declared = models()
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_server_default": True})
        differences = compare_metadata(context, declared)
        inspector = sa.inspect(conn)
        made = set(inspector.get_table_names())
        # column order too: users' SELECT * and their BI tools see it
        order = {t: [c["name"] for c in inspector.get_columns(t)] for t in declared.tables}
        runs = {i["name"]: i for i in inspector.get_indexes("runs")}
    assert differences == []
    assert made == set(declared.tables) | {"alembic_version"} == migrate.tables()
    assert order == {t: [c.name for c in table.columns] for t, table in declared.tables.items()}
    # the partial unique index, which compare_metadata does not look into
    where = runs["ux_runs_one_running"]["dialect_options"][f"{engine.dialect.name}_where"]
    assert re.sub(r"[()]|::text", "", str(where)) == "status = 'running' AND slot IS NOT NULL"
    assert runs["ux_runs_one_running"]["unique"]


def unschema(default: Any) -> str:
    """A column default without the schema name (nextval('t_….x_id_seq'::regclass))."""
    return re.sub(r"t_\w+\.", "", str(default))


def where(index: Any) -> str:
    """A partial index's predicate, as text."""
    return " ".join(f"{k}: {v}" for k, v in sorted(index.get("dialect_options", {}).items()))


def schema_of(url: str) -> dict[str, Any]:
    """Tables, columns (type, nullability, default), keys and indexes, as the database says."""
    engine = sa.create_engine(url, poolclass=NullPool)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        found = {
            table: {
                "columns": [
                    (
                        c["name"],
                        str(c["type"]),
                        c["nullable"],
                        re.sub(r"t_\w+\.", "", str(c.get("default"))),
                    )
                    for c in inspector.get_columns(table)
                ],
                "primary": inspector.get_pk_constraint(table),
                "unique": sorted(map(repr, inspector.get_unique_constraints(table))),
                "indexes": sorted(
                    (i["name"], i["column_names"], i["unique"], where(i))
                    for i in inspector.get_indexes(table)
                ),
            }
            for table in inspector.get_table_names()
        }
    engine.dispose()
    return found


def test_an_upgraded_v3_database_and_a_new_one_have_the_same_schema(
    v3: str, tmp_path: Path
) -> None:
    """0003 is the v3 schema exactly: the fixture's tables were made by release 542acbb."""
    db.connect(v3, note=lambda _: None)
    with new_database(sa.make_url(v3).get_backend_name(), tmp_path) as new:
        db.connect(new)
        assert schema_of(v3) == schema_of(new)
        if new.startswith("sqlite"):  # the very statements
            statements = "SELECT type, name, sql FROM sqlite_master ORDER BY name"
            assert query(v3, statements) == query(new, statements)


def test_the_revisions_run_in_one_line_from_0003_each_setting_its_schema_version() -> None:
    scripts = list(reversed(list(migrate._scripts().walk_revisions())))
    numbers = [f"{n:04d}" for n in range(3, HEAD + 1)]
    assert [s.revision for s in scripts] == migrate.revisions() == numbers
    assert [s.down_revision for s in scripts] == [None, *numbers[:-1]]
    for script in scripts:
        assert Path(script.path).name.startswith(f"v{script.revision}_")
        source = Path(script.path).read_text("utf-8")
        version = int(script.revision)
        assert (
            f"SET schema_version = {version}" in source
            or f"(schema_version) VALUES ({version})" in source
        ), script.path


# ---- refusals, manual upgrades, status -------------------------------------------------------


def test_a_database_made_by_a_newer_salesplay_is_refused(empty: str) -> None:
    db.connect(empty)
    with sa.create_engine(empty, poolclass=NullPool).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0005'")
        conn.exec_driver_sql("UPDATE salesplay_meta SET schema_version = 5")
    newer = f"{shown(empty)}: schema 5, made by a newer salesplay (this one knows up to 4)"
    with pytest.raises(SalesplayError, match=re.escape(newer) + " — upgrade salesplay$"):
        db.connect(empty)
    status = invoke("db", "status", "--db", empty)
    assert (status.exit_code, status.output) == (0, newer + " — upgrade salesplay\n")
    upgrade = invoke("db", "upgrade", "--db", empty)
    assert upgrade.exit_code == 2
    assert upgrade.stderr == f"error: --db {newer} — upgrade salesplay\n"
    assert query(empty, "SELECT version_num FROM alembic_version") == [("0005",)]


@pytest.mark.parametrize(
    ("setup", "found"),
    [
        (
            "UPDATE salesplay_meta SET schema_version = 2",
            "tables version 2, upgrades start at 3); export your records",
        ),
        (
            "DROP TABLE salesplay_meta",
            "tables version 0, upgrades start at 3); export your records",
        ),
        (
            "UPDATE salesplay_meta SET schema_version = 4",
            "salesplay_meta says schema 4, but the alembic_version table",
        ),
    ],
)
def test_a_database_older_than_schema_3_or_without_its_version_is_refused(
    tmp_path: Path, setup: str, found: str
) -> None:
    path = tmp_path / "old.db"
    make.restore_sqlite(dump("sqlite"), path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute(setup)
        conn.commit()
    with pytest.raises(SalesplayError, match=re.escape(found)):
        db.connect(f"sqlite:///{path}")
    assert not Path(f"{path}.bak-3").exists()


def test_a_database_another_alembic_application_manages_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.execute("INSERT INTO alembic_version VALUES ('ae1027a6acf')")
        conn.commit()
    with pytest.raises(SalesplayError, match=r"not a salesplay database \(its alembic_version"):
        db.connect(f"sqlite:///{path}")


def test_with_auto_upgrade_off_an_older_database_waits_for_db_upgrade(
    v3: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALESPLAY_AUTO_UPGRADE", "no")
    before = snapshot(v3, skip=("calendar",))
    refused = invoke("tasks", "--db", v3)
    assert refused.exit_code == 2
    assert refused.stderr == (
        f"error: --db {shown(v3)}: the tables are at schema 3 and this salesplay needs 4; "
        "run salesplay db upgrade (SALESPLAY_AUTO_UPGRADE=no)\n"
    )
    assert snapshot(v3, skip=("calendar",)) == before  # untouched

    status = invoke("db", "status", "--db", v3)
    assert status.output == f"{shown(v3)}: schema 3, current is 4 — run salesplay db upgrade\n"
    upgraded = invoke("db", "upgrade", "--db", v3)
    assert upgraded.exit_code == 0, upgraded.output
    if v3.startswith("sqlite"):
        backup = f"{sa.make_url(v3).database}.bak-3"
        assert upgraded.output == (
            f"{v3}: upgraded schema 3 → 4; the database as it was is kept in {backup}\n"
        )
        assert Path(backup).exists()
    else:
        assert upgraded.output == f"{shown(v3)}: upgraded schema 3 → 4\n"
    again = invoke("db", "upgrade", "--db", v3)
    assert (again.exit_code, again.output) == (
        0,
        f"{shown(v3)}: schema 4 is current; nothing to do\n",
    )
    tasks = invoke("tasks", "--db", v3, "--subject", "C2", "--format", "json")
    assert tasks.exit_code == 0 and '"status": "done"' in tasks.output


def test_db_status_of_an_empty_database_and_db_upgrade_creating_it(empty: str) -> None:
    if empty.startswith("sqlite:///"):
        # no file yet: neither command makes one (only init, demo and import create a database)
        path = Path(sa.make_url(empty).database or "")
        for command in ("status", "upgrade"):
            refused = invoke("db", command, "--db", empty)
            assert refused.exit_code == 2
            assert f"no database at {path} (--db)" in refused.output
        assert not path.exists()
        path.touch()  # an empty file is an SQLite database without tables
    status = invoke("db", "status", "--db", empty)
    assert (
        status.output == f"{shown(empty)}: no tables yet; they are made at schema 4 on first use\n"
    )
    created = invoke("db", "upgrade", "--db", empty)
    assert (created.exit_code, created.output) == (
        0,
        f"{shown(empty)}: created the tables at schema 4\n",
    )
    assert invoke("db", "status", "--db", empty).output == f"{shown(empty)}: schema 4 (current)\n"
    assert migrate.head() == HEAD
    assert query(empty, "SELECT schema_version FROM salesplay_meta") == [(str(HEAD),)]


# ---- one upgrade at a time, all or nothing, the backup -----------------------------------------

OPEN = """
import sys
import salesplay.rules
from salesplay.engine.store import db
db.connect(sys.argv[1], note=lambda line: print(line))
"""


def test_processes_opening_an_old_database_at_once_upgrade_it_once(v3: str) -> None:
    before = snapshot(v3, skip=("calendar",))
    old_columns = columns_of(v3)
    opening = [
        subprocess.Popen(
            [sys.executable, "-c", OPEN, v3],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(3)
    ]
    outcomes = [p.communicate(timeout=120) for p in opening]
    assert [p.returncode for p in opening] == [0, 0, 0], outcomes
    said = sorted(out for out, _ in outcomes)
    assert said[:2] == ["", ""] and "upgraded schema 3 → 4" in said[2]
    after = snapshot(v3, skip=("calendar",), columns=old_columns)
    assert after["alembic_version"] == [("0004",)]
    assert {t: r for t, r in after.items() if t not in ("alembic_version", "salesplay_meta")} == {
        t: r for t, r in before.items() if t != "salesplay_meta"
    }
    if v3.startswith("sqlite"):
        path = sa.make_url(v3).database
        assert sorted(p.name for p in Path(path).parent.glob("*.bak-*")) == ["salesplay.db.bak-3"]


def test_an_upgrade_that_fails_half_way_leaves_the_database_as_it_was(v3: str) -> None:
    """All the DDL of an upgrade is one transaction: 0004's column cannot be added (a column of
    that name is already there), and the stamp, the migration and the version number go with
    it."""
    with sa.create_engine(v3, poolclass=NullPool).begin() as conn:
        conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN salesplay_version INTEGER")
    before = snapshot(v3, skip=("calendar",))
    with pytest.raises((SalesplayError, sa.exc.SQLAlchemyError), match="salesplay_version"):
        db.connect(v3)
    assert snapshot(v3, skip=("calendar",)) == before
    tables = set(sa.inspect(sa.create_engine(v3, poolclass=NullPool)).get_table_names())
    assert "alembic_version" not in tables


def test_the_sqlite_backup_holds_what_is_still_in_the_wal(tmp_path: Path) -> None:
    path = tmp_path / "salesplay.db"
    make.restore_sqlite(dump("sqlite"), path)
    with closing(sqlite3.connect(path)) as writer:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # the row below stays in the WAL
        writer.execute("INSERT INTO reps (id, name, active, deleted) VALUES ('R9', '新人', 1, 0)")
        writer.commit()
        assert Path(f"{path}-wal").stat().st_size > 0
        db.connect(f"sqlite:///{path}", note=lambda _: None)
    with closing(sqlite3.connect(f"{path}.bak-3")) as backup:
        assert backup.execute("SELECT name FROM reps WHERE id = 'R9'").fetchall() == [("新人",)]
        assert backup.execute("SELECT schema_version FROM salesplay_meta").fetchall() == [(3,)]


def test_a_second_backup_does_not_overwrite_the_first(tmp_path: Path) -> None:
    path = tmp_path / "salesplay.db"
    make.restore_sqlite(dump("sqlite"), path)
    Path(f"{path}.bak-3").write_text("an earlier backup")
    db.connect(f"sqlite:///{path}", note=lambda _: None)
    assert Path(f"{path}.bak-3").read_text() == "an earlier backup"
    with closing(sqlite3.connect(f"{path}.bak-3-2")) as backup:
        assert backup.execute("SELECT count(*) FROM tasks").fetchall() == [(11,)]


def test_reset_drops_every_salesplay_table_and_makes_them_afresh(v3: str) -> None:
    engine = db.connect(v3, note=lambda _: None)
    migrate.reset(engine)
    after = snapshot(v3, skip=("calendar",))
    assert set(after) | {"calendar"} == migrate.tables()
    assert after["alembic_version"] == [("0004",)] and after["salesplay_meta"] == [("4",)]
    assert not any(
        rows
        for t, rows in after.items()
        if t not in ("alembic_version", "salesplay_meta", "calendar_months")
    )
    assert len(after["calendar_months"]) == 2400


def test_demo_reset_starts_from_a_new_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    for args in ([], ["--reset"]):
        done = invoke("demo", "--customers", "60", "--as-of", "2024-06-15", "--db", url, *args)
        assert done.exit_code == 0, done.output
    assert query(url, "SELECT count(*) FROM customers") == [("60",)]
    assert query(url, "SELECT count(*) FROM runs") == [("1",)]
    assert query(url, "SELECT version_num FROM alembic_version") == [("0004",)]
