"""Benchmarks: the engine against a hand-written SQL floor and a per-record rules engine (zen).

`python bench/run.py --sizes S,M --db sqlite` (see BENCHMARKS.md).
"""
