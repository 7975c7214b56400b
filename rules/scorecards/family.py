"""Scorecards: weighted KPI scores per rep and period, ranked within the team (DOMAIN.md §4).
The section stores nothing — `salesplay scorecards` and `salesplay explain … --period P` compute
the cards when asked — but it owns the checks and the explanation of a rep's or a team's card.

    scorecards:
      quarterly:
        period: quarter
        versions:
          - from: 2024-01-01
            kpis:
              - {metric: sales, weight: 50%, cap: 120%}
              - {metric: new_customers, weight: 25%, cap: 120%}
              - {metric: collection_rate, weight: 15%, cap: 100%}
              - {metric: satisfaction, weight: 10%, cap: 100%}
"""

from __future__ import annotations

from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import SQLModel

from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Playbook,
    Report,
    SubjectFacts,
)
from salesplay.engine.store.models import OrgUnit, table_of
from salesplay.rules.scorecards import cards, report


class Scorecards:
    section = "scorecards"
    schema: ClassVar[dict[str, Any]] = cards.SCHEMA
    settings_only = True  # read when asked; a scheduled job never needs to name it
    tables: ClassVar[tuple[type[SQLModel], ...]] = ()
    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = (report.COMMAND,)

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        return (report.REPORT,) if playbook.section(self.section) else ()

    def rule_names(self, playbook: Playbook) -> list[str]:
        return []

    def check(self, playbook: Playbook) -> None:
        cards.check(playbook)

    def run(self, ctx: EvalContext) -> None:
        """Nothing to store: a scorecard is computed from the targets when someone asks."""

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        """A rep's cards of ctx.period; for an org unit, its reps' scores in rank order."""
        if ctx.period is None or subject_type not in ("rep", "org_unit"):
            return []
        if subject_type == "rep":
            found = report.cards_of(ctx.conn, ctx.playbook, ctx.as_of, ctx.period, rep=subject_id)
            names = _unit_names(ctx, {c["org_unit_id"] for c in found})
            return [
                Finding(
                    f"scorecards.{card['card']}",
                    None,
                    *report.describe(card, names.get(card["org_unit_id"])),
                )
                for card in found
            ]
        found = report.cards_of(ctx.conn, ctx.playbook, ctx.as_of, ctx.period)
        teams: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for card in found:
            if card["org_unit_id"] == subject_id:
                teams.setdefault((card["card"], card["period"]), []).append(card)
        findings = []
        for (name, label), members in teams.items():
            values = {
                f"{m['rank']}. {m['rep_name']} ({m['rep_id']})": f"{m['score']:.2f}"
                for m in members
            }
            summary = f"{name} {label}: {len(members)} reps ranked by score"
            findings.append(Finding(f"scorecards.{name}", None, summary, values))
        return findings


def _unit_names(ctx: EvalContext, ids: set[Any]) -> dict[Any, str]:
    o = table_of(OrgUnit)
    rows = ctx.conn.execute(sa.select(o.c.id, o.c.name).where(o.c.id.in_(ids)))
    return {i: f"{n} ({i})" for i, n in rows}
