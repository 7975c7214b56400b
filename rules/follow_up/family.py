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
    Playbook,
    SubjectFacts,
)
from salesplay.engine.sql.compiler import Typed, add_duration, unknown_name
from salesplay.engine.sql.metrics import placeholder_table, subject_scope
from salesplay.engine.sql.templates import check_template, compile_template, format_value
from salesplay.engine.store import dialects
from salesplay.engine.store.dialects import analyze, date_text, days_between, json_object
from salesplay.engine.store.models import Activity, Customer, Grade, table_of
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
