"""Where a contender's time goes, statement by statement:

    python -m bench.statements engine URL AS_OF [--top 12] [--workaround int_div]
                                                [--explain]

runs the contender once on the database at URL (use a fresh copy: it writes) with a timer
around every statement the driver executes, and prints the slowest ones with their share of the
run; --explain also prints SQLite's EXPLAIN QUERY PLAN / PostgreSQL's EXPLAIN of each (taken
on the same connection before the statement runs).
"""

from __future__ import annotations

import argparse
import re
import time
from datetime import date
from typing import Any

import sqlalchemy as sa

from bench.contenders import NAMES, run
from bench.engine_patches import WORKAROUNDS
from salesplay.engine.store import db


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.statements")
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("url")
    parser.add_argument("as_of", type=date.fromisoformat)
    parser.add_argument("--top", type=int, default=12)
    parser.add_argument("--workaround", action="append", default=[])
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args(argv)
    for name in args.workaround:
        WORKAROUNDS[name]()
    engine = db.connect(args.url, create=False)
    timings: list[tuple[float, str, str]] = []
    plans: dict[int, str] = {}

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _before(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        if args.explain and not executemany and _explainable(statement):
            plans[len(timings)] = _plan(cursor, statement, parameters, conn.dialect.name)
        conn.info["bench_started"] = time.perf_counter()

    @sa.event.listens_for(engine, "after_cursor_execute")
    def _after(
        conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool
    ) -> None:
        elapsed = time.perf_counter() - conn.info.pop("bench_started")
        timings.append((elapsed, statement, "executemany" if executemany else ""))

    started = time.perf_counter()
    run(args.name, engine, args.as_of)
    total = time.perf_counter() - started
    in_sql = sum(t for t, _, _ in timings)
    print(
        f"{args.name}: {total:.3f}s in all, {in_sql:.3f}s in {len(timings)} statements, "
        f"{total - in_sql:.3f}s outside them"
    )
    ranked = sorted(range(len(timings)), key=lambda i: -timings[i][0])[: args.top]
    for i in ranked:
        elapsed, statement, how = timings[i]
        text = re.sub(r"\s+", " ", statement).strip()
        print(
            f"\n#{i} {elapsed:.3f}s ({100 * elapsed / total:.0f}%) {how} "
            f"[{len(statement):,} chars] {text[:300]}{' …' if len(text) > 300 else ''}"
        )
        if i in plans:
            print("  plan:\n    " + plans[i].replace("\n", "\n    "))
    return 0


def _explainable(statement: str) -> bool:
    head = statement.lstrip().split(None, 1)[0].upper()
    return head in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH")


def _plan(cursor: Any, statement: str, parameters: Any, dialect: str) -> str:
    try:
        if dialect == "sqlite":
            cursor.execute("EXPLAIN QUERY PLAN " + statement, parameters)
            return "\n".join(f"{row[1]}:{row[3]}" for row in cursor.fetchall())
        cursor.execute("EXPLAIN " + statement, parameters)
        return "\n".join(row[0] for row in cursor.fetchall())
    except Exception as exc:  # a plan is a diagnostic: never fail the run for it
        return f"(no plan: {str(exc).splitlines()[0]})"


if __name__ == "__main__":
    raise SystemExit(main())
