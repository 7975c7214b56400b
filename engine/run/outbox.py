"""The transactional outbox: the playbook's `delivery:` section and the rows it queues.

In the transaction that stores a run's tasks and alerts, one `deliveries` row per (item,
channel) that a route sends it to is inserted set-based (INSERT … SELECT … ON CONFLICT DO
NOTHING). Either the items and their deliveries commit together or neither does; the
dispatcher (engine/dispatch.py) then sends them at least once.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.lang.playbook import Playbook
from salesplay.engine.store.db import count_rows, insert_ignore
from salesplay.engine.store.models import Alert, Delivery, Run, Task, table_of

CHANNEL_TYPES = ("jsonl", "webhook", "wecom", "dingtalk", "feishu", "email")
ROBOTS = ("wecom", "dingtalk", "feishu")
ENV_NAME = {
    "type": "string",
    "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "the name of an environment variable that holds the secret",
}
CHANNEL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "type": {"enum": list(CHANNEL_TYPES)},
        "path": {"type": "string", "description": "jsonl: the file to append to"},
        "url_env": ENV_NAME,
        "smtp_host": {"type": "string"},
        "smtp_port": {"type": "integer", "minimum": 1},
        "sender": {"type": "string", "description": "email: the From address"},
        "subject": {"type": "string", "description": "email: the subject line"},
        "user_env": ENV_NAME,
        "password_env": ENV_NAME,
        "starttls": {"type": "boolean"},
        "rate_per_minute": {"type": "integer", "minimum": 1},
        "max_attempts": {"type": "integer", "minimum": 1},
        "timeout": {"type": "number", "exclusiveMinimum": 0},
        "description": {"type": "string"},
    },
    "required": ["type"],
    "additionalProperties": False,
}
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
SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "where tasks and alerts are sent: channels and the routes to them",
    "properties": {
        "channels": {
            "type": "object",
            "propertyNames": {"pattern": r"^[^\W\d]\w*$"},
            "additionalProperties": CHANNEL_SCHEMA,
        },
        "routes": {"type": "array", "items": ROUTE_SCHEMA},
    },
    "additionalProperties": False,
}
DEFAULT_RATE = {"wecom": 20, "dingtalk": 20}  # each robot accepts 20 messages a minute
_NEEDS = {
    "jsonl": ("path",),
    "webhook": ("url_env",),
    "wecom": ("url_env",),
    "dingtalk": ("url_env",),
    "feishu": ("url_env",),
    "email": ("smtp_host", "sender"),
}


def channels(playbook: Playbook) -> dict[str, dict[str, Any]]:
    return dict((playbook.section("delivery") or {}).get("channels") or {})


def routes(playbook: Playbook) -> list[dict[str, Any]]:
    return list((playbook.section("delivery") or {}).get("routes") or [])


def check_delivery(playbook: Playbook) -> None:
    """What the schema cannot say: each channel has what its type needs; routes name channels."""
    known = channels(playbook)
    for name, spec in known.items():
        for key in _NEEDS[spec["type"]]:
            if key not in spec:
                raise playbook.error(
                    ("delivery", "channels", name),
                    f"a {spec['type']} channel needs {key}"
                    + (
                        " (the variable holding the URL; never the URL itself)"
                        if "env" in key
                        else ""
                    ),
                )
    for i, route in enumerate(routes(playbook)):
        if route["channel"] not in known:
            names = ", ".join(known) or "none defined under delivery.channels"
            raise playbook.error(
                ("delivery", "routes", i, "channel"),
                f"unknown channel '{route['channel']}' (channels: {names})",
            )


def enqueue(conn: Connection, playbook: Playbook, run_id: int) -> int:
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
            total += count_rows(conn, insert_ignore(deliveries, select, columns, conn.dialect.name))
    return total
