"""What every database adapter answers, and the SQL functions each spells its own way.

The rest of the code asks the adapter (`of(conn).lock(...)`, `.skip_locked(query)`,
`.bulk_insert(...)`) or uses these functions in expressions; it never branches on the
database's name. sqlite.py and postgresql.py give the answers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import FunctionElement


class Dialect:
    """One database's answers. Subclasses override what differs."""

    name = ""
    # Build a metric for every subject with one GROUP BY per record table and join the result
    # (PostgreSQL's hash aggregate wins on a whole run), rather than a correlated lookup per
    # subject (SQLite wins: it reads only the subject's index range).
    grouped_facts = False
    # How long a scheduled run's claim holds without a heartbeat, and whether a heartbeat can
    # renew it while the run's own transaction writes (not on SQLite: one writer at a time).
    run_lease = timedelta(hours=1)
    heartbeat = False
    # The bulk CSV path's strategy (store/fastload.py): convert each cell inside the INSERT
    # with a Python function for the odd ones ("insert"), or COPY the text to a staging table
    # and convert it there ("stage").
    bulk_csv = "insert"
    false_sql = "0"  # false, as a literal in hand-written SQL

    def setup(self, engine: Engine) -> None:
        """Tune each new connection of the engine."""

    def lock_evaluation(self, conn: Connection, shared: bool) -> None:
        """Make evaluations take turns (shared: the partitions of one run may overlap)."""

    def lock(self, conn: Connection, key: str) -> None:
        """Hold a lock named key until the transaction ends (one claimer per channel)."""

    def skip_locked(self, query: sa.Select[Any]) -> sa.Select[Any]:
        """The query, claiming the rows it reads; rows another transaction claimed are
        skipped, not waited for."""
        return query

    def analyze(self, conn: Connection, table: str) -> None:
        """Gather the planner's statistics for a table just filled."""

    def bulk_insert(
        self, conn: Connection, table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]
    ) -> None:
        """Insert many rows at driver speed."""
        marks = ", ".join("?" for _ in columns)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows)
        )

    def insert(self, table: sa.Table) -> Any:
        """The dialect's INSERT, which understands ON CONFLICT."""
        raise NotImplementedError

    def greatest(self, *values: Any) -> Any:
        """The largest of several values in one row."""
        return sa.func.greatest(*values)

    def materialize_ctes(self, conn: Connection) -> bool:
        """Whether `WITH x AS MATERIALIZED (…)` is understood."""
        return True

    def secondary_indexes(self, conn: Connection, table: str) -> list[tuple[str, str]]:
        """(quoted name, CREATE statement) of each index that no constraint owns."""
        raise NotImplementedError

    def backup(self, conn: Connection, suffix: str) -> str | None:
        """Copy the database aside, as the connection sees it, before its tables change; where
        the copy is, or None where there is no file to copy (a server's database)."""
        return None


# ---- SQL functions: one class each, spelled in sqlite.py and postgresql.py -------------------


class json_object(FunctionElement[Any]):
    """A JSON object from key, value, key, value … arguments."""

    inherit_cache = True
    type = sa.JSON()


class floor_int(FunctionElement[int]):
    """The largest integer not above x, as an integer, the same on both databases."""

    inherit_cache = True
    type = sa.BigInteger()


class text_to_number(FunctionElement[float]):
    """A custom attribute's text as a number, or null when it is not one ('n/a', '1,500'):
    the same answer on both databases, where a plain CAST fails on one and guesses on the other."""

    inherit_cache = True
    type = sa.Double()


class add_days(FunctionElement[Any]):
    """date + n days. Whole days are exact and identical on both databases (unlike months,
    which go through the calendar table)."""

    inherit_cache = True
    type = sa.Date()


class days_between(FunctionElement[int]):
    """later - earlier in whole days."""

    inherit_cache = True
    type = sa.Integer()


class date_text(FunctionElement[str]):
    """A date as YYYY-MM-DD text, whatever the server's DateStyle."""

    inherit_cache = True
    type = sa.String()
