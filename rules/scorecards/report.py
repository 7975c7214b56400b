"""`salesplay scorecards` and the scorecard lines of `explain … --period P`: the cards as
JSON, CSV and a table a rep can redo by hand (attainment to two decimals of a percent)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import ExpressionError, SalesplayError
from salesplay.engine.lang import periods
from salesplay.engine.present.output import FORMATS, Money, Share, money
from salesplay.engine.run.family import (
    Command,
    Option,
    Output,
    Playbook,
    Report,
    ReportQuery,
    Session,
)
from salesplay.engine.sql import metrics
from salesplay.engine.sql.templates import format_value
from salesplay.engine.store.models import OrgUnit, Rep, table_of
from salesplay.rules.scorecards import cards

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
    lines = cards.materialize(conn, playbook, as_of, span)
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
    declared = metrics.declared(playbook)
    types = _types(playbook)
    shares = {n for n, kind in types.items() if kind == "share"}
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
        exact = metric is not None and metric.cumulative
        is_money = types.get(row["metric"]) == "amount"
        out[-1]["kpis"].append(
            {
                "metric": row["metric"],
                "weight": _fraction(row["weight"]),
                "cap": _fraction(row["cap"]),
                "target": _hundredths(row["target"], is_money, exact),
                "actual": _hundredths(row["actual"], is_money, exact),
                "attainment": row["attainment"],
                "capped": row["capped"],
                "points": round(float(row["points"]), 6),
                "share": row["metric"] in shares,
                "lower_better": bool(row["lower_better"]),
                "detail": _detail(row),
            }
        )
    cards.drop(conn, playbook)
    return out


def _exists(conn: Connection, model: Any, key: str) -> bool:
    table = table_of(model)
    query = sa.select(table.c.id).where(table.c.id == key, table.c.deleted == sa.false())
    return conn.execute(query).first() is not None


def _fraction(value: Any) -> float | None:
    return None if value is None else round(float(value), 12)


def _hundredths(value: Any, is_money: bool, exact: bool) -> Decimal | float | None:
    """A stored hundredths value in the metric's own unit: money as exact cents (rounded half
    up where SQL left a fraction of a cent), a count as an exact number, any other number (a
    ratio, NPS) as a float."""
    if value is None:
        return None
    if is_money:
        return money(value)
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


def _shown(value: Any, share: bool) -> Money | str | None:
    """A target or actual in the table: an amount stays Money (the table adds separators, two
    decimals and the currency), a share is a percentage, any other number plain text."""
    return value if isinstance(value, Money) else _amount(value, share)


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
                    "target": _shown(kpi["target"], kpi["share"]),
                    "actual": _shown(kpi["actual"], kpi["share"]),
                    "attainment": _share(kpi["attainment"]),
                    "cap": _pct(kpi["cap"]),
                    "counted": _share(kpi["capped"]),
                    "points": _points(kpi["points"]),
                    "note": kpi["detail"],
                }
            )
            out.append(line)
    return out


def sheet_rows(cards_: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One whole row per rep and KPI, as a workbook holds them: the period and rank as the
    table writes them (`2024-Q3 (so far)`, `2/5`), the score and points as numbers, shares
    (weight, attainment, cap, counted, a rate's target and actual) as Shares, amounts Money."""

    def share(value: Any) -> Share | None:
        return None if value is None else Share(str(value))

    def figure(value: Any, is_share: bool) -> Any:
        if value is None or is_share:
            return share(value)
        return value if isinstance(value, Decimal) else Decimal(str(value))  # Money stays

    out = []
    for card in cards_:
        shown = table_rows([card])[0]
        for line, kpi in zip(table_rows([card], long=True), card["kpis"], strict=True):
            line.update(
                {
                    "period": shown["period"],
                    "rank": shown["rank"],
                    "weight": share(kpi["weight"]),
                    "target": figure(kpi["target"], kpi["share"]),
                    "actual": figure(kpi["actual"], kpi["share"]),
                    "attainment": share(kpi["attainment"]),
                    "cap": share(kpi["cap"]),
                    "counted": share(kpi["capped"]),
                    "points": Decimal(_points(kpi["points"])),  # as the table rounds it
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


def _types(playbook: Playbook) -> dict[str, str]:
    """The value type of every goal metric over the target facts: `amount` (money, read back as
    exact cents), `share` (a ratio, shown as a percentage), `number` …"""
    scope = playbook.subject("target").scope(playbook, None, date(2000, 1, 1))
    out = {}
    for name in metrics.declared(playbook):
        try:
            out[name] = scope.resolve(name, 0).type
        except ExpressionError:
            continue
    return out


def command(
    session: Session, period: str | None, rep: str | None, under: str | None, fmt: str
) -> Output:
    book = session.playbook
    found = report(session.engine, book, session.as_of, period, rep, under)
    if fmt == "json":
        return Output(json_rows(found), JSON_COLUMNS)
    if fmt == "xlsx":
        return Output(sheet_rows(found), TABLE_COLUMNS)
    return Output(table_rows(found, long=fmt == "csv"), TABLE_COLUMNS)


LABELS = {
    "en": {"count.one": "{n} KPI", "count.many": "{n} KPIs"},
    "zh": {
        "card": "考核卡",
        "team": "团队",
        "rep": "销售",
        "name": "姓名",
        "score": "得分",
        "rank": "排名",
        "weight": "权重",
        "actual": "实际",
        "attainment": "达成率",
        "cap": "封顶",
        "counted": "计入",
        "points": "分数",
        "note": "说明",
        "note.capped": "已封顶",
        "note.no target for this period: 0 points": "本期无目标：0 分",
        "note.target is 0: 0 points": "目标为 0：0 分",
        "note.nothing to measure yet: 0 points": "尚无数据：0 分",
        "count.many": "{n} 项指标",
        "sheet.scorecards": "考核卡",
    },
}

COMMAND = Command(
    "scorecards",
    """Weighted KPI scores per rep and period, with the rank within the team.

    JSON rows: {rep_id, org_unit_id, period, card, score, rank, team_size, provisional,
    kpis: [{metric, weight, cap, target, actual, attainment, capped, points, detail}]}.
    Example: salesplay scorecards --period 2024-Q2
    """,
    command,
    options=(
        Option(
            "period",
            "--period",
            "Score the card periods within P: 2024, 2024-Q2, 2024-06 … (default: each card's "
            "period holding the as-of date).",
            metavar="P",
        ),
        Option("rep", "--rep", "Only this rep's cards (ranked among their whole team)."),
        Option(
            "under",
            "--under",
            "Only the reps of this org unit and the units below.",
            metavar="ORG",
        ),
    ),
    as_of=True,
    formats=FORMATS,
    labels=LABELS,
)


RANKING_COLUMNS = (
    "rep_id",
    "org_unit_id",
    "period",
    "card",
    "score",
    "rank",
    "team_size",
    "provisional",
)


def ranking(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """`salesplay report scorecards`: each rep's score and rank within the team, as
    `salesplay scorecards` gives them for the same scope and date (without the KPIs)."""
    cards_ = report(found.engine, found.playbook, found.as_of, found.period_text, None, found.under)
    return [{k: row[k] for k in RANKING_COLUMNS} for row in json_rows(cards_)]


REPORT = Report(
    "scorecards",
    "The ranking: each rep's weighted score and rank within the team.",
    RANKING_COLUMNS,
    ranking,
    labels=LABELS,
)
