"""Rule families: one module per playbook section, all behind the small interface in base.py.

Adding a family is one module here, one line in FAMILIES, and one test file in tests/rules/.
"""

from __future__ import annotations

from salesplay.engine.run.family import RuleFamily
from salesplay.rules.escalation import Escalation
from salesplay.rules.follow_up import FollowUp
from salesplay.rules.goals.family import Goals
from salesplay.rules.grading import Grading
from salesplay.rules.incentives.family import Incentives
from salesplay.rules.pool import Pool
from salesplay.rules.scorecards.family import Scorecards
from salesplay.rules.warnings import Warnings

# Evaluation order: later families may read what earlier ones wrote (follow-up reads grades and
# the owners the pool leaves; escalation reads every task the others raised).
FAMILIES: list[RuleFamily] = [
    Grading(),
    Pool(),
    FollowUp(),
    Goals(),
    Scorecards(),
    Warnings(),
    Escalation(),
    Incentives(),
]

__all__ = ["FAMILIES", "RuleFamily"]
