"""Crash points, for tests only: `SALESPLAY_CRASH_AT=point[:n]` kills this process with SIGKILL
the n-th time (default 1) it reaches the named point, so that a test can check what a restart
makes of what a `kill -9` at that exact place leaves behind.

The variable is read once, when this module is first imported; unset, `crash_point` is one
comparison with None. It lives in the store layer, the lowest every caller can import (the
importer is in it; run, schedule and delivery are above it).
"""

from __future__ import annotations

import os
import signal
import sys

POINTS = {
    "claimed": "a scheduled slot is claimed (its runs row committed), before evaluating it",
    "evaluating": "an evaluation has run a rule family, before the next one (n counts families)",
    "inserted": "an evaluation's tasks, alerts and outbox rows are inserted, before the commit",
    "committed": "an evaluation has committed, before its deliveries are sent",
    "answered": "a channel accepted a message, before its deliveries are marked sent",
    "backoff": "a send failed, before its retry time is recorded",
    "importing": "an import's rows are staged and checked, before they are written and committed "
    "(not reached by the bulk CSV path into an empty table, which inserts without staging)",
}


def parse(value: str) -> tuple[str, int] | None:
    """`"answered:2"` → `("answered", 2)`; empty → None; an unknown point is an error, so that
    a misspelt test cannot pass by never crashing."""
    if not value.strip():
        return None
    name, _, count = value.strip().partition(":")
    if name not in POINTS:
        raise ValueError(
            f"SALESPLAY_CRASH_AT: unknown crash point {name!r}; one of {', '.join(POINTS)}"
        )
    if count and (not count.isdigit() or int(count) < 1):
        raise ValueError(
            f"SALESPLAY_CRASH_AT: {value!r}: the count after ':' is a whole number ≥ 1"
        )
    return name, int(count or 1)


_target = parse(os.environ.get("SALESPLAY_CRASH_AT", ""))
_reached = 0


def crash_point(name: str) -> None:
    """Kill this process here with SIGKILL when SALESPLAY_CRASH_AT names this point and it is
    reached for the n-th time; otherwise do nothing."""
    global _reached
    if _target is None or _target[0] != name:
        return
    _reached += 1
    if _reached < _target[1]:
        return
    sys.stderr.write(f"salesplay: SALESPLAY_CRASH_AT={name}:{_reached}: killing myself\n")
    sys.stderr.flush()
    os.kill(os.getpid(), getattr(signal, "SIGKILL", signal.SIGTERM))


def arm(value: str) -> None:
    """As if SALESPLAY_CRASH_AT had been `value` at start: for a test's forked child, which
    inherits the module already imported. An empty value disarms."""
    global _target, _reached
    _target, _reached = parse(value), 0
