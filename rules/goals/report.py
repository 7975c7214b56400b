"""`salesplay goals`: the tracking table (DOMAIN.md §1, 表1), one row per goal, in tree order.

Each row: the goal's owner, target, current value, completion, pace against the calendar, light
and forecast, with the reason and adjustment plan from the latest imported progress note. Where
an org unit's target differs from the sum of its parts' targets (sub-units and reps directly in
it, same metric and period), a note says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import SalesplayError
from salesplay.engine.lang import periods
from salesplay.engine.present.output import FORMATS, Money, Share, money, number_text
from salesplay.engine.run.family import (
    Command,
    Option,
    Output,
    Panel,
    Playbook,
    ReportQuery,
    Session,
)
from salesplay.engine.run.family import Report as ReportKind
from salesplay.engine.sql import metrics
from salesplay.engine.sql.templates import format_value
from salesplay.engine.store.models import OrgUnit, ProgressNote, Rep, Target, table_of
from salesplay.rules.goals import facts

JSON_COLUMNS = [
    "owner_type",
    "owner_id",
    "metric",
    "period_start",
    "period_end",
    "target",
    "current",
    "completion",
    "pace",
    "light",
    "forecast",
    "reason",
    "plan",
]
TABLE_COLUMNS = [
    "dimension",
    "sub_goal",
    "owner",
    "metric",
    "period",
    "target",
    "current",
    "completion",
    "expected",
    "pace",
    "light",
    "forecast",
    "reason",
    "plan",
]


@dataclass
class Report:
    rows: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    shares: set[str] = field(default_factory=set)  # ratio metrics, shown as percentages
    amounts: set[str] = field(default_factory=set)  # money metrics, read back as exact cents


def report(
    engine: Engine,
    playbook: Playbook,
    as_of: date,
    period: str | None = None,
    under: str | None = None,
) -> Report:
    """The goals whose period lies within `period` (default: those running on as_of)."""
    span = None
    if period is not None:
        span = periods.parse_option(period, "--period")
    with engine.connect() as conn:
        if under is not None and not _unit_exists(conn, under):
            raise SalesplayError(f"--under: no org unit with id '{under}'")
        table = facts.materialize(conn, playbook, as_of, period=span, under=under)
        found = Report(shares=facts.shares(playbook), amounts=facts.amounts(playbook))
        for row in conn.execute(_query(playbook, table)).mappings():
            found.rows.append(_row(dict(row), row["metric"] in found.amounts))
            if row["children"] and row["children_target"] != row["target"]:
                found.notes.append(_mismatch(dict(row)))
        conn.rollback()  # temporary tables only: nothing to keep
    return found


def _unit_exists(conn: Connection, unit: str) -> bool:
    o = table_of(OrgUnit)
    query = sa.select(o.c.id).where(o.c.id == unit, o.c.deleted == sa.false())
    return conn.execute(query).first() is not None


def _query(playbook: Playbook, table: sa.Table) -> sa.Select[Any]:
    f = table.c
    o, r, n = table_of(OrgUnit), table_of(Rep), table_of(ProgressNote)
    head = r.alias("head")
    kind = o.alias("kind_of")
    paths = _paths()
    child_unit = o.alias("child_unit")
    child_rep = r.alias("child_rep")
    t = table_of(Target)
    same_goal = sa.and_(
        t.c.deleted == sa.false(),
        t.c.metric == f.metric,
        t.c.period_start == f.period_start,
        t.c.period_end == f.period_end,
    )
    is_child = sa.or_(
        sa.and_(
            t.c.owner_type == "org_unit",
            t.c.owner_id.in_(
                sa.select(child_unit.c.id)
                .where(child_unit.c.parent_id == f.owner_id, child_unit.c.deleted == sa.false())
                .correlate(table)
            ),
        ),
        sa.and_(
            t.c.owner_type == "rep",
            t.c.owner_id.in_(
                sa.select(child_rep.c.id)
                .where(child_rep.c.org_unit_id == f.owner_id, child_rep.c.deleted == sa.false())
                .correlate(table)
            ),
        ),
    )
    parts = sa.and_(f.owner_type == "org_unit", f.cumulative == sa.true(), same_goal, is_child)
    children = sa.select(sa.func.count()).select_from(t).where(parts).scalar_subquery()
    children_target = sa.select(sa.func.sum(t.c.value_x100)).where(parts).scalar_subquery()
    note = sa.and_(
        n.c.deleted == sa.false(),
        n.c.owner_type == f.owner_type,
        n.c.owner_id == f.owner_id,
        n.c.metric == f.metric,
        n.c.period_start == f.period_start,
        n.c.period_end == f.period_end,
    )
    order = list(metrics.declared(playbook))
    metric_rank = sa.case(*[(f.metric == m, i) for i, m in enumerate(order)], else_=len(order))
    return (
        sa.select(
            f.owner_type,
            f.owner_id,
            f.owner_name,
            f.metric,
            f.period_start,
            f.period_end,
            f.target,
            f.actual,
            f.forecast,
            f.cumulative,
            kind.c.kind.label("unit_kind"),
            sa.func.coalesce(head.c.name, f.head_id).label("head_name"),
            paths.c.depth,
            n.c.reason,
            n.c.plan,
            children.label("children"),
            children_target.label("children_target"),
            f.expected_by_now,
            f.completion,
            f.pace,
            f.light,
        )
        .select_from(table)
        .outerjoin(kind, sa.and_(f.owner_type == "org_unit", kind.c.id == f.owner_id))
        .outerjoin(head, head.c.id == f.head_id)
        .outerjoin(paths, sa.and_(paths.c.owner_type == f.owner_type, paths.c.id == f.owner_id))
        .outerjoin(n, note)
        .order_by(metric_rank, f.metric, f.period_start, f.period_end, paths.c.path, f.owner_id)
    )


def _paths() -> Any:
    """(owner_type, id, path, depth) for every org unit and rep: the tree's reading order."""
    o, r = table_of(OrgUnit), table_of(Rep)
    parent = o.alias("parent")
    roots = (
        sa.select(o.c.id, o.c.id.label("path"), sa.literal(0).label("depth"))
        .outerjoin(parent, parent.c.id == o.c.parent_id)
        .where(parent.c.id.is_(None))
    )
    tree = roots.cte("unit_paths", recursive=True)
    child = o.alias("child")
    tree = tree.union_all(
        sa.select(
            child.c.id,
            (tree.c.path + "/" + child.c.id).label("path"),
            (tree.c.depth + 1).label("depth"),
        )
        .join_from(tree, child, child.c.parent_id == tree.c.id)
        .where(tree.c.depth < 32)
    )
    units = sa.select(
        sa.literal("org_unit").label("owner_type"), tree.c.id, tree.c.path, tree.c.depth
    )
    reps = sa.select(
        sa.literal("rep").label("owner_type"),
        r.c.id,
        (sa.func.coalesce(tree.c.path + "/", "") + "~" + r.c.id).label("path"),
        (sa.func.coalesce(tree.c.depth, -1) + 1).label("depth"),
    ).outerjoin(tree, tree.c.id == r.c.org_unit_id)
    return sa.union_all(units, reps).subquery("paths")


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


def _row(row: dict[str, Any], is_money: bool) -> dict[str, Any]:
    exact = bool(row["cumulative"])
    target = Decimal(round(float(row["target"]))) / 100  # imported as whole hundredths
    if is_money:
        target = Money(target)
    current = _hundredths(row["actual"], is_money, exact)
    forecast = _hundredths(row["forecast"], is_money, exact)
    label = periods.label(row["period_start"], row["period_end"])
    out = {
        "owner_type": row["owner_type"],
        "owner_id": row["owner_id"],
        "metric": row["metric"],
        "period_start": row["period_start"],
        "period_end": row["period_end"],
        "target": target,
        "current": current,
        "completion": row["completion"],
        "pace": row["pace"],
        "light": row["light"],
        "forecast": forecast,
        "reason": row["reason"],
        "plan": row["plan"],
    }
    depth = max(int(row["depth"] or 0), 0)
    is_rep = row["owner_type"] == "rep"
    expected = _hundredths(row["expected_by_now"], is_money, exact)
    out.update(
        {
            "dimension": "rep" if is_rep else (row["unit_kind"] or "org_unit"),
            "sub_goal": "  " * depth + str(row["owner_name"]),
            "owner": row["owner_name"] if is_rep else row["head_name"],
            "period": label,
            "expected": expected,
        }
    )
    return out


def table_rows(report_: Report) -> list[dict[str, Any]]:
    """The rows as people read them: thousands separators and percentages; amounts stay
    Money, which the table shows with two decimals and the currency."""
    out = []
    for row in report_.rows:
        shown = dict(row)
        share = row["metric"] in report_.shares
        for key in ("target", "current", "forecast", "expected"):
            if share and row[key] is not None:
                shown[key] = format_value(row[key], "number", "%")
            elif not isinstance(row[key], Money):
                shown[key] = number_text(row[key])
        for key in ("completion", "pace"):
            shown[key] = None if row[key] is None else format_value(row[key], "number", "%")
        out.append(shown)
    return out


def sheet_rows(report_: Report) -> list[dict[str, Any]]:
    """The rows as a workbook holds them: the table's columns with numbers as numbers, a
    share (completion, pace, a rate metric's figures) as a Share the sheet shows as 108.00%."""
    out = []
    for row in report_.rows:
        shown = dict(row)
        keys = ["completion", "pace"]
        if row["metric"] in report_.shares:
            keys += ["target", "current", "forecast", "expected"]
        for key in keys:
            shown[key] = None if row[key] is None else Share(str(row[key]))
        out.append(shown)
    return out


def _mismatch(row: dict[str, Any]) -> str:
    label = periods.label(row["period_start"], row["period_end"])
    return (
        f"note: {row['owner_name']} ({row['owner_id']}) {row['metric']} {label}: target "
        f"{number_text(Decimal(round(float(row['target']))) / 100)} but its "
        f"{row['children']} parts' targets add up to "
        f"{number_text(Decimal(round(float(row['children_target']))) / 100)}"
    )


def command(session: Session, period: str | None, under: str | None, fmt: str) -> Output:
    """`salesplay goals`: the table, or its rows as JSON/CSV; notes on targets that do not add
    up follow the table (on stderr beside JSON and CSV)."""
    book = session.playbook
    found = report(session.engine, book, session.as_of, period, under)
    if fmt == "table":
        return Output(table_rows(found), TABLE_COLUMNS, found.notes)
    if fmt == "xlsx":
        return Output(sheet_rows(found), TABLE_COLUMNS, found.notes)
    return Output(found.rows, JSON_COLUMNS, found.notes)


LABELS = {
    "en": {"count.one": "{n} goal", "count.many": "{n} goals"},
    "zh": {
        "dimension": "维度",
        "sub_goal": "子目标",
        "owner": "负责人",
        "current": "当前值",
        "completion": "完成率",
        "expected": "应达",
        "pace": "进度",
        "light": "灯",
        "forecast": "预测",
        "reason": "原因",
        "plan": "改进计划",
        "dimension.rep": "销售",
        "dimension.org_unit": "组织",
        "dimension.company": "公司",
        "dimension.region": "大区",
        "dimension.city": "城市",
        "dimension.team": "团队",
        "light.green": "绿",
        "light.yellow": "黄",
        "light.red": "红",
        "count.many": "{n} 个目标",
        "sheet.goals": "目标跟踪表",
    },
}

COMMAND = Command(
    "goals",
    """The goal tracking table: target, current, completion, pace, light, forecast, reason, plan.

    JSON rows: {owner_type, owner_id, metric, period_start, period_end, target, current,
    completion, pace, light, forecast, reason, plan}. Example: salesplay goals --period 2024
    """,
    command,
    options=(
        Option(
            "period",
            "--period",
            "Goals whose period lies within P: 2024, 2024-Q2, 2024-06, 2024-W23 or "
            "2024-04-01..2024-06-30 (default: the goals running on the as-of date).",
            metavar="P",
        ),
        Option(
            "under",
            "--under",
            "Only this org unit, the units below it and their reps.",
            metavar="ORG",
        ),
    ),
    as_of=True,
    formats=FORMATS,
    labels=LABELS,
)


def goal_tree(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """`salesplay report goals`: the rows of `salesplay goals` for the same scope and date."""
    tree = report(found.engine, found.playbook, found.as_of, found.period_text, found.under)
    return table_rows(tree) if table else tree.rows


REPORT = ReportKind(
    "goals",
    "The goal tree: target, current, completion, pace, light and forecast per owner.",
    tuple(JSON_COLUMNS),
    goal_tree,
    table=tuple(TABLE_COLUMNS),
    labels=LABELS,
    panels=(
        Panel(
            10,
            {"en": "Goals: lights and forecasts", "zh": "目标：红绿灯与预测"},
            "owner_id",
            ("metric", "target", "current", "completion", "light", "forecast"),
            names=True,
            light="light",
        ),
    ),
)
