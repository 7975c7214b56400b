"""Running bench/handwritten_<dialect>.sql: the hand-written floor the engine is measured against.

The script is plain SQL with `:name` parameters; the window dates are computed here, in Python,
the way the engine computes them (engine.dates.shift: 6 months before 2024-08-31 is 2024-02-29).
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from salesplay.engine.lang import dates

HERE = Path(__file__).resolve().parent
SECTIONS = ("grading", "follow_up", "goal_lag")
_PARAM = re.compile(r"(?<![:\w]):([a-z_]+)")


def params(as_of: date, dialect: str) -> dict[str, Any]:
    values = {
        "as_of": as_of,
        "revenue_from": dates.shift(as_of, -6, "months"),
        "overdue_before": as_of - timedelta(days=3),
    }
    if dialect == "sqlite":  # dates are ISO text there
        return {k: v.isoformat() for k, v in values.items()}
    return values


@cache
def statements(dialect: str) -> dict[str, list[str]]:
    """The script's statements per section, in the driver's parameter style."""
    text = (HERE / f"handwritten_{dialect}.sql").read_text(encoding="utf-8")
    sections: dict[str, list[str]] = {}
    current = "preamble"
    buffer: list[str] = []

    def flush() -> None:
        sql = "\n".join(buffer).strip()
        if sql:
            if dialect == "postgresql":  # psycopg: %(name)s, and a literal % doubled
                sql = _PARAM.sub(r"%(\1)s", sql.replace("%", "%%"))
            sections.setdefault(current, []).append(sql)
        buffer.clear()

    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("-- @section "):
            flush()
            current = stripped.removeprefix("-- @section ").strip()
            continue
        if stripped.startswith("--") or not stripped:
            continue
        buffer.append(line)
        if stripped.endswith(";"):
            buffer[-1] = buffer[-1].rstrip().removesuffix(";")
            flush()
    flush()
    return sections


def run_sections(conn: Connection, as_of: date, sections: tuple[str, ...] = SECTIONS) -> None:
    """Run the named sections of the script inside the caller's transaction."""
    dialect = conn.dialect.name
    bound = params(as_of, dialect)
    script = statements(dialect)
    if dialect == "sqlite":  # a pooled connection may still hold last run's temp tables
        for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_temp_master WHERE type = 'table' AND name LIKE 'hw\\_%' "
            "ESCAPE '\\'"
        ).all():
            conn.exec_driver_sql(f"DROP TABLE temp.{name}")
    for section in sections:
        for sql in script[section]:
            conn.exec_driver_sql(sql, bound)
    if dialect == "sqlite":
        for (name,) in conn.exec_driver_sql(
            "SELECT name FROM sqlite_temp_master WHERE type = 'table' AND name LIKE 'hw\\_%' "
            "ESCAPE '\\'"
        ).all():
            conn.exec_driver_sql(f"DROP TABLE temp.{name}")


def run(engine: Engine, as_of: date) -> None:
    """The whole script as one transaction, like one engine evaluation."""
    with engine.begin() as conn:
        run_sections(conn, as_of)
