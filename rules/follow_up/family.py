"""Follow-up cadence per grade: a task for the owner when due, an alert when overdue.

    follow_up:
      cadence:
        A: {every: 1 week, channels: [visit, video]}
        B: {every: 2 weeks, channels: [call, wechat, visit, video]}
        C: {every: 1 month}
      task: {to: owner, title: "跟进 {customer.name}（{grade} 级客户）"}
      overdue: {after: 3 days, level: yellow, message: "{customer.name} 已逾期 {days_overdue} 天"}

Due = the last qualifying contact + the cadence in calendar terms (2024-06-10 + 1 month =
2024-07-10); never contacted = due on the day the customer was created. A qualifying contact
restarts the clock, which closes the open task and resolves the alert.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlmodel import SQLModel

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.lang.schema import DURATION, LEVEL, TEMPLATE
from salesplay.engine.lang.yamlsafe import flow
from salesplay.engine.run.emit import Signal
from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Impact,
    Panel,
    Playbook,
    Report,
    ReportQuery,
    SubjectFacts,
)
from salesplay.engine.sql.compiler import Typed, add_duration, unknown_name
from salesplay.engine.sql.metrics import placeholder_table, subject_scope
from salesplay.engine.sql.team import reps_under
from salesplay.engine.sql.templates import check_template, compile_template, format_value
from salesplay.engine.store import dialects
from salesplay.engine.store.dialects import analyze, date_text, days_between, json_object
from salesplay.engine.store.models import Activity, Customer, Grade, Rep, table_of
from salesplay.rules.follow_up import load

CHANNELS = ["visit", "video", "call", "wechat", "email", "message"]
RULE = "follow_up"
OVERDUE_RULE = "follow_up.overdue"


class FollowUp:
    """Follow-up tasks and overdue alerts per customer, by grade."""

    section = "follow_up"
    settings_only = False
    tables: ClassVar[tuple[type[SQLModel], ...]] = ()

    def example(self, section: Any) -> list[str]:
        """The inherited cadences and a capacity, to change (`salesplay init`)."""
        lines = [
            "跟进节奏：按等级设置（只写要改的等级）；每位销售每周能跟进的次数",
            "Follow-up cadence per grade (only the grades you change), and the contacts one rep",
            "can make a week (salesplay load checks the cadences against it).",
            "follow_up:",
            "  capacity: 30 per week",
            "  cadence:",
        ]
        for grade, spec in (section.get("cadence") or {}).items():
            if spec:
                shown = ", ".join(f"{k}: {flow(v)}" for k, v in spec.items() if k != "description")
                lines.append(f"    {flow(grade)}: {{{shown}}}")
        return lines

    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = (load.COMMAND,)
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "capacity": {
                "type": ["string", "integer"],
                "description": "contacts one rep can make in a week, e.g. '30 per week'",
            },
            "cadence": {
                "type": "object",
                "minProperties": 1,
                "additionalProperties": {
                    "type": "object",
                    "properties": {
                        "every": DURATION,
                        "channels": {"type": "array", "items": {"enum": CHANNELS}, "minItems": 1},
                    },
                    "required": ["every"],
                    "additionalProperties": False,
                },
            },
            "task": {
                "type": "object",
                "properties": {"to": {"enum": ["owner"]}, "title": TEMPLATE},
                "required": ["title"],
                "additionalProperties": False,
            },
            "overdue": {
                "type": "object",
                "properties": {"after": DURATION, "level": LEVEL, "message": TEMPLATE},
                "required": ["message"],
                "additionalProperties": False,
            },
        },
        "required": ["cadence", "task"],
        "additionalProperties": False,
    }

    def rule_names(self, playbook: Playbook) -> list[str]:
        return [self.section]

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        return (REPORT,) if playbook.section(self.section) else ()

    def check(self, playbook: Playbook) -> None:
        section = playbook.section(self.section)
        grades = [g["grade"] for g in (playbook.section("grading") or {}).get("grades", [])]
        for grade, spec in section["cadence"].items():
            path = (self.section, "cadence", grade)
            if grades and grade not in grades:
                raise playbook.error(path, unknown_name(grade, grades, noun="grade"))
            try:
                count, unit = dates.parse_duration(spec["every"])
            except ExpressionError as exc:
                raise playbook.expression_error((*path, "every"), exc) from None
            if count < 1:
                raise playbook.error((*path, "every"), "the cadence must be at least 1 day")
        if "capacity" in section:
            try:
                load.parse_capacity(section["capacity"])
            except ExpressionError as exc:
                raise playbook.expression_error((self.section, "capacity"), exc) from None
        if "after" in section.get("overdue", {}):
            _, unit = dates.parse_duration(section["overdue"]["after"])
            if unit != "days":
                raise playbook.error(
                    (self.section, "overdue", "after"),
                    "the grace period is counted in days, e.g. '3 days'",
                )
        scope = self._scope(
            playbook, placeholder_table("customer", playbook), date(2000, 1, 1), None
        )
        for key, field in (("task", "title"), ("overdue", "message")):
            if field in section.get(key, {}):
                try:
                    check_template(section[key][field], scope)
                except ExpressionError as exc:
                    raise playbook.expression_error((self.section, key, field), exc) from None

    def snapshot(self, ctx: EvalContext) -> load.Load:
        """The follow-up load after a run (for `salesplay preview`)."""
        return load.compute(ctx.conn, ctx.playbook, ctx.as_of)

    def compare(self, current: load.Load | None, proposed: load.Load | None) -> Impact:
        return load.compare(current, proposed)

    def _scope(self, playbook: Playbook, facts: Any, as_of: date, due: Any) -> Any:
        due_typed = Typed(due if due is not None else sa.column("due"), "date")
        extra = {
            "grade": Typed(sa.column("grade"), "text"),
            "due": due_typed,
            "days_overdue": Typed(
                days_between(sa.literal(as_of, sa.Date()), due_typed.sql), "number"
            ),
            "last_contact": Typed(sa.column("last_contact"), "date"),
        }
        return subject_scope("customer", playbook, facts, as_of, extra)

    def _due(self, ctx: EvalContext) -> sa.Table:
        """follow_due(customer_id, grade, owner_id, last_contact, due) for every graded customer.

        One statement: per customer, the latest qualifying contact for its grade's channels (a
        backwards seek on the activities index), then that date plus the grade's cadence, or
        the day the customer was created when it was never contacted.
        """
        cadence = ctx.playbook.section(self.section)["cadence"]
        act, g, c = table_of(Activity), table_of(Grade), table_of(Customer)

        def last_contact(spec: dict[str, Any]) -> Any:
            query = sa.select(sa.func.max(act.c.occurred_on)).where(
                act.c.customer_id == c.c.id,
                act.c.occurred_on <= ctx.as_of,
                act.c.deleted == sa.false(),
            )
            if spec.get("channels"):
                query = query.where(act.c.channel.in_(spec["channels"]))
            return query.scalar_subquery()

        contacts = (
            sa.select(
                c.c.id.label("customer_id"),
                g.c.grade,
                c.c.owner_id,
                c.c.created_on,
                sa.case(
                    *[(g.c.grade == grade, last_contact(spec)) for grade, spec in cadence.items()]
                ).label("last_contact"),
            )
            .join(g, g.c.customer_id == c.c.id)
            .where(
                c.c.deleted == sa.false(),
                g.c.grade.in_(list(cadence)),
                sa.or_(c.c.created_on.is_(None), c.c.created_on <= ctx.as_of),
                ctx.customers_filter(c.c.id),
            )
            .cte("contacts")
        )
        if dialects.of(ctx.conn).materialize_ctes(
            ctx.conn
        ):  # compute each last contact once, not once per use
            contacts = contacts.prefix_with("MATERIALIZED")
        due = sa.case(
            (
                contacts.c.last_contact.is_(None),
                sa.func.coalesce(contacts.c.created_on, ctx.as_of),
            ),
            *[
                (
                    contacts.c.grade == grade,
                    add_duration(contacts.c.last_contact, *dates.parse_duration(spec["every"])),
                )
                for grade, spec in cadence.items()
            ],
        )
        table = sa.Table(
            "follow_due",
            sa.MetaData(),
            sa.Column("customer_id", sa.String()),
            sa.Column("grade", sa.String()),
            sa.Column("owner_id", sa.String()),
            sa.Column("last_contact", sa.Date()),
            sa.Column("due", sa.Date()),
            prefixes=["TEMPORARY"],
        )
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS follow_due")
        table.create(ctx.conn)
        ctx.conn.execute(
            table.insert().from_select(
                ["customer_id", "grade", "owner_id", "last_contact", "due"],
                sa.select(
                    contacts.c.customer_id,
                    contacts.c.grade,
                    contacts.c.owner_id,
                    contacts.c.last_contact,
                    due,
                ),
            )
        )
        analyze(ctx.conn, "follow_due")
        return table

    def run(self, ctx: EvalContext) -> None:
        if not ctx.covers("customer"):
            return
        section = ctx.playbook.section(self.section)
        due_table = self._due(ctx)
        facts = ctx.facts("customer")
        joined = facts.join(due_table, due_table.c.customer_id == facts.c.id)
        scope = self._scope(ctx.playbook, facts, ctx.as_of, due_table.c.due)
        scope.names["grade"] = Typed(due_table.c.grade, "text")
        scope.names["last_contact"] = Typed(due_table.c.last_contact, "date")
        detail = json_object(
            sa.literal("grade"),
            due_table.c.grade,
            sa.literal("last_contact"),
            due_table.c.last_contact,
            sa.literal("due"),
            due_table.c.due,
        )
        owned = due_table.c.owner_id.is_not(None)
        rows = sa.select(
            due_table.c.customer_id.label("subject_id"),
            date_text(due_table.c.due).label("episode"),
            sa.and_(owned, due_table.c.due <= ctx.as_of).label("fires"),
            due_table.c.owner_id.label("assignee_id"),
            due_table.c.due.label("due"),
            compile_template(section["task"]["title"], scope).label("title"),
            sa.null().label("level"),
            sa.null().label("message"),
            detail.label("detail"),
        ).select_from(joined)
        ctx.emit(Signal(RULE, "customer", rows, task=True))
        if "overdue" in section:
            overdue = section["overdue"]
            grace, _ = dates.parse_duration(overdue.get("after", "3 days"))
            last_ok = ctx.as_of - timedelta(days=grace)  # overdue once as_of > due + grace
            rows = sa.select(
                due_table.c.customer_id.label("subject_id"),
                date_text(due_table.c.due).label("episode"),
                sa.and_(owned, due_table.c.due < last_ok).label("fires"),
                due_table.c.owner_id.label("assignee_id"),
                due_table.c.due.label("due"),
                sa.null().label("title"),
                sa.literal(overdue.get("level", "yellow")).label("level"),
                compile_template(overdue["message"], scope).label("message"),
                detail.label("detail"),
            ).select_from(joined)
            ctx.emit(Signal(OVERDUE_RULE, "customer", rows, alert=True))
        ctx.conn.exec_driver_sql("DROP TABLE follow_due")

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        if subject_type != "customer":
            return []
        section = ctx.playbook.section(self.section)
        due_table = self._due(ctx)
        row = ctx.conn.execute(
            sa.select(due_table).where(due_table.c.customer_id == subject_id)
        ).first()
        ctx.conn.exec_driver_sql("DROP TABLE follow_due")
        if row is None:
            return [
                Finding(
                    RULE,
                    None,
                    "no cadence applies (the customer has no grade with a "
                    "cadence yet: run evaluate)",
                    {},
                )
            ]
        spec = section["cadence"][row.grade]
        channels = ", ".join(spec.get("channels", [])) or "any channel"
        values = {
            "grade": row.grade,
            "every": spec["every"],
            "counts": channels,
            "last_contact": format_value(row.last_contact, "date"),
            "due": format_value(row.due, "date"),
            "owner_id": str(row.owner_id),
        }
        if row.owner_id is None:
            return [Finding(RULE, False, "no owner (shared pool): no follow-up task", values)]
        due_now = row.due <= ctx.as_of
        findings = [
            Finding(
                RULE,
                due_now,
                f"due {row.due}" + (" — due now" if due_now else " — not yet due"),
                values,
            )
        ]
        if "overdue" in section:
            grace, _ = dates.parse_duration(section["overdue"].get("after", "3 days"))
            late = row.due < ctx.as_of - timedelta(days=grace)
            findings.append(
                Finding(
                    OVERDUE_RULE,
                    late,
                    f"overdue after {row.due + timedelta(days=grace)}"
                    + (
                        f" — {(ctx.as_of - row.due).days} days past due"
                        if late
                        else " — not overdue"
                    ),
                    {},
                )
            )
        return findings


# ---- the follow-up compliance report (`salesplay report follow-up`) -------------------------

REPORT_COLUMNS = ("rep_id", "grade", "due", "on_time", "late", "open", "on_time_rate")
_LONGEST = {"days": 1, "weeks": 7, "months": 31, "years": 366}


def compliance(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """Per owner and grade: the follow-ups that fell due in the period (up to as_of), done on
    time (a qualifying contact on or before the due day), late (one after it), or still open.

    Due days are rebuilt from the activity history, not read from stored tasks, so the report
    holds for periods before salesplay ran: each qualifying contact is due again one cadence
    later and met by the next qualifying contact; a customer never contacted was due the day
    it was created. The cadence is that of the customer's current grade (grades keep no
    history before salesplay) and the owner is the current one."""
    cadence = found.playbook.section("follow_up")["cadence"]
    act, g, c = table_of(Activity), table_of(Grade), table_of(Customer)
    start, end = found.period[0], min(found.period[1], found.as_of)
    reach = max(
        n * _LONGEST[unit]
        for n, unit in (dates.parse_duration(s["every"]) for s in cadence.values())
    )
    graded = [c.c.deleted == sa.false(), g.c.grade.in_(list(cadence))]
    if found.under is not None:
        graded.append(c.c.owner_id.in_(reps_under(found.under)))
    qualifies = sa.or_(
        *[
            sa.and_(g.c.grade == grade, act.c.channel.in_(spec["channels"]))
            if spec.get("channels")
            else g.c.grade == grade
            for grade, spec in cadence.items()
        ]
    )
    contacts = (
        sa.select(act.c.customer_id, g.c.grade, c.c.owner_id, act.c.occurred_on.label("day"))
        .select_from(act.join(c, c.c.id == act.c.customer_id).join(g, g.c.customer_id == c.c.id))
        .where(
            *graded,
            qualifies,
            act.c.deleted == sa.false(),
            act.c.occurred_on <= end,
            act.c.occurred_on >= start - timedelta(days=reach),
        )
        .group_by(act.c.customer_id, g.c.grade, c.c.owner_id, act.c.occurred_on)
        .cte("contacts")
    )
    chain = sa.select(
        contacts,
        sa.func.lead(contacts.c.day)
        .over(partition_by=contacts.c.customer_id, order_by=contacts.c.day)
        .label("next_day"),
    ).cte("chain")
    again = sa.case(
        *[
            (chain.c.grade == grade, add_duration(chain.c.day, *dates.parse_duration(s["every"])))
            for grade, s in cadence.items()
        ]
    )
    # the first qualifying contact of a customer created in the period: a seek on the
    # activities index (the contacts CTE would be computed again for each such customer)
    first = (
        sa.select(sa.func.min(act.c.occurred_on))
        .where(
            act.c.customer_id == c.c.id,
            act.c.deleted == sa.false(),
            act.c.occurred_on >= c.c.created_on,
            act.c.occurred_on <= end,
            qualifies,
        )
        .scalar_subquery()
    )
    dues = sa.union_all(
        sa.select(chain.c.owner_id, chain.c.grade, again.label("due"), chain.c.next_day),
        sa.select(c.c.owner_id, g.c.grade, c.c.created_on.label("due"), first.label("next_day"))
        .join(g, g.c.customer_id == c.c.id)
        .where(*graded, c.c.created_on >= start, c.c.created_on <= end),
    ).subquery("dues")
    in_period = sa.and_(dues.c.due >= start, dues.c.due <= end)
    query = (
        sa.select(
            dues.c.owner_id,
            dues.c.grade,
            sa.func.count().label("due"),
            sa.func.count().filter(dues.c.next_day <= dues.c.due).label("on_time"),
            sa.func.count().filter(dues.c.next_day > dues.c.due).label("late"),
            sa.func.count().filter(dues.c.next_day.is_(None)).label("open"),
        )
        .where(in_period)
        .group_by(dues.c.owner_id, dues.c.grade)
    )
    order = {grade: i for i, grade in enumerate(cadence)}
    with found.engine.connect() as conn:
        found_rows = conn.execute(query).mappings().all()
        names = _names(conn, {r["owner_id"] for r in found_rows if r["owner_id"]}) if table else {}
    rows = []
    for row in sorted(found_rows, key=lambda r: (r["owner_id"] or "", order[r["grade"]])):
        owner = row["owner_id"]
        rows.append(
            {
                "rep_id": f"{owner} {names[owner]}" if owner in names else owner,
                "grade": row["grade"],
                "due": row["due"],
                "on_time": row["on_time"],
                "late": row["late"],
                "open": row["open"],
                "on_time_rate": round(row["on_time"] / row["due"], 4) if row["due"] else None,
            }
        )
    return rows


def _names(conn: Any, ids: set[str]) -> dict[str, str]:
    r = table_of(Rep)
    return {k: v for k, v in conn.execute(sa.select(r.c.id, r.c.name).where(r.c.id.in_(ids)))}


REPORT = Report(
    "follow-up",
    "Per rep and grade: follow-ups due in the period, done on time, late, still open.",
    REPORT_COLUMNS,
    compliance,
    panels=(
        Panel(
            60,
            {"en": "Follow-up compliance", "zh": "跟进合规"},
            "rep_id",
            ("grade", "due", "on_time", "late", "open", "on_time_rate"),
            names=True,
        ),
    ),
    labels={
        "zh": {
            "rep_id": "销售",
            "grade": "等级",
            "due": "应跟进",
            "on_time": "按时",
            "late": "逾期完成",
            "open": "未完成",
            "on_time_rate": "按时率",
            "count.many": "{n} 行",
        }
    },
)
