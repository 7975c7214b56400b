"""Turning a rule's firing rows into tasks and alerts, exactly once.

A rule hands over candidate rows (subject, episode, fires, texts …). An *episode* is one stretch
of time during which the condition holds for a subject: it opens when the condition first holds
and clears when it no longer does. A task or alert belongs to one episode, under the unique key
(rule, subject, episode, seq); a condition that clears and holds again opens seq + 1. So:
re-running emits nothing new, a task closed by hand does not come back, and a unique constraint
settles two evaluations racing each other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.store.db import count_rows, temp_table
from salesplay.engine.store.dialects import analyze, insert_ignore
from salesplay.engine.store.models import Alert, Episode, Task, table_of

LIVE_ALERT = ["open", "acknowledged", "snoozed"]  # see alert_status.py
SIGNAL_COLUMNS: list[tuple[str, Any]] = [
    ("subject_id", sa.String()),
    ("episode", sa.String()),
    ("fires", sa.Boolean()),
    ("assignee_id", sa.String()),
    ("due", sa.Date()),
    ("title", sa.String()),
    ("level", sa.String()),
    ("message", sa.String()),
    ("detail", sa.JSON()),
]


@dataclass
class Signal:
    """What one rule says this run. `rows` selects the SIGNAL_COLUMNS by those names.

    clear_by "subject": every live subject is evaluated, so any open episode of the rule that
    does not fire now is cleared (follow-up: a new contact moves the due date). clear_by
    "episode": only the (subject, episode) pairs among rows are judged (a target's period).
    """

    rule: str
    subject_type: str
    rows: sa.Select[Any]
    task: bool = False
    alert: bool = False
    clear_by: str = "subject"
    scope: Callable[[Any], Any] | None = None  # which subjects this run judges (a partition's)


def emit(conn: Connection, signal: Signal, as_of: date, run_id: int) -> dict[str, int]:
    """Store the signal's new tasks and alerts, close what cleared; return counts."""
    sig = temp_table(conn, "signal_rows", dict(SIGNAL_COLUMNS))
    rows = signal.rows
    if signal.clear_by == "subject":  # only firing rows matter: the rest clear by absence
        rows = rows.where(rows.selected_columns.fires == sa.true())
    written = count_rows(conn, sig.insert().from_select([n for n, _ in SIGNAL_COLUMNS], rows))
    if not written and signal.clear_by == "episode":  # nothing judged: nothing can change
        conn.exec_driver_sql("DROP TABLE signal_rows")
        return {}
    conn.exec_driver_sql("CREATE INDEX signal_rows_key ON signal_rows (subject_id, episode)")
    analyze(conn, "signal_rows")

    ep = table_of(Episode)
    same = sa.and_(sig.c.subject_id == ep.c.subject_id, sig.c.episode == ep.c.episode)
    firing = sa.exists().where(same, sig.c.fires == sa.true())
    judged_false = sa.exists().where(same, sig.c.fires == sa.false())
    clears = ~firing if signal.clear_by == "subject" else sa.and_(judged_false, ~firing)
    if signal.scope is not None:
        clears = sa.and_(clears, signal.scope(ep.c.subject_id))
    counts: dict[str, int] = {}
    cleared = count_rows(
        conn,
        ep.update()
        .where(
            ep.c.rule == signal.rule,
            ep.c.subject_type == signal.subject_type,
            ep.c.cleared_on.is_(None),
            clears,
        )
        .values(cleared_on=as_of),
    )
    if cleared:
        counts.update(_close(conn, signal, as_of))

    open_episode = (
        sa.select(ep.c.id)
        .where(
            ep.c.rule == signal.rule,
            ep.c.subject_type == signal.subject_type,
            ep.c.subject_id == sig.c.subject_id,
            ep.c.episode == sig.c.episode,
            ep.c.cleared_on.is_(None),
        )
        .exists()
    )
    last_seq = (
        sa.select(sa.func.coalesce(sa.func.max(ep.c.seq), 0))
        .where(
            ep.c.rule == signal.rule,
            ep.c.subject_type == signal.subject_type,
            ep.c.subject_id == sig.c.subject_id,
            ep.c.episode == sig.c.episode,
        )
        .scalar_subquery()
    )
    new_episodes = sa.select(
        sa.literal(signal.rule),
        sa.literal(signal.subject_type),
        sig.c.subject_id,
        sig.c.episode,
        last_seq + 1,
        sa.literal(as_of, sa.Date()),
        sa.literal(run_id),
    ).where(sig.c.fires == sa.true(), ~open_episode)
    conn.execute(
        insert_ignore(
            ep,
            new_episodes,
            ["rule", "subject_type", "subject_id", "episode", "seq", "opened_on", "run_id"],
            conn,
        )
    )

    fresh = (
        sa.select(sig, ep.c.seq.label("seq"))
        .join_from(sig, ep, same)
        .where(
            ep.c.rule == signal.rule,
            ep.c.subject_type == signal.subject_type,
            ep.c.run_id == run_id,
            ep.c.opened_on == as_of,
            ep.c.cleared_on.is_(None),
            sig.c.fires == sa.true(),
        )
        .subquery("fresh")
    )
    common = [
        sa.literal(signal.rule),
        sa.literal(signal.subject_type),
        fresh.c.subject_id,
        fresh.c.episode,
        fresh.c.seq,
    ]
    key_cols = ["rule", "subject_type", "subject_id", "episode", "seq"]
    if signal.task:
        rows = sa.select(
            *common,
            fresh.c.assignee_id,
            fresh.c.due,
            fresh.c.title,
            sa.literal("open"),
            sa.literal(as_of, sa.Date()),
            fresh.c.detail,
            sa.literal(run_id),
        )
        counts["tasks"] = count_rows(
            conn,
            insert_ignore(
                table_of(Task),
                rows,
                [
                    *key_cols,
                    "assignee_id",
                    "due",
                    "title",
                    "status",
                    "created_on",
                    "detail",
                    "run_id",
                ],
                conn,
            ),
        )
    if signal.alert:
        rows = sa.select(
            *common,
            fresh.c.assignee_id,
            fresh.c.level,
            fresh.c.message,
            sa.literal(as_of, sa.Date()),
            sa.literal("open"),
            fresh.c.detail,
            sa.literal(run_id),
        )
        counts["alerts"] = count_rows(
            conn,
            insert_ignore(
                table_of(Alert),
                rows,
                [
                    *key_cols,
                    "recipient_id",
                    "level",
                    "message",
                    "raised_on",
                    "status",
                    "detail",
                    "run_id",
                ],
                conn,
            ),
        )
        relevelled = _relevel(conn, signal, sig)
        if relevelled:
            counts["alerts_relevelled"] = relevelled
    conn.exec_driver_sql("DROP TABLE signal_rows")
    return counts


def _relevel(conn: Connection, signal: Signal, sig: sa.Table) -> int:
    """An alert still live whose episode now fires at another level takes that level (a goal's
    light going from yellow to red); its message stays as raised."""
    alerts = table_of(Alert)
    same = sa.and_(
        sig.c.subject_id == alerts.c.subject_id,
        sig.c.episode == alerts.c.episode,
        sig.c.fires == sa.true(),
        sig.c.level.is_not(None),
    )
    now = sa.select(sig.c.level).where(same).limit(1).scalar_subquery()
    return count_rows(
        conn,
        alerts.update()
        .where(
            alerts.c.rule == signal.rule,
            alerts.c.subject_type == signal.subject_type,
            alerts.c.status.in_(("open", "acknowledged", "snoozed")),
            sa.exists().where(same, sig.c.level != alerts.c.level),
        )
        .values(level=now),
    )


def _close(conn: Connection, signal: Signal, as_of: date) -> dict[str, int]:
    """Close open tasks and resolve open alerts whose episode has just cleared."""
    ep = table_of(Episode)
    counts = {}
    for table, status, closed, day_col, key in (
        (table_of(Task), "closed", "open", "closed_on", "tasks_closed"),
        (table_of(Alert), "resolved", "open", "resolved_on", "alerts_resolved"),
    ):
        episode_cleared = (
            sa.select(ep.c.id)
            .where(
                ep.c.rule == table.c.rule,
                ep.c.subject_type == table.c.subject_type,
                ep.c.subject_id == table.c.subject_id,
                ep.c.episode == table.c.episode,
                ep.c.seq == table.c.seq,
                ep.c.cleared_on.is_not(None),
            )
            .exists()
        )
        scope = signal.scope(table.c.subject_id) if signal.scope else sa.true()
        counts[key] = count_rows(
            conn,
            table.update()
            .where(
                table.c.rule == signal.rule,
                table.c.subject_type == signal.subject_type,
                # an alert acknowledged or snoozed by a person still resolves when it clears
                table.c.status.in_(LIVE_ALERT if table.name == "alerts" else [closed]),
                episode_cleared,
                scope,
            )
            .values({"status": status, day_col: as_of}),
        )
    return counts
