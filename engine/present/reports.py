"""`salesplay report KIND`: figures for managers, each one set-based SQL over the stored data.

The engine's own reports read only engine tables (deals, alerts, tasks, activities): `funnel`
and `warnings`. The others come from the families that know what they mean (follow-up
compliance needs the cadences, the goal tree the goals), offered through the optional
`Reports` hook, so the engine never names a family.

Every report answers the same envelope, the JSON contract:

    {"kind": "funnel", "as_of": "2024-06-30", "period": "2024-06", "under": null, "rows": [...]}
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.lang import periods
from salesplay.engine.present.output import money
from salesplay.engine.run.family import Panel, Playbook, Report, ReportQuery, Reports
from salesplay.engine.sql.team import reps_under
from salesplay.engine.store.dialects import days_between
from salesplay.engine.store.models import Activity, Alert, Customer, Deal, OrgUnit, Rep, Task
from salesplay.engine.store.models import table_of as t

# Alerts handled within this many days of being raised count as handled (the noise report).
HANDLED_WITHIN = 7
LEVELS = ("red", "yellow", "green")


@dataclass
class Result:
    """A report's rows and the envelope around them."""

    report: Report
    query: ReportQuery
    rows: list[dict[str, Any]]

    def envelope(self) -> dict[str, Any]:
        return {
            "kind": self.report.kind,
            "as_of": self.query.as_of.isoformat(),
            "period": periods.label(*self.query.period),
            "under": self.query.under,
            "rows": self.rows,
        }


# Keys holding a fraction (0.5 = 50%) in any report: a table shows them as percentages.
SHARES = frozenset(
    {"win_rate", "share", "conversion", "handled_share", "acted_share", "on_time_rate",
     "completion", "pace"}
)  # fmt: skip


def for_people(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows for a table: fractions as percentages (0.5909 → 59.1%); JSON and CSV keep them."""
    return [
        {
            k: f"{float(v) * 100:.1f}%" if k in SHARES and isinstance(v, (int, float)) else v
            for k, v in row.items()
        }
        for row in rows
    ]


def available(playbook: Playbook) -> dict[str, Report]:
    """Every report kind under the playbook: the engine's, then each family's."""
    found = {report.kind: report for report in ENGINE_REPORTS}
    for family in playbook.families:
        if isinstance(family, Reports):
            found.update({report.kind: report for report in family.reports(playbook)})
    return found


def query(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    period: str | None = None,
    under: str | None = None,
    since: date | None = None,
) -> ReportQuery:
    """The question every report is asked, checked: the period (default: the month of as_of),
    cut at as_of; an org unit that exists. Bad input is a one-line SalesplayError."""
    if period is None:
        first = as_of.replace(day=1)
        span = (first, periods.parse(f"{as_of:%Y-%m}")[1])
    else:
        span = periods.parse_option(period, "--period")
    if under is not None and not unit_exists(engine, under):
        raise SalesplayError(f"--under: no org unit with id '{under}'")
    if since is not None and since > as_of:
        raise SalesplayError(f"--since: {since} is after the as-of date {as_of}")
    return ReportQuery(engine, playbook, as_of, span, under, since, period)


def run(kind: str, found: ReportQuery, table: bool = False) -> Result:
    """One report's rows for the query."""
    known = available(found.playbook)
    if kind not in known:
        raise SalesplayError(f"unknown report '{kind}': choose one of {', '.join(known)}")
    report = known[kind]
    return Result(report, found, report.build(found, table))


def unit_exists(engine: Engine, unit: str) -> bool:
    o = t(OrgUnit)
    with engine.connect() as conn:
        hit = conn.execute(sa.select(o.c.id).where(o.c.id == unit, o.c.deleted == sa.false()))
        return hit.first() is not None


def until(found: ReportQuery) -> date:
    """The period's last day that has happened: its end, or as_of when that comes first."""
    return min(found.period[1], found.as_of)


def weeks(found: ReportQuery) -> float:
    """How many weeks the period has run by as_of (at least one day)."""
    days = max((until(found) - found.period[0]).days + 1, 1)
    return days / 7


def share(part: int | None, whole: int | None) -> float | None:
    """part / whole rounded to 4 places; None when there is nothing to divide by."""
    if not whole:
        return None
    return round((part or 0) / whole, 4)


def rep_names(conn: Connection, ids: set[str]) -> dict[str, str]:
    r = t(Rep)
    if not ids:
        return {}
    found = conn.execute(sa.select(r.c.id, r.c.name).where(r.c.id.in_(sorted(ids))))
    return {str(k): str(v) for k, v in found.all()}


def with_name(rep_id: str | None, names: dict[str, str]) -> str | None:
    """`R1 张三` for a table; the id alone when the rep is not known."""
    if rep_id is None:
        return None
    name = names.get(rep_id)
    return f"{rep_id} {name}" if name else rep_id


# ---- funnel -------------------------------------------------------------------------------

FUNNEL_COLUMNS = (
    "stage",
    "open_deals",
    "open_amount",
    "avg_days_in_stage",
    "closed_deals",
    "won_deals",
    "win_rate",
    "avg_cycle_days",
)


def funnel(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """Per deal stage: open deals and their amount, the average days since their last stage
    change, the period's closed deals at that stage and the share won, and the average sales
    cycle of the deals won (customer created → won). A last row (stage null) totals them.

    Deals keep only their current stage, so a deal closed in the period is one whose status is
    won or lost and whose last stage change falls in the period."""
    d, c = t(Deal), t(Customer)
    start, end = found.period[0], until(found)
    is_open = d.c.status == "open"
    closed = sa.and_(
        d.c.status.in_(("won", "lost")),
        d.c.stage_changed_on >= start,
        d.c.stage_changed_on <= end,
    )
    won = sa.and_(closed, d.c.status == "won")
    days_in_stage = days_between(sa.literal(found.as_of, sa.Date()), d.c.stage_changed_on)
    cycle = days_between(d.c.stage_changed_on, c.c.created_on)

    def measures(*keys: Any) -> sa.Select[Any]:
        query = (
            sa.select(
                *keys,
                sa.func.count().filter(is_open).label("open_deals"),
                sa.func.sum(d.c.amount_cents).filter(is_open).label("open_amount"),
                sa.func.sum(days_in_stage)
                .filter(is_open, d.c.stage_changed_on.is_not(None))
                .label("stage_days"),
                sa.func.count(d.c.stage_changed_on).filter(is_open).label("stage_n"),
                sa.func.count().filter(closed).label("closed_deals"),
                sa.func.count().filter(won).label("won_deals"),
                sa.func.sum(cycle).filter(won, c.c.created_on.is_not(None)).label("cycle_days"),
                sa.func.count(c.c.created_on).filter(won).label("cycle_n"),
            )
            .select_from(d.outerjoin(c, c.c.id == d.c.customer_id))
            .where(d.c.deleted == sa.false(), sa.or_(is_open, closed))
        )
        if found.under is not None:
            query = query.where(d.c.rep_id.in_(reps_under(found.under)))
        return query

    with found.engine.connect() as conn:
        stages = conn.execute(measures(d.c.stage).group_by(d.c.stage)).mappings().all()
        total = conn.execute(measures()).mappings().one()
    rows = [_funnel_row(row["stage"], row) for row in stages]
    rows.sort(key=lambda row: (-row["open_deals"], -row["closed_deals"], row["stage"] or ""))
    if rows:
        rows.append(_funnel_row(None, total))
    return rows


def _funnel_row(stage: str | None, row: Any) -> dict[str, Any]:
    def average(total: Any, n: Any) -> float | None:
        return round(float(total) / n, 1) if n else None

    return {
        "stage": stage,
        "open_deals": int(row["open_deals"] or 0),
        "open_amount": money(row["open_amount"] or 0),
        "avg_days_in_stage": average(row["stage_days"], row["stage_n"]),
        "closed_deals": int(row["closed_deals"] or 0),
        "won_deals": int(row["won_deals"] or 0),
        "win_rate": share(row["won_deals"], row["closed_deals"]),
        "avg_cycle_days": average(row["cycle_days"], row["cycle_n"]),
    }


# ---- warnings and their noise -------------------------------------------------------------

WARNING_COLUMNS = (
    "part",
    "rule",
    "recipient_id",
    "open",
    "open_red",
    "open_yellow",
    "open_green",
    "raised",
    "resolved",
    "handled_share",
    "acted_share",
    "median_open_days",
    "per_week",
    "budget",
    "over_budget",
)

_BUDGET = re.compile(r"\s*(\d+)\s*(?:per|/)\s*week\s*")


def alert_budget(playbook: Playbook) -> int | None:
    """`delivery.alert_budget: 20 per week` as 20; None when the playbook sets none."""
    text = (playbook.section("delivery") or {}).get("alert_budget")
    if text is None:
        return None
    m = _BUDGET.fullmatch(str(text))
    return int(m.group(1)) if m else None


def alert_noise(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """Open alerts and their noise, for the report a family offers (the engine stores alerts
    but names no family). Rows of part `rule`: per rule, open alerts by level, raised and
    resolved in the period, the share of those raised handled (acknowledged or resolved)
    within 7 days, the share that led within 7 days to a contact with the customer or a task
    on the same subject done or closed, the median age of the open ones, and the most alerts
    per week it sent one recipient (over_budget when above `delivery.alert_budget`). Rows of
    part `recipient`: per recipient, alerts received per week in the period against it."""
    a, act, task = t(Alert), t(Activity), t(Task)
    start, end, as_of = found.period[0], until(found), found.as_of
    scoped = [a.c.recipient_id.in_(reps_under(found.under))] if found.under else []
    is_open = sa.or_(
        a.c.status == "open",
        sa.and_(a.c.status == "snoozed", a.c.snoozed_until <= as_of),
    )
    in_period = sa.and_(a.c.raised_on >= start, a.c.raised_on <= end)
    within = HANDLED_WITHIN

    def soon(day: Any) -> Any:
        return sa.and_(
            day.is_not(None),
            days_between(day, a.c.raised_on) <= within,
            day <= as_of,
        )

    contacted = (
        sa.select(act.c.id)
        .where(
            a.c.subject_type == "customer",
            act.c.customer_id == a.c.subject_id,
            act.c.deleted == sa.false(),
            act.c.occurred_on >= a.c.raised_on,
            days_between(act.c.occurred_on, a.c.raised_on) <= within,
            act.c.occurred_on <= as_of,
        )
        .exists()
    )
    tasked = (
        sa.select(task.c.id)
        .where(
            task.c.subject_type == a.c.subject_type,
            task.c.subject_id == a.c.subject_id,
            task.c.status.in_(("done", "closed")),
            task.c.closed_on >= a.c.raised_on,
            days_between(task.c.closed_on, a.c.raised_on) <= within,
            task.c.closed_on <= as_of,
        )
        .exists()
    )
    handled = sa.or_(soon(a.c.acknowledged_on), soon(a.c.resolved_on))
    alive = a.c.raised_on <= as_of
    per_rule = (
        sa.select(
            a.c.rule,
            sa.func.count().filter(is_open).label("open"),
            *[
                sa.func.count().filter(is_open, a.c.level == level).label(f"open_{level}")
                for level in LEVELS
            ],
            sa.func.count().filter(in_period).label("raised"),
            sa.func.count()
            .filter(a.c.resolved_on >= start, a.c.resolved_on <= end)
            .label("resolved"),
            sa.func.count().filter(in_period, handled).label("handled"),
            sa.func.count().filter(in_period, sa.or_(contacted, tasked)).label("acted"),
        )
        .where(alive, *scoped)
        .group_by(a.c.rule)
    )
    ages = (
        sa.select(
            a.c.rule,
            days_between(sa.literal(as_of, sa.Date()), a.c.raised_on).label("age"),
            sa.func.count().label("n"),
        )
        .where(alive, is_open, *scoped)
        .group_by(a.c.rule, sa.literal_column("age"))
    )
    received = (
        sa.select(a.c.rule, a.c.recipient_id, sa.func.count().label("n"))
        .where(in_period, *scoped)
        .group_by(a.c.rule, a.c.recipient_id)
    )
    with found.engine.connect() as conn:
        rules = conn.execute(per_rule).mappings().all()
        histogram: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row in conn.execute(ages).mappings():
            histogram[row["rule"]].append((int(row["age"]), int(row["n"])))
        counts = [tuple(row) for row in conn.execute(received).all()]
        names = rep_names(conn, {str(r) for _, r, _ in counts if r}) if table else {}
    budget = alert_budget(found.playbook)
    span_weeks = weeks(found)
    peak: dict[str, float] = defaultdict(float)
    by_recipient: dict[str | None, int] = defaultdict(int)
    for rule, recipient, n in counts:
        peak[rule] = max(peak[rule], n / span_weeks)
        by_recipient[recipient] += n
    rows = []
    for row in sorted(rules, key=lambda r: (-r["raised"], -r["open"], r["rule"])):
        if not row["open"] and not row["raised"] and not row["resolved"]:
            continue
        rows.append(
            {
                "part": "rule",
                "rule": row["rule"],
                "recipient_id": None,
                "open": row["open"],
                **{f"open_{level}": row[f"open_{level}"] for level in LEVELS},
                "raised": row["raised"],
                "resolved": row["resolved"],
                "handled_share": share(row["handled"], row["raised"]),
                "acted_share": share(row["acted"], row["raised"]),
                "median_open_days": median(histogram.get(row["rule"], [])),
                "per_week": round(peak.get(row["rule"], 0.0), 2),
                "budget": budget,
                "over_budget": budget is not None and peak.get(row["rule"], 0.0) > budget,
            }
        )
    for recipient, n in sorted(by_recipient.items(), key=lambda kv: (-kv[1], kv[0] or "")):
        rate = n / span_weeks
        rows.append(
            {
                "part": "recipient",
                "rule": None,
                "recipient_id": with_name(recipient, names) if table else recipient,
                "open": None,
                **{f"open_{level}": None for level in LEVELS},
                "raised": n,
                "resolved": None,
                "handled_share": None,
                "acted_share": None,
                "median_open_days": None,
                "per_week": round(rate, 2),
                "budget": budget,
                "over_budget": budget is not None and rate > budget,
            }
        )
    return rows


def median(histogram: list[tuple[int, int]]) -> float | None:
    """The median of values given as (value, how many): the middle one, or the mean of the
    two middle ones."""
    total = sum(n for _, n in histogram)
    if not total:
        return None
    ordered = sorted(histogram)

    def nth(k: int) -> int:
        seen = 0
        for value, n in ordered:
            seen += n
            if seen > k:
                return value
        return ordered[-1][0]

    if total % 2:
        return float(nth(total // 2))
    return (nth(total // 2 - 1) + nth(total // 2)) / 2


# ---- visits per week -----------------------------------------------------------------------

VISIT_COLUMNS = ("week", "first_day", "visits", "customers", "reps")


def visits(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """Per ISO week touching the period (up to as_of): visits made, customers visited and reps
    who visited. Every week is listed, a week without a visit with zeros, so that a trend has
    no holes."""
    act = t(Activity)
    start, end = found.period[0], until(found)
    monday = start - timedelta(days=start.weekday())
    weeks_: list[tuple[date, date]] = []
    while monday <= end:
        weeks_.append((monday, monday + timedelta(days=6)))
        monday += timedelta(days=7)
    if not weeks_:
        return []
    week_of = sa.case(
        *[(act.c.occurred_on <= last, first) for first, last in weeks_],
    )
    query = (
        sa.select(
            week_of.label("first_day"),
            sa.func.count().label("visits"),
            sa.func.count(sa.distinct(act.c.customer_id)).label("customers"),
            sa.func.count(sa.distinct(act.c.rep_id)).label("reps"),
        )
        .where(
            act.c.deleted == sa.false(),
            act.c.channel == "visit",
            act.c.occurred_on >= weeks_[0][0],
            act.c.occurred_on <= end,
        )
        .group_by(week_of)
    )
    if found.under is not None:
        query = query.where(act.c.rep_id.in_(reps_under(found.under)))
    with found.engine.connect() as conn:
        counted = {_day(row["first_day"]): row for row in conn.execute(query).mappings()}
    if not counted:
        return []
    rows = []
    for first, _ in weeks_:
        row = counted.get(first)
        rows.append(
            {
                "week": "{}-W{:02d}".format(*first.isocalendar()[:2]),
                "first_day": first,
                "visits": int(row["visits"]) if row else 0,
                "customers": int(row["customers"]) if row else 0,
                "reps": int(row["reps"]) if row else 0,
            }
        )
    return rows


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


FUNNEL_LABELS = {
    "en": {"count.one": "{n} row", "count.many": "{n} rows"},
    "zh": {
        "stage": "阶段",
        "open_deals": "在途商机",
        "open_amount": "在途金额",
        "avg_days_in_stage": "平均停留天数",
        "closed_deals": "本期关闭",
        "won_deals": "赢单",
        "win_rate": "赢单率",
        "avg_cycle_days": "平均成交周期(天)",
        "count.many": "{n} 行",
    },
}

WARNING_LABELS = {
    "en": {"part.rule": "rule", "part.recipient": "recipient"},
    "zh": {
        "part": "类别",
        "part.rule": "规则",
        "part.recipient": "接收人",
        "rule": "规则",
        "recipient_id": "接收人",
        "open": "未处理",
        "open_red": "红",
        "open_yellow": "黄",
        "open_green": "绿",
        "raised": "本期触发",
        "resolved": "本期解除",
        "handled_share": "7天内处理率",
        "acted_share": "7天内跟进率",
        "median_open_days": "未处理中位天数",
        "per_week": "每周条数",
        "budget": "预算",
        "over_budget": "超预算",
        "count.many": "{n} 行",
    },
}

VISIT_LABELS = {
    "zh": {
        "week": "周",
        "first_day": "周一",
        "visits": "拜访次数",
        "customers": "拜访客户",
        "reps": "拜访人数",
        "count.many": "{n} 周",
    }
}

ENGINE_REPORTS = (
    Report(
        "funnel",
        "Per deal stage: open deals and amount, days in stage, the period's win rate, cycle.",
        FUNNEL_COLUMNS,
        funnel,
        labels=FUNNEL_LABELS,
        panels=(
            Panel(
                20,
                {"en": "Funnel", "zh": "销售漏斗"},
                "stage",
                FUNNEL_COLUMNS[1:],
                chart="bars",
                value="open_deals",
            ),
        ),
    ),
    Report(
        "visits",
        "Visits per week of the period: visits, customers visited, reps who visited.",
        VISIT_COLUMNS,
        visits,
        labels=VISIT_LABELS,
        panels=(
            Panel(
                40,
                {"en": "Visits per week", "zh": "每周拜访"},
                "week",
                ("visits", "customers", "reps"),
                chart="columns",
                value="visits",
            ),
        ),
    ),
)
