"""Scorecards: weighted KPI scores per rep and period, ranked within the team (cards.py),
printed by `salesplay scorecards` (report.py). The family itself is in family.py."""

from __future__ import annotations

from salesplay.rules.scorecards.family import Scorecards

__all__ = ["Scorecards"]
