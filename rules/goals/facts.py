"""Goals: the targets of reps and org units, their actuals rolled up the org tree, pace, lights
and period-end forecasts, computed set-based into one temporary table, `facts_target`.

An org unit's actual is measured over the records of every rep in the unit or below it, so a
sum adds up and a rate (a formula such as collected / sales) is recomputed from its rolled-up
numerator and denominator, never averaged. A metric is *cumulative* when it is a sum or a count
over the target's period (sales, visits, new customers): its expected value grows with the days
elapsed. Any other metric (a rate, an average, NPS) is a *level*: it is expected at its target
all period long.

    goals:
      pace: working days          # or calendar days; the as-of day counts as elapsed
      holidays: CN                # public holidays and weekend working days (holidays package)
      lights: {green: 80%, red: 60%}
      forecast:
        pipeline: [sales]         # these metrics' forecasts add weighted open deals
        stages: {初步接触: 10%, 方案报价: 50%, 合同谈判: 80%}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.lang.operators import NUMERIC
from salesplay.engine.lang.schema import SHARE
from salesplay.engine.lang.values import share
from salesplay.engine.run.family import Playbook
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Scope, Typed, compile_expression, ratio, unknown_name
from salesplay.engine.store.db import temp_table
from salesplay.engine.store.dialects import analyze, bulk_insert, days_between
from salesplay.engine.store.models import Deal, OrgUnit, Rep, Target, table_of

SECTION = "goals"
LIGHTS = ("green", "yellow", "red")

SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "how goals are paced, lit and forecast",
    "properties": {
        "pace": {
            "enum": ["calendar days", "working days"],
            "description": "pro-rate a target over calendar days (default) or working days",
        },
        "holidays": {
            "type": "string",
            "description": "country whose public holidays and weekend working days count, e.g. CN",
        },
        "lights": {
            "type": "object",
            "properties": {"green": SHARE, "red": SHARE},
            "additionalProperties": False,
            "description": "green at or above `green` of the expected pace, red below `red`, "
            "yellow between",
        },
        "forecast": {
            "type": "object",
            "properties": {
                "pipeline": {
                    "type": "array",
                    "items": {"type": "string"},
                    "description": "metrics whose forecast adds open deals weighted by stage",
                },
                "stages": {
                    "type": "object",
                    "additionalProperties": SHARE,
                    "description": "probability that an open deal at this stage is won",
                },
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
}


@dataclass(frozen=True)
class Settings:
    working_days: bool = False
    country: str = "CN"
    green: Fraction = Fraction(4, 5)
    red: Fraction = Fraction(3, 5)
    pipeline: tuple[str, ...] = ()
    stages: tuple[tuple[str, Fraction], ...] = ()


def settings(playbook: Playbook) -> Settings:
    spec = playbook.section(SECTION) or {}
    lights = spec.get("lights") or {}
    forecast = spec.get("forecast") or {}
    return Settings(
        working_days=spec.get("pace", "calendar days") == "working days",
        country=str(spec.get("holidays", "CN")),
        green=share(lights.get("green", "80%")),
        red=share(lights.get("red", "60%")),
        pipeline=tuple(forecast.get("pipeline") or ()),
        stages=tuple((str(k), share(v)) for k, v in (forecast.get("stages") or {}).items()),
    )


def check(playbook: Playbook) -> None:
    """The goals section's values: light order, a known country, known metrics (each share was
    read where the schema's format checks it)."""
    path = (SECTION,)
    found = settings(playbook)
    if found.red > found.green:
        raise playbook.error(
            (*path, "lights", "red"),
            "red must be at or below green (red below it, yellow between)",
        )
    known = metrics.declared(playbook)
    for i, name in enumerate(found.pipeline):
        if name not in known:
            raise playbook.error(
                (*path, "forecast", "pipeline", i),
                unknown_name(name, known, noun="metric"),
            )
        if not known[name].cumulative:
            raise playbook.error(
                (*path, "forecast", "pipeline", i),
                f"'{name}' is not a sum over the target period, so deals cannot add to it",
            )
    if found.working_days:
        try:
            _holidays(found.country, [2024])
        except (NotImplementedError, KeyError, ValueError):
            raise playbook.error(
                (*path, "holidays"), f"no public holidays are known for '{found.country}'"
            ) from None


def _holidays(country: str, years: list[int]) -> Any:
    import holidays

    return holidays.country_holidays(country, years=years)


# ---- the facts_target table -------------------------------------------------------------

BASE_COLUMNS: dict[str, str] = {
    "target_id": "text",
    "owner_type": "text",
    "owner_id": "text",
    "owner_name": "text",
    "head_id": "text",  # who answers for an org unit's goal: its manager_id
    "metric": "text",
    "period_start": "date",
    "period_end": "date",
    "target": "amount",
    "actual": "amount",
    "forecast": "amount",
    "pipeline": "amount",  # the weighted open deals inside forecast
    "period_days": "number",
    "elapsed_days": "number",
    "cumulative": "bool",
    "lower_better": "bool",
    # filled last from the columns above (see derived()): plain columns compile fast
    "expected_by_now": "amount",
    "gap": "amount",
    "completion": "share",
    "pace": "share",
    "light": "text",
}


def columns(playbook: Playbook) -> dict[str, str]:
    """Columns of facts_target with their value types (`_rep_*` hold a rep owner's fields)."""
    cols = dict(BASE_COLUMNS)
    for metric in metrics.declared(playbook).values():
        if metric.aggregate:
            cols[metric.name] = metrics.value_type(metric)
    for name, (_, kind) in metrics.SUBJECT_FIELDS["rep"].items():
        cols[f"_rep_{name}"] = kind
    return cols


def _sql_type(kind: str) -> Any:
    # amounts are cents as doubles: exact while whole (sums, counts), but an average, a
    # forecast or a pro-rated target may hold a fraction of a cent; reports read them back
    # through output.money(), which rounds that half up to the cent
    return {
        "amount": sa.Float(),
        "number": sa.Float(),
        "share": sa.Float(),
        "text": sa.String(),
        "date": sa.Date(),
        "bool": sa.Boolean(),
    }[kind]


def placeholder(playbook: Playbook) -> sa.TableClause:
    return sa.table("facts_target", *[sa.column(n) for n in columns(playbook)])


def scope(playbook: Playbook, table: Any, as_of: date) -> Scope:
    """Names a rule over targets may use (see the README's playbook reference): the columns,
    each aggregate metric by name, a formula metric computed from them, rep.* and owner.*.
    table None: a placeholder to check expressions against."""
    table = placeholder(playbook) if table is None else table
    cols = columns(playbook)
    names: dict[str, Any] = {}
    for name, kind in cols.items():
        if not name.startswith("_") and name not in ("cumulative", "lower_better", "head_id"):
            names[name] = Typed(table.c[name], kind)
    for name, (_, kind) in metrics.SUBJECT_FIELDS["rep"].items():
        names[f"rep.{name}"] = Typed(table.c[f"_rep_{name}"], kind)
    names["owner.name"] = Typed(table.c.owner_name, "text")
    names["owner.id"] = Typed(table.c.owner_id, "text")
    found = Scope(names, as_of, "target rules")
    for name, metric in metrics.declared(playbook).items():
        if metric.formula:
            names.setdefault(name, _formula(metric, found))
    return found


def derived(table: Any, s: Settings) -> dict[str, tuple[Any, str]]:
    """expected_by_now, gap, completion, pace and light, as SQL over facts_target's columns."""
    t = table.c
    prorated = sa.cast(t.target * t.elapsed_days, sa.Double()) / sa.func.nullif(t.period_days, 0)
    expected = sa.case((t.cumulative == sa.true(), prorated), else_=t.target)
    higher = t.lower_better == sa.false()
    completion = sa.case(
        (higher, ratio(t.actual, t.target)),
        (t.actual == 0, sa.null()),
        else_=ratio(t.target, t.actual),
    )
    # pace = num / den, kept apart so that the light compares exactly: num·q ≥ p·den.
    exp_num = sa.case((t.cumulative == sa.true(), t.target * t.elapsed_days), else_=t.target)
    exp_den = sa.case((t.cumulative == sa.true(), t.period_days), else_=1)
    num = sa.case((higher, t.actual * exp_den), else_=exp_num)
    den = sa.case((higher, exp_num), else_=t.actual * exp_den)
    pace = sa.case((t.elapsed_days <= 0, sa.null()), else_=ratio(num, den))

    def at_least(p: Fraction) -> Any:
        return sa.or_(den <= 0, num * p.denominator >= den * p.numerator)

    light = sa.case(
        (t.elapsed_days <= 0, sa.null()),
        (at_least(s.green), sa.literal("green")),
        (at_least(s.red), sa.literal("yellow")),
        else_=sa.literal("red"),
    )
    return {
        "expected_by_now": (expected, "amount"),
        "gap": (t.target - t.actual, "amount"),
        "completion": (completion, "share"),
        "pace": (pace, "share"),
        "light": (light, "text"),
    }


def materialize(
    conn: Connection,
    playbook: Playbook,
    as_of: date,
    *,
    uses: frozenset[str] = frozenset(),
    period: tuple[date, date] | None = None,
    owner: tuple[str, str] | None = None,
    under: str | None = None,
    owner_type: str | None = None,
    metric: str | None = None,
) -> sa.Table:
    """Create facts_target: one row per live target — those whose period holds as_of, or with
    `period` those whose period lies within it — with actual, forecast and pace inputs.

    `uses`: names the caller's rules read, whose metrics every row gets (a row always gets its
    own metric). `owner` (type, id), `under` (an org unit's subtree), `owner_type` and `metric`
    narrow the rows."""
    s = settings(playbook)
    declared = metrics.declared(playbook)
    cols = columns(playbook)
    t, r, o = table_of(Target), table_of(Rep), table_of(OrgUnit)

    # 1. the targets, with their owner and day counts
    chosen = [t.c.deleted == sa.false(), t.c.owner_type.in_(("rep", "org_unit"))]
    if period is None:
        chosen += [t.c.period_start <= as_of, t.c.period_end >= as_of]
    else:
        chosen += [t.c.period_start >= period[0], t.c.period_end <= period[1]]
    if owner is not None:
        chosen += [t.c.owner_type == owner[0], t.c.owner_id == owner[1]]
    if owner_type is not None:
        chosen.append(t.c.owner_type == owner_type)
    if metric is not None:
        chosen.append(t.c.metric == metric)
    units = _closure(conn)
    if under is not None:
        below = sa.select(units.c.unit).where(units.c.top == under)
        chosen.append(
            sa.or_(
                sa.and_(t.c.owner_type == "org_unit", t.c.owner_id.in_(below)),
                sa.and_(
                    t.c.owner_type == "rep",
                    t.c.owner_id.in_(sa.select(r.c.id).where(r.c.org_unit_id.in_(below))),
                ),
            )
        )
    unit_of = o.alias("owner_unit")
    rep_of = r.alias("owner_rep")
    cut = sa.case((t.c.period_end < as_of, t.c.period_end), else_=sa.literal(as_of, sa.Date()))
    started = t.c.period_start <= as_of
    if s.working_days:
        days = _work_days(
            conn, s.country, sa.select(t.c.period_start, t.c.period_end).where(*chosen)
        )
        period_days: Any = _count_days(days, t.c.period_start, t.c.period_end)
        elapsed: Any = sa.case((started, _count_days(days, t.c.period_start, cut)), else_=0)
    else:
        period_days = days_between(t.c.period_end, t.c.period_start) + 1
        elapsed = sa.case((started, days_between(cut, t.c.period_start) + 1), else_=0)
    is_cumulative = [name for name, m in declared.items() if m.aggregate and m.cumulative]
    lower = [name for name, m in declared.items() if m.better == "lower"]
    base: dict[str, Any] = {
        "target_id": t.c.id,
        "owner_type": t.c.owner_type,
        "owner_id": t.c.owner_id,
        "owner_name": sa.func.coalesce(rep_of.c.name, unit_of.c.name),
        "head_id": unit_of.c.manager_id,
        "metric": t.c.metric,
        "period_start": t.c.period_start,
        "period_end": t.c.period_end,
        "target": t.c.value_x100,
        "period_days": period_days,
        "elapsed_days": elapsed,
        "cumulative": t.c.metric.in_(is_cumulative) if is_cumulative else sa.false(),
        "lower_better": t.c.metric.in_(lower) if lower else sa.false(),
    }
    for name, (col, _) in metrics.SUBJECT_FIELDS["rep"].items():
        base[f"_rep_{name}"] = rep_of.c[col]
    owner_rep = sa.and_(t.c.owner_type == "rep", rep_of.c.id == t.c.owner_id)
    owner_unit = sa.and_(t.c.owner_type == "org_unit", unit_of.c.id == t.c.owner_id)
    targets = _temp(conn, "goal_targets", {n: cols[n] for n in base})
    conn.execute(
        targets.insert().from_select(
            list(base),
            sa.select(*[v.label(n) for n, v in base.items()])
            .select_from(t)
            .outerjoin(rep_of, sa.and_(owner_rep, rep_of.c.deleted == sa.false()))
            .outerjoin(unit_of, sa.and_(owner_unit, unit_of.c.deleted == sa.false()))
            .where(*chosen, sa.or_(rep_of.c.id.is_not(None), unit_of.c.id.is_not(None))),
        )
    )
    analyze(conn, "goal_targets")

    # 2. the reps whose records count for each target: the owner, or every rep under the unit
    members = _temp(conn, "goal_reps", {"target_id": "text", "rep_id": "text"})
    g = targets.c
    conn.execute(
        members.insert().from_select(
            ["target_id", "rep_id"],
            sa.union_all(
                sa.select(g.target_id, g.owner_id).where(g.owner_type == "rep"),
                sa.select(g.target_id, r.c.id)
                .join_from(targets, units, units.c.top == g.owner_id)
                .join(r, r.c.org_unit_id == units.c.unit)
                .where(g.owner_type == "org_unit", r.c.deleted == sa.false()),
            ),
        )
    )
    conn.exec_driver_sql("CREATE INDEX goal_reps_target ON goal_reps (target_id, rep_id)")
    analyze(conn, "goal_reps")

    # 3. every aggregate metric a row needs, over its reps' records (and its period)
    per_row, everywhere = _needs(playbook, uses)

    def members_of(rep_col: Any) -> Any:
        inner = sa.select(members.c.rep_id).where(members.c.target_id == g.target_id)
        return rep_col.in_(inner.correlate(targets))  # two levels up: say so explicitly

    values: dict[str, Any] = {n: g[n] for n in base}
    for name, declared_metric in declared.items():
        if not declared_metric.aggregate:
            continue
        link = metrics.SOURCES[str(declared_metric.source)].links["rep"]
        span = (g.period_start, g.period_end) if declared_metric.per_target else (None, None)

        def linked(rows: Any, column: str = link) -> Any:
            return members_of(rows.c[column])

        value = metrics.aggregate_sql(declared_metric, as_of, linked, *span)
        if name in everywhere:
            values[name] = value
        elif name in per_row:  # CASE: only the rows whose metric needs it pay for it
            values[name] = sa.case((g.metric.in_(sorted(per_row[name])), value))
    table = _temp(conn, "facts_target", cols)
    fill = [n for n in cols if n in values]
    conn.execute(table.insert().from_select(fill, sa.select(*[values[n].label(n) for n in fill])))

    # 4. actual (in hundredths, like the target) and forecast, from the row's own metric columns
    f = table.c
    row_scope = Scope({n: Typed(f[n], k) for n, k in cols.items()}, as_of, "goal metrics")
    cases = []
    formulas = _formula_scope(playbook, row_scope)
    for name in declared:
        try:
            typed = compile_expression(name, formulas)
        except ExpressionError:
            continue  # a metric no target can be measured by (e.g. a customer field)
        if typed.type not in NUMERIC:
            continue
        cases.append((f.metric == name, typed.sql if typed.type == "amount" else typed.sql * 100))
    actual = sa.case(*cases) if cases else sa.null()
    conn.execute(table.update().values(actual=actual))
    run_rate = sa.case(
        (
            sa.and_(f.cumulative == sa.true(), f.elapsed_days > 0),
            sa.cast(f.actual * f.period_days, sa.Double()) / f.elapsed_days,
        ),
        (f.cumulative == sa.true(), 0),
        else_=f.actual,
    )
    if s.pipeline and s.stages:
        weighted = sa.func.coalesce(_weighted_deals(s, f, as_of), 0)
        conn.execute(
            table.update().values(pipeline=sa.case((f.metric.in_(s.pipeline), weighted), else_=0))
        )
    else:
        conn.execute(table.update().values(pipeline=0))
    conn.execute(table.update().values(forecast=run_rate + f.pipeline))
    conn.execute(table.update().values({n: sql for n, (sql, _) in derived(table, s).items()}))
    analyze(conn, "facts_target")
    return table


def _weighted_deals(s: Settings, f: Any, as_of: date) -> Any:
    """Open deals of the goal's reps expected to close after as_of and by the period's end,
    each weighted by its stage's probability (a stage the playbook does not list counts 0)."""
    d = table_of(Deal)
    members = sa.table("goal_reps", sa.column("target_id"), sa.column("rep_id"))
    weight = sa.case(
        *[
            (
                d.c.stage == stage,
                sa.cast(d.c.amount_cents, sa.Double()) * p.numerator / p.denominator,
            )
            for stage, p in s.stages
        ],
        else_=0,
    )
    return (
        sa.select(sa.func.sum(weight))
        .where(
            d.c.deleted == sa.false(),
            d.c.status == "open",
            d.c.expected_close > as_of,
            d.c.expected_close <= f.period_end,
            d.c.rep_id.in_(
                sa.select(members.c.rep_id)
                .where(members.c.target_id == f.target_id)
                .correlate(f.target_id.table)
            ),
        )
        .scalar_subquery()
    )


def shares(playbook: Playbook) -> set[str]:
    """Goal metrics that are shares (a ratio of two like quantities): shown as percentages."""
    return {name for name, kind in _types(playbook).items() if kind == "share"}


def amounts(playbook: Playbook) -> set[str]:
    """Goal metrics that are money (sales, an average order value): read back as exact cents."""
    return {name for name, kind in _types(playbook).items() if kind == "amount"}


def _types(playbook: Playbook) -> dict[str, str]:
    """The value type of every metric a target can be measured by."""
    table = placeholder(playbook)
    cols = columns(playbook)
    row_scope = Scope({n: Typed(table.c[n], k) for n, k in cols.items()}, date(2000, 1, 1), "")
    scope = _formula_scope(playbook, row_scope)
    out = {}
    for name in metrics.declared(playbook):
        try:
            out[name] = compile_expression(name, scope).type
        except ExpressionError:
            continue
    return out


def _formula_scope(playbook: Playbook, row_scope: Scope) -> Scope:
    """A metric's name resolves to its column, a formula to its expression over columns."""
    names: dict[str, Any] = {}
    scope = Scope(names, row_scope.as_of, "goal metrics")
    for name, metric in metrics.declared(playbook).items():
        if metric.aggregate:
            names[name] = row_scope.names[name]
        elif metric.formula:
            names[name] = _formula(metric, scope)
    return scope


def _formula(metric: metrics.Metric, scope: Scope) -> Any:
    return lambda: compile_expression(str(metric.formula), scope)


def _needs(playbook: Playbook, uses: frozenset[str]) -> tuple[dict[str, set[str]], set[str]]:
    """Which aggregate metrics to compute for which rows: {aggregate: target metrics needing
    it}, and the aggregates every row gets because the caller's rules name them (`uses`)."""
    declared = metrics.declared(playbook)
    deps: dict[str, set[str]] = {}
    for name, metric in declared.items():
        found = {name} if metric.aggregate else metrics.formula_names(playbook, metric)
        deps[name] = {n for n in found if declared[n].aggregate}
    per_row: dict[str, set[str]] = {}
    for name, aggregates in deps.items():
        for aggregate in aggregates:
            per_row.setdefault(aggregate, set()).add(name)
    everywhere: set[str] = set()
    for name in uses:
        everywhere |= deps.get(name, set())
    return per_row, everywhere


def _temp(conn: Connection, name: str, cols: dict[str, str]) -> sa.Table:
    return temp_table(conn, name, {n: _sql_type(k) for n, k in cols.items()})


def _closure(conn: Connection) -> Any:
    """(top, unit): every live org unit with itself and each unit below it. UNION (not ALL)
    ends the recursion even if the imported tree has a cycle."""
    o = table_of(OrgUnit)
    start = sa.select(o.c.id.label("top"), o.c.id.label("unit")).where(o.c.deleted == sa.false())
    tree = start.cte("org_tree", recursive=True)
    child = o.alias("child")
    tree = tree.union(
        sa.select(tree.c.top, child.c.id)
        .join_from(tree, child, child.c.parent_id == tree.c.unit)
        .where(child.c.deleted == sa.false())
    )
    table = _temp(conn, "org_closure", {"top": "text", "unit": "text"})
    conn.execute(table.insert().from_select(["top", "unit"], sa.select(tree.c.top, tree.c.unit)))
    conn.exec_driver_sql("CREATE INDEX org_closure_top ON org_closure (top, unit)")
    analyze(conn, "org_closure")
    return table


def _work_days(conn: Connection, country: str, spans: sa.Select[Any]) -> sa.Table:
    """goal_days(day, work): every day the chosen targets span, 1 on a working day."""
    span = spans.subquery()
    bounds = conn.execute(
        sa.select(sa.func.min(span.c.period_start), sa.func.max(span.c.period_end))
    ).first()
    table = _temp(conn, "goal_days", {"day": "date", "work": "number"})
    if bounds is None or bounds[0] is None:
        return table
    first, last = dates.as_date(bounds[0]), dates.as_date(bounds[1])
    calendar = _holidays(country, list(range(first.year, last.year + 1)))
    rows = []
    day = first
    while day <= last:
        rows.append((day, 1 if calendar.is_working_day(day) else 0))
        day += timedelta(days=1)
    bulk_insert(conn, "goal_days", ["day", "work"], rows)
    conn.exec_driver_sql("CREATE INDEX goal_days_day ON goal_days (day, work)")
    analyze(conn, "goal_days")
    return table


def _count_days(days: sa.Table, first: Any, last: Any) -> Any:
    return sa.func.coalesce(
        sa.select(sa.func.sum(days.c.work))
        .where(days.c.day >= first, days.c.day <= last)
        .scalar_subquery(),
        0,
    )


def drop(conn: Connection) -> None:
    for name in ("facts_target", "goal_targets", "goal_reps", "org_closure", "goal_days"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")


class TargetFacts:
    """The facts of every target (owner, metric, period): target, actual rolled up the org
    tree, expected by now, completion, pace, light and forecast. Offered to every family as
    the subject `target`: `for: targets` warnings, team bonuses and scorecards read it."""

    scope = staticmethod(scope)
    materialize = staticmethod(materialize)
    drop = staticmethod(drop)
