"""`salesplay preview`: what a proposed playbook would change, on the live data, before it is
put in force.

The playbook in force and the proposed one are each evaluated as of the same day (default: the
latest evaluation's) in a transaction that is rolled back (evaluate.rolled_back), so each sees
the database as it is and leaves it so, even when the process is killed half way. From each
run the preview keeps the tasks and alerts open after it (by their dedupe key: rule, subject,
episode) and what each family's snapshot hook takes (grades, payouts, the follow-up load); then
it compares them: what was added, what removed, who moves.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.run import pinning
from salesplay.engine.run.emit import LIVE_ALERT
from salesplay.engine.run.evaluate import Progress, rolled_back
from salesplay.engine.run.family import Detail, EvalContext, Impact, Playbook, Previews
from salesplay.engine.store.models import Alert, Task, table_of

Key = tuple[str, str, str, str]  # rule, subject_type, subject_id, episode
ITEM_COLUMNS = ["rule", "added", "removed"]


@dataclass
class Outcome:
    """One playbook's run, kept past its rollback."""

    playbook: Playbook
    emitted: dict[str, int]
    tasks: set[Key]  # open after the run
    alerts: set[Key]  # live after the run: open, acknowledged or snoozed
    snapshots: dict[str, Any] = field(default_factory=dict)  # by family section


@dataclass
class Preview:
    as_of: date
    current: Outcome
    proposed: Outcome
    tasks: list[dict[str, Any]]  # ITEM_COLUMNS
    alerts: list[dict[str, Any]]
    impacts: list[Impact]

    def as_json(self) -> dict[str, Any]:
        """The JSON contract: as_of, current, proposed, tasks, alerts and each family's keys
        (grade_moves, load, payouts, payouts_total)."""
        out: dict[str, Any] = {
            "as_of": self.as_of.isoformat(),
            "current": _described(self.current),
            "proposed": _described(self.proposed),
            "tasks": self.tasks,
            "alerts": self.alerts,
        }
        for impact in self.impacts:
            out.update(impact.data)
        found: dict[str, Any] = plain(out)
        return found

    def headline(self) -> str:
        return (
            f"preview as of {self.as_of}: proposed {_name(self.proposed.playbook)} against "
            f"{_name(self.current.playbook)} in force, on the live data; nothing is stored"
        )

    def summary(self) -> list[str]:
        lines = []
        for kind, rows, outcome in (
            ("tasks", self.tasks, self.proposed.tasks),
            ("alerts", self.alerts, self.proposed.alerts),
        ):
            added = sum(r["added"] for r in rows)
            removed = sum(r["removed"] for r in rows)
            before = len(self.current.tasks if kind == "tasks" else self.current.alerts)
            lines.append(
                f"{kind}: {added} added, {removed} removed ({before} open now, "
                f"{len(outcome)} with the proposed playbook)"
            )
        for impact in self.impacts:
            lines.extend(impact.summary)
        return lines

    def details(self) -> list[Detail]:
        found = [detail for impact in self.impacts for detail in impact.details]
        for kind, rows in (("tasks", self.tasks), ("alerts", self.alerts)):
            changed = [r for r in rows if r["added"] or r["removed"]]
            found.append(Detail(f"{kind} that change, by rule", changed, ITEM_COLUMNS))
        return found


def _name(playbook: Playbook) -> str:
    return f"{playbook.name} ({playbook.path})"


def _described(outcome: Outcome) -> dict[str, Any]:
    book = outcome.playbook
    return {"playbook": book.name, "path": book.origin or book.path, "hash": book.content_hash}


def plain(value: Any) -> Any:
    """JSON-ready: exact amounts as numbers (34 or 34.5), dates as ISO text."""
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def preview(
    engine: Engine,
    current: Playbook,
    proposed: Playbook,
    as_of: date | None = None,
    progress: Progress | None = None,
) -> Preview:
    """Evaluate both playbooks as of a day (default: the latest evaluated one, else today) and
    compare what each leaves open, grades, payouts and load. Nothing stored changes."""
    if as_of is None:
        with engine.connect() as conn:
            latest = pinning.latest_as_of(conn)
        as_of = latest.as_of if latest is not None else current.today()
    before = _outcome(engine, current, as_of, progress)
    after = _outcome(engine, proposed, as_of, progress)
    impacts = []
    for family in proposed.families:
        if isinstance(family, Previews):
            impacts.append(
                family.compare(
                    before.snapshots.get(family.section), after.snapshots.get(family.section)
                )
            )
    return Preview(
        as_of,
        before,
        after,
        _by_rule(before.tasks, after.tasks),
        _by_rule(before.alerts, after.alerts),
        impacts,
    )


def _outcome(engine: Engine, playbook: Playbook, as_of: date, progress: Progress | None) -> Outcome:
    def look(ctx: EvalContext, emitted: dict[str, int]) -> Outcome:
        tasks, alerts = table_of(Task), table_of(Alert)
        found = Outcome(
            playbook,
            emitted,
            _keys(ctx.conn, tasks, tasks.c.status == "open"),
            _keys(ctx.conn, alerts, alerts.c.status.in_(LIVE_ALERT)),
        )
        for family in playbook.families:
            if isinstance(family, Previews):
                found.snapshots[family.section] = family.snapshot(ctx)
        return found

    return rolled_back(engine, playbook, as_of, look, progress, playbook_named=True)


def _keys(conn: Connection, table: sa.Table, live: Any) -> set[Key]:
    query = sa.select(table.c.rule, table.c.subject_type, table.c.subject_id, table.c.episode)
    return {(row[0], row[1], row[2], row[3]) for row in conn.execute(query.where(live))}


def _by_rule(before: set[Key], after: set[Key]) -> list[dict[str, Any]]:
    """Per rule with items under either playbook: how many the proposed one adds and drops."""
    # a rule whose items stay the same is listed too, with 0 and 0
    counts = {key[0]: {"added": 0, "removed": 0} for key in before | after}
    for key in after - before:
        counts[key[0]]["added"] += 1
    for key in before - after:
        counts[key[0]]["removed"] += 1
    return [{"rule": rule, **counts[rule]} for rule in sorted(counts)]
