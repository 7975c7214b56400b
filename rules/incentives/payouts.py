"""Incentives: commission, bonuses and rewards as statement lines, computed set-based in SQL.

Every line is base × rate = amount (or a fixed amount) with a detail saying where it came from.
Money is integer cents; a line's amount is computed from exact integers and rounded once, by the
playbook's rule (default: to the cent, half up), so a statement's total is the sum of its lines.

A statement period is *provisional* until it closes on its end plus the settlement lag: each
evaluation recomputes its lines in place. At close the lines are frozen (payout_closings). A
later change to a closed period's figures (a late order) adds an *adjustment* line, the
difference, to the owner's open statement of the same kind of period, once.

Tiered commission `by: attainment` (the default), with T the target pro-rated by days active
(T × a ÷ d) and tiers bounded at shares u₁ < u₂ < … of it:
  marginal      each slice of the base earns its own tier's rate (like tax brackets): one line
                per slice, base = min(base, uᵢ·T) − uᵢ₋₁·T;
  retroactive   the whole base earns the rate of the tier the attainment falls in (a tier
                includes its upper bound: exactly 100% → the ≤ 100% tier).
Bounds are compared exactly: every quantity is scaled by d·Q (Q the bounds' common denominator)
to an integer before any division. `by: amount` bounds the tiers at amounts of the base instead
(3% to 300,000, 5% to 500,000, 7% above: 600,000 pays 9,000 + 10,000 + 7,000 = 26,000
marginal, 600,000 × 7% = 42,000 retroactive), needs no target, and its gate is an amount too.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.lang import dates, expressions, periods
from salesplay.engine.lang.values import cents, share
from salesplay.engine.run.family import Playbook
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Typed, compile_condition
from salesplay.engine.store.db import count_rows, temp_table
from salesplay.engine.store.dialects import days_between, json_object
from salesplay.engine.store.models import Rep, Target, table_of
from salesplay.rules.incentives.tables import PayoutClosing, PayoutLine

SECTION = "incentives"
UNITS = ("month", "quarter", "year")
HORIZON_DAYS = 400  # closed periods this far back are checked for late data

LINE_COLUMNS: list[tuple[str, Any]] = [
    ("owner_type", sa.String()),
    ("owner_id", sa.String()),
    ("period_start", sa.Date()),
    ("period_end", sa.Date()),
    ("rule", sa.String()),
    ("seq", sa.Integer()),
    ("base_cents", sa.BigInteger()),
    ("rate", sa.Float()),
    ("amount_cents", sa.BigInteger()),
    ("detail", sa.JSON()),
]


# ---- the playbook's settings ---------------------------------------------------------------


@dataclass(frozen=True)
class Tier:
    upto: Fraction | None  # None: no upper bound; by amount, in cents
    rate: Fraction


@dataclass(frozen=True)
class Plan:
    name: str
    period: str
    base: str
    target: str
    mode: str
    tiers: tuple[Tier, ...]
    gate: Fraction | None = None  # by amount, in cents
    cap_cents: int | None = None
    by: str = "attainment"  # or amount: the tiers and the gate are amounts of the base


@dataclass(frozen=True)
class Bonus:
    name: str
    type: str  # top_seller / team / rep
    period: str
    base: str = "sales"
    goal: str = "sales"
    rate: Fraction | None = None
    amount_cents: int | None = None
    when: str | None = None


@dataclass(frozen=True)
class Reward:
    name: str
    where: str
    amount_cents: int
    period: str = "month"


@dataclass(frozen=True)
class Settings:
    plans: dict[str, list[tuple[date | None, Plan]]] = field(default_factory=dict)
    bonuses: tuple[Bonus, ...] = ()
    rewards: tuple[Reward, ...] = ()
    rounding: str = "half_up"
    lag: tuple[int, str] = (10, "days")  # settlement lag, a calendar duration

    def units(self) -> set[str]:
        found = {v[1].period for versions in self.plans.values() for v in versions}
        return found | {b.period for b in self.bonuses} | {r.period for r in self.rewards}


def settings(playbook: Playbook) -> Settings:
    spec = playbook.section(SECTION) or {}
    plans: dict[str, list[tuple[date | None, Plan]]] = {}
    for name, raw in (spec.get("commission") or {}).items():
        base = _plan(name, raw)
        versions: list[tuple[date | None, Plan]] = [(None, base)]
        for change in raw.get("versions") or []:
            versions.append((dates.as_date(change["from"]), _plan(name, {**raw, **change})))
        plans[name] = sorted(versions, key=lambda v: v[0] or date.min)
    bonuses = []
    for name, raw in (spec.get("bonuses") or {}).items():
        bonuses.append(
            Bonus(
                name,
                raw["type"],
                raw.get("period", "month"),
                raw.get("base", "sales"),
                raw.get("goal", "sales"),
                share(raw["rate"]) if "rate" in raw else None,
                cents(raw["amount"]) if "amount" in raw else None,
                str(raw["when"]) if "when" in raw else None,
            )
        )
    rewards = [
        Reward(name, str(raw["where"]), cents(raw.get("reward", 0)), raw.get("period", "month"))
        for name, raw in (spec.get("recognition") or {}).items()
    ]
    lag = dates.parse_duration(spec.get("settlement_lag", "10 days"))
    return Settings(plans, tuple(bonuses), tuple(rewards), spec.get("rounding", "half_up"), lag)


def bound_parser(by: str) -> Callable[[Any], Fraction]:
    """How a tier's upto is read: attainment (120%, 1.2) or, by amount, cents (30万)."""
    if by == "amount":
        return lambda value: Fraction(cents(value))
    return lambda value: share(value, over_100=True)


def gate_parser(by: str) -> Callable[[Any], Fraction]:
    """How a gate is read: a share of attainment (50%) or, by amount, cents (100000)."""
    if by == "amount":
        return lambda value: Fraction(cents(value))
    return share


def _plan(name: str, raw: dict[str, Any]) -> Plan:
    by = raw.get("by", "attainment")
    upto = bound_parser(by)
    tiers = tuple(
        Tier(upto(t["upto"]) if "upto" in t else None, share(t["rate"])) for t in raw["tiers"]
    )
    return Plan(
        name,
        raw.get("period", "month"),
        raw.get("base", "sales"),
        raw.get("target", "sales"),
        raw.get("mode", "marginal"),
        tiers,
        gate_parser(by)(raw["gate"]) if "gate" in raw else None,
        cents(raw["cap"]) if "cap" in raw else None,
        by,
    )


# ---- periods ----------------------------------------------------------------------------------


def spans(unit: str, as_of: date) -> list[tuple[date, date]]:
    """The periods of a unit from HORIZON_DAYS back to the one holding as_of, oldest first."""
    out = []
    day = dates.period_start(as_of - timedelta(days=HORIZON_DAYS), unit)
    while day <= as_of:
        end = dates.period_end(day, unit)
        out.append((day, end))
        day = end + timedelta(days=1)
    return out


def closes_on(span: tuple[date, date], s: Settings) -> date:
    """The period's end plus the lag in calendar terms (06-30 + 1 month = 07-30)."""
    return dates.shift(span[1], *s.lag)


SPAN_COLUMNS: dict[str, Any] = {
    "unit": sa.String(),
    "ps": sa.Date(),  # the period's first day
    "pe": sa.Date(),  # and last
    "days": sa.Integer(),
    "label": sa.String(),
    "state": sa.String(),  # open / closing (closes with this run) / closed
    "cur_ps": sa.Date(),  # the unit's period holding as_of: where adjustments go
    "cur_pe": sa.Date(),
}


def span_table(conn: Connection, s: Settings, as_of: date) -> sa.Table:
    """payout_spans: every statement period in the horizon, one row each, with its state."""
    closings = table_of(PayoutClosing)
    closed = {
        (row.period_start, row.period_end)
        for row in conn.execute(sa.select(closings.c.period_start, closings.c.period_end))
    }
    table = temp_table(conn, "payout_spans", SPAN_COLUMNS)
    rows = []
    for unit in sorted(s.units()):
        current = (dates.period_start(as_of, unit), dates.period_end(as_of, unit))
        for first, last in spans(unit, as_of):
            if (first, last) in closed:
                state = "closed"
            elif closes_on((first, last), s) <= as_of:
                state = "closing"
            else:
                state = "open"
            rows.append(
                {
                    "unit": unit,
                    "ps": first,
                    "pe": last,
                    "days": (last - first).days + 1,
                    "label": periods.label(first, last),
                    "state": state,
                    "cur_ps": current[0],
                    "cur_pe": current[1],
                }
            )
    if rows:
        conn.execute(table.insert(), rows)
    return table


# ---- SQL helpers ------------------------------------------------------------------------------


def _int(value: Any) -> Any:
    return sa.cast(value, sa.BigInteger())


def rounded(numerator: Any, denominator: int | Any, mode: str) -> Any:
    """numerator ÷ denominator (both ≥ 0, integers) to a whole number by the rounding rule."""
    n, d = _int(numerator), _int(denominator)
    if mode == "down":
        return n // d
    if mode == "up":
        return (n + d - 1) // d
    return (2 * n + d) // (2 * d)  # half up


def _least(a: Any, b: Any) -> Any:
    return sa.case((a <= b, a), else_=b)


def _greatest(a: Any, b: Any) -> Any:
    return sa.case((a >= b, a), else_=b)


def _text(fraction: Fraction) -> str:
    percent = fraction * 100
    return f"{float(percent):g}%"


# ---- computing the fresh lines ----------------------------------------------------------------


def compute(
    conn: Connection, playbook: Playbook, as_of: date, s: Settings, periods_: sa.Table
) -> sa.Table:
    """fresh_lines: every line of every statement period in the horizon, as of as_of — one
    INSERT … SELECT per rule (per tier for commission), over all periods at once."""
    fresh = temp_table(conn, "fresh_lines", dict(LINE_COLUMNS))
    declared = metrics.declared(playbook)
    for versions in s.plans.values():
        for i, (since, plan) in enumerate(versions):
            until = versions[i + 1][0] if i + 1 < len(versions) else None
            span = _of_unit(periods_, plan.period, since, until)
            _commission(conn, fresh, plan, declared[plan.base], span, as_of, s.rounding)
    for bonus in s.bonuses:
        span = _of_unit(periods_, bonus.period)
        if bonus.type == "top_seller":
            _top_seller(conn, fresh, bonus, declared[bonus.base], span, as_of, s.rounding)
        else:
            _goal_bonus(conn, fresh, playbook, bonus, span, as_of, s.rounding)
    for reward in s.rewards:
        _reward(conn, fresh, reward, _of_unit(periods_, reward.period), as_of)
    return fresh


def _of_unit(
    periods_: sa.Table, unit: str, since: date | None = None, until: date | None = None
) -> Any:
    """The statement periods of one unit (a plan version's: starting in [since, until))."""
    p = periods_
    where = [p.c.unit == unit]
    if since is not None:
        where.append(p.c.ps >= since)
    if until is not None:
        where.append(p.c.ps < until)
    return sa.select(p.c.ps, p.c.pe, p.c.days).where(*where).subquery("sp")


def _head(owner_id: Any, span: Any, rule: Any, seq: Any = 0) -> list[Any]:
    """The first columns of a rep's line: whose, which period, which rule, which tier."""
    return [
        sa.literal("rep").label("owner_type"),
        owner_id.label("owner_id"),
        span.c.ps.label("period_start"),
        span.c.pe.label("period_end"),
        (rule if isinstance(rule, sa.ColumnElement) else sa.literal(rule)).label("rule"),
        sa.literal(seq).label("seq"),
    ]


def _insert(conn: Connection, fresh: sa.Table, select: sa.Select[Any]) -> None:
    conn.execute(fresh.insert().from_select([n for n, _ in LINE_COLUMNS], select))


def _base(metric: metrics.Metric, rep_id: Any, first: Any, last: Any, as_of: date) -> Any:
    link = metrics.SOURCES[str(metric.source)].links["rep"]
    return metrics.aggregate_sql(metric, as_of, lambda rows: rows.c[link] == rep_id, first, last)


def _commission(
    conn: Connection,
    fresh: sa.Table,
    plan: Plan,
    metric: metrics.Metric,
    span: Any,
    as_of: date,
    mode: str,
) -> None:
    if plan.by == "amount":
        _commission_by_amount(conn, fresh, plan, metric, span, as_of, mode)
        return
    t, r = table_of(Target), table_of(Rep)
    since = sa.case(
        (sa.and_(r.c.hired_on.is_not(None), r.c.hired_on > span.c.ps), r.c.hired_on),
        else_=span.c.ps,
    )
    until = sa.case(
        (sa.and_(r.c.left_on.is_not(None), r.c.left_on < span.c.pe), r.c.left_on),
        else_=span.c.pe,
    )
    targets = (
        sa.select(
            r.c.id.label("rep_id"),
            span.c.ps,
            span.c.pe,
            span.c.days,
            t.c.value_x100.label("target"),
            (days_between(until, since) + 1).label("active"),
        )
        .select_from(t)
        .join(span, sa.and_(t.c.period_start == span.c.ps, t.c.period_end == span.c.pe))
        .join(r, r.c.id == t.c.owner_id)
        .where(
            t.c.deleted == sa.false(),
            r.c.deleted == sa.false(),
            t.c.owner_type == "rep",
            t.c.metric == plan.target,
            t.c.value_x100 > 0,
        )
        .subquery("rt")
    )
    bounds = [t.upto for t in plan.tiers if t.upto is not None] + [plan.gate or Fraction(0)]
    q = math.lcm(*[b.denominator for b in bounds])
    cm = (
        sa.select(
            targets,
            _int(_base(metric, targets.c.rep_id, targets.c.ps, targets.c.pe, as_of)).label("base"),
        )
        .where(targets.c.active > 0)
        .subquery("cm")
    )
    d = cm.c.days
    scaled_base = cm.c.base * d * q  # base·d·Q: compared with T·a·(share·Q)

    def bound(share: Fraction) -> Any:
        return cm.c.target * cm.c.active * int(share * q)

    attainment = sa.cast(cm.c.base * d, sa.Double()) / (cm.c.target * cm.c.active)
    common = {
        "mode": sa.literal(plan.mode),
        "attainment": attainment,
        "target": sa.cast(cm.c.target, sa.Double()) / 100,
        "prorated_target": sa.cast(cm.c.target * cm.c.active, sa.Double()) / (d * 100),
        "active_days": cm.c.active,
        "period_days": d,
        "base_total": sa.cast(cm.c.base, sa.Double()) / 100,
    }
    gate_ok = scaled_base >= bound(plan.gate) if plan.gate else sa.true()
    if plan.gate:
        _insert(
            conn,
            fresh,
            sa.select(
                *_head(cm.c.rep_id, cm, plan.name),
                cm.c.base.label("base_cents"),
                sa.literal(0.0).label("rate"),
                sa.literal(0).label("amount_cents"),
                _detail({**common, "below_gate": sa.literal(_text(plan.gate))}).label("detail"),
            ).where(~gate_ok),
        )
    lower = Fraction(0)
    for i, tier in enumerate(plan.tiers, start=1):
        label = f"{_text(lower)}–{_text(tier.upto)}" if tier.upto else f"> {_text(lower)}"
        detail = _detail({**common, "tier": sa.literal(i), "tier_range": sa.literal(label)})
        rate = tier.rate
        if plan.mode == "marginal":
            top = _least(scaled_base, bound(tier.upto)) if tier.upto else scaled_base
            piece = _greatest(top - bound(lower), 0)
            line = sa.select(
                *_head(cm.c.rep_id, cm, plan.name, i),
                rounded(piece, d * q, mode).label("base_cents"),
                sa.literal(float(rate)).label("rate"),
                rounded(piece * rate.numerator, d * (q * rate.denominator), mode).label(
                    "amount_cents"
                ),
                detail.label("detail"),
            ).where(gate_ok, piece > 0)
        else:
            inside = [scaled_base > bound(lower)] if i > 1 else []
            if tier.upto is not None:
                inside.append(scaled_base <= bound(tier.upto))
            line = sa.select(
                *_head(cm.c.rep_id, cm, plan.name, i),
                cm.c.base.label("base_cents"),
                sa.literal(float(rate)).label("rate"),
                rounded(cm.c.base * rate.numerator, rate.denominator, mode).label("amount_cents"),
                detail.label("detail"),
            ).where(gate_ok, cm.c.base > 0, *inside)
        _insert(conn, fresh, line)
        lower = tier.upto or lower
    if plan.cap_cents is not None:
        _cap(conn, fresh, plan, span)


def _commission_by_amount(
    conn: Connection,
    fresh: sa.Table,
    plan: Plan,
    metric: metrics.Metric,
    span: Any,
    as_of: date,
    mode: str,
) -> None:
    """Tiers at amounts of the base (in cents, so every bound is a whole number): every rep
    working some day of the period, target or not; the same lines as by attainment."""
    r = table_of(Rep)
    cm = (
        sa.select(
            r.c.id.label("rep_id"),
            span.c.ps,
            span.c.pe,
            _int(_base(metric, r.c.id, span.c.ps, span.c.pe, as_of)).label("base"),
        )
        .select_from(r)
        .join(span, sa.true())
        .where(
            r.c.deleted == sa.false(),
            sa.or_(r.c.hired_on.is_(None), r.c.hired_on <= span.c.pe),
            sa.or_(r.c.left_on.is_(None), r.c.left_on >= span.c.ps),
        )
        .subquery("cm")
    )
    base = cm.c.base
    common = {
        "mode": sa.literal(plan.mode),
        "by": sa.literal("amount"),
        "base_total": sa.cast(base, sa.Double()) / 100,
    }
    gate = int(plan.gate) if plan.gate else 0
    gate_ok = base >= gate if gate else sa.true()
    if gate:
        _insert(
            conn,
            fresh,
            sa.select(
                *_head(cm.c.rep_id, cm, plan.name),
                base.label("base_cents"),
                sa.literal(0.0).label("rate"),
                sa.literal(0).label("amount_cents"),
                _detail({**common, "below_gate": sa.literal(_amount_text(gate))}).label("detail"),
            ).where(base > 0, ~gate_ok),
        )
    lower = 0
    for i, tier in enumerate(plan.tiers, start=1):
        upto = int(tier.upto) if tier.upto is not None else None
        label = (
            f"{_amount_text(lower)}–{_amount_text(upto)}" if upto else f"> {_amount_text(lower)}"
        )
        detail = _detail({**common, "tier": sa.literal(i), "tier_range": sa.literal(label)})
        rate = tier.rate
        if plan.mode == "marginal":
            piece = _greatest((_least(base, upto) if upto else base) - lower, 0)
            where = [piece > 0]
            line_base, amount = piece, rounded(piece * rate.numerator, rate.denominator, mode)
        else:
            where = [base > lower] if i > 1 else [base > 0]
            if upto is not None:
                where.append(base <= upto)
            line_base, amount = base, rounded(base * rate.numerator, rate.denominator, mode)
        _insert(
            conn,
            fresh,
            sa.select(
                *_head(cm.c.rep_id, cm, plan.name, i),
                _int(line_base).label("base_cents"),
                sa.literal(float(rate)).label("rate"),
                amount.label("amount_cents"),
                detail.label("detail"),
            ).where(gate_ok, *where),
        )
        lower = upto or lower
    if plan.cap_cents is not None:
        _cap(conn, fresh, plan, span)


def _amount_text(value_cents: int | None) -> str:
    """Cents for a tier's range: 30000000 → '300,000'."""
    units = Fraction(value_cents or 0, 100)
    return (
        f"{units.numerator // units.denominator:,}"
        if units.denominator == 1
        else f"{float(units):,.2f}"
    )


def _cap(conn: Connection, fresh: sa.Table, plan: Plan, span: Any) -> None:
    """Above the cap, one line takes the excess back: the lines still add up to the total."""
    f = fresh.c
    total = sa.func.sum(f.amount_cents)
    over = (
        sa.select(
            f.owner_id, f.period_start.label("ps"), f.period_end.label("pe"), total.label("total")
        )
        .join(span, sa.and_(span.c.ps == f.period_start, span.c.pe == f.period_end))
        .where(f.rule == plan.name)
        .group_by(f.owner_id, f.period_start, f.period_end)
        .having(total > plan.cap_cents)
        .subquery("over")
    )
    cap = sa.literal(plan.cap_cents)
    _insert(
        conn,
        fresh,
        sa.select(
            *_head(over.c.owner_id, over, plan.name, 99),
            sa.null(),
            sa.null(),
            _int(cap - over.c.total),
            _detail({"cap": sa.cast(cap, sa.Double()) / 100}),
        ),
    )


def _top_seller(
    conn: Connection,
    fresh: sa.Table,
    bonus: Bonus,
    metric: metrics.Metric,
    span: Any,
    as_of: date,
    mode: str,
) -> None:
    """The top seller of each org unit gets rate × their sales; ties share it equally."""
    r = table_of(Rep)
    sales = (
        sa.select(
            r.c.id.label("rep_id"),
            r.c.org_unit_id.label("unit"),
            span.c.ps,
            span.c.pe,
            _int(_base(metric, r.c.id, span.c.ps, span.c.pe, as_of)).label("sales"),
        )
        .select_from(r)
        .join(span, sa.true())
        .where(r.c.deleted == sa.false(), r.c.org_unit_id.is_not(None))
        .subquery("unit_sales")
    )
    team = [sales.c.unit, sales.c.ps]
    best = sa.func.max(sales.c.sales).over(partition_by=team)
    ranked = sa.select(sales, best.label("best")).subquery("ranked")
    tied = sa.func.count().over(partition_by=[ranked.c.unit, ranked.c.ps])
    winners = (
        sa.select(ranked, tied.label("ties"))
        .where(ranked.c.sales == ranked.c.best, ranked.c.sales > 0)
        .subquery("winners")
    )
    rate = bonus.rate or Fraction(0)
    w = winners.c
    _insert(
        conn,
        fresh,
        sa.select(
            *_head(w.rep_id, winners, bonus.name),
            w.sales,
            sa.cast(sa.literal(float(rate)), sa.Double()) / w.ties,
            rounded(w.sales * rate.numerator, w.ties * rate.denominator, mode),
            _detail({"org_unit_id": w.unit, "rate": sa.literal(_text(rate)), "sharing": w.ties}),
        ),
    )


def _goal_bonus(
    conn: Connection,
    fresh: sa.Table,
    playbook: Playbook,
    bonus: Bonus,
    span: Any,
    as_of: date,
    mode: str,
) -> None:
    """A bonus for each team (org unit) or rep whose goal of a period meets `when`."""
    found = conn.execute(sa.select(sa.func.min(span.c.ps), sa.func.max(span.c.pe))).first()
    if found is None or found[0] is None:
        return
    owner = "org_unit" if bonus.type == "team" else "rep"
    first, last = (dates.as_date(v) for v in found)
    targets = playbook.subject("target")
    uses = frozenset(expressions.names_in(expressions.parse(bonus.when or "true")))
    table = targets.materialize(
        conn,
        playbook,
        as_of,
        uses=uses,
        period=(first, last),
        owner_type=owner,
        metric=bonus.goal,
    )
    f = table.c
    scope = targets.scope(playbook, table, as_of)
    scope.names["attainment"] = Typed(f.completion, "share")
    when = compile_condition(bonus.when or "true", scope)
    if bonus.rate is not None:
        amount = rounded(
            _greatest(_int(f.actual), 0) * bonus.rate.numerator, bonus.rate.denominator, mode
        )
        base: Any = _int(f.actual)
        rate: Any = sa.literal(float(bonus.rate))
    else:
        amount, base, rate = sa.literal(bonus.amount_cents or 0), sa.null(), sa.null()
    _insert(
        conn,
        fresh,
        sa.select(
            f.owner_type,
            f.owner_id,
            f.period_start,
            f.period_end,
            sa.literal(bonus.name),
            sa.literal(0),
            base,
            rate,
            amount,
            _detail(
                {
                    "goal": f.metric,
                    "target": f.target / 100,
                    "actual": f.actual / 100,
                    "attainment": f.completion,
                    "condition": sa.literal(bonus.when or "always"),
                }
            ),
        )
        .select_from(table)
        .join(span, sa.and_(span.c.ps == f.period_start, span.c.pe == f.period_end))
        .where(
            f.owner_type == owner,
            f.metric == bonus.goal,
            sa.func.coalesce(when, sa.false()),
        ),
    )
    targets.drop(conn)


def _reward(conn: Connection, fresh: sa.Table, reward: Reward, span: Any, as_of: date) -> None:
    """A fixed reward for each key action (recognition) the rep completed in the period."""
    firsts = first_actions(reward, as_of).subquery("firsts")
    k = firsts.c
    count = sa.func.count()
    _insert(
        conn,
        fresh,
        sa.select(
            *_head(k.rep_id, span, f"recognition.{reward.name}"),
            sa.null(),
            sa.null(),
            _int(count * reward.amount_cents),
            _detail({"actions": count, "each": sa.literal(reward.amount_cents / 100)}),
        )
        .select_from(firsts)
        .join(span, sa.and_(k.occurred_on >= span.c.ps, k.occurred_on <= span.c.pe))
        .where(k.rep_id.is_not(None))
        .group_by(k.rep_id, span.c.ps, span.c.pe)
        .having(count * reward.amount_cents > 0),
    )


def first_actions(reward: Reward, as_of: date) -> sa.Select[Any]:
    """Each customer's first activity matching the reward's condition, up to as_of."""
    source = metrics.SOURCES["activities"]
    rows = source.select().subquery("act")
    earlier = source.select().subquery("act_before")
    here = compile_condition(reward.where, metrics.record_scope(source, as_of, rows))
    before = compile_condition(reward.where, metrics.record_scope(source, as_of, earlier))
    sooner = sa.or_(
        earlier.c.day < rows.c.day, sa.and_(earlier.c.day == rows.c.day, earlier.c.id < rows.c.id)
    )
    first = ~(
        sa.select(earlier.c.id)
        .where(
            earlier.c.customer_id == rows.c.customer_id,
            earlier.c.deleted == sa.false(),
            before,
            sooner,
        )
        .exists()
    )
    return sa.select(
        rows.c.id.label("activity_id"),
        rows.c.customer_id,
        rows.c.rep_id,
        rows.c.day.label("occurred_on"),
    ).where(rows.c.deleted == sa.false(), rows.c.day <= as_of, here, first)


def _detail(values: dict[str, Any]) -> Any:
    return json_object(*[x for k, v in values.items() for x in (sa.literal(k), v)])


# ---- storing: in place while open, frozen at close, adjustments after -------------------------


def store(
    conn: Connection, fresh: sa.Table, periods_: sa.Table, as_of: date, run_id: int
) -> dict[str, int]:
    """Open and closing periods take the fresh lines in place (closing ones are then frozen);
    closed periods get an adjustment line for any difference. Returns what changed."""
    lines, closings = table_of(PayoutLine), table_of(PayoutClosing)
    f, p = fresh.c, periods_.c
    cols = [n for n, _ in LINE_COLUMNS]
    live = sa.select(p.ps, p.pe).where(p.state != "closed")
    in_live = sa.tuple_(f.period_start, f.period_end).in_(live)
    stored_live = sa.and_(
        lines.c.kind == "line", sa.tuple_(lines.c.period_start, lines.c.period_end).in_(live)
    )
    same = sa.and_(
        lines.c.kind == "line",
        *[lines.c[k] == f[k] for k in ("owner_type", "owner_id", "period_start", "period_end")],
        *[lines.c[k] == f[k] for k in ("rule", "seq", "amount_cents")],
    )
    changed = sa.select(sa.func.count()).where(in_live, ~sa.exists().where(same))
    counts = {"payout_lines": int(conn.execute(changed).scalar_one())}
    conn.execute(lines.delete().where(stored_live))
    select = sa.select(*[f[c] for c in cols], sa.literal(run_id)).where(in_live)
    conn.execute(lines.insert().from_select([*cols, "run_id"], select))
    conn.execute(
        closings.insert().from_select(
            ["period_start", "period_end", "closed_on", "run_id"],
            sa.select(p.ps, p.pe, sa.literal(as_of, sa.Date()), sa.literal(run_id)).where(
                p.state == "closing"
            ),
        )
    )
    counts["payout_adjustments"] = _adjust(conn, fresh, periods_, run_id)
    return {k: v for k, v in counts.items() if v}


def _adjust(conn: Connection, fresh: sa.Table, periods_: sa.Table, run_id: int) -> int:
    """Late data for closed periods: the difference per (owner, rule, period), once, as an
    adjustment line on the owner's open statement of the same kind of period."""
    lines = table_of(PayoutLine)
    f, p = fresh.c, periods_.c
    closed = periods_.alias("closed")
    keys = [f.owner_type, f.owner_id, f.rule]
    now = (
        sa.select(*keys, closed.c.label, sa.func.sum(f.amount_cents).label("amount"))
        .join_from(
            fresh,
            closed,
            sa.and_(closed.c.ps == f.period_start, closed.c.pe == f.period_end),
        )
        .where(closed.c.state == "closed")
        .group_by(*keys, closed.c.label)
    )
    frozen = sa.and_(
        lines.c.kind == "line",
        lines.c.period_start == closed.c.ps,
        lines.c.period_end == closed.c.pe,
    )
    adjusted = sa.and_(lines.c.kind == "adjustment", lines.c.adjusts == closed.c.label)
    recorded = (
        sa.select(
            lines.c.owner_type,
            lines.c.owner_id,
            lines.c.rule,
            closed.c.label,
            (-sa.func.sum(lines.c.amount_cents)).label("amount"),
        )
        .join_from(lines, closed, sa.or_(frozen, adjusted))
        .where(closed.c.state == "closed")
        .group_by(lines.c.owner_type, lines.c.owner_id, lines.c.rule, closed.c.label)
    )
    both = sa.union_all(now, recorded).subquery("both")
    b = both.c
    diff = sa.func.sum(b.amount)
    changes = (
        sa.select(b.owner_type, b.owner_id, b.rule, b.label, diff.label("diff"))
        .group_by(b.owner_type, b.owner_id, b.rule, b.label)
        .having(diff != 0)
        .subquery("changes")
    )
    c = changes.c
    select = sa.select(
        c.owner_type,
        c.owner_id,
        p.cur_ps,
        p.cur_pe,
        c.rule,
        sa.literal(0),
        sa.null(),
        sa.null(),
        _int(c.diff),
        _detail({"adjusts": c.label, "reason": sa.literal("data changed after close")}),
        sa.literal("adjustment"),
        c.label,
        sa.literal(run_id),
    ).join_from(changes, periods_, p.label == c.label)
    columns = [n for n, _ in LINE_COLUMNS] + ["kind", "adjusts", "run_id"]
    return count_rows(conn, lines.insert().from_select(columns, select))
