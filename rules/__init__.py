"""Rule families: one module or package per playbook section, each implementing the protocol
in engine/run/family.py (its schema, checks, SQL, explanation, tables and commands).

Adding a family is one module here, one line in FAMILIES and one test file in tests/rules/;
the README's "Adding a rule family" walks through one. Families never import one another: what
one offers the rest (goals: the facts of every target) goes through the engine (`subjects`).
"""

from __future__ import annotations

from salesplay.engine.run.family import RuleFamily
from salesplay.rules.escalation import Escalation
from salesplay.rules.follow_up import FollowUp
from salesplay.rules.goals import Goals
from salesplay.rules.grading import Grading
from salesplay.rules.incentives import Incentives
from salesplay.rules.pool import Pool
from salesplay.rules.scorecards import Scorecards
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
