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

from datetime import date
from typing import Any, ClassVar

import sqlalchemy as sa

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import periods
from salesplay.engine.lang.playbook import Playbook
from salesplay.engine.run.context import EvalContext
from salesplay.engine.run.explain import Finding
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Scope, Typed, compile_expression
from salesplay.engine.sql.templates import format_value
from salesplay.rules.goals import facts as goals


class Goals:
    section = "goals"
    schema: ClassVar[dict[str, Any]] = goals.SCHEMA
    settings_only = True  # read by other rules; a scheduled job never needs to name it

    def check(self, playbook: Playbook) -> None:
        goals.check(playbook)
        # A formula over target-period metrics (collection_rate: collected / sales) can only be
        # measured for a target: compile it here, where the other families cannot.
        table = goals.placeholder(playbook)
        cols = goals.columns(playbook)
        names: dict[str, Any] = {n: Typed(table.c[n], k) for n, k in cols.items()}
        scope = Scope(names, date(2000, 1, 1), "goal metrics")
        for name, metric in metrics.declared(playbook).items():
            if metric.formula:
                names[name] = _lazy(str(metric.formula), scope)
        for name, metric in metrics.declared(playbook).items():
            if metric.formula and metric.name in names:
                try:
                    compile_expression(name, scope)
                except ExpressionError as exc:
                    if "cannot be used" in exc.message or "unknown name" in exc.message:
                        continue  # a customer formula: the subject scopes checked it
                    raise playbook.expression_error((*metric.path, "formula"), exc) from None

    def run(self, ctx: EvalContext) -> None:
        """Nothing to store: lights and forecasts are computed when a rule or report asks."""

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        if subject_type not in ("rep", "org_unit"):
            return []
        table = goals.materialize(
            ctx.conn, ctx.playbook, ctx.as_of, only_owner=(subject_type, subject_id)
        )
        cols = goals.columns(ctx.playbook)
        query = sa.select(table).order_by(table.c.metric)
        findings = [_finding(row, cols) for row in ctx.conn.execute(query).mappings()]
        goals.drop(ctx.conn)
        return findings


def _lazy(formula: str, scope: Scope) -> Any:
    return lambda: compile_expression(formula, scope)


def _finding(row: Any, cols: dict[str, str]) -> Finding:
    def shown(name: str) -> str:
        kind = cols[name]
        return str(format_value(row[name], kind, "%" if kind == "number" else ""))

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
