"""Rule families: one module per playbook section, all behind the small interface in base.py.

Adding a family is one module here, one line in FAMILIES, and one test file in tests/rules/.
"""

from __future__ import annotations

from .base import RuleFamily
from .escalation import Escalation
from .follow_up import FollowUp
from .goals import Goals
from .grading import Grading
from .incentives import Incentives
from .pool import Pool
from .scorecards import Scorecards
from .warnings import Warnings

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
