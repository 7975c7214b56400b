"""The transactional outbox: the rows a run queues for the `delivery:` section's routes.

In the transaction that stores a run's tasks and alerts, one `deliveries` row per (item,
channel) that a route sends it to is inserted set-based (INSERT … SELECT … ON CONFLICT DO
NOTHING). Either the items and their deliveries commit together or neither does; the
dispatcher (engine/delivery/dispatch.py) then sends them at least once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.lang.document import Document
from salesplay.engine.store.db import count_rows
from salesplay.engine.store.dialects import insert_ignore
from salesplay.engine.store.models import Alert, Delivery, Run, Task, table_of

ROUTE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "channel": {"type": "string"},
        "kinds": {"type": "array", "minItems": 1, "items": {"enum": ["tasks", "alerts"]}},
        "rules": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "levels": {"type": "array", "minItems": 1, "items": {"enum": ["green", "yellow", "red"]}},
        "digest": {"type": "boolean"},
        "description": {"type": "string"},
    },
    "required": ["channel"],
    "additionalProperties": False,
}


def routes(playbook: Document) -> list[dict[str, Any]]:
    return list((playbook.section("delivery") or {}).get("routes") or [])


def enqueue(conn: Connection, playbook: Document, run_id: int) -> int:
    """Queue this run's new tasks and alerts for every route that takes them; return the count."""
    deliveries = table_of(Delivery)
    runs = table_of(Run)
    started = sa.select(runs.c.started_at).where(runs.c.id == run_id).scalar_subquery()
    columns = [
        "item_kind",
        "item_id",
        "channel",
        "recipient_id",
        "rule",
        "run_id",
        "digest_key",
        "status",
        "attempts",
        "created_at",
    ]
    total = 0
    for route in routes(playbook):
        kinds = route.get("kinds") or (["alerts"] if route.get("levels") else ["tasks", "alerts"])
        for kind in kinds:
            table = table_of(Task) if kind == "tasks" else table_of(Alert)
            recipient = table.c.assignee_id if kind == "tasks" else table.c.recipient_id
            digest = (
                sa.literal(f"{run_id}:") + sa.func.coalesce(recipient, "")
                if route.get("digest")
                else sa.null()
            )
            select = sa.select(
                sa.literal(kind[:-1]),
                table.c.id,
                sa.literal(route["channel"]),
                recipient,
                table.c.rule,
                sa.literal(run_id),
                digest,
                sa.literal("pending"),
                sa.literal(0),
                started,
            ).where(table.c.run_id == run_id)
            if route.get("rules"):
                select = select.where(table.c.rule.in_(route["rules"]))
            if route.get("levels") and kind == "alerts":
                select = select.where(table.c.level.in_(route["levels"]))
            total += count_rows(conn, insert_ignore(deliveries, select, columns, conn))
    return total
