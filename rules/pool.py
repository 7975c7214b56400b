"""The shared customer pool (公海): idle customers go back to it; an optional rule hands them out.

    pool:
      release:
        after: 60 days            # or per grade: {A: 90 days, B: 60 days, C: 30 days}
        without: activity         # or order: days since the last order (成交)
        except: grade = 'A' or strategic
        alert: {level: yellow, message: "{customer.name} 已 {days_idle} 天无跟进，退回公海"}
      assign:                     # optional
        strategy: round_robin     # or least_loaded
        within: team              # the former owner's org unit

A customer is idle from its last qualifying activity (or order), or from the day it was created,
or from the first run that saw its current owner after a change (a CRM reassignment, the
assignment rule, leaving the pool), whichever is latest. "After 60 days": idle since
as_of − 60 days or earlier releases (last activity 2024-05-06, released on 2024-07-05; on
2024-07-04, 59 days, not yet). Releasing clears the owner, records an owner change (source
`rule`) and alerts the former owner (`pool.release`) and their manager (`pool.release.manager`);
the alerts resolve once the customer has an owner again. A customer without an owner is in the
pool, whether a rule put it there or the CRM exported it so.

Assignment gives each team's pooled customers (in id order) to the team's active reps, the
unit head and inactive reps aside. Both strategies are the same exact greedy computed set-based:
every rep offers slots numbered j = 0, 1, 2 … keyed (base + j, rep id) and the team's k-th
pooled customer takes the k-th slot. round_robin: base 0, so everyone gets one before anyone
gets two. least_loaded: base = the customers the rep owns now, which is what handing them out
one at a time to whoever has fewest would do (ties to the lower rep id).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang import dates
from salesplay.engine.lang.schema import DURATION, EXPRESSION, LEVEL, TEMPLATE
from salesplay.engine.run.emit import Signal
from salesplay.engine.run.family import (
    Command,
    EvalContext,
    Finding,
    Outcome,
    Playbook,
    SubjectFacts,
)
from salesplay.engine.sql.compiler import Typed, compile_condition, unknown_name
from salesplay.engine.sql.metrics import placeholder_table, subject_scope
from salesplay.engine.sql.templates import check_template, compile_template, format_value
from salesplay.engine.store import dialects
from salesplay.engine.store.db import CALENDAR_FIRST
from salesplay.engine.store.dialects import analyze, date_text, days_between, json_object
from salesplay.engine.store.models import (
    Activity,
    CalendarDay,
    Customer,
    Grade,
    Order,
    OrgUnit,
    OwnerChange,
    Rep,
    table_of,
)

RULE = "pool.release"
MANAGER_RULE = "pool.release.manager"
ASSIGN = "pool.assign"
DEFAULT_MESSAGE = "{customer.name} 已 {days_idle} 天无跟进，退回公海"
NEVER = date(1900, 1, 1)  # idle since forever: no activity, no creation date


class Pool:
    """Release idle customers to the shared pool; optionally hand pooled customers out."""

    section = "pool"
    settings_only = False
    tables: ClassVar[tuple[type[SQLModel], ...]] = ()
    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = ()
    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "release": {
                "type": "object",
                "properties": {
                    "after": {
                        "oneOf": [
                            DURATION,
                            {"type": "object", "additionalProperties": DURATION},
                        ],
                        "description": "idle this long, or per grade {A: 90 days, …}",
                    },
                    "without": {"enum": ["activity", "order"]},
                    "channels": {
                        "type": "array",
                        "items": {"enum": ["visit", "video", "call", "wechat", "email", "message"]},
                        "minItems": 1,
                    },
                    "except": EXPRESSION,
                    "alert": {
                        "type": "object",
                        "properties": {"level": LEVEL, "message": TEMPLATE},
                        "additionalProperties": False,
                    },
                },
                "required": ["after"],
                "additionalProperties": False,
            },
            "assign": {
                "type": "object",
                "properties": {
                    "strategy": {"enum": ["round_robin", "least_loaded"]},
                    "within": {"enum": ["team"]},
                },
                "required": ["strategy"],
                "additionalProperties": False,
            },
        },
        "additionalProperties": False,
    }

    def rule_names(self, playbook: Playbook) -> list[str]:
        return [self.section]

    def check(self, playbook: Playbook) -> None:
        release = (playbook.section(self.section) or {}).get("release")
        if not release:
            return
        path = (self.section, "release")
        after = release["after"]
        grades = [g["grade"] for g in (playbook.section("grading") or {}).get("grades", [])]
        for key, text in after.items() if isinstance(after, dict) else [(None, after)]:
            where = (*path, "after") if key is None else (*path, "after", key)
            if key is not None and grades and key not in grades:
                raise playbook.error(where, unknown_name(key, grades, noun="grade"))
            try:
                dates.parse_duration(text)
            except ExpressionError as exc:
                raise playbook.expression_error(where, exc) from None
        if "channels" in release and release.get("without", "activity") != "activity":
            raise playbook.error((*path, "channels"), "channels apply to 'without: activity'")
        facts = placeholder_table("customer", playbook)
        if "except" in release:
            try:
                compile_condition(str(release["except"]), _scope(playbook, facts, NEVER, None))
            except ExpressionError as exc:
                raise playbook.expression_error((*path, "except"), exc) from None
        message = (release.get("alert") or {}).get("message", DEFAULT_MESSAGE)
        scope = _scope(playbook, table_of(Customer), NEVER, None)
        try:
            check_template(message, scope)
        except ExpressionError as exc:
            raise playbook.expression_error((*path, "alert", "message"), exc) from None

    # ---- running ------------------------------------------------------------------------

    def run(self, ctx: EvalContext) -> None:
        section = ctx.playbook.section(self.section) or {}
        if "release" in section and ctx.covers("customer"):
            _note_new_owners(ctx)
            idle = _idle(ctx, section["release"])
            released = self._release(ctx, section["release"], idle)
            if released:
                ctx.counts["customers_pooled"] += released
            for rule in (RULE, MANAGER_RULE):
                ctx.emit(self._alerts(ctx, section["release"], idle, rule))
            ctx.conn.exec_driver_sql("DROP TABLE pool_idle")
            if released:
                ctx.refresh("customer")
        if "assign" in section and ctx.covers("rep"):
            assigned = _assign(ctx, section["assign"])
            if assigned:
                ctx.counts["customers_assigned"] += assigned
                ctx.refresh("customer")

    def _release(self, ctx: EvalContext, release: dict[str, Any], idle: sa.Table) -> int:
        facts = ctx.facts("customer")
        scope = _scope(ctx.playbook, facts, ctx.as_of, idle)
        excepted = (
            sa.func.coalesce(compile_condition(str(release["except"]), scope), sa.false())
            if "except" in release
            else sa.false()
        )
        chosen = sa.select(idle.c.customer_id).join(facts, facts.c.id == idle.c.customer_id)
        chosen = chosen.where(idle.c.due_to_release == sa.true(), ~excepted)
        released = sa.Table(
            "pool_released",
            sa.MetaData(),
            sa.Column("customer_id", sa.String(), primary_key=True),
            prefixes=["TEMPORARY"],
        )
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS pool_released")
        released.create(ctx.conn)
        ctx.conn.execute(released.insert().from_select(["customer_id"], chosen))
        c = table_of(Customer)
        count = int(ctx.conn.execute(sa.select(sa.func.count()).select_from(released)).scalar_one())
        if count:
            reason = (
                sa.literal(f"{RULE}: no {release.get('without', 'activity')} for ")
                .op("||")(sa.cast(idle.c.days_idle, sa.String()))
                .op("||")(" days")
            )
            _record(
                ctx,
                sa.select(idle.c.customer_id, idle.c.owner_id, sa.null(), reason).join(
                    released, released.c.customer_id == idle.c.customer_id
                ),
            )
            ctx.conn.execute(
                c.update()
                .where(c.c.id.in_(sa.select(released.c.customer_id)))
                .values(
                    pooled_from=c.c.owner_id,
                    crm_owner_id=sa.func.coalesce(c.c.crm_owner_id, c.c.owner_id),
                    owner_id=None,
                    owner_seen=None,
                    pooled_on=ctx.as_of,
                )
            )
        ctx.conn.exec_driver_sql("DROP TABLE pool_released")
        return count

    def _alerts(
        self, ctx: EvalContext, release: dict[str, Any], idle: sa.Table, rule: str
    ) -> Signal:
        """Customers the rule put in the pool: an alert while they have no owner."""
        c = table_of(Customer)
        alert = release.get("alert") or {}
        scope = _scope(ctx.playbook, c, ctx.as_of, idle)
        from_: Any = c.outerjoin(idle, idle.c.customer_id == c.c.id)
        recipient: Any = c.c.pooled_from
        if rule == MANAGER_RULE:
            managers = ctx.managers()
            from_ = from_.outerjoin(managers, managers.c.rep_id == c.c.pooled_from)
            recipient = managers.c.manager_id
        rows = (
            sa.select(
                c.c.id.label("subject_id"),
                date_text(c.c.pooled_on).label("episode"),
                sa.and_(c.c.owner_id.is_(None), recipient.is_not(None)).label("fires"),
                recipient.label("assignee_id"),
                sa.null().label("due"),
                sa.null().label("title"),
                sa.literal(alert.get("level", "yellow")).label("level"),
                compile_template(alert.get("message", DEFAULT_MESSAGE), scope).label("message"),
                json_object(
                    sa.literal("former_owner"),
                    c.c.pooled_from,
                    sa.literal("pooled_on"),
                    date_text(c.c.pooled_on),
                    sa.literal("days_idle"),
                    idle.c.days_idle,
                ).label("detail"),
            )
            .select_from(from_)
            .where(
                c.c.pooled_on.is_not(None),
                c.c.deleted == sa.false(),
                ctx.customers_filter(c.c.id),
            )
        )
        return Signal(rule, "customer", rows, alert=True, clear_by="episode")

    # ---- explaining ---------------------------------------------------------------------

    def outcomes(self, playbook: Playbook, conn: Connection) -> list[Outcome]:
        """Releasing and (when set) assigning, each reached once it moved a customer."""
        section = playbook.section(self.section) or {}
        oc = table_of(OwnerChange).c
        found = []
        for key, rule, label in (
            ("release", RULE, "release to the pool"),
            ("assign", ASSIGN, "assignment from the pool"),
        ):
            if section.get(key):
                moved = sa.select(oc.id).where(oc.source == "rule", oc.reason.like(f"{rule}:%"))
                reached = conn.execute(moved.limit(1)).first() is not None
                found.append(Outcome((self.section, key), label, reached))
        return found

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        if subject_type != "customer":
            return []
        section = ctx.playbook.section(self.section) or {}
        findings = []
        c = table_of(Customer)
        customer = ctx.conn.execute(sa.select(c).where(c.c.id == subject_id)).first()
        if "release" in section and customer is not None:
            release = section["release"]
            idle = _idle(ctx, release, only=subject_id)
            facts = ctx.facts("customer")
            scope = _scope(ctx.playbook, facts, ctx.as_of, idle)
            excepted = (
                compile_condition(str(release["except"]), scope)
                if "except" in release
                else sa.false()
            )
            row = ctx.conn.execute(
                sa.select(idle, sa.func.coalesce(excepted, sa.false()).label("excepted"))
                .join(facts, facts.c.id == idle.c.customer_id)
                .where(idle.c.customer_id == subject_id)
            ).first()
            ctx.conn.exec_driver_sql("DROP TABLE pool_idle")
            if row is None:
                summary = (
                    f"in the shared pool since {customer.pooled_on} (released from "
                    f"{customer.pooled_from})"
                    if customer.pooled_on and customer.owner_id is None
                    else "no owner: in the shared pool"
                )
                findings.append(Finding(RULE, customer.owner_id is None, summary, {}))
            else:
                fires = bool(row.due_to_release) and not row.excepted
                values = {
                    "without": release.get("without", "activity"),
                    "idle_since": format_value(row.idle_since, "date"),
                    "days_idle": str(row.days_idle),
                    "threshold_day": format_value(row.threshold, "date"),
                }
                if "except" in release:
                    values["except"] = f"{release['except']} → {'yes' if row.excepted else 'no'}"
                verdict = (
                    "releases to the shared pool"
                    if fires
                    else "excepted"
                    if row.excepted
                    else "not idle long enough"
                )
                findings.append(
                    Finding(RULE, fires, f"idle {row.days_idle} days — {verdict}", values)
                )
        oc = table_of(OwnerChange)
        for change in ctx.conn.execute(
            sa.select(oc).where(oc.c.customer_id == subject_id).order_by(oc.c.id)
        ):
            findings.append(
                Finding(
                    "owner_changes",
                    None,
                    f"{change.old_owner_id} → {change.new_owner_id} "
                    f"({change.source}, {change.changed_at:%Y-%m-%d}): {change.reason}",
                    {},
                )
            )
        return findings


def _scope(playbook: Playbook, table: Any, as_of: date, idle: Any) -> Any:
    """Customer names plus days_idle and idle_since (from pool_idle when given)."""
    extra: dict[str, Any] = {
        "days_idle": Typed(
            idle.c.days_idle if idle is not None else sa.column("days_idle"), "number"
        ),
        "idle_since": Typed(
            idle.c.idle_since if idle is not None else sa.column("idle_since"), "date"
        ),
    }
    return subject_scope("customer", playbook, table, as_of, extra)


def _greatest(conn: Any, *values: Any) -> Any:
    return dialects.of(conn).greatest(*values)


def _idle(ctx: EvalContext, release: dict[str, Any], only: str | None = None) -> sa.Table:
    """pool_idle(customer_id, owner_id, idle_since, days_idle, threshold, due_to_release) for
    every live customer that has an owner."""
    c, g = table_of(Customer), table_of(Grade)
    if release.get("without", "activity") == "order":
        o = table_of(Order)
        last: Any = sa.select(sa.func.max(o.c.ordered_on)).where(
            o.c.customer_id == c.c.id, o.c.ordered_on <= ctx.as_of, o.c.deleted == sa.false()
        )
    else:
        a = table_of(Activity)
        last = sa.select(sa.func.max(a.c.occurred_on)).where(
            a.c.customer_id == c.c.id, a.c.occurred_on <= ctx.as_of, a.c.deleted == sa.false()
        )
        if release.get("channels"):
            last = last.where(a.c.channel.in_(release["channels"]))
    never = sa.literal(NEVER, sa.Date())
    since = _greatest(
        ctx.conn,
        sa.func.coalesce(last.scalar_subquery(), never),
        sa.func.coalesce(c.c.created_on, never),
        sa.func.coalesce(c.c.owner_since, never),
    )
    after = release["after"]
    if isinstance(after, dict):  # per grade; a grade not listed is never released
        threshold: Any = sa.case(
            *[
                (g.c.grade == grade, sa.literal(_shift_back(ctx.as_of, text), sa.Date()))
                for grade, text in after.items()
            ],
            else_=sa.null(),
        )
    else:
        threshold = sa.literal(_shift_back(ctx.as_of, after), sa.Date())
    table = sa.Table(
        "pool_idle",
        sa.MetaData(),
        sa.Column("customer_id", sa.String(), primary_key=True),
        sa.Column("owner_id", sa.String()),
        sa.Column("idle_since", sa.Date()),
        sa.Column("days_idle", sa.Integer()),
        sa.Column("threshold", sa.Date()),
        sa.Column("due_to_release", sa.Boolean()),
        prefixes=["TEMPORARY"],
    )
    ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS pool_idle")
    table.create(ctx.conn)
    base = (
        sa.select(
            c.c.id.label("customer_id"),
            c.c.owner_id,
            since.label("idle_since"),
            threshold.label("threshold"),
        )
        .select_from(c)
        .outerjoin(g, g.c.customer_id == c.c.id)
        .where(
            c.c.deleted == sa.false(),
            c.c.owner_id.is_not(None),
            sa.or_(c.c.created_on.is_(None), c.c.created_on <= ctx.as_of),
            ctx.customers_filter(c.c.id),
        )
    )
    if only is not None:
        base = base.where(c.c.id == only)
    sub = base.subquery("idle")
    ctx.conn.execute(
        table.insert().from_select(
            ["customer_id", "owner_id", "idle_since", "days_idle", "threshold", "due_to_release"],
            sa.select(
                sub.c.customer_id,
                sub.c.owner_id,
                sub.c.idle_since,
                days_between(sa.literal(ctx.as_of, sa.Date()), sub.c.idle_since),
                sub.c.threshold,
                sa.func.coalesce(sub.c.idle_since <= sub.c.threshold, sa.false()),
            ),
        )
    )
    analyze(ctx.conn, "pool_idle")
    return table


def _shift_back(as_of: date, text: str) -> date:
    count, unit = dates.parse_duration(text)
    shifted: date = dates.shift(as_of, -count, unit)
    return shifted


def _record(ctx: EvalContext, rows: sa.Select[Any]) -> None:
    """owner_changes rows (customer_id, old, new, reason) from a rule, dated the as-of day."""
    oc = table_of(OwnerChange)
    sub = rows.subquery("changes")
    a, b, n, r = list(sub.c)
    ctx.conn.execute(
        oc.insert().from_select(
            ["customer_id", "old_owner_id", "new_owner_id", "changed_at", "reason", "source"],
            sa.select(
                a,
                b,
                n,
                sa.literal(datetime(ctx.as_of.year, ctx.as_of.month, ctx.as_of.day), sa.DateTime()),
                r,
                sa.literal("rule"),
            ),
        )
    )


def _assign(ctx: EvalContext, assign: dict[str, Any]) -> int:
    """Hand each team's pooled customers to the team's reps: see the module doc."""
    c, r, u = table_of(Customer), table_of(Rep), table_of(OrgUnit)
    former = table_of(Rep).alias("former")
    team = sa.func.coalesce(former.c.org_unit_id, c.c.org_unit_id)
    pooled = (
        sa.select(
            c.c.id.label("customer_id"),
            team.label("team"),
            sa.func.row_number().over(partition_by=team, order_by=c.c.id).label("k"),
            sa.func.count().over(partition_by=team).label("team_size"),
        )
        .select_from(c)
        .outerjoin(former, former.c.id == c.c.pooled_from)
        .where(c.c.deleted == sa.false(), c.c.owner_id.is_(None), team.is_not(None))
        .cte("pooled")
    )
    needed = (
        sa.select(pooled.c.team, sa.func.max(pooled.c.team_size).label("n"))
        .group_by(pooled.c.team)
        .cte("needed")
    )
    owned = table_of(Customer).alias("owned")
    load: Any = (
        sa.select(sa.func.count())
        .where(owned.c.owner_id == r.c.id, owned.c.deleted == sa.false())
        .scalar_subquery()
        if assign["strategy"] == "least_loaded"
        else sa.literal(0)
    )
    reps = (
        sa.select(r.c.id.label("rep_id"), r.c.org_unit_id.label("team"), load.label("base"))
        .join(u, u.c.id == r.c.org_unit_id)
        .where(
            r.c.active == sa.true(),
            r.c.deleted == sa.false(),
            sa.or_(u.c.manager_id.is_(None), u.c.manager_id != r.c.id),
        )
        .cte("team_reps")
    )
    cal = table_of(CalendarDay)
    j = cal.c.day_num - CALENDAR_FIRST.toordinal()
    slots = (
        sa.select(
            reps.c.rep_id,
            reps.c.team,
            sa.func.row_number()
            .over(partition_by=reps.c.team, order_by=[reps.c.base + j, reps.c.rep_id])
            .label("k"),
        )
        .select_from(reps)
        .join(needed, needed.c.team == reps.c.team)
        .join(cal, sa.and_(cal.c.day_num >= CALENDAR_FIRST.toordinal(), j < needed.c.n))
        .cte("slots")
    )
    chosen = sa.select(pooled.c.customer_id, slots.c.rep_id, pooled.c.team).join(
        slots, sa.and_(slots.c.team == pooled.c.team, slots.c.k == pooled.c.k)
    )
    table = sa.Table(
        "pool_assigned",
        sa.MetaData(),
        sa.Column("customer_id", sa.String(), primary_key=True),
        sa.Column("rep_id", sa.String()),
        sa.Column("team", sa.String()),
        prefixes=["TEMPORARY"],
    )
    ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS pool_assigned")
    table.create(ctx.conn)
    ctx.conn.execute(table.insert().from_select(["customer_id", "rep_id", "team"], chosen))
    count = int(ctx.conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
    if count:
        reason = sa.literal(f"{ASSIGN}: {assign['strategy']} within team ").op("||")(table.c.team)
        _record(ctx, sa.select(table.c.customer_id, sa.null(), table.c.rep_id, reason))
        ctx.conn.execute(
            c.update()
            .where(c.c.id.in_(sa.select(table.c.customer_id)))
            .values(
                owner_id=sa.select(table.c.rep_id)
                .where(table.c.customer_id == c.c.id)
                .scalar_subquery(),
                owner_since=ctx.as_of,
                owner_seen=sa.select(table.c.rep_id)
                .where(table.c.customer_id == c.c.id)
                .scalar_subquery(),
            )
        )
    ctx.conn.exec_driver_sql("DROP TABLE pool_assigned")
    return count


def _note_new_owners(ctx: EvalContext) -> None:
    """A customer whose owner changed since the last run (in the CRM), or that left the pool,
    starts a fresh idle clock today; the first run only takes note of the owners."""
    c = table_of(Customer)
    changed = sa.or_(
        c.c.owner_seen != c.c.owner_id,
        sa.and_(c.c.owner_seen.is_(None), c.c.pooled_on.is_not(None)),
    )
    ctx.conn.execute(
        c.update()
        .where(c.c.owner_id.is_not(None), changed, ctx.customers_filter(c.c.id))
        .values(owner_since=ctx.as_of)
    )
    ctx.conn.execute(
        c.update()
        .where(
            c.c.owner_id.is_not(None),
            sa.or_(c.c.owner_seen.is_(None), c.c.owner_seen != c.c.owner_id),
            ctx.customers_filter(c.c.id),
        )
        .values(owner_seen=c.c.owner_id)
    )
