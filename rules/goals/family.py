"""Goals: how targets are paced, lit and forecast. The section emits nothing itself — rules
`for: targets` in `warnings:` read its light and forecast, and `salesplay goals` prints it — but
it owns the checks and the explanation of every goal of a rep or org unit.

    goals:
      pace: working days
      holidays: CN
      lights: {green: 80%, red: 60%}
      forecast: {pipeline: [sales], stages: {方案报价: 50%, 合同谈判: 80%}}
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import SQLModel

from salesplay.engine.errors import ExpressionError, UnknownName, Unusable
from salesplay.engine.lang import periods
from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Playbook,
    Report,
    SubjectFacts,
)
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import compile_expression
from salesplay.engine.sql.templates import format_value
from salesplay.rules.goals import facts, report


class Goals:
    section = "goals"
    schema: ClassVar[dict[str, Any]] = facts.SCHEMA
    settings_only = True  # read by other rules; a scheduled job never needs to name it
    tables: ClassVar[tuple[type[SQLModel], ...]] = ()
    subjects: ClassVar[Mapping[str, SubjectFacts]] = {"target": facts.TargetFacts()}
    commands: ClassVar[tuple[Command, ...]] = (report.COMMAND,)

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        return (report.REPORT,) if playbook.section(self.section) else ()

    def rule_names(self, playbook: Playbook) -> list[str]:
        return []

    def check(self, playbook: Playbook) -> None:
        facts.check(playbook)
        # A formula over target-period metrics (collection_rate: collected / sales) can only be
        # measured for a target: compile it here, where the other families cannot.
        scope = facts.scope(playbook, None, date(2000, 1, 1))
        for name, metric in metrics.declared(playbook).items():
            if metric.formula:
                try:
                    compile_expression(name, scope)
                except (UnknownName, Unusable):
                    continue  # a customer formula: the subject scopes checked it
                except ExpressionError as exc:
                    raise playbook.expression_error((*metric.path, "formula"), exc) from None

    def run(self, ctx: EvalContext) -> None:
        """Nothing to store: lights and forecasts are computed when a rule or report asks."""

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        if subject_type not in ("rep", "org_unit"):
            return []
        table = facts.materialize(
            ctx.conn, ctx.playbook, ctx.as_of, owner=(subject_type, subject_id)
        )
        cols = facts.columns(ctx.playbook)
        query = sa.select(table).order_by(table.c.metric)
        findings = [_finding(row, cols) for row in ctx.conn.execute(query).mappings()]
        facts.drop(ctx.conn)
        return findings


def _finding(row: Any, cols: dict[str, str]) -> Finding:
    def shown(name: str) -> str:
        kind = cols[name]
        return str(format_value(row[name], kind, "%" if kind == "share" else ""))

    label = periods.label(row["period_start"], row["period_end"])
    elapsed, days = int(row["elapsed_days"] or 0), int(row["period_days"] or 0)
    run_rate = (row["forecast"] or 0) - (row["pipeline"] or 0)
    if row["cumulative"]:
        basis = (
            f"run rate {format_value(run_rate, 'amount')} = actual {shown('actual')} "
            f"× {days} / {elapsed} days elapsed"
            if elapsed
            else "run rate 0 (the period has not started)"
        )
    else:
        basis = f"a level, not a sum: forecast = current value {shown('actual')}"
    summary = (
        f"{row['metric']} {label}: {shown('actual')} of {shown('target')} "
        f"({shown('completion')}), expected by now {shown('expected_by_now')}, "
        f"pace {shown('pace')} → {row['light'] or 'not started'}; forecast {shown('forecast')}"
    )
    values = {
        "target": shown("target"),
        "actual": shown("actual"),
        "completion": shown("completion"),
        "expected_by_now": shown("expected_by_now"),
        "pace": shown("pace"),
        "light": row["light"] or "—",
        "elapsed_days": f"{elapsed} of {days}",
        "forecast": f"{shown('forecast')} = {basis} + weighted open deals "
        f"{format_value(row['pipeline'] or 0, 'amount')}",
    }
    return Finding(f"goals.{row['metric']}", row["light"] not in (None, "green"), summary, values)
