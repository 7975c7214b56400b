"""The three contenders, callable in-process (tests) or as one timed subprocess each (run.py):

    python -m bench.contenders engine|handwritten|zen URL AS_OF [--workaround int_div]
                               [--profile FILE]

prints one JSON line: {"seconds": …, "maxrss_kb": …}. The time covers everything after the
imports: reading the playbook / SQL script / decision, connecting, evaluating, committing.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

ROOT = Path(__file__).resolve().parent.parent
PLAYBOOK = ROOT / "bench" / "playbook.yaml"
NAMES = ("engine", "handwritten", "zen")


def run_engine(engine: Engine, as_of: date) -> None:
    """`salesplay evaluate --as-of DATE --playbook bench/playbook.yaml`, through the API."""
    from salesplay.engine import loader
    from salesplay.engine.run.evaluate import evaluate
    from salesplay.rules import FAMILIES

    evaluate(engine, loader.load(str(PLAYBOOK), FAMILIES), as_of)


def run_handwritten(engine: Engine, as_of: date) -> None:
    from bench import handwritten

    handwritten.run(engine, as_of)


def run_zen(engine: Engine, as_of: date) -> None:
    from bench import zen_pipeline

    zen_pipeline.run(engine, as_of)


RUNNERS: dict[str, Callable[[Engine, date], None]] = {
    "engine": run_engine,
    "handwritten": run_handwritten,
    "zen": run_zen,
}


def run(name: str, engine: Engine, as_of: date) -> None:
    RUNNERS[name](engine, as_of)


def _preload(name: str) -> None:
    """Import what the contender needs before the clock starts (imports are not the work)."""
    import salesplay.engine.store.db

    if name == "engine":
        import salesplay.engine.loader
        import salesplay.engine.run.evaluate
        import salesplay.rules  # noqa: F401
    elif name == "handwritten":
        import bench.handwritten
    else:
        import bench.zen_pipeline  # noqa: F401


def peak_rss_kb() -> int:
    """This process's peak resident set size. /proc's VmHWM belongs to the process image since
    exec; getrusage's ru_maxrss would include the forking parent's (Linux carries it over)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # not Linux: best effort


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.contenders")
    parser.add_argument("name", choices=NAMES)
    parser.add_argument("url")
    parser.add_argument("as_of", type=date.fromisoformat)
    parser.add_argument("--workaround", action="append", default=[])
    parser.add_argument("--profile", help="write a pyinstrument text profile here")
    args = parser.parse_args(argv)

    from bench.engine_patches import WORKAROUNDS
    from salesplay.engine.store import db

    applied = [w for w in args.workaround if args.name == "engine" and WORKAROUNDS[w]()]
    _preload(args.name)
    profiler: Any = None
    if args.profile:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001)
        profiler.start()
    started = time.perf_counter()
    engine = db.connect(args.url, create=False)
    run(args.name, engine, args.as_of)
    seconds = time.perf_counter() - started
    engine.dispose()
    if profiler is not None:
        profiler.stop()
        Path(args.profile).write_text(
            profiler.output_text(unicode=True, show_all=False), encoding="utf-8"
        )
    print(json.dumps({"seconds": seconds, "maxrss_kb": peak_rss_kb(), "workarounds": applied}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
