"""PostgreSQL: the scale path. Advisory locks, SKIP LOCKED claims, COPY, planner statistics."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Connection
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

EVALUATION_LOCK = 0x5A1E591A7  # the advisory lock every salesplay evaluation takes


class PostgreSQL(Dialect):
    name = "postgresql"
    grouped_facts = True
    run_lease = timedelta(seconds=60)
    heartbeat = True
    bulk_csv = "stage"
    false_sql = "false"

    def lock_evaluation(self, conn: Connection, shared: bool) -> None:
        func = sa.func.pg_advisory_xact_lock_shared if shared else sa.func.pg_advisory_xact_lock
        conn.execute(sa.select(func(EVALUATION_LOCK)))
        # JIT compiles each big INSERT … SELECT for longer than it runs at these sizes.
        conn.exec_driver_sql("SET LOCAL jit = off")

    def lock(self, conn: Connection, key: str) -> None:
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(zlib.crc32(key.encode()))))

    def skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        return query.with_for_update(skip_locked=True)

    def analyze(self, conn: Connection, table: str) -> None:
        # PostgreSQL never auto-analyzes temporary tables and would plan joins on them blind.
        conn.exec_driver_sql(f"ANALYZE {table}")

    def bulk_insert(
        self, conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def insert(self, table: sa.Table) -> Any:
        return postgresql.insert(table)

    def secondary_indexes(self, conn: Connection, table: str) -> list[tuple[str, str]]:
        found = conn.exec_driver_sql(
            "SELECT CAST(x.indexrelid AS regclass)::text, pg_get_indexdef(x.indexrelid) "
            "FROM pg_index x WHERE x.indrelid = CAST(%(t)s AS regclass) "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            {"t": table},
        ).all()
        return [(name, ddl) for name, ddl in found]


@compiles(json_object, "postgresql")
def _json_object(element: Any, compiler: Any, **kw: Any) -> str:
    return f"json_build_object({compiler.process(element.clauses, **kw)})"


@compiles(floor_int, "postgresql")
def _floor(element: Any, compiler: Any, **kw: Any) -> str:
    return f"CAST(floor({compiler.process(element.clauses, **kw)}) AS BIGINT)"


@compiles(text_to_number, "postgresql")
def _text_to_number(element: Any, compiler: Any, **kw: Any) -> str:
    x = compiler.process(element.clauses, **kw)
    return (
        f"(CASE WHEN trim({x}) ~ '^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)$' "
        f"THEN CAST(trim({x}) AS DOUBLE PRECISION) END)"
    )


@compiles(add_days, "postgresql")
def _add_days(element: Any, compiler: Any, **kw: Any) -> str:
    day, count = list(element.clauses)
    return f"CAST(({compiler.process(day, **kw)}) + ({compiler.process(count, **kw)}) AS DATE)"


@compiles(days_between, "postgresql")
def _days_between(element: Any, compiler: Any, **kw: Any) -> str:
    later, earlier = list(element.clauses)
    return (
        f"(CAST({compiler.process(later, **kw)} AS DATE) - "
        f"CAST({compiler.process(earlier, **kw)} AS DATE))"
    )


@compiles(date_text, "postgresql")
def _date_text(element: Any, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM-DD')"
