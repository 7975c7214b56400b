"""Scorecards (DOMAIN.md §4): weighted KPI scores per rep and period, ranked within the team.

A card scores months, quarters or years. Each KPI's attainment is the completion of the rep's
target for that metric whose period is exactly the scored period (actual ÷ target, or target ÷
actual for a `better: lower` metric), capped where the playbook says; the score is
Σ weight × capped attainment × 100, so 100 means every KPI exactly on target. Weights change on
an effective date: a period uses the latest version that starts on or before its first day.

    scorecards:
      quarterly:
        period: quarter
        versions:
          - from: 2024-01-01
            kpis:
              - {metric: sales, weight: 50%, cap: 120%}
              - {metric: satisfaction, weight: 50%, cap: 100%}

Everything is computed set-based from the `target` facts (rules/goals) into one temporary table,
`scorecard_lines` (one row per rep, period and KPI), and ranked with a window function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.lang.operators import NUMERIC
from salesplay.engine.lang.schema import ATTAINMENT, SHARE
from salesplay.engine.lang.values import share
from salesplay.engine.run.family import Playbook
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import unknown_name
from salesplay.engine.store.db import temp_table
from salesplay.engine.store.dialects import floor_int
from salesplay.engine.store.models import Rep, table_of

SECTION = "scorecards"
KINDS = ("month", "quarter", "year")
_DATE = r"^\d{4}-\d{2}-\d{2}$"

_KPI = {
    "type": "object",
    "properties": {
        "metric": {"type": "string", "description": "a goal metric of `metrics:`"},
        "weight": {**SHARE, "description": "its share of the score, e.g. 50%"},
        "cap": {
            **ATTAINMENT,
            "description": "attainment counts at most this much, e.g. 120% (default: no cap)",
        },
        "description": {"type": "string"},
    },
    "required": ["metric", "weight"],
    "additionalProperties": False,
}
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "weighted KPI scorecards per rep and period, ranked within the team",
    "additionalProperties": {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "period": {"enum": list(KINDS), "description": "the periods the card scores"},
            "versions": {
                "type": "array",
                "minItems": 1,
                "description": "the KPIs and weights, each set from an effective date on",
                "items": {
                    "type": "object",
                    "properties": {
                        "from": {
                            "type": "string",
                            "pattern": _DATE,
                            "description": "first day of the first period this version scores",
                        },
                        "description": {"type": "string"},
                        "kpis": {"type": "array", "minItems": 1, "items": _KPI},
                    },
                    "required": ["from", "kpis"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["period", "versions"],
        "additionalProperties": False,
    },
}


@dataclass(frozen=True)
class Kpi:
    metric: str
    weight: Fraction
    cap: Fraction | None


@dataclass(frozen=True)
class Version:
    starts: date
    kpis: tuple[Kpi, ...]


@dataclass(frozen=True)
class Card:
    name: str
    kind: str  # month / quarter / year
    versions: tuple[Version, ...]  # in order of their `from`

    def version(self, first_day: date) -> Version | None:
        """The latest version starting on or before the period's first day."""
        found = None
        for version in self.versions:
            if version.starts <= first_day:
                found = version
        return found

    def periods(self, span: tuple[date, date]) -> list[tuple[date, date]]:
        """The card's periods lying within span, in order."""
        out = []
        day = dates.period_start(span[0], self.kind)
        while day <= span[1]:
            end = dates.period_end(day, self.kind)
            if day >= span[0] and end <= span[1]:
                out.append((day, end))
            day = dates.period_start(dates.shift(end, 1, "days"), self.kind)
        return out


def cards(playbook: Playbook) -> list[Card]:
    """The section's cards, parsed (check() has validated them)."""
    out = []
    for name, spec in (playbook.section(SECTION) or {}).items():
        versions = tuple(
            Version(
                date.fromisoformat(str(v["from"])),
                tuple(
                    Kpi(
                        str(k["metric"]),
                        share(k["weight"]),
                        None if k.get("cap") is None else share(k["cap"], over_100=True),
                    )
                    for k in v["kpis"]
                ),
            )
            for v in spec["versions"]
        )
        out.append(Card(str(name), str(spec["period"]), versions))
    return out


def check(playbook: Playbook) -> None:
    """Dates on period boundaries and in order, weights adding up to 100%, known goal metrics."""
    measurable = _measurable(playbook)
    declared = metrics.declared(playbook)
    for name, spec in (playbook.section(SECTION) or {}).items():
        kind = str(spec["period"])
        previous: date | None = None
        for i, version in enumerate(spec["versions"]):
            at: tuple[str | int, ...] = (SECTION, name, "versions", i)
            try:
                starts = date.fromisoformat(str(version["from"]))
            except ValueError as exc:
                raise playbook.error((*at, "from"), f"'{version['from']}': {exc}") from None
            if dates.period_start(starts, kind) != starts:
                first = dates.period_start(starts, kind)
                raise playbook.error(
                    (*at, "from"),
                    f"a {kind}ly card changes on a {kind}'s first day: {starts} falls inside "
                    f"the {kind} starting {first}",
                )
            if previous is not None and starts <= previous:
                raise playbook.error(
                    (*at, "from"), f"versions go in date order: {starts} is not after {previous}"
                )
            previous = starts
            total = Fraction(0)
            seen: set[str] = set()
            for j, kpi in enumerate(version["kpis"]):
                where = (*at, "kpis", j)
                metric = str(kpi["metric"])
                if metric not in declared:
                    raise playbook.error(
                        (*where, "metric"), unknown_name(metric, declared, noun="metric")
                    )
                if metric not in measurable:
                    raise playbook.error(
                        (*where, "metric"),
                        f"'{metric}' is not a number a target can be measured by",
                    )
                if metric in seen:
                    raise playbook.error((*where, "metric"), f"'{metric}' is listed twice")
                seen.add(metric)
                total += share(kpi["weight"])
                if declared[metric].better == "lower" and kpi.get("cap") is None:
                    raise playbook.error(
                        (*where, "cap"),
                        f"'{metric}' is better lower, so a rep at 0 would attain without "
                        "limit: give it a cap, e.g. cap: 120%",
                    )
            if total != 1:
                raise playbook.error(
                    (*at, "kpis"), f"the weights add up to {_percent(total)}, not 100%"
                )


def _percent(value: Fraction) -> str:
    text = f"{Decimal(value.numerator) / Decimal(value.denominator) * 100:f}"
    return (text.rstrip("0").rstrip(".") if "." in text else text) + "%"


def _measurable(playbook: Playbook) -> set[str]:
    """Metrics a target can be measured by: those that are a number over the target facts."""
    scope = playbook.subject("target").scope(playbook, None, date(2000, 1, 1))
    out = set()
    for name in metrics.declared(playbook):
        try:
            if scope.resolve(name, 0).type in NUMERIC:
                out.add(name)
        except ExpressionError:
            continue
    return out


# ---- the computation ----------------------------------------------------------------------

_KPI_COLUMNS = {
    "card": sa.String(),
    "period_start": sa.Date(),
    "period_end": sa.Date(),
    "position": sa.Integer(),
    "metric": sa.String(),
    "weight": sa.Double(),
    "cap": sa.Double(),
    "cap_num": sa.BigInteger(),
    "cap_den": sa.BigInteger(),
    "per_unit": sa.Double(),  # weight × 100: the points one unit of attainment earns
    "cap_points": sa.Double(),  # weight × cap × 100, exact from the fractions
}


def scored_periods(
    playbook: Playbook, as_of: date, span: tuple[date, date] | None
) -> list[tuple[Card, date, date, Version]]:
    """Every (card, period, version) to score: the card's periods lying within span, or without
    span the card's period holding as_of; a period before the first version is not scored."""
    out = []
    for card in cards(playbook):
        if span is None:
            chosen = [(dates.period_start(as_of, card.kind), dates.period_end(as_of, card.kind))]
        else:
            chosen = card.periods(span)
        for first, last in chosen:
            version = card.version(first)
            if version is not None:
                out.append((card, first, last, version))
    return out


def materialize(
    conn: Connection, playbook: Playbook, as_of: date, span: tuple[date, date] | None
) -> sa.Table | None:
    """Create scorecard_lines: one row per scored rep, period and KPI, with the rep's score and
    rank within the team on every row of theirs. None when no card has a period to score."""
    wanted = scored_periods(playbook, as_of, span)
    if not wanted:
        return None
    kpis = temp_table(conn, "scorecard_kpis", _KPI_COLUMNS)
    rows = []
    for card, first, last, version in wanted:
        for position, kpi in enumerate(version.kpis):
            cap = kpi.cap
            rows.append(
                {
                    "card": card.name,
                    "period_start": first,
                    "period_end": last,
                    "position": position,
                    "metric": kpi.metric,
                    "weight": float(kpi.weight),
                    "cap": None if cap is None else float(cap),
                    "cap_num": None if cap is None else cap.numerator,
                    "cap_den": None if cap is None else cap.denominator,
                    "per_unit": float(kpi.weight * 100),
                    "cap_points": None if cap is None else float(kpi.weight * cap * 100),
                }
            )
    conn.execute(kpis.insert(), rows)
    first_day = min(w[1] for w in wanted)
    last_day = max(w[2] for w in wanted)
    facts = playbook.subject("target").materialize(
        conn, playbook, as_of, period=(first_day, last_day)
    )
    f, k, r = facts.c, kpis.c, table_of(Rep).c

    # one target per rep, metric and exact period (should there be several: the smallest id)
    first_target = (
        sa.select(
            f.owner_id,
            f.metric,
            f.period_start,
            f.period_end,
            f.target,
            f.actual,
            f.completion,
            f.lower_better,
            sa.func.row_number()
            .over(
                partition_by=[f.owner_id, f.metric, f.period_start, f.period_end],
                order_by=f.target_id,
            )
            .label("nth"),
        )
        .where(f.owner_type == "rep")
        .subquery("rep_targets")
    )
    t = first_target.c
    same_period = sa.and_(
        t.metric == k.metric, t.period_start == k.period_start, t.period_end == k.period_end
    )
    # the reps a card scores: those holding at least one of its targets for the period
    scored = (
        sa.select(k.card, k.period_start, k.period_end, t.owner_id.label("rep_id"))
        .join_from(kpis, first_target, same_period)
        .where(t.nth == 1)
        .distinct()
        .subquery("scored")
    )
    s = scored.c
    mine = sa.and_(
        t.owner_id == s.rep_id,
        t.metric == k.metric,
        t.period_start == s.period_start,
        t.period_end == s.period_end,
        t.nth == 1,
    )
    higher = t.lower_better == sa.false()
    # attainment ≥ cap, compared without dividing: actual·q ≥ p·target (target·q ≥ p·actual)
    reaches_cap = sa.and_(
        k.cap_num.is_not(None),
        sa.case(
            (higher, sa.and_(t.target > 0, t.actual * k.cap_den >= t.target * k.cap_num)),
            else_=sa.and_(t.target > 0, t.target * k.cap_den >= t.actual * k.cap_num),
        ),
    )
    capped_flag = sa.case((t.target.is_(None), sa.null()), (reaches_cap, True), else_=False)
    capped = sa.case((t.target.is_(None), sa.null()), (reaches_cap, k.cap), else_=t.completion)
    points = sa.case(
        (t.target.is_(None), 0.0),
        (reaches_cap, k.cap_points),
        else_=sa.func.coalesce(sa.cast(t.completion, sa.Double()) * k.per_unit, 0.0),
    )
    columns: dict[str, Any] = {
        "card": s.card,
        "period_start": s.period_start,
        "period_end": s.period_end,
        "rep_id": s.rep_id,
        "rep_name": r.name,
        "org_unit_id": r.org_unit_id,
        "position": k.position,
        "metric": k.metric,
        "weight": k.weight,
        "cap": k.cap,
        "target": t.target,
        "actual": t.actual,
        "lower_better": t.lower_better,
        "attainment": t.completion,
        "is_capped": capped_flag,
        "capped": capped,
        "points": points,
    }
    types = {
        "card": sa.String(),
        "period_start": sa.Date(),
        "period_end": sa.Date(),
        "rep_id": sa.String(),
        "rep_name": sa.String(),
        "org_unit_id": sa.String(),
        "position": sa.Integer(),
        "metric": sa.String(),
        "weight": sa.Double(),
        "cap": sa.Double(),
        "target": sa.Double(),
        "actual": sa.Double(),
        "lower_better": sa.Boolean(),
        "attainment": sa.Double(),
        "is_capped": sa.Boolean(),
        "capped": sa.Double(),
        "points": sa.Double(),
        "score": sa.Double(),
        "score_x100": sa.BigInteger(),
        "rank": sa.Integer(),
        "team_size": sa.Integer(),
    }
    lines = temp_table(conn, "scorecard_lines", types)
    conn.execute(
        lines.insert().from_select(
            list(columns),
            sa.select(*[v.label(n) for n, v in columns.items()])
            .select_from(scored)
            .join(kpis, sa.and_(k.card == s.card, k.period_start == s.period_start))
            .join(table_of(Rep), r.id == s.rep_id)
            .outerjoin(first_target, mine),
        )
    )
    # the score, rounded half up to hundredths (the tiny nudge absorbs binary fractions such as
    # 98.4 being stored as 98.39999…), and the competition rank on it: 1, 2, 2, 4
    c = lines.c
    totals = (
        sa.select(
            c.card,
            c.period_start,
            c.rep_id,
            c.org_unit_id,
            sa.func.sum(c.points).label("score"),
            floor_int(sa.func.sum(c.points) * 100 + 0.5 + 1e-9).label("score_x100"),
        )
        .group_by(c.card, c.period_start, c.rep_id, c.org_unit_id)
        .subquery("totals")
    )
    team = [totals.c.card, totals.c.period_start, totals.c.org_unit_id]
    ranked = sa.select(
        totals.c.card,
        totals.c.period_start,
        totals.c.rep_id,
        totals.c.score,
        totals.c.score_x100,
        sa.case(
            (totals.c.org_unit_id.is_(None), sa.null()),
            else_=sa.func.rank().over(partition_by=team, order_by=totals.c.score_x100.desc()),
        ).label("rank"),
        sa.func.count().over(partition_by=team).label("team_size"),
    ).subquery("ranked")
    # kept in a table of its own (indexed) so that the updates below read it, not recompute it
    ranks = temp_table(
        conn,
        "scorecard_ranks",
        {n: types[n] for n in ("card", "period_start", "rep_id", *_RANKED)},
    )
    conn.execute(ranks.insert().from_select(list(ranked.c.keys()), sa.select(ranked)))
    conn.exec_driver_sql(
        "CREATE INDEX scorecard_ranks_key ON scorecard_ranks (card, period_start, rep_id)"
    )
    for name in _RANKED:
        conn.execute(
            lines.update().values(
                {
                    name: sa.select(ranks.c[name])
                    .where(
                        ranks.c.card == c.card,
                        ranks.c.period_start == c.period_start,
                        ranks.c.rep_id == c.rep_id,
                    )
                    .scalar_subquery()
                }
            )
        )
    return lines


_RANKED = ("score", "score_x100", "rank", "team_size")


def drop(conn: Connection, playbook: Playbook) -> None:
    for name in ("scorecard_lines", "scorecard_kpis", "scorecard_ranks"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    playbook.subject("target").drop(conn)
