"""Late tasks escalate; plan tasks become tasks; open tasks follow their customer's owner.

    escalation:
      after: 3 days                 # late when due this many days before the as-of date
      rules: [follow_up, plan]      # which tasks escalate (help tasks never do)
      task: {to: manager, title: "协助 {assignee.name}：{task.title}（已逾期 {days_late} 天）"}
      reassign: true                # default

DOMAIN.md §3: a task behind its milestone for 3 days starts the help mechanism. A task due
09-27 still open on 09-30 (3 days late) raises one help task for its assignee's manager, about
that task (subject_type `task`, subject_id `RULE/SUBJECT` of the late task, episode
`EPISODE/SEQ`); due 09-28 does not yet. The help task closes by itself when
the late task is done or closed. Improvement-plan tasks (`salesplay import plan_tasks`) become
open tasks of rule `plan`, one per plan task and milestone date. With `reassign`, an open task
about a customer whose owner changed moves to the new owner (to the former owner's manager
while the customer has none), and an open task of an inactive or deleted rep moves to the
customer's owner or else to the rep's manager; each move is kept in `task_reassignments`.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.lang.schema import DURATION, TEMPLATE
from salesplay.engine.run.emit import Signal
from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Outcome,
    Playbook,
    SubjectFacts,
)
from salesplay.engine.sql.compiler import Scope, Typed
from salesplay.engine.sql.templates import check_template, compile_template
from salesplay.engine.store.dialects import analyze, date_text, days_between, json_object
from salesplay.engine.store.models import Customer, OwnerChange, PlanTask, Rep, Task, table_of

RULE = "escalation"
PLAN_RULE = "plan"
DEFAULT_AFTER = "3 days"
DEFAULT_TITLE = "协助 {assignee.name}：{task.title}（已逾期 {days_late} 天）"
REASON_OWNER = "the customer's owner changed"
REASON_GONE = "the assignee is inactive or deleted"


class TaskReassignment(SQLModel, table=True):
    """An open task moved to someone else: its customer changed owner or its rep left."""

    __tablename__ = "task_reassignments"
    id: int | None = Field(default=None, primary_key=True)
    task_id: int = Field(index=True)
    old_assignee_id: str | None = None
    new_assignee_id: str | None = None
    changed_on: date
    reason: str
    run_id: int | None = None


class Escalation:
    """Help tasks for managers when listed tasks run late; plan tasks; task reassignment."""

    section = "escalation"
    settings_only = False
    tables: ClassVar[tuple[type[SQLModel], ...]] = (TaskReassignment,)
    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = ()
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "after": {**DURATION, "description": "late by this many days (default 3 days)"},
            "rules": {
                "type": "array",
                "items": {"type": "string", "minLength": 1},
                "description": "task rules that escalate (default: follow_up, plan)",
            },
            "task": {
                "type": "object",
                "properties": {"to": {"enum": ["manager"]}, "title": TEMPLATE},
                "additionalProperties": False,
            },
            "reassign": {
                "type": "boolean",
                "description": "move open tasks when a customer changes owner or a rep leaves",
            },
        },
        "additionalProperties": False,
    }

    def rule_names(self, playbook: Playbook) -> list[str]:
        return [self.section]

    def check(self, playbook: Playbook) -> None:
        section = playbook.section(self.section) or {}
        try:
            _, unit = dates.parse_duration(section.get("after", DEFAULT_AFTER))
        except ExpressionError as exc:
            raise playbook.expression_error((self.section, "after"), exc) from None
        if unit != "days":
            raise playbook.error(
                (self.section, "after"), "lateness is counted in days, e.g. '3 days'"
            )
        for i, rule in enumerate(section.get("rules", [])):
            if rule == RULE:
                raise playbook.error(
                    (self.section, "rules", i), "help tasks never escalate: remove 'escalation'"
                )
        title = (section.get("task") or {}).get("title", DEFAULT_TITLE)
        scope = _help_scope(*_help_tables(), date(2000, 1, 1))
        try:
            check_template(title, scope)
        except ExpressionError as exc:
            raise playbook.expression_error((self.section, "task", "title"), exc) from None

    # ---- running ------------------------------------------------------------------------

    def run(self, ctx: EvalContext) -> None:
        if not ctx.covers("task"):  # spans customers and reps: the final step of a split run
            return
        section = ctx.playbook.section(self.section) or {}
        ctx.emit(_plan_signal())
        if section.get("reassign", True):
            moved = reassign(ctx)
            if moved:
                ctx.counts["tasks_reassigned"] += moved
        ctx.emit(self._help_signal(ctx, section))

    def _help_signal(self, ctx: EvalContext, section: dict[str, Any]) -> Signal:
        t, assignee = _help_tables()
        managers = ctx.managers()
        late_by, _ = dates.parse_duration(section.get("after", DEFAULT_AFTER))
        rules = section.get("rules", ["follow_up", PLAN_RULE])
        scope = _help_scope(t, assignee, ctx.as_of)
        title = (section.get("task") or {}).get("title", DEFAULT_TITLE)
        late = sa.and_(
            t.c.status == "open",
            t.c.due <= ctx.as_of - timedelta(days=late_by),
            managers.c.manager_id.is_not(None),
            managers.c.manager_id != t.c.assignee_id,
        )
        rows = (
            sa.select(
                # the late task's own key, not its row id: stable across runs and partitions
                t.c.rule.op("||")("/").op("||")(t.c.subject_id).label("subject_id"),
                t.c.episode.op("||")("/").op("||")(sa.cast(t.c.seq, sa.String())).label("episode"),
                late.label("fires"),
                managers.c.manager_id.label("assignee_id"),
                sa.literal(ctx.as_of, sa.Date()).label("due"),
                compile_template(title, scope).label("title"),
                sa.null().label("level"),
                sa.null().label("message"),
                json_object(
                    sa.literal("task_subject"),
                    t.c.subject_id,
                    sa.literal("task_rule"),
                    t.c.rule,
                    sa.literal("task_due"),
                    date_text(t.c.due),
                    sa.literal("days_late"),
                    scope.resolve("days_late", 0).sql,
                    sa.literal("assignee_id"),
                    t.c.assignee_id,
                ).label("detail"),
            )
            .select_from(t)
            .outerjoin(assignee, assignee.c.id == t.c.assignee_id)
            .outerjoin(managers, managers.c.rep_id == t.c.assignee_id)
            .where(t.c.rule.in_([r for r in rules if r != RULE]), t.c.due.is_not(None))
        )
        return Signal(RULE, "task", rows, task=True)

    # ---- explaining ---------------------------------------------------------------------

    def outcomes(self, playbook: Playbook, conn: Connection) -> list[Outcome]:
        """Escalating, reached once a late task raised a help task."""
        t = table_of(Task).c
        helped = conn.execute(sa.select(t.id).where(t.rule == RULE).limit(1)).first()
        return [Outcome((self.section,), "escalation of late tasks", helped is not None)]

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        section = ctx.playbook.section(self.section) or {}
        late_by, _ = dates.parse_duration(section.get("after", DEFAULT_AFTER))
        rules = [r for r in section.get("rules", ["follow_up", PLAN_RULE]) if r != RULE]
        t, moves = table_of(Task), table_of(TaskReassignment)
        mine = (
            sa.and_(t.c.subject_type == "customer", t.c.subject_id == subject_id)
            if subject_type == "customer"
            else t.c.assignee_id == subject_id
        )
        findings = []
        managers = ctx.managers()
        query = (
            sa.select(t.c.id, t.c.rule, t.c.due, t.c.assignee_id, managers.c.manager_id)
            .outerjoin(managers, managers.c.rep_id == t.c.assignee_id)
            .where(mine, t.c.status == "open", t.c.rule.in_(rules), t.c.due.is_not(None))
            .order_by(t.c.id)
        )
        for row in ctx.conn.execute(query):
            days_late = (ctx.as_of - row.due).days
            fires = days_late >= late_by and row.manager_id is not None
            summary = (
                f"task {row.id} ({row.rule}) due {row.due} is {days_late} days late — "
                f"help task for {row.manager_id}"
                if fires
                else f"task {row.id} ({row.rule}) due {row.due} escalates from "
                f"{row.due + timedelta(days=late_by)}"
                + ("" if row.manager_id else " (its assignee has no manager)")
            )
            findings.append(
                Finding(
                    RULE,
                    fires,
                    summary,
                    {"after": f"{late_by} days", "assignee_id": str(row.assignee_id)},
                )
            )
        history = (
            sa.select(moves, t.c.rule)
            .join(t, t.c.id == moves.c.task_id)
            .where(
                sa.or_(
                    mine,
                    moves.c.old_assignee_id == subject_id if subject_type == "rep" else sa.false(),
                )
            )
            .order_by(moves.c.id)
        )
        for move in ctx.conn.execute(history):
            findings.append(
                Finding(
                    f"{RULE}.reassign",
                    True,
                    f"task {move.task_id} ({move.rule}) moved from {move.old_assignee_id} to "
                    f"{move.new_assignee_id} on {move.changed_on}: {move.reason}",
                    {},
                )
            )
        return findings


def _help_tables() -> tuple[sa.Table, Any]:
    return table_of(Task), table_of(Rep).alias("assignee")


def _help_scope(t: Any, assignee: Any, as_of: date) -> Scope:
    """Names a help task's title may use."""
    names: dict[str, Any] = {
        "task.id": Typed(sa.cast(t.c.id, sa.String()), "text"),
        "task.title": Typed(t.c.title, "text"),
        "task.rule": Typed(t.c.rule, "text"),
        "task.due": Typed(t.c.due, "date"),
        "task.subject_id": Typed(t.c.subject_id, "text"),
        "assignee_id": Typed(t.c.assignee_id, "text"),
        "assignee.name": Typed(assignee.c.name, "text"),
        "days_late": Typed(days_between(sa.literal(as_of, sa.Date()), t.c.due), "number"),
    }
    return Scope(names, as_of, "escalation")


def _plan_signal() -> Signal:
    """Every live improvement-plan task is an open task for its owner, one per milestone date."""
    p = table_of(PlanTask)
    rows = sa.select(
        p.c.id.label("subject_id"),
        date_text(p.c.due_on).label("episode"),
        sa.true().label("fires"),
        p.c.owner_id.label("assignee_id"),
        p.c.due_on.label("due"),
        p.c.title.label("title"),
        sa.null().label("level"),
        sa.null().label("message"),
        json_object(sa.literal("plan_task"), p.c.id, sa.literal("due_on"), p.c.due_on).label(
            "detail"
        ),
    ).where(p.c.deleted == sa.false())
    return Signal(PLAN_RULE, "plan_task", rows, task=True)


def reassign(ctx: EvalContext) -> int:
    """Move open tasks whose assignee no longer should hold them; record each move."""
    t, c, oc = table_of(Task), table_of(Customer), table_of(OwnerChange)
    holder, owner = table_of(Rep).alias("holder"), table_of(Rep).alias("cust_owner")
    managers = ctx.managers()
    gone = sa.or_(holder.c.active == sa.false(), holder.c.deleted == sa.true())
    owner_moved = sa.and_(
        c.c.id.is_not(None),
        sa.or_(c.c.owner_id.is_(None), c.c.owner_id != t.c.assignee_id),
        sa.exists().where(oc.c.customer_id == c.c.id, oc.c.old_owner_id == t.c.assignee_id),
    )
    owner_ok = sa.and_(
        c.c.owner_id.is_not(None),
        c.c.owner_id != t.c.assignee_id,
        owner.c.active == sa.true(),
        owner.c.deleted == sa.false(),
    )
    new = sa.case((owner_ok, c.c.owner_id), else_=managers.c.manager_id)
    candidates = (
        sa.select(
            t.c.id.label("task_id"),
            t.c.assignee_id.label("old_assignee_id"),
            new.label("new_assignee_id"),
            sa.case((gone, REASON_GONE), else_=REASON_OWNER).label("reason"),
        )
        .select_from(t)
        .join(holder, holder.c.id == t.c.assignee_id)
        .outerjoin(c, sa.and_(t.c.subject_type == "customer", c.c.id == t.c.subject_id))
        .outerjoin(owner, owner.c.id == c.c.owner_id)
        .outerjoin(managers, managers.c.rep_id == t.c.assignee_id)
        .where(t.c.status == "open", sa.or_(gone, owner_moved))
        .subquery("candidates")
    )
    moves = sa.Table(
        "task_moves",
        sa.MetaData(),
        sa.Column("task_id", sa.Integer()),
        sa.Column("old_assignee_id", sa.String()),
        sa.Column("new_assignee_id", sa.String()),
        sa.Column("reason", sa.String()),
        prefixes=["TEMPORARY"],
    )
    ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS task_moves")
    moves.create(ctx.conn)
    names = ["task_id", "old_assignee_id", "new_assignee_id", "reason"]
    ctx.conn.execute(
        moves.insert().from_select(
            names,
            sa.select(*[candidates.c[n] for n in names]).where(
                candidates.c.new_assignee_id.is_not(None),
                candidates.c.new_assignee_id != candidates.c.old_assignee_id,
            ),
        )
    )
    analyze(ctx.conn, "task_moves")
    history = table_of(TaskReassignment)
    moved = int(ctx.conn.execute(sa.select(sa.func.count()).select_from(moves)).scalar_one())
    if moved:
        ctx.conn.execute(
            history.insert().from_select(
                [*names, "changed_on", "run_id"],
                sa.select(
                    *[moves.c[n] for n in names],
                    sa.literal(ctx.as_of, sa.Date()),
                    sa.literal(ctx.run_id),
                ),
            )
        )
        ctx.conn.execute(
            t.update()
            .where(t.c.id.in_(sa.select(moves.c.task_id)))
            .values(
                assignee_id=sa.select(moves.c.new_assignee_id)
                .where(moves.c.task_id == t.c.id)
                .scalar_subquery()
            )
        )
    ctx.conn.exec_driver_sql("DROP TABLE task_moves")
    return moved
