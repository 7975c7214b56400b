"""The Scale benchmark: the engine vs a hand-written SQL floor vs zen-engine per record.

    python bench/run.py --sizes S,M --db sqlite
    python bench/run.py --sizes S,M --db postgresql --repeat 3

For each size and database the demo data is built once (deterministic: seed, as-of date; cached
in bench/data/ for SQLite, in a schema bench_<size>_<hash> for PostgreSQL, both keyed by a hash
of the engine's demo/model code), then every run of every contender gets an identical fresh copy
(SQLite: a copy of the file; PostgreSQL: the output tables truncated) and runs in a fresh
subprocess, so that its peak RSS is its own. Each contender evaluates the as-of date twice on its
copy (the second run emits nothing new). Before any time is printed, the first round's outputs of
all contenders are compared row for row (bench/equality.py); a difference stops the run with the
first differing rows. The Markdown table goes to stdout and to bench/out/.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import sqlalchemy as sa  # noqa: E402

from bench import equality  # noqa: E402
from bench.contenders import NAMES  # noqa: E402

DATA = ROOT / "bench" / "data"
OUT = ROOT / "bench" / "out"
SIZES = {"S": 10_000, "M": 100_000, "L": 1_000_000}
AS_OF = date(2024, 5, 20)
SEED = 7
PG_URL = os.environ.get("SALESPLAY_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# The code that decides what the demo data and its tables look like: a change rebuilds the data.
DATA_CODE = [
    "engine/demo.py",
    "engine/store/models.py",
    "engine/store/db.py",
    *sorted(
        str(p.relative_to(ROOT)) for p in (ROOT / "engine/store/migrations/versions").glob("v*.py")
    ),
]


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def size_of(label: str) -> tuple[str, int]:
    label = label.strip().upper()
    if label in SIZES:
        return label, SIZES[label]
    return label, int(label.replace("_", "").replace("K", "000"))


def data_hash(customers: int, seed: int, as_of: date) -> str:
    digest = hashlib.sha1(f"{customers}/{seed}/{as_of}".encode())
    for path in DATA_CODE:
        digest.update((ROOT / path).read_bytes())
    return digest.hexdigest()[:10]


# ---- databases: build once, then a fresh copy per run -------------------------------------


class Database:
    name: str

    def prepare(self) -> dict[str, int]:
        """Build the data if not cached; return its row counts."""
        raise NotImplementedError

    def fresh(self, contender: str) -> str:
        """A URL of an untouched copy of the data for this contender's runs."""
        raise NotImplementedError

    def engine(self, url: str) -> sa.Engine:
        from salesplay.engine.store import db

        return db.connect(url, create=False)

    def drop_copy(self, url: str) -> None:
        pass


def _build(url: str, customers: int, seed: int, as_of: date) -> dict[str, int]:
    from salesplay.engine import demo
    from salesplay.engine.store import db

    started = time.perf_counter()
    engine = db.connect(url)
    counts = demo.build(engine, as_of, demo.DemoSize(customers=customers), seed=seed)
    engine.dispose()
    log(
        f"  built {customers} customers in {time.perf_counter() - started:.1f}s: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
    )
    return counts


class SQLite(Database):
    name = "sqlite"

    def __init__(self, label: str, customers: int, seed: int, as_of: date) -> None:
        self.customers, self.seed, self.as_of = customers, seed, as_of
        key = data_hash(customers, seed, as_of)
        self.base = DATA / f"{label.lower()}-{customers}-seed{seed}-{as_of}-{key}.db"

    def prepare(self) -> dict[str, int]:
        DATA.mkdir(parents=True, exist_ok=True)
        counts_file = self.base.with_suffix(".json")
        if self.base.exists() and counts_file.exists():
            return dict(json.loads(counts_file.read_text()))
        stem = self.base.name.rsplit("-", 1)[0]
        for stale in DATA.glob(f"{stem}-*"):  # a build from older demo code
            stale.unlink()
        log(f"building {self.base.name} …")
        tmp = self.base.with_suffix(".building")
        for path in DATA.glob(tmp.name + "*"):
            path.unlink()
        counts = _build(f"sqlite:///{tmp}", self.customers, self.seed, self.as_of)
        import sqlite3

        # Fold the WAL into the file, so that the file alone is the database; it stays in WAL
        # mode (a setting of the file), as a user's database would be.
        with sqlite3.connect(tmp) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for leftover in DATA.glob(tmp.name + "-*"):
            leftover.unlink()
        tmp.rename(self.base)
        counts_file.write_text(json.dumps(counts))
        return counts

    def fresh(self, contender: str) -> str:
        copy = DATA / f"run-{contender}.db"
        for path in DATA.glob(copy.name + "*"):
            path.unlink()
        shutil.copyfile(self.base, copy)
        return f"sqlite:///{copy}"

    def drop_copy(self, url: str) -> None:
        path = Path(url.removeprefix("sqlite:///"))
        for leftover in path.parent.glob(path.name + "*"):
            leftover.unlink()


class PostgreSQL(Database):
    name = "postgresql"

    def __init__(self, label: str, customers: int, seed: int, as_of: date) -> None:
        self.customers, self.seed, self.as_of = customers, seed, as_of
        self.prefix = f"bench_{label.lower()}_"
        self.schema = self.prefix + data_hash(customers, seed, as_of)
        self.url = f"{PG_URL}?options=-csearch_path%3D{self.schema}"
        self.admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")

    def prepare(self) -> dict[str, int]:
        with self.admin.connect() as conn:
            built = conn.execute(
                sa.text(
                    "SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                    "AND table_name = 'bench_built'"
                ),
                {"s": self.schema},
            ).first()
            if built:
                counts = conn.execute(sa.text(f"SELECT counts FROM {self.schema}.bench_built"))
                return dict(json.loads(counts.scalar_one()))
            stale = (
                conn.execute(
                    sa.text(
                        "SELECT schema_name FROM information_schema.schemata "
                        "WHERE schema_name LIKE :p"
                    ),
                    {"p": self.prefix.replace("_", r"\_") + "%"},
                )
                .scalars()
                .all()
            )
            for schema in stale:  # an older build of this size, or an interrupted one
                conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
            conn.execute(sa.text(f"CREATE SCHEMA {self.schema}"))
        log(f"building schema {self.schema} …")
        counts = _build(self.url, self.customers, self.seed, self.as_of)
        with self.admin.connect() as conn:
            conn.execute(sa.text(f"SET search_path = {self.schema}"))
            conn.execute(sa.text("VACUUM ANALYZE"))  # the same planner statistics for everyone
            conn.execute(sa.text("CREATE TABLE bench_built (counts text)"))
            conn.execute(sa.text("INSERT INTO bench_built VALUES (:c)"), {"c": json.dumps(counts)})
        return counts

    def fresh(self, contender: str) -> str:
        engine = self.engine(self.url)
        equality.truncate_outputs(engine)
        engine.dispose()
        return self.url


# ---- running -----------------------------------------------------------------------------


LOADS: list[float] = []  # the 1-minute load average as each run started: other work skews times


@dataclass
class Sample:
    seconds: float
    maxrss_kb: int
    process_seconds: float


@dataclass
class Result:
    size: str
    customers: int
    db: str
    contender: str
    first: list[Sample] = field(default_factory=list)
    second: list[Sample] = field(default_factory=list)
    workarounds: set[str] = field(default_factory=set)


def run_once(
    contender: str, url: str, as_of: date, workarounds: list[str], profile: Path | None = None
) -> tuple[Sample, list[str]]:
    cmd = [sys.executable, "-m", "bench.contenders", contender, url, as_of.isoformat()]
    for w in workarounds:
        cmd += ["--workaround", w]
    if profile is not None:
        cmd += ["--profile", str(profile)]
    LOADS.append(os.getloadavg()[0])
    started = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{contender} failed on {url}:\n{done.stderr[-4000:]}")
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Sample(report["seconds"], report["maxrss_kb"], elapsed), report["workarounds"]


def bench_one(
    label: str, customers: int, database: Database, args: argparse.Namespace, results: list[Result]
) -> None:
    # The hand-written floor goes first in round 1: it is the reference the others must match.
    contenders = ["handwritten", *[c for c in NAMES if c in args.contenders and c != "handwritten"]]
    mine = {c: Result(label, customers, database.name, c) for c in contenders}
    reference: tuple[str, equality.Snapshot] | None = None
    expected_counts: dict[str, dict[str, int]] = {}
    for round_no in range(args.repeat):
        order = contenders[round_no % len(contenders) :] + contenders[: round_no % len(contenders)]
        for contender in order:
            if args.profile and round_no == 0:  # an extra, untimed run under the profiler
                OUT.mkdir(parents=True, exist_ok=True)
                profile = OUT / f"profile-{label}-{database.name}-{contender}.txt"
                url = database.fresh(contender)
                run_once(contender, url, args.as_of, args.workaround, profile)
                database.drop_copy(url)
                log(f"  {label} {database.name}: {contender} profiled in {profile}")
            url = database.fresh(contender)
            log(f"  {label} {database.name} round {round_no + 1}/{args.repeat}: {contender}")
            first, applied = run_once(contender, url, args.as_of, args.workaround)
            engine = database.engine(url)
            after_first = equality.snapshot(engine) if round_no == 0 else None
            first_counts = _counts(engine)
            second, _ = run_once(contender, url, args.as_of, args.workaround)
            second_counts = _counts(engine)
            engine.dispose()
            if second_counts != first_counts:
                raise equality.Mismatch(
                    f"{contender}: the second evaluation of {args.as_of} "
                    f"changed the outputs: {first_counts} -> {second_counts}"
                )
            if after_first is not None:
                if reference is None:
                    reference = (contender, after_first)
                    verdict = "reference"
                else:
                    equality.check(reference[0], reference[1], contender, after_first)
                    verdict = f"identical to {reference[0]}"
                expected_counts[contender] = first_counts
                log(
                    f"    {contender}: {verdict}: "
                    + ", ".join(f"{k} {v}" for k, v in equality.counts(after_first).items())
                )
            elif first_counts != expected_counts[contender]:
                raise equality.Mismatch(
                    f"{contender}: round {round_no + 1} wrote {first_counts},"
                    f" round 1 wrote {expected_counts[contender]}"
                )
            database.drop_copy(url)
            mine[contender].first.append(first)
            mine[contender].second.append(second)
            mine[contender].workarounds.update(applied)
    results.extend(mine.values())


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("grades", "grade_changes", "tasks", "alerts")
        }


# ---- the report --------------------------------------------------------------------------


def _median(samples: list[Sample], attr: str) -> float:
    return statistics.median(getattr(s, attr) for s in samples)


def table(results: list[Result]) -> str:
    lines = [
        "| size | customers | database | contender | 1st run s | customers/s | peak RSS MB "
        "| × hand-written | 2nd run s | 2nd / 1st |",
        "|---|--:|---|---|--:|--:|--:|--:|--:|--:|",
    ]
    floors = {
        (r.size, r.db): _median(r.first, "seconds") for r in results if r.contender == "handwritten"
    }
    for r in results:
        first = _median(r.first, "seconds")
        second = _median(r.second, "seconds")
        rss = max(s.maxrss_kb for s in r.first + r.second) / 1024
        floor = floors.get((r.size, r.db))
        ratio = f"{first / floor:.2f}" if floor else "—"
        name = r.contender + (" †" if r.workarounds else "")
        lines.append(
            f"| {r.size} | {r.customers:,} | {r.db} | {name} | {first:.2f} | "
            f"{r.customers / first:,.0f} | {rss:.0f} | {ratio} | {second:.2f} | "
            f"{second / first:.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="S", help="S=10k, M=100k, L=1M customers, or a number")
    parser.add_argument("--db", default="sqlite", help="sqlite, postgresql or both (comma list)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per contender (median)")
    parser.add_argument("--as-of", type=date.fromisoformat, default=AS_OF)
    parser.add_argument("--seed", type=int, default=SEED)
    parser.add_argument("--contenders", default=",".join(NAMES))
    parser.add_argument(
        "--workaround",
        action="append",
        default=[],
        choices=["int_div"],
        help="patch a known engine bug in the engine's process (see "
        "bench/engine_patches.py); marked † in the table",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile each contender once (pyinstrument, an extra untimed run), in bench/out/",
    )
    args = parser.parse_args(argv)
    args.contenders = [c.strip() for c in args.contenders.split(",")]
    if "handwritten" not in args.contenders:
        parser.error("the hand-written floor is the reference: keep it in --contenders")
    databases = [d.strip() for d in args.db.split(",")]

    results: list[Result] = []
    data_lines = []
    for size_label in args.sizes.split(","):
        label, customers = size_of(size_label)
        for name in databases:
            cls = {"sqlite": SQLite, "postgresql": PostgreSQL}[name]
            database = cls(label, customers, args.seed, args.as_of)
            counts = database.prepare()
            data_lines.append(
                f"{label} on {name}: " + ", ".join(f"{v:,} {k}" for k, v in counts.items() if v)
            )
            try:
                bench_one(label, customers, database, args, results)
            except equality.Mismatch as exc:
                log(
                    f"\nFAILED: {label} on {name}: the contenders disagree, no times reported.\n"
                    f"{exc}"
                )
                return 1

    # Every contender agreed (bench_one raises otherwise): now the times.
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    notes = [
        f"as of {args.as_of}, seed {args.seed}, median of {args.repeat} run(s) each; "
        f"{os.cpu_count()} CPUs; times exclude interpreter start-up and imports.",
        *[f"data {line}" for line in data_lines],
        "2nd run: the same as-of date evaluated again on the evaluated copy (emits nothing).",
        "peak RSS: the contender's own process (PostgreSQL's server memory is not counted).",
        f"1-minute load average as runs started: {min(LOADS):.2f}–{max(LOADS):.2f} "
        "(above ~0.5, other work on the machine skews the times).",
    ]
    if any(r.workarounds for r in results):
        notes.append(
            "† with bench/engine_patches.py workaround(s): "
            + ", ".join(sorted(set().union(*(r.workarounds for r in results))))
        )
    report = table(results) + "\n\n" + "\n".join(f"- {n}" for n in notes) + "\n"
    print(report)
    OUT.mkdir(parents=True, exist_ok=True)
    name = f"bench-{args.db.replace(',', '+')}-{args.sizes.replace(',', '')}-{stamp}"
    (OUT / f"{name}.md").write_text(report, encoding="utf-8")
    (OUT / f"{name}.json").write_text(
        json.dumps(
            [
                {
                    "size": r.size,
                    "customers": r.customers,
                    "db": r.db,
                    "contender": r.contender,
                    "first": [vars(s) for s in r.first],
                    "second": [vars(s) for s in r.second],
                    "workarounds": sorted(r.workarounds),
                }
                for r in results
            ],
            indent=1,
        ),
        encoding="utf-8",
    )
    log(f"written to {OUT / name}.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
