"""The contract between the engine and the rule families, in one place to read.

What the engine asks of a family: RuleFamily (and SubjectFacts, Command for what a family may
offer). What a family is handed: a Playbook (the checked document and its families) when it
checks, an EvalContext when it runs or explains, and it answers explain with Findings.

The engine meets families only through this module and the list a playbook is loaded with
(salesplay.rules.FAMILIES); it never imports one. A family is one module or package in rules/:

    class Grading:
        section = "grading"              # the playbook key it owns
        schema = {...}                   # the JSON Schema of that section
        settings_only = False            # True: other rules read it; no job names it
        tables = (GradeChange, ...)      # the tables it alone writes
        subjects = {}                    # facts it offers every family's rules ({"target": …})
        commands = (Command(...), ...)   # CLI commands and reports it adds
        def rule_names(self, playbook)   # what a job may name: ["grading"]
        def check(self, playbook)        # load time: every expression, template and value
        def run(self, ctx)               # set-based SQL in the run's transaction
        def explain(self, ctx, subject_type, subject_id)  # the values that decided

A family may also say what its rules can produce (Outcomes), so that `salesplay test
--coverage` can name the grades, warnings and tiers no playbook test reaches.
A family may also offer `lint(playbook)` (Lints below): what is allowed but almost surely not
meant, such as a grade the grades before it leave nothing to; and `snapshot(ctx)` with
`compare(current, proposed)` (Previews below): its part of `salesplay preview`, what a proposed
playbook would change (grades moving, payouts, the follow-up load).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol, runtime_checkable

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import SQLModel

from salesplay.engine.errors import PlaybookError, SalesplayError
from salesplay.engine.lang.document import Document
from salesplay.engine.run.emit import Signal, emit
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Scope
from salesplay.engine.store import dialects
from salesplay.engine.store.partitions import Partition


class RuleFamily(Protocol):
    """One playbook section and everything about it."""

    @property
    def section(self) -> str:
        """The playbook key it owns, e.g. `grading`."""
        ...

    @property
    def schema(self) -> Mapping[str, Any]:
        """The JSON Schema of its section: the loader validates it before check() runs."""
        ...

    @property
    def settings_only(self) -> bool:
        """True when the section only holds settings other rules read (goals: pace, lights): no
        job names it, and a job that runs some rules keeps it."""
        ...

    @property
    def tables(self) -> tuple[type[SQLModel], ...]:
        """The tables it alone writes (created and upgraded by the engine's migrations)."""
        ...

    @property
    def subjects(self) -> Mapping[str, SubjectFacts]:
        """Facts it offers every family's rules, by subject kind (goals: `target`)."""
        ...

    @property
    def commands(self) -> tuple[Command, ...]:
        """The CLI commands and reports it adds (`salesplay goals`)."""
        ...

    def rule_names(self, playbook: Playbook) -> list[str]:
        """The names a scheduled job may list to run this family's rules: the section, and
        each named rule in it (`warnings.goal_lag`). None when it only carries settings."""
        ...

    def check(self, playbook: Playbook) -> None:
        """Compile every expression and template against the names it may use, and read every
        value; raise PlaybookError located at the bad key. Called when the section is there."""
        ...

    def run(self, ctx: EvalContext) -> None:
        """Evaluate the section set-based inside ctx's transaction."""
        ...

    def explain(self, ctx: EvalContext, subject_type: str, subject_id: str) -> list[Finding]:
        """What each rule of the section says about one subject, with the values that decided."""
        ...


@dataclass(frozen=True)
class Outcome:
    """One thing a section can produce (a grade, a warning, a commission tier), where the
    playbook says it, and whether a database holds one."""

    path: tuple[str | int, ...]  # ("grading", "grades", 1)
    label: str  # "grade B"
    reached: bool


@runtime_checkable
class Outcomes(Protocol):
    """Optional, beside RuleFamily: a family whose rules' results can be counted as reached."""

    def outcomes(self, playbook: Playbook, conn: Connection) -> list[Outcome]:
        """Every outcome of its section, each reached or not in the database conn reads."""


@runtime_checkable
class Lints(Protocol):
    """An optional hook of a family: findings in its section of a valid playbook."""

    def lint(self, playbook: Playbook) -> list[PlaybookError]:
        """What the section allows but its author almost surely did not mean (a grade that can
        never match, a warning that can never fire), each located like an error; `salesplay
        lint` prints them and `salesplay validate` shows them as warnings."""
        ...


@dataclass
class Detail:
    """A table of a preview's details: a title, rows and their columns, and the table's words
    by language like Command.labels (`{"zh": {"count": "客户数"}}`)."""

    title: str
    rows: list[dict[str, Any]]
    columns: list[str]
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass
class Impact:
    """A family's part of a preview: its keys of the JSON, sentences for the summary a manager
    reads first, and the tables that follow it."""

    data: dict[str, Any] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    details: list[Detail] = field(default_factory=list)


@runtime_checkable
class Previews(Protocol):
    """An optional hook of a family: what a proposed playbook would change in its section."""

    def snapshot(self, ctx: EvalContext) -> Any:
        """Called inside an evaluation that is then rolled back, once with the playbook in force
        and once with the proposed one: what of the outcome to compare, as plain values (the
        rows are gone after the rollback)."""
        ...

    def compare(self, current: Any, proposed: Any) -> Impact:
        """The two snapshots side by side."""
        ...


class SubjectFacts(Protocol):
    """Facts about a kind of subject that any family's rules may be written over (`for:
    targets`): a temporary table with one row per subject and a scope naming its columns."""

    def scope(self, playbook: Playbook, table: Any, as_of: date) -> Scope:
        """The names a rule over these facts may use; table None gives a placeholder to check
        expressions against at load time."""
        ...

    def materialize(
        self,
        conn: Connection,
        playbook: Playbook,
        as_of: date,
        *,
        uses: frozenset[str] = frozenset(),
        period: tuple[date, date] | None = None,
        owner: tuple[str, str] | None = None,
        under: str | None = None,
        owner_type: str | None = None,
        metric: str | None = None,
    ) -> sa.Table:
        """Build the facts table as of a date. `uses`: the names the caller's rules read, so
        that what nobody reads is not computed. `period` (subjects whose period lies within
        it, instead of those running on as_of), `owner` (type, id), `under` (an org unit's
        subtree), `owner_type`, `metric`: narrow the rows."""
        ...

    def drop(self, conn: Connection) -> None:
        """Drop the temporary tables materialize made."""
        ...


# ---- commands a family adds to the CLI (cli.py turns them into click commands) ---------------


@dataclass(frozen=True)
class Option:
    """One option (`--period`) or argument (`CUSTOMER`) of a family's command."""

    name: str  # the keyword the command's run function receives
    flag: str = ""  # --period; empty for an argument
    help: str = ""
    metavar: str | None = None
    required: bool = False
    kind: str = "text"  # text / date / integer / flag


@dataclass
class Output:
    """What a command prints: rows in the chosen format (with its columns), then notes (after
    a table, on stderr beside json or csv so that the data stays clean), then plain lines.
    `sheets`: with --format xlsx, a workbook of the command's own instead of the rows on one
    sheet (payouts: one sheet per statement)."""

    rows: list[dict[str, Any]] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    sheets: list[Sheet] = field(default_factory=list)


@dataclass(frozen=True)
class Sheet:
    """One sheet of a workbook: its title, its columns and rows (values as a table's rows hold
    them: Money, dates, ids with names), and the columns whose last row adds up the rows
    above with a formula a clerk can check (=SUM(D2:D4)). A title or header is looked up in
    the command's words (`sheet.summary` → 汇总, `amount` → 金额)."""

    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    totals: tuple[str, ...] = ()


@dataclass(frozen=True)
class TotalOf:
    """A cell that shows another sheet's total of a column, as a formula: ='R1 张三'!D5."""

    sheet: str
    column: str


class Session(Protocol):
    """What a command's run function is handed: the database, the playbook and the as-of date
    of this invocation, each opened only when first asked for."""

    @property
    def engine(self) -> Engine: ...

    @property
    def playbook(self) -> Playbook: ...

    @property
    def as_of(self) -> date: ...


@dataclass(frozen=True)
class Command:
    """A command a family adds: `salesplay goals`, or `salesplay grade set` (name "grade set",
    in the group "grade"). A report is a command with formats: `--format` picks one."""

    name: str
    help: str  # as click shows it: a summary line, details, an "Example:" line
    run: Callable[..., Output]  # run(session, **options, [fmt=…]) -> Output
    options: tuple[Option, ...] = ()
    as_of: bool = False  # takes --as-of
    formats: tuple[str, ...] = ()  # takes --format, the first being the default
    group_help: str = ""  # for a subcommand: the help of its group
    # the words of its table by language, over the shared ones (engine/present/labels.py):
    # {"zh": {"target": "目标", "light.red": "红", "count.many": "{n} 个目标"}}
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


# ---- reports a family adds to `salesplay report KIND` and to the dashboard -----------------


@dataclass(frozen=True)
class ReportQuery:
    """What every report is asked: as of a date, over a period (both days included; the
    period's end is never after as_of), for an org unit's subtree (None: everyone), with
    movements counted from `since`. `period_text`: --period as given (None: the default, the
    month of as_of), for reports whose own default differs (goals running on as_of)."""

    engine: Engine
    playbook: Playbook
    as_of: date
    period: tuple[date, date]
    under: str | None = None
    since: date | None = None
    period_text: str | None = None


@dataclass(frozen=True)
class Panel:
    """How a report shows on the dashboard: a titled box with an optional chart and a table of
    figures, one line per row (or per row whose `where` key has the given value).

    chart: "bars" (one bar per row: `value`), "columns" (a trend, one column per row:
    `value`) or "totals" (one bar per key of `totals`, summed over the rows); `label` names
    each line (an id of a rep or org unit shown by name with `names`); `light` colours a dot
    before it; `flag` lists only the rows where that key is true."""

    order: int
    title: Mapping[str, str]  # by language: {"en": "Funnel", "zh": "销售漏斗"}
    label: str
    keys: tuple[str, ...]
    names: bool = False
    chart: str | None = None
    value: str = ""
    totals: tuple[str, ...] = ()
    where: tuple[str, Any] | None = None
    limit: int | None = None
    light: str | None = None
    flag: str | None = None


@dataclass(frozen=True)
class Report:
    """One kind of `salesplay report`: its JSON row keys (the scripting contract), the columns
    of its table (names beside ids) and how to build its rows. `build(query, table)` returns
    the rows; with table=True they may carry names for people."""

    kind: str
    help: str
    columns: tuple[str, ...]
    build: Callable[[ReportQuery, bool], list[dict[str, Any]]]
    table: tuple[str, ...] = ()
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    panels: tuple[Panel, ...] = ()  # on the dashboard; none: not shown there


@runtime_checkable
class Reports(Protocol):
    """Optional, beside RuleFamily: a family whose knowledge a report needs (cadences for
    follow-up compliance, the goal tree) offers that report."""

    def reports(self, playbook: Playbook) -> tuple[Report, ...]:
        """The reports this family offers under the playbook (none when its section is not
        there)."""
        ...


@dataclass
class Playbook(Document):
    """A checked playbook, bound to the rule families that give its sections meaning."""

    families: tuple[RuleFamily, ...] = ()

    def subject(self, name: str) -> SubjectFacts:
        """The facts of a kind of subject (`target`) some family offers the others."""
        for family in self.families:
            if name in family.subjects:
                return family.subjects[name]
        raise SalesplayError(f"no rule family of this playbook offers {name} facts")


@dataclass
class Finding:
    """What one rule says about one subject: whether it fires (None: it does not apply), a
    sentence, and the values that decided it, formatted for people."""

    rule: str
    fired: bool | None
    summary: str
    values: dict[str, str] = field(default_factory=dict)


# The nearest manager of every rep: their own manager_id, else the head of their org unit or of
# the nearest unit above that has one (never the rep themself).
_REP_MANAGERS = """
CREATE TEMPORARY TABLE rep_managers AS
WITH RECURSIVE up(rep_id, unit_id, depth) AS (
    SELECT r.id, r.org_unit_id, 0 FROM reps r WHERE r.org_unit_id IS NOT NULL
  UNION ALL
    SELECT up.rep_id, o.parent_id, up.depth + 1
    FROM up JOIN org_units o ON o.id = up.unit_id
    WHERE o.parent_id IS NOT NULL AND up.depth < 64
),
heads AS (
    SELECT up.rep_id, o.manager_id, up.depth
    FROM up JOIN org_units o ON o.id = up.unit_id
    WHERE o.manager_id IS NOT NULL AND o.manager_id <> up.rep_id AND o.deleted = {false}
),
nearest AS (
    SELECT rep_id, manager_id,
           row_number() OVER (PARTITION BY rep_id ORDER BY depth, manager_id) AS rank
    FROM heads
)
SELECT r.id AS rep_id, COALESCE(r.manager_id, n.manager_id) AS manager_id
FROM reps r LEFT JOIN nearest n ON n.rep_id = r.id AND n.rank = 1
"""


@dataclass
class EvalContext:
    """One evaluation: everything inside runs in conn's single transaction."""

    conn: Connection
    playbook: Playbook
    as_of: date
    run_id: int
    partition: Partition | None = None
    stage: str = "all"  # all / customers (one partition) / final (rules spanning customers)
    counts: Counter[str] = field(default_factory=Counter)
    _facts: dict[str, sa.Table] = field(default_factory=dict)
    _managers: sa.Table | None = None
    period: tuple[date, date] | None = None  # explain --period: the statement/scorecard period

    def facts(self, subject: str) -> sa.Table:
        """The subject's facts table (fields and metrics), built once per run."""
        if subject not in self._facts:
            self._facts[subject] = metrics.materialize(
                self.conn, subject, self.playbook, self.as_of, self.partition
            )
        return self._facts[subject]

    def refresh(self, subject: str) -> None:
        """Forget a facts table after a rule changed what it was built from (a customer's
        owner): the next use rebuilds it."""
        table = self._facts.pop(subject, None)
        if table is not None:
            self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")

    def scope(self, subject: str, table: Any, extra: dict[str, Any] | None = None) -> Scope:
        return metrics.subject_scope(subject, self.playbook, table, self.as_of, extra)

    def managers(self) -> sa.Table:
        """rep_managers(rep_id, manager_id), built once per run."""
        if self._managers is None:
            self.conn.exec_driver_sql("DROP TABLE IF EXISTS rep_managers")
            false = dialects.of(self.conn).false_sql
            self.conn.exec_driver_sql(_REP_MANAGERS.format(false=false))
            # joined by rep id from tasks, customers and targets: without an index SQLite scans
            # it once per row (escalation over 60,000 open tasks at M: 2.9 s → see BENCHMARKS)
            self.conn.exec_driver_sql("CREATE INDEX rep_managers_rep ON rep_managers (rep_id)")
            dialects.analyze(self.conn, "rep_managers")
            self._managers = sa.Table(
                "rep_managers",
                sa.MetaData(),
                sa.Column("rep_id", sa.String()),
                sa.Column("manager_id", sa.String()),
            )
        return self._managers

    def subject(self, name: str) -> SubjectFacts:
        """The facts of a kind of subject another family offers (`target`)."""
        return self.playbook.subject(name)

    def covers(self, subject: str) -> bool:
        """Whether this stage runs rules about the subject: a partition runs customer rules,
        the final step the rules that span customers (reps, targets), a plain run all."""
        if self.stage == "all":
            return True
        return (subject == "customer") == (self.stage == "customers")

    def customers_filter(self, customer_id: Any) -> Any:
        """A predicate keeping the customers of this partition (true when not partitioned)."""
        return self.partition.holds(customer_id) if self.partition else sa.true()

    def emit(self, signal: Signal) -> None:
        if self.partition is not None and signal.subject_type == "customer":
            signal.scope = self.partition.holds
        self.counts.update(emit(self.conn, signal, self.as_of, self.run_id))

    def cleanup(self) -> None:
        for table in [*self._facts.values(), self._managers]:
            if table is not None:
                self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")


@runtime_checkable
class Examples(Protocol):
    """An optional hook of a family: its section as a new project's playbook shows it, to
    start editing from (`salesplay init`)."""

    def example(self, section: Any) -> list[str]:
        """YAML lines, uncommented, of the section as the base playbook has it (its own
        grades, its own cadences), with a comment line or two saying what to change; valid
        as written, so that uncommenting them changes nothing until a number is edited."""
        ...
