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

Everything is computed set-based from `facts_target` (engine/goals.py) into one temporary table,
`scorecard_lines` (one row per rep, period and KPI), and ranked with a window function.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import ExpressionError, SalesplayError
from salesplay.engine.lang import dates, periods
from salesplay.engine.lang.playbook import Playbook
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Scope, Typed, compile_expression, unknown_name
from salesplay.engine.sql.templates import format_value
from salesplay.engine.store.db import floor_int, temp_table
from salesplay.engine.store.models import OrgUnit, Rep, table_of
from salesplay.rules.goals import facts as goals

SECTION = "scorecards"
KINDS = ("month", "quarter", "year")
_DATE = r"^\d{4}-\d{2}-\d{2}$"

_KPI = {
    "type": "object",
    "properties": {
        "metric": {"type": "string", "description": "a goal metric of `metrics:`"},
        "weight": {**goals.PERCENT, "description": "its share of the score, e.g. 50%"},
        "cap": {
            **goals.PERCENT,
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
                        goals.share(k["weight"]),
                        None if k.get("cap") is None else goals.share(k["cap"]),
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
                for key in ("weight", "cap"):
                    if kpi.get(key) is not None:
                        try:
                            goals.share(kpi[key])
                        except ExpressionError as exc:
                            raise playbook.expression_error((*where, key), exc) from None
                total += goals.share(kpi["weight"])
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
    """Metrics a target can be measured by: those that compile to a number over facts_target."""
    table = goals.placeholder(playbook)
    cols = goals.columns(playbook)
    row_scope = Scope({n: Typed(table.c[n], k) for n, k in cols.items()}, date(2000, 1, 1), "")
    names: dict[str, Any] = {}
    scope = Scope(names, row_scope.as_of, "goal metrics")
    declared = metrics.declared(playbook)
    for name, metric in declared.items():
        if metric.aggregate:
            names[name] = row_scope.names[name]
        elif metric.formula:
            names[name] = _lazy(str(metric.formula), scope)
    out = set()
    for name in declared:
        try:
            if compile_expression(name, scope).type in ("amount", "number"):
                out.add(name)
        except ExpressionError:
            continue
    return out


def _lazy(formula: str, scope: Scope) -> Any:
    return lambda: compile_expression(formula, scope)


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
    facts = goals.materialize(conn, playbook, as_of, period=(first_day, last_day))
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


def drop(conn: Connection) -> None:
    for name in ("scorecard_lines", "scorecard_kpis", "scorecard_ranks"):
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
    goals.drop(conn)


# ---- the report ---------------------------------------------------------------------------

JSON_COLUMNS = [
    "rep_id",
    "org_unit_id",
    "period",
    "card",
    "score",
    "rank",
    "team_size",
    "provisional",
    "kpis",
]
TABLE_COLUMNS = [
    "card",
    "period",
    "team",
    "rep",
    "name",
    "score",
    "rank",
    "metric",
    "weight",
    "target",
    "actual",
    "attainment",
    "cap",
    "counted",
    "points",
    "note",
]


def report(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    period: str | None = None,
    rep: str | None = None,
    under: str | None = None,
) -> list[dict[str, Any]]:
    """Scorecards of the periods within `period` (default: each card's period holding as_of),
    one dict per rep and period, ranked within each team before --rep or --under filter."""
    span = periods.parse_option(period, "--period") if period is not None else None
    with engine.connect() as conn:
        if under is not None and not _exists(conn, OrgUnit, under):
            raise SalesplayError(f"--under: no org unit with id '{under}'")
        if rep is not None and not _exists(conn, Rep, rep):
            raise SalesplayError(f"--rep: no rep with id '{rep}'")
        found = cards_of(conn, playbook, as_of, span, rep=rep, under=under)
        conn.rollback()  # temporary tables only: nothing to keep
    return found


def cards_of(
    conn: Connection,
    playbook: Playbook,
    as_of: date,
    span: tuple[date, date] | None,
    rep: str | None = None,
    under: str | None = None,
) -> list[dict[str, Any]]:
    """The scorecards as dicts (see JSON_COLUMNS), computed and read on conn."""
    lines = materialize(conn, playbook, as_of, span)
    if lines is None:
        return []
    c = lines.c
    query = sa.select(lines)
    if rep is not None:
        query = query.where(c.rep_id == rep)
    if under is not None:
        closure = sa.table("org_closure", sa.column("top"), sa.column("unit"))
        query = query.where(
            c.org_unit_id.in_(sa.select(closure.c.unit).where(closure.c.top == under))
        )
    order = [c.card, c.period_start, c.org_unit_id, c.rank, c.rep_id, c.position]
    shares = goals.shares(playbook)
    declared = metrics.declared(playbook)
    out: list[dict[str, Any]] = []
    for row in conn.execute(query.order_by(*order)).mappings():
        label = periods.label(row["period_start"], row["period_end"])
        if not out or (out[-1]["card"], out[-1]["period"], out[-1]["rep_id"]) != (
            row["card"],
            label,
            row["rep_id"],
        ):
            out.append(
                {
                    "rep_id": row["rep_id"],
                    "rep_name": row["rep_name"],
                    "org_unit_id": row["org_unit_id"],
                    "period": label,
                    "card": row["card"],
                    "score": Decimal(int(row["score_x100"])) / 100,
                    "rank": row["rank"],
                    "team_size": row["team_size"],
                    "provisional": as_of < row["period_end"],
                    "kpis": [],
                }
            )
        metric = declared.get(row["metric"])
        exact = metric is not None and goals.cumulative(metric)
        out[-1]["kpis"].append(
            {
                "metric": row["metric"],
                "weight": _fraction(row["weight"]),
                "cap": _fraction(row["cap"]),
                "target": _hundredths(row["target"], exact),
                "actual": _hundredths(row["actual"], exact),
                "attainment": row["attainment"],
                "capped": row["capped"],
                "points": round(float(row["points"]), 6),
                "share": row["metric"] in shares,
                "lower_better": bool(row["lower_better"]),
                "detail": _detail(row),
            }
        )
    drop(conn)
    return out


def _exists(conn: Connection, model: Any, key: str) -> bool:
    table = table_of(model)
    query = sa.select(table.c.id).where(table.c.id == key, table.c.deleted == sa.false())
    return conn.execute(query).first() is not None


def _fraction(value: Any) -> float | None:
    return None if value is None else round(float(value), 12)


def _hundredths(value: Any, exact: bool) -> Decimal | float | None:
    if value is None:
        return None
    if exact:
        return Decimal(round(float(value))) / 100
    return float(value) / 100


def _detail(row: Any) -> str:
    """Why a KPI earned what it did, in words a rep can check."""
    if row["target"] is None:
        return "no target for this period: 0 points"
    if row["is_capped"]:
        return "capped"
    if row["attainment"] is None:
        if not row["target"]:
            return "target is 0: 0 points"
        return "nothing to measure yet: 0 points"
    return ""


def _share(value: Any) -> str | None:
    """An attainment to two decimals of a percent (62.04%), so a rep can redo the points."""
    if value is None:
        return None
    number = (Decimal(repr(float(value))) * 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
    return f"{number.normalize():f}%"


def _pct(value: Any) -> str | None:
    return None if value is None else str(format_value(value, "number", "%"))


def _amount(value: Any, share: bool) -> str | None:
    if value is None:
        return None
    if share:
        return _pct(value)
    number = Decimal(str(value)).quantize(Decimal("0.01"), ROUND_HALF_UP).normalize()
    return f"{number:,f}"


def _points(value: float) -> str:
    return f"{Decimal(repr(value)).quantize(Decimal('0.01'), ROUND_HALF_UP):f}"


def table_rows(cards_: list[dict[str, Any]], long: bool = False) -> list[dict[str, Any]]:
    """One line per KPI, as people read them; the rep's columns only on their first line
    (on every line with long=True, for CSV)."""
    out = []
    for card in cards_:
        rank = None if card["rank"] is None else f"{card['rank']}/{card['team_size']}"
        head = {
            "card": card["card"],
            "period": card["period"] + (" (so far)" if card["provisional"] and not long else ""),
            "team": card["org_unit_id"],
            "rep": card["rep_id"],
            "name": card["rep_name"],
            "score": f"{card['score']:.2f}",
            "rank": rank,
        }
        for i, kpi in enumerate(card["kpis"]):
            if long:  # CSV: every line whole, numbers as numbers (0.5 is 50%)
                line = {**head, "score": card["score"], "rank": card["rank"]}
                line.update({k: _plain(kpi[k]) for k in ("metric", "weight", "target", "actual")})
                line.update(
                    {
                        "attainment": kpi["attainment"],
                        "cap": kpi["cap"],
                        "counted": kpi["capped"],
                        "points": kpi["points"],
                        "note": kpi["detail"],
                    }
                )
                out.append(line)
                continue
            line = dict(head) if i == 0 else {}
            line.update(
                {
                    "metric": kpi["metric"],
                    "weight": _pct(kpi["weight"]),
                    "target": _amount(kpi["target"], kpi["share"]),
                    "actual": _amount(kpi["actual"], kpi["share"]),
                    "attainment": _share(kpi["attainment"]),
                    "cap": _pct(kpi["cap"]),
                    "counted": _share(kpi["capped"]),
                    "points": _points(kpi["points"]),
                    "note": kpi["detail"],
                }
            )
            out.append(line)
    return out


def json_rows(cards_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The JSON contract: {rep_id, org_unit_id, period, card, score, rank, team_size,
    provisional, kpis:
    [{metric, weight, cap, target, actual, attainment, capped, points, detail}]}."""
    keep = ("metric", "weight", "cap", "target", "actual", "attainment", "capped", "points")
    return [
        {
            **{k: card[k] for k in JSON_COLUMNS if k != "kpis"},
            "kpis": [
                {**{k: _plain(kpi[k]) for k in keep}, "detail": kpi["detail"]}
                for kpi in card["kpis"]
            ],
        }
        for card in cards_
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def describe(card: dict[str, Any], unit_name: str | None = None) -> tuple[str, dict[str, str]]:
    """A scorecard as explain prints it: a summary line and one line per KPI."""
    team = unit_name or card["org_unit_id"]
    rank = (
        f"rank {card['rank']} of {card['team_size']} in {team}"
        if card["rank"] is not None
        else "no team to rank in"
    )
    summary = f"{card['card']} {card['period']}: score {card['score']:.2f}, {rank}"
    if card["provisional"]:
        summary += " (so far: the period has not ended)"
    values = {}
    for kpi in card["kpis"]:
        weight = _pct(kpi["weight"])
        if kpi["target"] is None:
            values[kpi["metric"]] = f"{kpi['detail']} (weight {weight})"
            continue
        ratio = (
            f"target {_amount(kpi['target'], kpi['share'])} ÷ actual "
            f"{_amount(kpi['actual'], kpi['share'])}"
            if kpi["lower_better"]
            else f"actual {_amount(kpi['actual'], kpi['share'])} ÷ target "
            f"{_amount(kpi['target'], kpi['share'])}"
        )
        cap = f", capped at {_pct(kpi['cap'])}" if kpi["detail"] == "capped" else ""
        counted = _share(kpi["capped"]) or "0%"
        values[kpi["metric"]] = (
            f"{ratio} = {_share(kpi['attainment']) or '—'}{cap}; "
            f"{counted} × weight {weight} × 100 = {_points(kpi['points'])} points"
        )
    return summary, values
