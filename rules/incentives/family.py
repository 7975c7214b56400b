"""Incentives (DOMAIN.md §4): tiered commission, bonuses and instant recognition, as statement
lines every evaluation keeps current (see engine/payouts.py for the arithmetic and the closing).

    incentives:
      settlement_lag: 10 days
      commission:
        sales_commission:
          period: quarter
          base: sales              # a sum over the target period: sales, paid …
          target: sales            # measured against the rep's target for the same period
          mode: marginal           # or retroactive
          tiers: [{upto: 100%, rate: 3%}, {upto: 120%, rate: 5%}, {rate: 8%}]
      bonuses:
        top_seller: {type: top_seller, period: month, rate: 5%}
        travel_fund: {type: team, period: quarter, when: attainment >= 120%, amount: 20000}
      recognition:
        decision_maker:
          where: contact_role = 'decision_maker'
          reward: 200
          message: "{rep.name} 首次接触 {customer.name} 的决策人"
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates, periods, schema
from salesplay.engine.lang.schema import DURATION, EXPRESSION, LEVEL, MONEY, TEMPLATE
from salesplay.engine.run.emit import Signal
from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Impact,
    Outcome,
    Playbook,
    Report,
    SubjectFacts,
)
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Scope, Typed, compile_condition, unknown_name
from salesplay.engine.sql.templates import check_template, compile_template
from salesplay.engine.store.dialects import json_object
from salesplay.engine.store.models import Alert, Customer, Order, Rep, table_of
from salesplay.rules.incentives import impact, payouts, statements
from salesplay.rules.incentives.tables import PayoutClosing, PayoutLine

SHARE = {**schema.SHARE, "description": "a share of at most 100%: 5%, 5 % or 0.05"}
# Read by the plan's `by` (check(), at their lines): attainment, or an amount of the base.
UPTO = {
    "type": ["string", "number"],
    "description": "where the tier ends: attainment, which may pass 100% (120% or 1.2), or "
    "with by: amount an amount of the base (300000 or 30万)",
}
GATE = {
    "type": ["string", "number"],
    "description": "nothing below it: attainment (50%), or with by: amount an amount of the base",
}
PERIOD = {"enum": list(payouts.UNITS)}
_TIERS = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {"upto": UPTO, "rate": SHARE},
        "required": ["rate"],
        "additionalProperties": False,
    },
    "description": "ordered tiers: {upto: 100%, rate: 3%} … the last without upto",
}
_PLAN_KEYS = {
    "description": {"type": "string"},
    "period": PERIOD,
    "base": {"type": "string", "description": "the metric paid on: sales, paid …"},
    "target": {"type": "string", "description": "the target metric attainment is measured by"},
    "mode": {"enum": ["marginal", "retroactive"]},
    "by": {
        "enum": ["attainment", "amount"],
        "description": "what the tiers' upto and the gate measure: attainment of the target "
        "(the default) or the base's amount (no target needed)",
    },
    "tiers": _TIERS,
    "gate": GATE,
    "cap": MONEY,
}
RECOGNITION_WINDOW = 7  # days: a key action older than this raises no alert (history stays quiet)


class Incentives:
    section = "incentives"
    settings_only = False
    tables: ClassVar[tuple[type[SQLModel], ...]] = (PayoutLine, PayoutClosing)
    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = (statements.COMMAND,)

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        return (statements.REPORT,) if playbook.section(self.section) else ()

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "rounding": {
                "enum": ["half_up", "down", "up"],
                "description": "how each line rounds to the cent (default half_up)",
            },
            "settlement_lag": DURATION,
            "commission": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        **_PLAN_KEYS,
                        "versions": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "from": {"type": "string", "format": "date"},
                                    **{k: v for k, v in _PLAN_KEYS.items() if k != "period"},
                                },
                                "required": ["from"],
                                "additionalProperties": False,
                            },
                            "description": "changes from a date: periods starting on or after it",
                        },
                    },
                    "required": ["tiers"],
                    "additionalProperties": False,
                },
            },
            "bonuses": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "description": {"type": "string"},
                        "type": {"enum": ["top_seller", "team", "rep"]},
                        "period": PERIOD,
                        "base": {"type": "string"},
                        "goal": {"type": "string"},
                        "when": EXPRESSION,
                        "rate": SHARE,
                        "amount": MONEY,
                    },
                    "required": ["type"],
                    "additionalProperties": False,
                },
            },
            "recognition": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "description": {"type": "string"},
                        "where": EXPRESSION,
                        "reward": MONEY,
                        "period": PERIOD,
                        "level": LEVEL,
                        "message": TEMPLATE,
                        "to": {"enum": ["rep", "manager"]},
                    },
                    "required": ["where", "message"],
                    "additionalProperties": False,
                },
            },
        },
        "additionalProperties": False,
    }

    # ---- checks -------------------------------------------------------------------------

    def rule_names(self, playbook: Playbook) -> list[str]:
        return [self.section]

    def check(self, playbook: Playbook) -> None:
        spec = playbook.section(self.section) or {}
        self._check_values(playbook, spec)
        found = payouts.settings(playbook)
        known = metrics.declared(playbook)
        for name, raw in (spec.get("commission") or {}).items():
            path = (self.section, "commission", name)
            measured = ["base"] if raw.get("by") == "amount" else ["base", "target"]
            for key in measured:
                metric = raw.get(key, "sales")
                if metric not in known:
                    raise playbook.error((*path, key), unknown_name(metric, known, noun="metric"))
            if not known[raw.get("base", "sales")].cumulative:
                raise playbook.error(
                    (*path, "base"), "the base must be a sum over the target period, e.g. sales"
                )
            for since, plan in found.plans[name]:
                where = path if since is None else (*path, "versions")
                bounds = [t.upto for t in plan.tiers]
                if any(b is None for b in bounds[:-1]):
                    raise playbook.error((*where, "tiers"), "only the last tier may omit upto")
                ups = [b for b in bounds if b is not None]
                if ups != sorted(set(ups)):
                    example = "300000, 500000" if plan.by == "amount" else "100%, 120%"
                    raise playbook.error((*where, "tiers"), f"tiers must rise: upto {example} …")
        for name, raw in (spec.get("bonuses") or {}).items():
            path = (self.section, "bonuses", name)
            kind = raw["type"]
            if ("rate" in raw) == ("amount" in raw):
                raise playbook.error(path, "give a rate (of the base) or an amount, one of them")
            if kind == "top_seller" and "rate" not in raw:
                raise playbook.error(path, "a top-seller bonus is a rate of their sales, e.g. 5%")
            for key in ("base", "goal"):
                if key in raw and raw[key] not in known:
                    raise playbook.error((*path, key), unknown_name(raw[key], known, noun="metric"))
            if kind != "top_seller":
                scope = playbook.subject("target").scope(playbook, None, date(2000, 1, 1))
                scope.names["attainment"] = Typed(sa.null(), "share")
                try:
                    compile_condition(str(raw.get("when", "true")), scope)
                except ExpressionError as exc:
                    raise playbook.expression_error((*path, "when"), exc) from None
        for name, raw in (spec.get("recognition") or {}).items():
            path = (self.section, "recognition", name)
            source = metrics.SOURCES["activities"]
            try:
                compile_condition(str(raw["where"]), metrics.record_scope(source, date(2000, 1, 1)))
            except ExpressionError as exc:
                raise playbook.expression_error((*path, "where"), exc) from None
            scope = _recognition_scope(None)
            try:
                check_template(raw["message"], scope)
            except ExpressionError as exc:
                raise playbook.expression_error((*path, "message"), exc) from None

    def _check_values(self, playbook: Playbook, spec: dict[str, Any]) -> None:
        """Each date and duration where it is written: file:line: path: reason (shares and
        amounts are read where the schema's format checks them)."""

        def value(path: tuple[str | int, ...], parse: Any, raw: Any) -> None:
            try:
                parse(raw)
            except ExpressionError as exc:
                raise playbook.expression_error(path, exc) from None
            except ValueError as exc:
                raise playbook.error(
                    path, f"'{raw}' is not a date like 2024-07-01 ({exc})"
                ) from None

        if "settlement_lag" in spec:
            value((self.section, "settlement_lag"), dates.parse_duration, spec["settlement_lag"])
        for name, raw in (spec.get("commission") or {}).items():
            path = (self.section, "commission", name)
            entries = [(path, raw)] + [
                ((*path, "versions", i), change)
                for i, change in enumerate(raw.get("versions") or [])
            ]
            for at, entry in entries:
                if "from" in entry:
                    value((*at, "from"), dates.as_date, entry["from"])
                by = entry.get("by", raw.get("by", "attainment"))
                if at != path and "by" in entry and by != raw.get("by", "attainment"):
                    missing = [k for k in ("tiers", "gate") if k in raw and k not in entry]
                    if missing:
                        raise playbook.error(
                            (*at, "by"),
                            f"a version measuring by {by} gives its own {' and '.join(missing)}: "
                            "the plan's are measured otherwise",
                        )
                inherited = "by" in entry and (
                    playbook.where((*at, "by"))[0] != playbook.where((*at, "tiers"))[0]
                )
                for i, tier in enumerate(entry.get("tiers") or []):
                    if "upto" not in tier:
                        continue
                    if inherited:  # by written here, the tiers inherited through extends
                        try:
                            payouts.bound_parser(by)(tier["upto"])
                        except ExpressionError:
                            file, line = playbook.where((*at, "tiers"))
                            raise playbook.error(
                                (*at, "by"),
                                f"the tiers this plan inherits ({file}:{line}) are not "
                                f"measured by {by}: give it its own tiers",
                            ) from None
                    value((*at, "tiers", i, "upto"), payouts.bound_parser(by), tier["upto"])
                if "gate" in entry:
                    value((*at, "gate"), payouts.gate_parser(by), entry["gate"])

    # ---- running ------------------------------------------------------------------------

    def run(self, ctx: EvalContext) -> None:
        if not ctx.covers("rep"):
            return
        found = payouts.settings(ctx.playbook)
        spans = payouts.span_table(ctx.conn, found, ctx.as_of)
        fresh = payouts.compute(ctx.conn, ctx.playbook, ctx.as_of, found, spans)
        ctx.counts.update(payouts.store(ctx.conn, fresh, spans, ctx.as_of, ctx.run_id))
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS fresh_lines")
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS payout_spans")
        spec = ctx.playbook.section(self.section) or {}
        for reward in found.rewards:
            ctx.emit(self._recognition(ctx, reward, spec["recognition"][reward.name]))

    def _recognition(self, ctx: EvalContext, reward: payouts.Reward, raw: dict[str, Any]) -> Signal:
        """One alert per customer's first key action, raised at the next evaluation."""
        firsts = payouts.first_actions(reward, ctx.as_of).subquery("firsts")
        c, r = table_of(Customer).alias("rc"), table_of(Rep).alias("rr")
        joined = sa.select(
            firsts.c.activity_id,
            firsts.c.customer_id,
            firsts.c.rep_id,
            firsts.c.occurred_on,
            c.c.name.label("customer_name"),
            r.c.name.label("rep_name"),
        )
        joined = joined.join_from(firsts, c, c.c.id == firsts.c.customer_id).outerjoin(
            r, r.c.id == firsts.c.rep_id
        )
        table = joined.where(
            firsts.c.occurred_on > ctx.as_of - timedelta(days=RECOGNITION_WINDOW)
        ).subquery("recognized")
        scope = _recognition_scope(table)
        message = compile_template(raw["message"], scope)
        assignee: Any = table.c.rep_id
        from_: Any = table
        if raw.get("to") == "manager":
            managers = ctx.managers()
            from_ = table.outerjoin(managers, managers.c.rep_id == table.c.rep_id)
            assignee = managers.c.manager_id
        rows = sa.select(
            table.c.customer_id.label("subject_id"),
            sa.literal(reward.name).label("episode"),
            sa.true().label("fires"),
            assignee.label("assignee_id"),
            sa.null().label("due"),
            sa.null().label("title"),
            sa.literal(raw.get("level", "green")).label("level"),
            message.label("message"),
            json_object(
                sa.literal("activity_id"),
                table.c.activity_id,
                sa.literal("rep_id"),
                table.c.rep_id,
                sa.literal("reward"),
                sa.literal(reward.amount_cents / 100),
            ).label("detail"),
        ).select_from(from_)
        return Signal(
            f"recognition.{reward.name}", "customer", rows, alert=True, clear_by="episode"
        )

    # ---- explaining ---------------------------------------------------------------------

    def outcomes(self, playbook: Playbook, conn: Connection) -> list[Outcome]:
        """Each commission tier (of each version), bonus and recognition, reached once a
        statement holds a line of it (a recognition without reward: once it raised an alert)."""
        spec = playbook.section(self.section) or {}
        lines = table_of(PayoutLine).c
        paid = conn.execute(
            sa.select(lines.rule, lines.seq, lines.period_start).where(lines.kind == "line")
        ).all()
        found: dict[tuple[str | int, ...], Outcome] = {}

        def add(path: tuple[str | int, ...], label: str, reached: bool) -> None:
            before = found.get(path)
            found[path] = Outcome(path, label, reached or bool(before and before.reached))

        for name, versions in payouts.settings(playbook).plans.items():
            raw = spec["commission"][name]
            starts = [since for since, _ in versions]
            for k, (since, plan) in enumerate(versions):
                at: tuple[str | int, ...] = ("commission", name)
                if since is not None:
                    changed = next(
                        i
                        for i, v in enumerate(raw["versions"])
                        if dates.as_date(v["from"]) == since
                    )
                    if "tiers" in raw["versions"][changed]:
                        at = (*at, "versions", changed)
                until = starts[k + 1] if k + 1 < len(starts) else None
                for j, tier in enumerate(plan.tiers, start=1):
                    reached = any(
                        rule == name
                        and seq == j
                        and (since is None or start >= since)
                        and (until is None or start < until)
                        for rule, seq, start in paid
                    )
                    rate = f"{float(tier.rate) * 100:.4g}%"
                    upto = f" up to {float(tier.upto) * 100:.4g}%" if tier.upto is not None else ""
                    label = f"commission {name} tier {j}: {rate}{upto}"
                    add((self.section, *at, "tiers", j - 1), label, reached)
        rules = {rule for rule, _, _ in paid}
        for name in spec.get("bonuses") or {}:
            add((self.section, "bonuses", name), f"bonus {name}", name in rules)
        alerts = table_of(Alert).c
        for name in spec.get("recognition") or {}:
            rule = f"recognition.{name}"
            raised = conn.execute(sa.select(alerts.id).where(alerts.rule == rule).limit(1)).first()
            add(
                (self.section, "recognition", name),
                f"recognition {name}",
                rule in rules or raised is not None,
            )
        return list(found.values())

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        if subject_type != "rep" or ctx.period is None:
            return []
        lines = table_of(PayoutLine)
        span = ctx.period
        query = (
            sa.select(lines)
            .where(
                lines.c.owner_type == "rep",
                lines.c.owner_id == subject_id,
                lines.c.period_start >= span[0],
                lines.c.period_end <= span[1],
            )
            .order_by(lines.c.period_start, lines.c.period_end.desc(), lines.c.rule, lines.c.seq)
        )
        findings = []
        for row in ctx.conn.execute(query).mappings():
            label = periods.label(row["period_start"], row["period_end"])
            amount = statements.money_text(row["amount_cents"])
            if row["base_cents"] is not None and row["rate"] is not None:
                how = f"{statements.money_text(row['base_cents'])} × {row['rate']:.4g} = {amount}"
            else:
                how = amount
            kind = " (adjustment)" if row["kind"] == "adjustment" else ""
            values = {k: str(v) for k, v in (row["detail"] or {}).items()}
            if row["base_cents"] is not None and row["rule"] in _order_rules(ctx.playbook):
                values["orders"] = _orders_of(ctx, subject_id, row)
            findings.append(Finding(row["rule"], True, f"{label}{kind}: {how}", values))
        if not findings:
            findings.append(
                Finding(
                    "incentives",
                    None,
                    f"no statement lines in {periods.label(*span)} "
                    "(no evaluation yet, or no target for the plan's period)",
                )
            )
        return findings

    def snapshot(self, ctx: EvalContext) -> dict[impact.Statement, int]:
        """The open statements after a run (for `salesplay preview`)."""
        return impact.snapshot(ctx)

    def compare(self, current: Any, proposed: Any) -> Impact:
        return impact.compare(current, proposed)


def _order_rules(playbook: Playbook) -> set[str]:
    """Rules whose base is a sum of orders: explain lists those orders."""
    found = payouts.settings(playbook)
    known = metrics.declared(playbook)
    out = set()
    for name, versions in found.plans.items():
        if known[versions[-1][1].base].source == "orders":
            out.add(name)
    for bonus in found.bonuses:
        if bonus.type == "top_seller" and known[bonus.base].source == "orders":
            out.add(bonus.name)
    return out


def _orders_of(ctx: EvalContext, rep_id: str, row: Any) -> str:
    o = table_of(Order)
    query = (
        sa.select(o.c.id, o.c.amount_cents)
        .where(
            o.c.rep_id == rep_id,
            o.c.deleted == sa.false(),
            o.c.ordered_on >= row["period_start"],
            o.c.ordered_on <= min(row["period_end"], ctx.as_of),
        )
        .order_by(o.c.ordered_on, o.c.id)
        .limit(50)
    )
    found = [f"{oid} {statements.money_text(a)}" for oid, a in ctx.conn.execute(query)]
    return ", ".join(found) if found else "none"


def _recognition_scope(table: Any) -> Scope:
    def col(name: str) -> Any:
        return table.c[name] if table is not None else sa.null()

    names: dict[str, Typed | Callable[[], Typed]] = {
        "customer.name": Typed(col("customer_name"), "text"),
        "customer.id": Typed(col("customer_id"), "text"),
        "rep.name": Typed(col("rep_name"), "text"),
        "rep.id": Typed(col("rep_id"), "text"),
        "occurred_on": Typed(col("occurred_on"), "date"),
    }
    return Scope(names, date(2000, 1, 1), "recognition messages")
