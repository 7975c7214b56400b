"""`salesplay payouts`: commission and bonus statements as the last evaluation recorded them,
reps' then teams', each line base × rate = amount with its detail; exact to the cent."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.lang import periods
from salesplay.engine.present.output import FOR_PEOPLE, FORMATS, Money, Share, number_text
from salesplay.engine.run.family import (
    Command,
    Option,
    Output,
    Panel,
    Report,
    ReportQuery,
    Session,
    Sheet,
    TotalOf,
)
from salesplay.engine.sql.team import reps_under, units_under
from salesplay.engine.store.models import OrgUnit, Rep, table_of
from salesplay.rules.incentives.tables import PayoutClosing, PayoutLine


def statements(
    engine: Engine, span: tuple[date, date], rep: str | None = None, named: bool = False
) -> list[dict[str, Any]]:
    """Statements whose period lies within span: reps' first, then teams'. With named, each
    owner's id has its name beside it (`R1 张三`), for a table."""
    lines, closings = table_of(PayoutLine), table_of(PayoutClosing)
    joined = lines.outerjoin(
        closings,
        sa.and_(
            closings.c.period_start == lines.c.period_start,
            closings.c.period_end == lines.c.period_end,
        ),
    )
    owner_name: Any = sa.null()
    if named:
        reps, units = table_of(Rep), table_of(OrgUnit)
        owner_id, kind = lines.c.owner_id, lines.c.owner_type
        joined = joined.outerjoin(reps, sa.and_(kind == "rep", reps.c.id == owner_id)).outerjoin(
            units, sa.and_(kind == "org_unit", units.c.id == owner_id)
        )
        owner_name = sa.func.coalesce(reps.c.name, units.c.name)
    query = (
        sa.select(lines, closings.c.closed_on, owner_name.label("owner_name"))
        .select_from(joined)
        .where(lines.c.period_start >= span[0], lines.c.period_end <= span[1])
        .order_by(
            lines.c.owner_type.desc(),  # rep before org_unit
            lines.c.owner_id,
            lines.c.period_start,
            lines.c.period_end.desc(),
            lines.c.kind,
            lines.c.rule,
            lines.c.seq,
        )
    )
    if rep is not None:
        query = query.where(lines.c.owner_type == "rep", lines.c.owner_id == rep)
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            key = (row["owner_type"], row["owner_id"], row["period_start"], row["period_end"])
            if not out or out[-1]["_key"] != key:
                owner = "rep_id" if row["owner_type"] == "rep" else "org_unit_id"
                name = row["owner_name"]
                out.append(
                    {
                        "_key": key,
                        owner: f"{row['owner_id']} {name}" if name else row["owner_id"],
                        "period": periods.label(row["period_start"], row["period_end"]),
                        "status": "closed" if row["closed_on"] else "provisional",
                        "total": 0,
                        "lines": [],
                    }
                )
            statement = out[-1]
            amount = _money(row["amount_cents"])
            statement["total"] += row["amount_cents"]
            detail = dict(row["detail"] or {})
            if row["kind"] == "adjustment":
                detail["adjusts"] = row["adjusts"]
            statement["lines"].append(
                {
                    "rule": row["rule"],
                    "base": _money(row["base_cents"]),
                    "rate": row["rate"],
                    "amount": amount,
                    "detail": detail,
                }
            )
    for statement in out:
        statement.pop("_key")
        statement["total"] = _money(statement["total"])
    return out


def _money(value: int | None) -> Money | None:
    """Cents as an exact amount (JSON prints 40800 or 37037.04, a table ¥40,800.00)."""
    return None if value is None else Money(Decimal(int(value)) / 100)


def money_text(value: int | None) -> str:
    """Cents for people: 40,800 or 37,037.04."""
    return number_text(_money(value)) or "—"


FLAT_COLUMNS = ["owner", "period", "status", "rule", "base", "rate", "amount", "total"]


def flat(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per line for a table or CSV; each statement's total on its first line."""
    rows = []
    for statement in found:
        owner = statement.get("rep_id") or statement.get("org_unit_id")
        for i, line in enumerate(statement["lines"]):
            adjusts = line["detail"].get("adjusts")
            rows.append(
                {
                    "owner": owner,
                    "period": statement["period"],
                    "status": statement["status"],
                    "rule": line["rule"] + (f" (adjusts {adjusts})" if adjusts else ""),
                    "base": line["base"],
                    "rate": None if line["rate"] is None else f"{line['rate'] * 100:.4g}%",
                    "amount": line["amount"],
                    "total": statement["total"] if i == 0 else None,
                }
            )
    return rows


LINE_COLUMNS = ["rule", "base", "rate", "amount", "detail"]
SUMMARY_COLUMNS = ["owner", "period", "status", "total"]


def sheets(found: list[dict[str, Any]]) -> list[Sheet]:
    """The payroll workbook: a summary, then one sheet per statement (`R1 张三 2024-Q2`) with
    its lines, base × rate = amount, and its total as =SUM over the amounts; the summary shows
    each statement's total by referring to that cell, so a clerk can check every figure."""
    summary: list[dict[str, Any]] = []
    out = [Sheet("summary", SUMMARY_COLUMNS, summary)]
    for statement in found:
        owner = statement.get("rep_id") or statement.get("org_unit_id")
        title = f"{owner} {statement['period']}"
        lines = [
            {
                "rule": line["rule"]
                + (
                    f" (adjusts {line['detail']['adjusts']})" if "adjusts" in line["detail"] else ""
                ),
                "base": line["base"],
                "rate": None if line["rate"] is None else Share(str(line["rate"])),
                "amount": line["amount"],
                "detail": {k: v for k, v in line["detail"].items() if k != "adjusts"} or None,
            }
            for line in statement["lines"]
        ]
        out.append(Sheet(title, LINE_COLUMNS, lines, totals=("amount",)))
        summary.append(
            {
                "owner": owner,
                "period": statement["period"],
                "status": statement["status"],
                "total": TotalOf(title, "amount"),
            }
        )
    return out


def command(session: Session, period: str, rep_id: str | None, fmt: str) -> Output:
    span = periods.parse_option(period, "--period")
    found = statements(session.engine, span, rep_id, named=fmt in FOR_PEOPLE)
    if fmt == "json":
        return Output(found, list(found[0]) if found else [])
    if fmt == "xlsx":
        return Output(flat(found), FLAT_COLUMNS, sheets=sheets(found))
    return Output(flat(found), FLAT_COLUMNS)


LABELS = {
    "en": {"count.one": "{n} line", "count.many": "{n} lines"},
    "zh": {
        "owner": "对象",
        "base": "基数",
        "rate": "比例",
        "amount": "金额",
        "total": "合计",
        "detail": "说明",
        "sheet.summary": "汇总",
        "sheet.payouts": "提成与奖金",
        "status.provisional": "暂估",
        "status.closed": "已结算",
        "count.many": "{n} 条明细",
    },
}


COMMAND = Command(
    "payouts",
    """Commission and bonus statements, as of the last evaluation: reps', then teams'.

    JSON: [{rep_id | org_unit_id, period, status, total, lines: [{rule, base, rate, amount,
    detail}]}]; status is provisional until the period's end plus the settlement lag.
    Example: salesplay payouts --period 2024-Q2 --rep R0001
    """,
    command,
    options=(
        Option(
            "period",
            "--period",
            "Statements whose period lies within P: 2024-06, 2024-Q2, 2024 …",
            metavar="P",
            required=True,
        ),
        Option("rep_id", "--rep", "Only this rep's statements.", metavar="ID"),
    ),
    formats=FORMATS,
    labels=LABELS,
)


TOTAL_COLUMNS = ("owner_type", "owner_id", "period", "status", "total")


def totals(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """`salesplay report payouts`: each statement's total in the period, reps' then teams',
    only those of the org unit's subtree with --under."""
    rows = []
    for statement in statements(found.engine, found.period):
        kind = "rep" if "rep_id" in statement else "org_unit"
        owner = statement.get("rep_id") or statement.get("org_unit_id")
        rows.append(
            {
                "owner_type": kind,
                "owner_id": owner,
                **{k: statement[k] for k in ("period", "status", "total")},
            }
        )
    if found.under is not None:
        tree = units_under(found.under)
        with found.engine.connect() as conn:
            units = set(conn.execute(sa.select(tree.c.unit)).scalars())
            reps = set(conn.execute(reps_under(found.under)).scalars())
        rows = [r for r in rows if r["owner_id"] in (reps if r["owner_type"] == "rep" else units)]
    return rows


REPORT = Report(
    "payouts",
    "This period's commission and bonus statements: totals by rep and by team.",
    TOTAL_COLUMNS,
    totals,
    labels=LABELS,
    panels=(
        Panel(
            70,
            {"en": "Payouts this period", "zh": "本期提成"},
            "owner_id",
            ("status", "total"),
            names=True,
        ),
    ),
)
