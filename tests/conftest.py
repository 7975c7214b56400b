"""Shared fixtures: a fresh SQLite database per test, and a fresh PostgreSQL schema when the
server on 127.0.0.1:5432 answers (tests that need it skip, saying why, when it does not)."""

from __future__ import annotations

import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine import loader
from salesplay.engine.run.evaluate import RunResult, evaluate
from salesplay.engine.run.family import Playbook, RuleFamily
from salesplay.engine.store import db
from salesplay.engine.store.importer import import_rows
from salesplay.engine.store.records import KINDS
from salesplay.rules import FAMILIES

PG_URL = os.environ.get("SALESPLAY_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pg_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    try:
        engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(sa.text("select 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any failure to connect means: skip
        return f"PostgreSQL at {PG_URL} is not reachable: {str(exc).splitlines()[0]}"


_PG_REASON = pg_available()


@pytest.fixture(autouse=True)
def _no_terminal_width(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables are cut to COLUMNS when it is set, and pytest-xdist's workers inherit one (80):
    a test that means a terminal width says so (COLUMNS in the runner's env)."""
    monkeypatch.delenv("COLUMNS", raising=False)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new database made the way salesplay makes every one (db.connect: the migrations up to
    head, the calendar filled), once per test process. Making one takes about 0.2 s, copying it
    a few milliseconds, and the suite uses hundreds."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    db.connect(f"sqlite:///{path}").dispose()
    return path


def new_sqlite(template: Path, path: Path) -> Engine:
    """A fresh SQLite database at path: a copy of the template (SQLite's backup API), opened."""
    with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(path)) as copy:
        source.backup(copy)
    return db.connect(f"sqlite:///{path}")


@pytest.fixture
def sqlite_engine(tmp_path: Path, sqlite_template: Path) -> Engine:
    return new_sqlite(sqlite_template, tmp_path / "test.db")


@pytest.fixture
def pg_engine() -> Iterator[Engine]:
    if _PG_REASON:
        pytest.skip(_PG_REASON)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    # The schema rides in the URL, so a subprocess given the URL lands in it too.
    engine = db.connect(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    """Each test using this runs on SQLite and on PostgreSQL: the parity suite."""
    if request.param == "sqlite":
        return new_sqlite(request.getfixturevalue("sqlite_template"), tmp_path / "test.db")
    return request.getfixturevalue("pg_engine")


def load(engine: Engine, kind: str, rows: list[dict[str, Any]], full: bool = False) -> None:
    """Import rows (values as they would appear in a CSV) through the real importer."""
    header = list(dict.fromkeys(k for row in rows for k in row))
    for column in KINDS[kind].columns:
        if column.header and column.name not in header:
            header.append(column.name)
    numbered = (
        (i + 2, {k: ("" if v is None else v) for k, v in row.items()}) for i, row in enumerate(rows)
    )
    with engine.begin() as conn:
        import_rows(
            conn, KINDS[kind], header, numbered, f"{kind}.csv", full, ZoneInfo("Asia/Shanghai")
        )


def load_playbook(ref: str | None = None, families: list[RuleFamily] | None = None) -> Playbook:
    """A playbook loaded as the CLI loads it: with every rule family (or the ones given)."""
    return loader.load(ref, FAMILIES if families is None else families)


def run(engine: Engine, as_of: str | date, book: Playbook | None = None) -> RunResult:
    day = date.fromisoformat(as_of) if isinstance(as_of, str) else as_of
    return evaluate(engine, book or load_playbook("default"), day)


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]


@pytest.fixture
def org(engine: Engine) -> Engine:
    """A small organisation: 上海 under 华东 (head M1); reps R1 (manager M1), R2 (no manager)."""
    load(
        engine,
        "org_units",
        [
            {"id": "HQ", "name": "总部", "parent_id": "", "kind": "company", "manager_id": "M0"},
            {
                "id": "EC",
                "name": "华东大区",
                "parent_id": "HQ",
                "kind": "region",
                "manager_id": "M1",
            },
            {"id": "SH", "name": "上海", "parent_id": "EC", "kind": "city", "manager_id": ""},
        ],
    )
    load(
        engine,
        "reps",
        [
            {
                "id": "M0",
                "name": "总经理",
                "org_unit_id": "HQ",
                "manager_id": "",
                "hired_on": "2015-01-01",
                "exam_score": "95",
                "active": "true",
            },
            {
                "id": "M1",
                "name": "华东经理",
                "org_unit_id": "EC",
                "manager_id": "M0",
                "hired_on": "2018-01-01",
                "exam_score": "90",
                "active": "true",
            },
            {
                "id": "R1",
                "name": "张伟",
                "org_unit_id": "SH",
                "manager_id": "M1",
                "hired_on": "2022-03-01",
                "exam_score": "85",
                "active": "true",
            },
            {
                "id": "R2",
                "name": "李娜",
                "org_unit_id": "SH",
                "manager_id": "",
                "hired_on": "2023-03-01",
                "exam_score": "82",
                "active": "true",
            },
        ],
    )
    return engine
