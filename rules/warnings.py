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

from datetime import date
from typing import Any, ClassVar

import sqlalchemy as sa

from salesplay.engine import dates
from salesplay.engine.compiler import Scope, Typed, compile_condition
from salesplay.engine.context import EvalContext
from salesplay.engine.db import analyze, days_between, json_object, ratio
from salesplay.engine.emit import Signal
from salesplay.engine.errors import ExpressionError
from salesplay.engine.explain import Finding
from salesplay.engine.metrics import (
    SUBJECT_FIELDS,
    declared,
    per_target_metric_sql,
    placeholder_table,
    subject_scope,
    value_type,
)
from salesplay.engine.models import Rep, Target, table_of
from salesplay.engine.playbook import Playbook
from salesplay.engine.schema import EXPRESSION, LEVEL, TEMPLATE
from salesplay.engine.templates import (
    check_template,
    compile_template,
    date_text,
    format_value,
)

SUBJECTS = {"customers": "customer", "reps": "rep", "targets": "target"}
ROLES = {"customer": ["owner", "manager"], "rep": ["rep", "manager"], "target": ["rep", "manager"]}
RESERVED = {"grading", "follow_up", "follow_up.overdue"}

TARGET_NAMES: dict[str, str] = {
    "target": "amount",
    "actual": "amount",
    "expected_by_now": "amount",
    "gap": "amount",
    "completion": "number",
    "pace": "number",
    "elapsed_days": "number",
    "period_days": "number",
    "metric": "text",
    "period_start": "date",
    "period_end": "date",
    "owner_id": "text",
}


class Warnings:
    """Named warnings; each raises an alert per episode, and a task if it has one."""

    section = "warnings"
    named_rules = True  # a job may name one warning: `warnings.goal_lag`
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
                "level": LEVEL,
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
                        check_template(text, lambda n, s=scope: s.resolve(n, 0))
                    except ExpressionError as exc:
                        raise playbook.expression_error(where, exc) from None

    # ---- scopes -------------------------------------------------------------------------

    def _scope(self, playbook: Playbook, subject: str, table: Any, as_of: date) -> Scope:
        if subject != "target":
            table = table if table is not None else placeholder_table(subject, playbook)
            return subject_scope(subject, playbook, table, as_of)
        cols = target_columns(playbook)
        table = (
            table if table is not None else sa.table("facts_target", *[sa.column(n) for n in cols])
        )
        names: dict[str, Any] = {}
        for name, kind in cols.items():
            if not name.startswith("_"):
                names[name] = Typed(table.c[name], kind)
        for name, (_, kind) in SUBJECT_FIELDS["rep"].items():
            names[f"rep.{name}"] = Typed(table.c[f"_rep_{name}"], kind)
        expected = sa.cast(table.c.target * table.c.elapsed_days, sa.Double()) / table.c.period_days
        names["expected_by_now"] = Typed(expected, "amount")
        names["gap"] = Typed(table.c.target - table.c.actual, "amount")
        names["completion"] = Typed(ratio(table.c.actual, table.c.target), "number")
        names["pace"] = Typed(
            ratio(table.c.actual * table.c.period_days, table.c.target * table.c.elapsed_days),
            "number",
        )
        return Scope(names, as_of, "target rules")

    def _target_facts(self, ctx: EvalContext, only_rep: str | None = None) -> sa.Table:
        """facts_target: one row per live rep target whose period holds the as-of date."""
        t = table_of(Target)
        r = table_of(Rep)
        cols = target_columns(ctx.playbook)
        start = sa.func.coalesce(t.c.period_start, ctx.as_of)
        end_num = sa.case(
            (t.c.period_end < ctx.as_of, t.c.period_end), else_=sa.literal(ctx.as_of, sa.Date())
        )
        per_target = {
            m.name: m for m in declared(ctx.playbook).values() if m.aggregate and m.per_target
        }
        actual_cases = []
        metric_values = {}
        for name, metric in per_target.items():
            value = per_target_metric_sql(
                metric,
                lambda rep_col: rep_col == t.c.owner_id,
                t.c.period_start,
                t.c.period_end,
                ctx.as_of,
            )
            scaled = value if value_type(metric) == "amount" else value * 100
            metric_values[name] = scaled
            actual_cases.append((t.c.metric == name, scaled))
        actual = sa.case(*actual_cases) if actual_cases else sa.null()
        values: dict[str, Any] = {
            "target_id": t.c.id,
            "owner_id": t.c.owner_id,
            "metric": t.c.metric,
            "period_start": t.c.period_start,
            "period_end": t.c.period_end,
            "target": t.c.value_x100,
            "actual": actual,
            "period_days": days_between(t.c.period_end, start) + 1,
            "elapsed_days": days_between(end_num, start) + 1,
        }
        for name in per_target:
            values[name] = metric_values[name]
        for name, (col, _) in SUBJECT_FIELDS["rep"].items():
            values[f"_rep_{name}"] = r.c[col]
        table = sa.Table(
            "facts_target",
            sa.MetaData(),
            *[sa.Column(n, _sql_type(k)) for n, k in cols.items()],
            prefixes=["TEMPORARY"],
        )
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS facts_target")
        table.create(ctx.conn)
        query = (
            sa.select(*[values[n].label(n) for n in cols])
            .join_from(t, r, r.c.id == t.c.owner_id)
            .where(
                t.c.deleted == sa.false(),
                r.c.deleted == sa.false(),
                t.c.owner_type == "rep",
                t.c.period_start <= ctx.as_of,
                t.c.period_end >= ctx.as_of,
            )
        )
        if only_rep is not None:
            query = query.where(t.c.owner_id == only_rep)
        ctx.conn.execute(table.insert().from_select(list(cols), query))
        analyze(ctx.conn, "facts_target")
        return table

    # ---- running ------------------------------------------------------------------------

    def run(self, ctx: EvalContext) -> None:
        for name, spec in ctx.playbook.section(self.section).items():
            if ctx.covers(SUBJECTS[spec["for"]]):
                ctx.emit(self._signal(ctx, name, spec))
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS facts_target")

    def _source(self, ctx: EvalContext, subject: str, only: str | None = None) -> Any:
        if subject == "target":
            return self._target_facts(ctx, only)
        return ctx.facts(subject)

    def _signal(self, ctx: EvalContext, name: str, spec: dict[str, Any]) -> Signal:
        subject = SUBJECTS[spec["for"]]
        table = self._source(ctx, subject)
        scope = self._scope(ctx.playbook, subject, table, ctx.as_of)
        when = compile_condition(str(spec["when"]), scope)
        where = compile_condition(str(spec["where"]), scope) if "where" in spec else None
        used = [n for n in scope.used if n in scope.names]
        message = compile_template(spec["message"], scope)
        task = spec.get("task")
        title = compile_template(task["title"], scope) if task else sa.null()
        detail = json_object(*[x for n in used for x in (sa.literal(n), scope.names[n].sql)])
        from_ = table
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
            sa.literal(spec["level"]).label("level"),
            message.label("message"),
            detail.label("detail"),
        ).select_from(from_)
        if where is not None:
            rows = rows.where(where)
        return Signal(
            name,
            "rep" if subject == "target" else subject,
            rows,
            task=bool(task),
            alert=True,
            clear_by="episode" if subject == "target" else "subject",
        )

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        findings = []
        for name, spec in ctx.playbook.section(self.section).items():
            subject = SUBJECTS[spec["for"]]
            if subject == "target" and subject_type == "rep":
                table = self._target_facts(ctx, only_rep=subject_id)
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
                *[scope.names[n].sql.label(f"v{i}") for i, n in enumerate(shown)],
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
                    n: format_value(row[f"v{i}"], scope.names[n].type) for i, n in enumerate(shown)
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
                ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS facts_target")
        return findings


def _sql_type(kind: str) -> Any:
    return {
        "amount": sa.Float(),
        "number": sa.Float(),
        "text": sa.String(),
        "date": sa.Date(),
        "bool": sa.Boolean(),
    }[kind]


def target_columns(playbook: Playbook) -> dict[str, str]:
    """Columns of facts_target with their value types (underscored ones hold the rep's fields)."""
    cols = {
        "target_id": "text",
        "owner_id": "text",
        "metric": "text",
        "period_start": "date",
        "period_end": "date",
        "target": "amount",
        "actual": "amount",
        "period_days": "number",
        "elapsed_days": "number",
    }
    for metric in declared(playbook).values():
        if metric.aggregate and metric.per_target:
            cols[metric.name] = "amount"
    for name, (_, kind) in SUBJECT_FIELDS["rep"].items():
        cols[f"_rep_{name}"] = kind
    return cols
