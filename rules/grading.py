"""Customer grading: ordered grades with conditions, first match wins, the last is the default.

    grading:
      grades:
        - grade: A
          when: revenue_6m >= 500000 or pipeline >= 1000000 or strategic
        - grade: B
          when: revenue_6m >= 100000 or pipeline >= 300000
        - grade: C

A change of grade is recorded with the date and the values that decided it. A manual grade
(`salesplay grade set`) wins over the rules until it expires.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy import JSON, Column
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from salesplay.engine.errors import ExpressionError, PlaybookError, SalesplayError
from salesplay.engine.lang import expressions as ex
from salesplay.engine.lang import logic
from salesplay.engine.lang.schema import EXPRESSION
from salesplay.engine.lang.yamlsafe import flow
from salesplay.engine.run.explain import one_subject, subject_values
from salesplay.engine.run.family import (
    Command,
    Detail,
    EvalContext,
    Finding,
    Impact,
    Option,
    Outcome,
    Output,
    Panel,
    Playbook,
    Report,
    ReportQuery,
    Session,
    SubjectFacts,
)
from salesplay.engine.sql.compiler import compile_condition
from salesplay.engine.sql.metrics import fact_columns, placeholder_table, subject_scope
from salesplay.engine.sql.team import reps_under
from salesplay.engine.sql.templates import format_value
from salesplay.engine.store.db import count_rows, fetch
from salesplay.engine.store.dialects import analyze, json_object, upsert
from salesplay.engine.store.models import Customer, Deal, Grade, Rep, table_of


class GradeChange(SQLModel, table=True):
    """A customer's grade changed: from what to what, on which day, and the values that
    decided it (`detail`), or who set it by hand."""

    __tablename__ = "grade_changes"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(index=True)
    old_grade: str | None = None
    new_grade: str
    changed_on: date
    source: str = "rule"
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    run_id: int | None = None


class GradeOverride(SQLModel, table=True):
    """A manager's grade for a customer (`salesplay grade set`), in force until `until`."""

    __tablename__ = "grade_overrides"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(index=True)
    grade: str
    set_by: str
    reason: str
    set_on: date
    until: date | None = None


def _grade_set(
    session: Session,
    customer: str,
    grade_name: str,
    by: str,
    reason: str,
    until: date | None,
) -> Output:
    book = session.playbook
    with session.engine.begin() as conn:
        set_manual_grade(conn, book, customer, grade_name, by, reason, until, book.today())
    return Output(
        lines=[f"{customer}: grade {grade_name} set by {by}" + (f" until {until}" if until else "")]
    )


GRADE_SET = Command(
    "grade set",
    """Set a customer's grade by hand; it wins over the rules until it expires.

Example: salesplay grade set C001 A --by M1 --reason "战略客户" --until 2024-12-31
""",
    _grade_set,
    options=(
        Option("customer", metavar="CUSTOMER"),
        Option("grade_name", metavar="GRADE"),
        Option("by", "--by", "Id of the manager confirming the grade.", required=True),
        Option("reason", "--reason", "Why: shown by explain.", required=True),
        Option("until", "--until", "Last day the grade holds.", kind="date"),
    ),
    group_help="Manual grades.\n\nExample: salesplay grade set C1 A --by M1 --reason 战略客户",
)


@dataclass
class Graded:
    """The grades after one run, and the playbook's order of them."""

    order: list[str]
    grades: dict[str, str]  # customer id -> grade


class Grading:
    """Grades customers; writes grades and grade_changes."""

    section = "grading"
    settings_only = False
    tables: ClassVar[tuple[type[SQLModel], ...]] = (GradeChange, GradeOverride)

    def example(self, section: Any) -> list[str]:
        """The inherited grades, to change the numbers of (`salesplay init`)."""
        lines = [
            "客户分级：第一个满足条件的等级生效（列表整体替换）；以下为继承的规则，改数字即可",
            "Customer grades: the first grade whose condition holds wins (the list replaces the",
            "whole). These are the inherited grades: change the numbers.",
            "grading:",
            "  grades:",
        ]
        for grade in section.get("grades") or []:
            lines.append(f"    - grade: {flow(grade['grade'])}")
            if grade.get("when"):
                lines.append(f"      when: {flow(grade['when'])}")
        return lines

    subjects: ClassVar[dict[str, SubjectFacts]] = {}
    commands: ClassVar[tuple[Command, ...]] = (GRADE_SET,)

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        return (GRADES_REPORT,) if playbook.section(self.section) else ()

    schema: ClassVar[dict[str, Any]] = {
        "type": "object",
        "properties": {
            "description": {"type": "string"},
            "grades": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "properties": {
                        "grade": {"type": "string", "minLength": 1},
                        "when": EXPRESSION,
                        "description": {"type": "string"},
                    },
                    "required": ["grade"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["grades"],
        "additionalProperties": False,
    }

    def rule_names(self, playbook: Playbook) -> list[str]:
        return [self.section]

    def check(self, playbook: Playbook) -> None:
        grades = playbook.section(self.section)["grades"]
        scope = subject_scope(
            "customer", playbook, placeholder_table("customer", playbook), date(2000, 1, 1)
        )
        seen: set[str] = set()
        for i, item in enumerate(grades):
            path = (self.section, "grades", i)
            if item["grade"] in seen:
                raise playbook.error((*path, "grade"), f"grade '{item['grade']}' appears twice")
            seen.add(item["grade"])
            last = i == len(grades) - 1
            if "when" not in item and not last:
                raise playbook.error(
                    path,
                    "only the last grade may leave out 'when' (it is the default); add a condition",
                )
            if "when" in item and last:
                raise playbook.error(
                    (*path, "when"),
                    "the last grade is the default for everyone else: remove its 'when'",
                )
            if "when" in item:
                try:
                    compile_condition(str(item["when"]), scope)
                except ExpressionError as exc:
                    raise playbook.expression_error((*path, "when"), exc) from None

    def lint(self, playbook: Playbook) -> list[PlaybookError]:
        """A grade that can never match: its condition never holds, or the grades before it
        (the first that holds wins) take every customer it would (`revenue_6m >= 500000`
        before `revenue_6m >= 600000`; any grade after a `when: true`)."""
        found = []
        before: list[tuple[str, ex.Node]] = []
        for i, item in enumerate(playbook.section(self.section)["grades"]):
            path: tuple[str | int, ...] = (self.section, "grades", i)
            name = item["grade"]
            if "when" in item:
                node = ex.parse(str(item["when"]))
                path = (*path, "when")
            else:
                node = ex.Bool(0, True)  # the default: whoever no grade before it took
                path = (*path, "grade")
            if "when" in item and logic.never_holds(node):
                reason = "its condition can never hold"
            elif before and logic.shadowed(node, [b for _, b in before]):
                alone = [g for g, b in before if logic.shadowed(node, [b])]
                if alone:
                    reason = f"grade {alone[0]} before it takes every customer it would"
                else:
                    listed = ", ".join(g for g, _ in before)
                    reason = f"the grades before it ({listed}) take every customer it would"
            else:
                reason = ""
            if reason:
                found.append(playbook.error(path, f"grade {name} can never match: {reason}"))
            before.append((name, node))
        return found

    def snapshot(self, ctx: EvalContext) -> Graded:
        """Every live customer's grade after a run (for `salesplay preview`)."""
        g, c = table_of(Grade), table_of(Customer)
        rows = ctx.conn.execute(
            sa.select(g.c.customer_id, g.c.grade)
            .join(c, c.c.id == g.c.customer_id)
            .where(c.c.deleted == sa.false())
        )
        order = [
            item["grade"] for item in (ctx.playbook.section(self.section) or {}).get("grades", [])
        ]
        return Graded(order, {row.customer_id: row.grade for row in rows})

    def compare(self, current: Graded | None, proposed: Graded | None) -> Impact:
        """grade_moves: every (from, to) pair of grades with its count of customers, unchanged
        grades included (A → A); from or to is null for a customer graded under one only."""
        before = current.grades if current else {}
        after = proposed.grades if proposed else {}
        order = [*(proposed.order if proposed else []), *(current.order if current else [])]

        def rank(grade: str | None) -> tuple[int, str]:
            return (order.index(grade) if grade in order else len(order), grade or "")

        moves = Counter((before.get(c), after.get(c)) for c in before.keys() | after.keys())
        pairs = sorted(moves.items(), key=lambda m: (rank(m[0][0]), rank(m[0][1])))
        rows: list[dict[str, Any]] = [
            {"from": old, "to": new, "count": n} for (old, new), n in pairs
        ]
        moved = [(old, new, n) for (old, new), n in pairs if old != new]
        biggest = sorted(moved, key=lambda m: -m[2])[:4]
        shown = ", ".join(f"{old or '—'} → {new or '—'} {n}" for old, new, n in biggest)
        more = ", …" if len(moved) > len(biggest) else ""
        total = sum(moves.values())
        summary = f"grades: {sum(n for _, _, n in moved)} of {total} customers change grade"
        return Impact(
            {"grade_moves": rows},
            [summary + (f" ({shown}{more})" if moved else "")],
            [
                Detail(
                    "grade moves (from the grade in force to the proposed one)",
                    rows,
                    ["from", "to", "count"],
                    {"zh": {"from": "原等级", "to": "新等级", "count": "客户数"}},
                )
            ],
        )

    def _case(self, ctx: EvalContext, facts: Any) -> tuple[Any, list[str]]:
        scope = ctx.scope("customer", facts)
        grades = ctx.playbook.section(self.section)["grades"]
        whens = [(compile_condition(str(g["when"]), scope), g["grade"]) for g in grades[:-1]]
        default = grades[-1]["grade"]
        case = sa.case(*whens, else_=sa.literal(default)) if whens else sa.literal(default)
        return case, list(scope.used)

    def run(self, ctx: EvalContext) -> None:
        if not ctx.covers("customer"):
            return
        facts = ctx.facts("customer")
        case, used = self._case(ctx, facts)
        detail = (
            json_object(
                *[x for name in used if "." not in name for x in (sa.literal(name), facts.c[name])]
            )
            if used
            else sa.null()
        )
        override = active_overrides(ctx.as_of).subquery("ov")
        graded = sa.Table(
            "graded",
            sa.MetaData(),
            sa.Column("customer_id", sa.String()),
            sa.Column("grade", sa.String()),
            sa.Column("source", sa.String()),
            sa.Column("detail", sa.JSON()),
            prefixes=["TEMPORARY"],
        )
        ctx.conn.exec_driver_sql("DROP TABLE IF EXISTS graded")
        graded.create(ctx.conn)
        ctx.conn.execute(
            graded.insert().from_select(
                ["customer_id", "grade", "source", "detail"],
                sa.select(
                    facts.c.id,
                    sa.func.coalesce(override.c.grade, case),
                    sa.case((override.c.grade.is_not(None), "manual"), else_="rule"),
                    detail,
                ).outerjoin(override, override.c.customer_id == facts.c.id),
            )
        )
        analyze(ctx.conn, "graded")
        ctx.counts["grade_changes"] += record_changes(ctx.conn, graded, ctx.as_of, ctx.run_id)
        ctx.conn.exec_driver_sql("DROP TABLE graded")

    def outcomes(self, playbook: Playbook, conn: Connection) -> list[Outcome]:
        """Each grade, reached once the rules gave some customer that grade."""
        changes = table_of(GradeChange).c
        given = set(
            conn.execute(
                sa.select(changes.new_grade).where(changes.source == "rule").distinct()
            ).scalars()
        )
        grades = playbook.section(self.section)["grades"]
        return [
            Outcome((self.section, "grades", i), f"grade {g['grade']}", g["grade"] in given)
            for i, g in enumerate(grades)
        ]

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        if subject_type != "customer":
            return []
        grades = ctx.playbook.section(self.section)["grades"]
        findings = []
        matched = None
        for item in grades:
            row, scope = one_subject(ctx, "customer", subject_id)
            if "when" in item:
                holds = bool(
                    ctx.conn.execute(
                        sa.select(compile_condition(str(item["when"]), scope)).select_from(row)
                    ).scalar()
                )
            else:
                holds = True
            names = [n for n in scope.used if "." not in n]
            values = subject_values(ctx, "customer", subject_id, names) if "when" in item else {}
            rule_text = item.get("when", "the default")
            fired = holds and matched is None
            if fired:
                matched = item["grade"]
            state = "matches" if holds else "does not match"
            findings.append(
                Finding(f"grading: {item['grade']}", fired, f"{rule_text} — {state}", values)
            )
        stored = fetch(ctx.conn, Grade, subject_id)
        override = ctx.conn.execute(
            active_overrides(ctx.as_of).where(table_of(GradeOverride).c.customer_id == subject_id)
        ).first()
        if override is not None:
            findings.append(
                Finding(
                    "grading: manual",
                    True,
                    f"manual grade {override.grade} set "
                    f"by {override.set_by}: {override.reason}"
                    + (f" (until {override.until})" if override.until else ""),
                    {},
                )
            )
        if stored is not None:
            changes = table_of(GradeChange)
            decided = ctx.conn.execute(
                sa.select(changes.c.detail)
                .where(changes.c.customer_id == subject_id)
                .order_by(changes.c.id.desc())
                .limit(1)
            ).scalar()
            findings.append(
                Finding(
                    "grading: stored",
                    None,
                    f"stored grade {stored.grade} since {stored.since} ({stored.source}), "
                    "decided by these values then",
                    {k: _shown(ctx, k, v) for k, v in (decided or {}).items()},
                )
            )
        return findings


def _shown(ctx: EvalContext, name: str, value: Any) -> str:
    """A value kept in grade_changes.detail, printed as explain prints live values."""
    kinds = {n: k for n, k, _ in fact_columns("customer", ctx.playbook, used_only=False)}
    return str(format_value(value, kinds.get(name, "text")))


def active_overrides(as_of: date) -> sa.Select[Any]:
    """The newest manual grade per customer that is in force on as_of."""
    ov = table_of(GradeOverride)
    newest = sa.select(sa.func.max(ov.c.id)).where(ov.c.set_on <= as_of).group_by(ov.c.customer_id)
    return sa.select(ov.c.customer_id, ov.c.grade, ov.c.set_by, ov.c.reason, ov.c.until).where(
        ov.c.id.in_(newest), sa.or_(ov.c.until.is_(None), ov.c.until >= as_of)
    )


def record_changes(conn: Connection, graded: Any, as_of: date, run_id: int | None) -> int:
    """Write grade_changes and grades for the rows of `graded` whose grade or source changed."""
    g = table_of(Grade)
    changed = (
        sa.select(
            graded.c.customer_id,
            g.c.grade.label("old"),
            graded.c.grade,
            graded.c.source,
            graded.c.detail,
        )
        .outerjoin(g, g.c.customer_id == graded.c.customer_id)
        .where(
            sa.or_(g.c.grade.is_(None), g.c.grade != graded.c.grade, g.c.source != graded.c.source)
        )
    ).subquery("changed")
    count = count_rows(
        conn,
        sa.insert(table_of(GradeChange)).from_select(
            ["customer_id", "old_grade", "new_grade", "changed_on", "source", "detail", "run_id"],
            sa.select(
                changed.c.customer_id,
                changed.c.old,
                changed.c.grade,
                sa.literal(as_of, sa.Date()),
                changed.c.source,
                changed.c.detail,
                sa.literal(run_id, sa.Integer()),
            ),
        ),
    )
    if count:
        insert = upsert(g, conn).from_select(
            ["customer_id", "grade", "since", "source", "run_id"],
            sa.select(
                changed.c.customer_id,
                changed.c.grade,
                sa.literal(as_of, sa.Date()),
                changed.c.source,
                sa.literal(run_id, sa.Integer()),
            ).where(sa.true()),
        )
        excluded = insert.excluded
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["customer_id"],
                set_={
                    "since": sa.case(
                        (g.c.grade == excluded.grade, g.c.since), else_=excluded.since
                    ),
                    "grade": excluded.grade,
                    "source": excluded.source,
                    "run_id": excluded.run_id,
                },
            )
        )
    return int(count)


def set_manual_grade(
    conn: Connection,
    playbook: Playbook,
    customer_id: str,
    grade: str,
    by: str,
    reason: str,
    until: date | None,
    today: date,
) -> None:
    """Record a manager's grade; it wins over the rules until `until` (inclusive)."""
    grades = [g["grade"] for g in (playbook.section("grading") or {}).get("grades", [])]
    if grades and grade not in grades:
        raise SalesplayError(
            f"grade: '{grade}' is not a grade of this playbook ({', '.join(grades)})"
        )
    if fetch(conn, Customer, customer_id) is None:
        raise SalesplayError(f"CUSTOMER: no customer with id '{customer_id}'")
    if fetch(conn, Rep, by) is None:
        raise SalesplayError(f"--by: no rep with id '{by}'")
    if until is not None and until < today:
        raise SalesplayError(f"--until: {until} is already past")
    conn.execute(
        sa.insert(table_of(GradeOverride)).values(
            customer_id=customer_id,
            grade=grade,
            set_by=by,
            reason=reason,
            set_on=today,
            until=until,
        )
    )
    graded = sa.select(
        sa.literal(customer_id).label("customer_id"),
        sa.literal(grade).label("grade"),
        sa.literal("manual").label("source"),
        json_object(
            sa.literal("set_by"), sa.literal(by), sa.literal("reason"), sa.literal(reason)
        ).label("detail"),
    ).subquery("graded")
    record_changes(conn, graded, today, None)


# ---- the grade mix report (`salesplay report grades`) ---------------------------------------

REPORT_COLUMNS = (
    "grade",
    "customers",
    "share",
    "at_since",
    "moved_in",
    "moved_out",
    "to",
    "won",
    "conversion",
)


def _grade_on(day: date, name: str) -> Any:
    """(customer_id, grade) of every customer's grade on a day: its latest change by then."""
    gc = table_of(GradeChange)
    ranked = (
        sa.select(
            gc.c.customer_id,
            gc.c.new_grade.label("grade"),
            sa.func.row_number()
            .over(partition_by=gc.c.customer_id, order_by=(gc.c.changed_on.desc(), gc.c.id.desc()))
            .label("rank"),
        )
        .where(gc.c.changed_on <= day)
        .subquery()
    )
    return sa.select(ranked.c.customer_id, ranked.c.grade).where(ranked.c.rank == 1).cte(name)


def grade_mix(found: ReportQuery, table: bool = False) -> list[dict[str, Any]]:
    """Per grade: customers holding it on the as-of date and their share, how many held it on
    --since (default: the period's first day), how many moved in and out between, where those
    who held it moved to (`to`: {grade: customers}), and conversion: the share of its customers
    with a deal won in the period. Grades as of a day come from grade_changes, so a report on
    an earlier day shows that day's grades."""
    c, d = table_of(Customer), table_of(Deal)
    since = found.since or found.period[0]
    end = min(found.period[1], found.as_of)
    now, then = _grade_on(found.as_of, "grade_now"), _grade_on(since, "grade_then")
    kept = [c.c.deleted == sa.false()]
    if found.under is not None:
        kept.append(c.c.owner_id.in_(reps_under(found.under)))
    won = (
        sa.select(d.c.id)
        .where(
            d.c.customer_id == c.c.id,
            d.c.status == "won",
            d.c.deleted == sa.false(),
            d.c.stage_changed_on >= found.period[0],
            d.c.stage_changed_on <= end,
        )
        .exists()
    )
    pairs = (
        sa.select(
            then.c.grade.label("before"),
            now.c.grade.label("after"),
            sa.func.count().label("n"),
            sa.func.count().filter(won).label("won"),
        )
        .select_from(
            c.outerjoin(now, now.c.customer_id == c.c.id).outerjoin(
                then, then.c.customer_id == c.c.id
            )
        )
        .where(*kept, sa.or_(now.c.grade.is_not(None), then.c.grade.is_not(None)))
        .group_by(then.c.grade, now.c.grade)
    )
    with found.engine.connect() as conn:
        moves = conn.execute(pairs).all()
    names = [g["grade"] for g in found.playbook.section("grading")["grades"]]
    names += sorted({m for row in moves for m in row[:2] if m and m not in names})
    total = sum(row.n for row in moves if row.after is not None)
    rows = []
    for grade in names:
        held = sum(row.n for row in moves if row.after == grade)
        won_n = sum(row.won for row in moves if row.after == grade)
        rows.append(
            {
                "grade": grade,
                "customers": held,
                "share": round(held / total, 4) if total else None,
                "at_since": sum(row.n for row in moves if row.before == grade),
                "moved_in": sum(row.n for row in moves if row.after == grade != row.before),
                "moved_out": sum(row.n for row in moves if row.before == grade != row.after),
                "to": {
                    (row.after or "-"): row.n
                    for row in moves
                    if row.before == grade and row.after != grade
                },
                "won": won_n,
                "conversion": round(won_n / held, 4) if held else None,
            }
        )
    return rows if total or any(row["at_since"] for row in rows) else []


GRADES_REPORT = Report(
    "grades",
    "Customers per grade, movements since a day as a from/to matrix, and conversion.",
    REPORT_COLUMNS,
    grade_mix,
    panels=(
        Panel(
            30,
            {"en": "Customer grades and their movement", "zh": "客户等级及变动"},
            "grade",
            ("customers", "share", "at_since", "moved_in", "moved_out", "to", "conversion"),
            chart="bars",
            value="customers",
        ),
    ),
    labels={
        "zh": {
            "grade": "等级",
            "customers": "客户数",
            "share": "占比",
            "at_since": "期初",
            "moved_in": "升入/转入",
            "moved_out": "转出",
            "to": "流向",
            "won": "成交客户",
            "conversion": "转化率",
            "count.many": "{n} 个等级",
        }
    },
)
