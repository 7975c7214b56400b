"""The same grading and follow-up through zen-engine (GoRules JDM), the way a user of a
per-record rules engine builds it: metrics in SQL, rows read into dicts, the decision tables of
bench/jdm/follow_up.json evaluated in one ZenEngine (static loader) with the table nodes in loop
mode over chunks of customers, due dates / tasks / alerts computed in Python from the
decision's outputs, everything written back with executemany. The goal-lag warning is not a
per-customer decision: this pipeline runs the hand-written SQL for it (BENCHMARKS.md).
"""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import zen
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.lang import dates

from . import handwritten

HERE = Path(__file__).resolve().parent
DECISION = HERE / "jdm" / "follow_up.json"
CHANNELS = ("visit", "video", "call", "wechat", "email", "message")
CHUNK = 20_000
TITLE = "跟进 {name}（{grade} 级客户，应于 {due} 前）"
MESSAGE = "{name}（{grade} 级）已逾期 {days} 天未跟进，应于 {due} 跟进"

# Per customer: what the decision needs (metrics, strategic, a manual grade in force) and what
# the follow-up needs (owner, name, created_on, the last contact on each channel).
CUSTOMERS_SQL = """
SELECT c.id, c.name, c.owner_id, c.created_on, c.strategic,
       CAST(COALESCE(o.revenue_6m, 0) AS BIGINT) AS revenue_6m,
       CAST(COALESCE(d.pipeline, 0) AS BIGINT) AS pipeline,
       ov.grade AS manual_grade,
       a.last_visit, a.last_video, a.last_call, a.last_wechat, a.last_email, a.last_message
FROM customers c
LEFT JOIN (SELECT customer_id, SUM(amount_cents) AS revenue_6m FROM orders
           WHERE deleted = {false} AND ordered_on BETWEEN {p[revenue_from]} AND {p[as_of]}
           GROUP BY customer_id) o ON o.customer_id = c.id
LEFT JOIN (SELECT customer_id, SUM(amount_cents) AS pipeline FROM deals
           WHERE deleted = {false} AND status = 'open'
           GROUP BY customer_id) d ON d.customer_id = c.id
LEFT JOIN (SELECT g.customer_id, g.grade FROM grade_overrides g
           WHERE g.id IN (SELECT MAX(id) FROM grade_overrides WHERE set_on <= {p[as_of]}
                          GROUP BY customer_id)
             AND (g.until IS NULL OR g.until >= {p[as_of]})) ov ON ov.customer_id = c.id
LEFT JOIN (SELECT customer_id,
                  MAX(CASE WHEN channel = 'visit' THEN occurred_on END) AS last_visit,
                  MAX(CASE WHEN channel = 'video' THEN occurred_on END) AS last_video,
                  MAX(CASE WHEN channel = 'call' THEN occurred_on END) AS last_call,
                  MAX(CASE WHEN channel = 'wechat' THEN occurred_on END) AS last_wechat,
                  MAX(CASE WHEN channel = 'email' THEN occurred_on END) AS last_email,
                  MAX(CASE WHEN channel = 'message' THEN occurred_on END) AS last_message
           FROM activities WHERE deleted = {false} AND occurred_on <= {p[as_of]}
           GROUP BY customer_id) a ON a.customer_id = c.id
WHERE c.deleted = {false} AND (c.created_on IS NULL OR c.created_on <= {p[as_of]})
"""


def load_decision() -> Any:
    """One ZenEngine with a static loader, and the decision it serves (reused for every chunk)."""
    content = json.loads(DECISION.read_text(encoding="utf-8"))
    engine = zen.ZenEngine({"loader": {"type": "static", "content": {"follow_up": content}}})
    return engine.get_decision("follow_up")


def _day(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(value)


def run(engine: Engine, as_of: date, decision: Any = None) -> None:
    decision = decision or load_decision()
    with engine.begin() as conn:
        run_in(conn, as_of, decision)


def run_in(conn: Connection, as_of: date, decision: Any) -> None:
    dialect = conn.dialect.name
    pg = dialect == "postgresql"
    mark = (lambda n: f"%({n})s") if pg else (lambda n: f":{n}")
    bound = handwritten.params(as_of, dialect)
    sql = CUSTOMERS_SQL.format(false="false" if pg else "0", p={k: mark(k) for k in bound})
    rows = conn.exec_driver_sql(sql, bound).all()

    # 1. the decision: grade (manual grade in force, else the rules) and the cadence per grade
    decided: list[dict[str, Any]] = []
    for start in range(0, len(rows), CHUNK):
        chunk = [
            {
                "manual_grade": r.manual_grade,
                "revenue_6m_cents": r.revenue_6m,
                "pipeline_cents": r.pipeline,
                "strategic": bool(r.strategic),
            }
            for r in rows[start : start + CHUNK]
        ]
        decided += decision.evaluate({"customers": chunk})["result"]["customers"]

    # 2. grades: write what changed, with a grade_changes row
    iso = as_of.isoformat() if not pg else as_of
    stored = {
        cid: (grade, source)
        for cid, grade, source in conn.exec_driver_sql(
            "SELECT customer_id, grade, source FROM grades"
        ).all()
    }
    changes = []
    for row, out in zip(rows, decided, strict=True):
        old = stored.get(row.id)
        if old is None or old != (out["grade"], out["source"]):
            changes.append((row.id, old[0] if old else None, out["grade"], iso, out["source"]))
    q = "%s" if pg else "?"
    if changes:
        conn.exec_driver_sql(
            f"INSERT INTO grade_changes (customer_id, old_grade, new_grade, changed_on, source) "
            f"VALUES ({q}, {q}, {q}, {q}, {q})",
            changes,
        )
        conn.exec_driver_sql(
            f"INSERT INTO grades (customer_id, grade, since, source) VALUES ({q}, {q}, {q}, {q}) "
            "ON CONFLICT (customer_id) DO UPDATE SET since = CASE WHEN grades.grade = "
            "excluded.grade THEN grades.since ELSE excluded.since END, grade = excluded.grade, "
            "source = excluded.source",
            [(cid, new, day, source) for cid, _, new, day, source in changes],
        )

    # 3. follow-up: due date from the decision's cadence and channels
    overdue_before = as_of - timedelta(days=3)
    tasks: dict[tuple[str, str], tuple[Any, ...]] = {}
    alerts: dict[tuple[str, str], tuple[Any, ...]] = {}
    for row, out in zip(rows, decided, strict=True):
        lasts = [
            last
            for channel, last in zip(CHANNELS, row[8:14], strict=True)
            if last is not None and channel in out["channels"]
        ]
        if lasts:
            due = dates.shift(_day(max(lasts)), int(out["every"]), out["unit"])  # type: ignore[arg-type]
        else:
            due = _day(row.created_on) or as_of
        if row.owner_id is None or due > as_of:
            continue
        episode = due.isoformat()
        tasks[(row.id, episode)] = (
            row.owner_id,
            due if pg else episode,
            TITLE.format(name=row.name, grade=out["grade"], due=episode),
        )
        if due < overdue_before:
            alerts[(row.id, episode)] = (
                row.owner_id,
                MESSAGE.format(
                    name=row.name, grade=out["grade"], days=(as_of - due).days, due=episode
                ),
            )

    # 4. tasks and alerts, exactly once: close what no longer fires, add what is new
    _emit(
        conn,
        q,
        iso,
        "tasks",
        "follow_up",
        tasks,
        live=("open", "done"),
        close=("closed", "closed_on"),
        insert=(
            "assignee_id, due, title, status, created_on",
            lambda v: (v[0], v[1], v[2], "open", iso),
        ),
    )
    _emit(
        conn,
        q,
        iso,
        "alerts",
        "follow_up.overdue",
        alerts,
        live=("open",),
        close=("resolved", "resolved_on"),
        insert=(
            "recipient_id, level, message, raised_on, status",
            lambda v: (v[0], "yellow", v[1], iso, "open"),
        ),
    )

    # 5. goal lag: set-based SQL (the hand-written statements)
    handwritten.run_sections(conn, as_of, ("goal_lag",))


def _emit(
    conn: Connection,
    q: str,
    iso: Any,
    table: str,
    rule: str,
    firing: dict[tuple[str, str], tuple[Any, ...]],
    live: tuple[str, ...],
    close: tuple[str, str],
    insert: tuple[str, Any],
) -> None:
    existing = conn.exec_driver_sql(
        f"SELECT id, subject_id, episode, seq, status FROM {table} "
        f"WHERE rule = {q} AND subject_type = 'customer'",
        (rule,),
    ).all()
    last_seq: dict[tuple[str, str], int] = {}
    alive: set[tuple[str, str]] = set()
    closing = []
    for id_, subject, episode, seq, status in existing:
        key = (subject, episode)
        last_seq[key] = max(seq, last_seq.get(key, 0))
        if status in live:
            alive.add(key)
        if status == "open" and key not in firing:
            closing.append((iso, id_))
    if closing:
        status, day = close
        conn.exec_driver_sql(
            f"UPDATE {table} SET status = '{status}', {day} = {q} WHERE id = {q}", closing
        )
    columns, values = insert
    new = [
        (rule, "customer", subject, episode, last_seq.get((subject, episode), 0) + 1, *values(v))
        for (subject, episode), v in firing.items()
        if (subject, episode) not in alive
    ]
    if new:
        marks = ", ".join([q] * (5 + columns.count(",") + 1))
        conn.exec_driver_sql(
            f"INSERT INTO {table} (rule, subject_type, subject_id, episode, seq, {columns}) "
            f"VALUES ({marks})",
            new,
        )
