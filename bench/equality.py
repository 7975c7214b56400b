"""Do two evaluations agree? Grades, tasks and alerts compared as sorted multisets of rows.

Used by bench/run.py before it prints any time, and by tests/bench/test_equality.py.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

QUERIES = {
    "grades": "SELECT customer_id, grade FROM grades",
    "tasks": "SELECT rule, subject_type, subject_id, episode, seq, assignee_id, due, title, status "
    "FROM tasks",
    "alerts": "SELECT rule, subject_type, subject_id, episode, seq, recipient_id, level, message, "
    "raised_on, status FROM alerts",
}
Snapshot = dict[str, list[tuple[Any, ...]]]


def _norm(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    return value


def snapshot(engine: Engine) -> Snapshot:
    """Every compared row of the output tables, normalised (dates as ISO text) and sorted."""
    out: Snapshot = {}
    with engine.connect() as conn:
        for name, sql in QUERIES.items():
            rows = conn.exec_driver_sql(sql).all()
            out[name] = sorted(
                (tuple(_norm(v) for v in row) for row in rows),
                key=lambda r: tuple("" if v is None else str(v) for v in r),
            )
    return out


def counts(snap: Snapshot) -> dict[str, int]:
    return {name: len(rows) for name, rows in snap.items()}


class Mismatch(AssertionError):
    """Two contenders disagree; the message shows the first differing rows."""


def differences(expected: Snapshot, actual: Snapshot, limit: int = 5) -> list[str]:
    """Human-readable first differences, table by table (empty when they agree)."""
    lines: list[str] = []
    for name in QUERIES:
        want, got = Counter(expected.get(name, [])), Counter(actual.get(name, []))
        if want == got:
            continue
        missing = sorted((want - got).elements(), key=str)
        extra = sorted((got - want).elements(), key=str)
        lines.append(
            f"{name}: {sum(want.values())} expected rows, {sum(got.values())} found; "
            f"{len(missing)} missing, {len(extra)} unexpected"
        )
        lines += [f"  - missing    {row}" for row in missing[:limit]]
        lines += [f"  + unexpected {row}" for row in extra[:limit]]
    return lines


def check(reference: str, expected: Snapshot, contender: str, actual: Snapshot) -> None:
    """Raise Mismatch naming both contenders and the first differing rows."""
    lines = differences(expected, actual)
    if lines:
        raise Mismatch(f"{contender} disagrees with {reference}:\n" + "\n".join(lines))


def total(snap: Snapshot) -> int:
    return sum(len(rows) for rows in snap.values())


def truncate_outputs(engine: Engine) -> None:
    """Empty what an evaluation writes (PostgreSQL: the same data serves every contender)."""
    with engine.begin() as conn:
        have = set(sa.inspect(conn).get_table_names())
        tables = [
            t
            for t in (
                "grades",
                "grade_changes",
                "episodes",
                "tasks",
                "alerts",
                "runs",
                "eval_partitions",
            )
            if t in have
        ]
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY")
        else:
            for table in tables:
                conn.exec_driver_sql(f"DELETE FROM {table}")
