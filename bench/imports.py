"""Import speed: `salesplay import` of the demo's CSV files, each timed, median of runs.

    python -m bench.imports --size M --repeat 3            # SQLite
    python -m bench.imports --size M --db postgresql

The files are `salesplay demo --customers N --csv DIR` (cached in bench/data/csv-N/); every run
imports them all in name order (references need it) into a new empty database, in a subprocess
of its own, and times each file's `import_file` call: the bulk path into empty tables, as a
first import is. `--again` also times a second import of each file into the full tables (an
upsert). Prints rows a second per file: the median of the runs and their range, by the
clock and by the CPU time of the importing process (SQLite's work included, PostgreSQL's server
not), which other processes on a loaded machine disturb far less.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# the code of this checkout, whatever is installed: so that another checkout (the commit before
# a change) can be timed with its own copy of this script
_package = types.ModuleType("salesplay")
_package.__path__ = [str(ROOT)]
sys.modules.setdefault("salesplay", _package)

from bench.run import PG_URL, SEED, log, size_of  # noqa: E402

DATA = ROOT / "bench" / "data"
KINDS = ("org_units", "reps", "customers", "orders", "deals", "activities", "surveys", "targets")


def csv_folder(customers: int) -> Path:
    """The demo's CSV files for this many customers, written once."""
    folder = DATA / f"csv-{customers}-seed{SEED}"
    if not (folder / "done").exists():
        from datetime import date

        from salesplay.engine import demo

        log(f"writing {folder} …")
        folder.mkdir(parents=True, exist_ok=True)
        demo.write_csv(folder, date(2024, 5, 20), demo.DemoSize(customers=customers), seed=SEED)
        (folder / "done").write_text("")
    return folder


def one_run(folder: Path, url: str, again: bool) -> dict[str, float]:
    """Import every file into the database at url; rows a second per file (and per re-import)."""
    from salesplay.engine.store import db
    from salesplay.engine.store.importer import import_file

    engine = db.connect(url)
    speeds: dict[str, float] = {}
    passes = ("", "again ") if again else ("",)
    for label in passes:
        for path in sorted(folder.glob("*.csv")):
            kind = path.stem.split("_", 1)[1]
            if kind not in KINDS:
                continue
            started, cpu = time.perf_counter(), time.process_time()
            result = import_file(engine, kind, path)
            seconds = time.perf_counter() - started
            cpu_seconds = time.process_time() - cpu
            if result.notes:
                log(f"  {path.name}: {'; '.join(result.notes)}")
            speeds[label + kind] = result.rows / seconds
            speeds[label + kind + " (cpu)"] = result.rows / cpu_seconds
    engine.dispose()
    return speeds


def _pg_fresh() -> str:
    import sqlalchemy as sa

    engine = sa.create_engine(PG_URL)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP SCHEMA IF EXISTS bench_imports CASCADE")
        conn.exec_driver_sql("CREATE SCHEMA bench_imports")
    engine.dispose()
    sep = "&" if "?" in PG_URL else "?"
    return f"{PG_URL}{sep}options=-csearch_path%3Dbench_imports"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", default="M", help="S=10k, M=100k, L=1M customers, or a number")
    parser.add_argument("--db", default="sqlite", choices=["sqlite", "postgresql"])
    parser.add_argument("--repeat", type=int, default=3, help="runs (median reported)")
    parser.add_argument("--again", action="store_true", help="also time a re-import (upsert)")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a run, in its own process
    args = parser.parse_args()
    label, customers = size_of(args.size)
    folder = csv_folder(customers)
    if args.one:
        print(json.dumps(one_run(folder, args.one, args.again)))
        return
    samples: dict[str, list[float]] = {}
    for n in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            url = f"sqlite:///{tmp}/bench.db" if args.db == "sqlite" else _pg_fresh()
            cmd = [sys.executable, "-m", "bench.imports", "--size", args.size, "--one", url]
            out = subprocess.run(
                [*cmd, *(["--again"] if args.again else [])],
                check=True,
                capture_output=True,
                text=True,
                cwd=ROOT,
                env={**os.environ, "PYTHONPATH": str(ROOT)},
            )
            for kind, speed in json.loads(out.stdout).items():
                samples.setdefault(kind, []).append(speed)
        log(f"run {n + 1}/{args.repeat} done")
    print(f"| file ({label}, {args.db}) | median rows/s | range |")
    print("|---|--:|---|")
    for kind, speeds in samples.items():
        low, high = min(speeds), max(speeds)
        print(f"| {kind} | {statistics.median(speeds):,.0f} | {low:,.0f}–{high:,.0f} |")


if __name__ == "__main__":
    main()
