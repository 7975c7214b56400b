"""Incentives: tiered commission, bonuses and instant recognition as statement lines
(payouts.py: the arithmetic, closings and adjustments; tables.py: where the lines are kept),
printed by `salesplay payouts` (statements.py). The family itself is in family.py."""

from __future__ import annotations

from salesplay.rules.incentives.family import Incentives

__all__ = ["Incentives"]
