"""What a rule family sees while it runs: the connection, the playbook, the date, and helpers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.lang.playbook import Playbook
from salesplay.engine.run.emit import Signal, emit
from salesplay.engine.sql import metrics
from salesplay.engine.sql.compiler import Scope
from salesplay.engine.store.db import analyze
from salesplay.engine.store.partitions import Partition

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

    @property
    def dialect(self) -> str:
        return self.conn.dialect.name

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
            false = "false" if self.dialect == "postgresql" else "0"
            self.conn.exec_driver_sql(_REP_MANAGERS.format(false=false))
            # joined by rep id from tasks, customers and targets: without an index SQLite scans
            # it once per row (escalation over 60,000 open tasks at M: 2.9 s → see BENCHMARKS)
            self.conn.exec_driver_sql("CREATE INDEX rep_managers_rep ON rep_managers (rep_id)")
            analyze(self.conn, "rep_managers")
            self._managers = sa.Table(
                "rep_managers",
                sa.MetaData(),
                sa.Column("rep_id", sa.String()),
                sa.Column("manager_id", sa.String()),
            )
        return self._managers

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
        self.counts.update(emit(self.conn, signal, self.as_of, self.run_id, self.dialect))

    def cleanup(self) -> None:
        for table in [*self._facts.values(), self._managers]:
            if table is not None:
                self.conn.exec_driver_sql(f"DROP TABLE IF EXISTS {table.name}")
