"""Progress on long work: a live line on a terminal, nothing when piped or --quiet."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """Call it with what was just done ('grading', 'rows 200000'); it redraws one line."""

    def __init__(self, enabled: bool | None = None, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.perf_counter()
        self.steps = 0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.started

    def __call__(self, what: str) -> None:
        self.steps += 1
        if self.enabled:
            self.stream.write(f"\r\x1b[2K{self.elapsed:7.1f}s  {what}")
            self.stream.flush()

    def rows(self, count: int) -> None:
        rate = count / max(self.elapsed, 1e-9)
        self(f"{count:,} rows loaded ({rate:,.0f} rows/s)")

    def close(self) -> None:
        if self.enabled and self.steps:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
