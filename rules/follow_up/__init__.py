"""Follow-up: a task for the owner when a customer is due by its grade's cadence, an alert when
overdue (family.py), and the load that cadence puts on each rep, `salesplay load` (load.py)."""

from __future__ import annotations

from salesplay.rules.follow_up.family import FollowUp

__all__ = ["FollowUp"]
