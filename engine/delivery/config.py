"""The playbook's `delivery:` section: channels (each of a kind in channels.KINDS) and the routes
to them (engine/run/outbox.py queues by them), with the checks the schema cannot make."""

from __future__ import annotations

from typing import Any

from salesplay.engine.delivery.channels import KINDS
from salesplay.engine.lang.document import Document
from salesplay.engine.run.outbox import ROUTE_SCHEMA, routes

SECTION = "delivery"
# Settings every channel takes, beside its kind's own.
COMMON: dict[str, Any] = {
    "rate_per_minute": {"type": "integer", "minimum": 1},
    "max_attempts": {"type": "integer", "minimum": 1},
    "timeout": {"type": "number", "exclusiveMinimum": 0},
    "description": {"type": "string"},
}


def channel_schema() -> dict[str, Any]:
    """One channel entry: `type` names a kind; the settings are every kind's and the common."""
    properties: dict[str, Any] = {"type": {"enum": list(KINDS)}}
    for kind in KINDS.values():
        properties.update(kind.settings)
    properties.update(COMMON)
    return {
        "type": "object",
        "properties": properties,
        "required": ["type"],
        "additionalProperties": False,
    }


def schema() -> dict[str, Any]:
    return {
        "type": "object",
        "description": "where tasks and alerts are sent: channels and the routes to them",
        "properties": {
            "channels": {
                "type": "object",
                "propertyNames": {"pattern": r"^[^\W\d]\w*$"},
                "additionalProperties": channel_schema(),
            },
            "routes": {"type": "array", "items": ROUTE_SCHEMA},
            # how many alerts a week one person can act on: `salesplay report warnings` flags
            # the rules and recipients above it
            "alert_budget": {
                "type": "string",
                "pattern": r"^\s*\d+\s*(per|/)\s*week\s*$",
                "description": "alerts one recipient can act on per week, e.g. '20 per week'",
            },
        },
        "additionalProperties": False,
    }


def channels(playbook: Document) -> dict[str, dict[str, Any]]:
    return dict((playbook.section(SECTION) or {}).get("channels") or {})


def rate_per_minute(spec: dict[str, Any]) -> int | None:
    """The channel's rate limit: its own setting, else the far end's known limit."""
    rate = spec.get("rate_per_minute", KINDS[spec["type"]].rate_per_minute)
    return None if rate is None else int(rate)


def check(playbook: Document) -> None:
    """What the schema cannot say: each channel has what its kind needs and nothing another kind
    takes; routes name channels."""
    known = channels(playbook)
    for name, spec in known.items():
        kind = KINDS[spec["type"]]
        takes = [*kind.settings, *COMMON]
        for key in spec:
            if key != "type" and key not in takes:  # another kind's setting: it would do nothing
                raise playbook.error(
                    (SECTION, "channels", name, key),
                    f"a {kind.type} channel takes no {key} (it takes {', '.join(takes)})",
                )
        for key in kind.needs:
            if key not in spec:
                raise playbook.error(
                    (SECTION, "channels", name),
                    f"a {spec['type']} channel needs {key}"
                    + (
                        " (the variable holding the URL; never the URL itself)"
                        if "env" in key
                        else ""
                    ),
                )
        for concern in kind.check(spec):
            if not concern.warning:
                where = (SECTION, "channels", name, *([concern.key] if concern.key else []))
                raise playbook.error(where, concern.message)
    for i, route in enumerate(routes(playbook)):
        if route["channel"] not in known:
            names = ", ".join(known) or "none defined under delivery.channels"
            raise playbook.error(
                (SECTION, "routes", i, "channel"),
                f"unknown channel '{route['channel']}' (channels: {names})",
            )


def warnings(playbook: Document) -> list[str]:
    """What the checks let pass but a person should hear of (an email channel without TLS),
    one located line each: `FILE:LINE: delivery.channels.mail.tls: warning: …`."""
    found = []
    for name, spec in channels(playbook).items():
        for concern in KINDS[spec["type"]].check(spec):
            if concern.warning:
                where = (SECTION, "channels", name, *([concern.key] if concern.key else []))
                found.append(str(playbook.error(where, f"warning: {concern.message}")))
    return found
