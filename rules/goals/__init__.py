"""Goals: targets of reps and org units rolled up the org tree, with pace, lights and
forecasts (facts.py, offered to every family as the subject `target`), and the tracking
table `salesplay goals` (report.py). The family itself is in family.py."""

from __future__ import annotations

from salesplay.rules.goals.family import Goals

__all__ = ["Goals"]
