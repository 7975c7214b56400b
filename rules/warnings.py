"""Warnings: conditions over customers, reps or targets that raise an alert and, optionally, a task.

    warnings:
      goal_lag:
        for: targets
        where: metric = 'sales'
        when: actual < 80% * expected_by_now
        level: red
        message: "{rep.name} 销售额完成 {completion:%}，低于进度"
        task: {to: manager, title: "与 {rep.name} 一对一辅导"}

For targets the names are target, actual, expected_by_now, completion, pace, gap,
elapsed_days, period_days, metric, period_start, period_end and rep.*; `actual` is the playbook
metric the target names, measured over the target's period. One episode per target period.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from salesplay.engine.errors import ExpressionError, PlaybookError
from salesplay.engine.lang import dates, expressions, logic
from salesplay.engine.lang.schema import EXPRESSION, LEVEL, TEMPLATE
from salesplay.engine.lang.templates import parse_template
from salesplay.engine.present.reports import WARNING_COLUMNS, WARNING_LABELS, alert_noise
from salesplay.engine.run.emit import Signal
from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Outcome,
    Panel,
    Playbook,
    Report,
    SubjectFacts,
)
from salesplay.engine.sql.compiler import Scope, compile_condition, unknown_name
from salesplay.engine.sql.metrics import declared, placeholder_table, subject_scope
from salesplay.engine.sql.templates import check_template, compile_template, format_value
from salesplay.engine.store.dialects import date_text, json_object
from salesplay.engine.store.models import Alert, Task, table_of

SUBJECTS = {"customers": "customer", "reps": "rep", "targets": "target"}
ROLES = {"customer": ["owner", "manager"], "rep": ["rep", "manager"], "target": ["rep", "manager"]}
RESERVED = {"grading", "follow_up", "follow_up.overdue"}


class Warnings:
    """Named warnings; each raises an alert per episode, and a task if it has one."""

    section = "warnings"
    settings_only = False
    tables: ClassVar[tuple[type[SQLModel], ...]] = ()
    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = ()

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        """Every alert's noise, whichever rule raised it: the family about warnings offers it
        whether or not the playbook names any."""
        return (REPORT,)

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "propertyNames": {"pattern": r"^[^\W\d][\w.]*$"},
        "additionalProperties": {
            "type": "object",
            "properties": {
                "description": {"type": "string"},
                "for": {"enum": list(SUBJECTS)},
                "where": EXPRESSION,
                "when": EXPRESSION,
                "level": {
                    "enum": [*LEVEL["enum"], "light"],
                    "description": "green, yellow, red, or (for targets) light: the goal's own",
                },
                "message": TEMPLATE,
                "per": {
                    "enum": ["week", "month", "quarter", "year"],
                    "description": "one episode per calendar period (customers and reps)",
                },
                "task": {
                    "type": "object",
                    "properties": {
                        "to": {"enum": ["owner", "manager", "rep"]},
                        "title": TEMPLATE,
                        "due_in": {"type": "string"},
                    },
                    "required": ["to", "title"],
                    "additionalProperties": False,
                },
            },
            "required": ["for", "when", "level", "message"],
            "additionalProperties": False,
        },
    }

    def rule_names(self, playbook: Playbook) -> list[str]:
        """A job may run every warning, or name one: `warnings.goal_lag`."""
        return [
            self.section,
            *(f"{self.section}.{name}" for name in playbook.section(self.section)),
        ]

    def check(self, playbook: Playbook) -> None:
        for name, spec in playbook.section(self.section).items():
            path = (self.section, name)
            if name in RESERVED:
                raise playbook.error(path, f"'{name}' is the name of a built-in rule; pick another")
            subject = SUBJECTS[spec["for"]]
            task = spec.get("task")
            if task and task["to"] not in ROLES[subject]:
                raise playbook.error(
                    (*path, "task", "to"),
                    f"a task about {spec['for']} goes to "
                    f"{' or '.join(ROLES[subject])}, not '{task['to']}'",
                )
            if task and "due_in" in task:
                try:
                    dates.parse_duration(task["due_in"])
                except ExpressionError as exc:
                    raise playbook.expression_error((*path, "task", "due_in"), exc) from None
            if spec["level"] == "light" and subject != "target":
                raise playbook.error(
                    (*path, "level"), "only a target has a light; use green, yellow or red"
                )
            if subject == "target" and "per" in spec:
                raise playbook.error(
                    (*path, "per"),
                    "a target's warning has one episode per target period already; remove 'per'",
                )
            scope = self._scope(playbook, subject, None, date(2000, 1, 1))
            for key in ("where", "when"):
                if key in spec:
                    try:
                        compile_condition(str(spec[key]), scope)
                    except ExpressionError as exc:
                        raise playbook.expression_error((*path, key), exc) from None
            for key, text in (("message", spec["message"]), ("title", (task or {}).get("title"))):
                if text:
                    where = (*path, key) if key == "message" else (*path, "task", "title")
                    try:
                        check_template(text, scope)
                    except ExpressionError as exc:
                        raise playbook.expression_error(where, exc) from None

    def lint(self, playbook: Playbook) -> list[PlaybookError]:
        """A warning that can never fire: its `when` (or `where`, or the two together) can
        never hold (`x > 10 and x < 5`), or a target warning looks for a metric there is no
        such metric for (`metric = 'sale'`)."""
        found = []
        for name, spec in playbook.section(self.section).items():
            path = (self.section, name)
            parsed = {k: expressions.parse(str(spec[k])) for k in ("where", "when") if k in spec}
            never = [k for k, node in parsed.items() if logic.never_holds(node)]
            for key in never:
                found.append(
                    playbook.error((*path, key), f"can never hold, so warning {name} never fires")
                )
            if not never and len(parsed) == 2:
                both = expressions.Binary(0, "and", parsed["where"], parsed["when"])
                if logic.never_holds(both):
                    found.append(
                        playbook.error(
                            (*path, "when"),
                            f"can never hold together with its where, so warning {name} "
                            "never fires",
                        )
                    )
            if spec["for"] == "targets":
                metrics = declared(playbook)
                for key, node in parsed.items():
                    for field, text, _ in logic.literals(node):
                        if field == "metric" and text not in metrics:
                            message = unknown_name(text, metrics, noun="metric")
                            found.append(
                                playbook.error(
                                    (*path, key),
                                    f"{message}: no target is measured by it, so warning "
                                    f"{name} never fires for it",
                                )
                            )
        return found

    # ---- scopes -------------------------------------------------------------------------

    def _scope(self, playbook: Playbook, subject: str, table: Any, as_of: date) -> Scope:
        if subject != "target":
            table = table if table is not None else placeholder_table(subject, playbook)
            return subject_scope(subject, playbook, table, as_of)
        return playbook.subject("target").scope(playbook, table, as_of)

    # ---- running ------------------------------------------------------------------------

    def run(self, ctx: EvalContext) -> None:
        targets: sa.Table | None = None
        for name, spec in ctx.playbook.section(self.section).items():
            if not ctx.covers(SUBJECTS[spec["for"]]):
                continue
            if spec["for"] != "targets":
                ctx.emit(self._signal(ctx, name, spec, ctx.facts(SUBJECTS[spec["for"]])))
                continue
            if targets is None:
                targets = ctx.subject("target").materialize(
                    ctx.conn, ctx.playbook, ctx.as_of, uses=_target_uses(ctx.playbook)
                )
            signal = self._signal(ctx, name, spec, targets)
            for owner in ("rep", "org_unit"):  # a signal has one subject type
                rows = signal.rows.where(targets.c.owner_type == owner)
                ctx.emit(replace(signal, subject_type=owner, rows=rows))
        if targets is not None:
            ctx.subject("target").drop(ctx.conn)

    def _signal(self, ctx: EvalContext, name: str, spec: dict[str, Any], table: Any) -> Signal:
        subject = SUBJECTS[spec["for"]]
        scope = self._scope(ctx.playbook, subject, table, ctx.as_of)
        when = compile_condition(str(spec["when"]), scope)
        where = compile_condition(str(spec["where"]), scope) if "where" in spec else None
        used = [n for n in scope.used if n in scope.names]
        message = compile_template(spec["message"], scope)
        task = spec.get("task")
        title = compile_template(task["title"], scope) if task else sa.null()
        detail = json_object(*[x for n in used for x in (sa.literal(n), scope.resolve(n, 0).sql)])
        from_ = table
        level: Any = sa.literal(spec["level"])
        if spec["level"] == "light":  # the target's own light; yellow before its period starts
            level = sa.func.coalesce(scope.resolve("light", 0).sql, "yellow")
        if subject == "target":
            subject_id = table.c.owner_id
            episode = (
                table.c.metric.op("||")(" ")
                .op("||")(date_text(table.c.period_start))
                .op("||")("..")
                .op("||")(date_text(table.c.period_end))
            )
            rep_col = table.c.owner_id
        else:
            subject_id = table.c.id
            episode = sa.literal(
                dates.period_label(ctx.as_of, spec["per"]) if "per" in spec else "-"
            )
            rep_col = table.c.owner_id if subject == "customer" else table.c.id
        assignee: Any = rep_col
        if (task and task["to"] == "manager") or (not task and subject == "target"):
            managers = ctx.managers()
            from_ = from_.outerjoin(managers, managers.c.rep_id == rep_col)
            assignee = managers.c.manager_id
        if subject == "target":  # an org unit's goal answers to the unit's head
            assignee = sa.case((table.c.owner_type == "org_unit", table.c.head_id), else_=assignee)
        due: Any = sa.null()
        if task and "due_in" in task:
            count, unit = dates.parse_duration(task["due_in"])
            due = sa.literal(dates.shift(ctx.as_of, count, unit), sa.Date())
        elif task:
            due = sa.literal(ctx.as_of, sa.Date())
        rows = sa.select(
            subject_id.label("subject_id"),
            sa.cast(episode, sa.String()).label("episode"),
            sa.func.coalesce(when, sa.false()).label("fires"),
            assignee.label("assignee_id"),
            due.label("due"),
            title.label("title"),
            level.label("level"),
            message.label("message"),
            detail.label("detail"),
        ).select_from(from_)
        if where is not None:
            rows = rows.where(where)
        return Signal(
            name,
            subject,
            rows,
            task=bool(task),
            alert=True,
            clear_by="episode" if subject == "target" else "subject",
        )

    def outcomes(self, playbook: Playbook, conn: Connection) -> list[Outcome]:
        """Each warning, reached once it raised an alert or a task."""
        names = list(playbook.section(self.section))
        raised = set()
        for table in (table_of(Alert), table_of(Task)):
            query = sa.select(table.c.rule).where(table.c.rule.in_(names)).distinct()
            raised |= set(conn.execute(query).scalars())
        return [Outcome((self.section, n), f"warning {n}", n in raised) for n in names]

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        findings = []
        for name, spec in ctx.playbook.section(self.section).items():
            subject = SUBJECTS[spec["for"]]
            if subject == "target" and subject_type in ("rep", "org_unit"):
                table = ctx.subject("target").materialize(
                    ctx.conn,
                    ctx.playbook,
                    ctx.as_of,
                    uses=_target_uses(ctx.playbook),
                    owner=(subject_type, subject_id),
                )
                key = table.c.owner_id
            elif subject == subject_type:
                table = ctx.facts(subject)
                key = table.c.id
            else:
                continue
            scope = self._scope(ctx.playbook, subject, table, ctx.as_of)
            when = compile_condition(str(spec["when"]), scope)
            where = compile_condition(str(spec["where"]), scope) if "where" in spec else sa.true()
            shown = [n for n in scope.used if n in scope.names]
            cols = [
                sa.func.coalesce(when, sa.false()).label("_fires"),
                *[scope.resolve(n, 0).sql.label(f"v{i}") for i, n in enumerate(shown)],
            ]
            if subject == "target":
                cols += [
                    table.c.metric.label("_metric"),
                    table.c.period_start.label("_start"),
                    table.c.period_end.label("_end"),
                ]
            for row in ctx.conn.execute(
                sa.select(*cols).where(key == subject_id, where)
            ).mappings():
                values = {
                    n: format_value(row[f"v{i}"], scope.resolve(n, 0).type)
                    for i, n in enumerate(shown)
                }
                label = f"{spec['when']}"
                if subject == "target":
                    label += f" [{row['_metric']} {row['_start']}..{row['_end']}]"
                findings.append(
                    Finding(
                        name,
                        bool(row["_fires"]),
                        label + (" — holds" if row["_fires"] else " — does not hold"),
                        values,
                    )
                )
            if subject == "target":
                ctx.subject("target").drop(ctx.conn)
        return findings


def _target_uses(playbook: Playbook) -> frozenset[str]:
    """The names the warnings over targets read: their metrics get computed for every target
    (a target always gets its own metric)."""
    found: set[str] = set()
    for spec in (playbook.section(Warnings.section) or {}).values():
        if spec.get("for") == "targets":
            found |= _names_used(spec)
    return frozenset(found)


def _names_used(spec: dict[str, Any]) -> set[str]:
    """The names a rule's conditions and templates use (not words inside quotes:
    `metric = 'sales'` does not use the metric sales)."""
    found: set[str] = set()
    for key in ("when", "where"):
        if key in spec:
            found.update(expressions.names_in(expressions.parse(str(spec[key]))))
    for text in (spec.get("message"), (spec.get("task") or {}).get("title")):
        if text:
            found.update(p.name for p in parse_template(str(text)) if p.name)
    return found


REPORT = Report(
    "warnings",
    "Open alerts by rule and level, raised and resolved in the period, and their noise.",
    WARNING_COLUMNS,
    alert_noise,
    labels=WARNING_LABELS,
    panels=(
        Panel(
            50,
            {"en": "Open warnings and the noisiest rules", "zh": "未处理预警与最吵的规则"},
            "rule",
            ("open", "open_red", "open_yellow", "raised", "handled_share", "acted_share",
             "median_open_days", "per_week", "over_budget"),
            chart="totals",
            totals=("open_red", "open_yellow", "open_green"),
            where=("part", "rule"),
            limit=5,
        ),
        Panel(
            51,
            {"en": "Recipients over the alert budget", "zh": "超出预警预算的接收人"},
            "recipient_id",
            ("raised", "per_week", "budget"),
            names=True,
            where=("part", "recipient"),
            flag="over_budget",
        ),
    ),
)  # fmt: skip
