"""The playbook JSON Schema: the common top level plus one fragment per rule family."""

from __future__ import annotations

import json
from typing import Any

DURATION = {
    "type": "string",
    "pattern": r"^\s*\d+\s*(day|days|week|weeks|month|months|year|years|天|日|周|个月|月|年)\s*$",
    "description": "a number and a unit, e.g. '3 days', '2 weeks', '1 month'",
}
EXPRESSION = {
    "type": "string",
    "minLength": 1,
    "description": "a condition, e.g. revenue_6m >= 500000",
}
TEMPLATE = {
    "type": "string",
    "minLength": 1,
    "description": "text with {placeholders}, e.g. '跟进 {customer.name}'",
}
LEVEL = {"enum": ["green", "yellow", "red"]}
NAME = {
    "type": "string",
    "pattern": r"^[^\W\d]\w*$",
    "description": "letters, digits and _, not starting with a digit",
}

BETTER = {
    "enum": ["higher", "lower"],
    "description": "for goals: is more better (sales, the default) or less (complaint rate)?",
}
_AGGREGATE = {
    "type": "object",
    "properties": {
        "sum": {"type": "string"},
        "count": {"type": "string"},
        "distinct": {
            "type": "string",
            "description": "how many different values: won_deals.customer_id",
        },
        "min": {"type": "string"},
        "max": {"type": "string"},
        "avg": {"type": "string"},
        "latest": {"type": "string"},
        "where": EXPRESSION,
        "window": {
            "type": "string",
            "description": "last N days|weeks|months|years, "
            "this week|month|quarter|year, target period, all time",
        },
        "description": {"type": "string"},
        "better": BETTER,
    },
    "additionalProperties": False,
    "oneOf": [
        {"required": [k]} for k in ("sum", "count", "distinct", "min", "max", "avg", "latest")
    ],
}
_FORMULA = {
    "type": "object",
    "properties": {"formula": EXPRESSION, "description": {"type": "string"}, "better": BETTER},
    "required": ["formula"],
    "additionalProperties": False,
}


def base_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://salesplay.dev/playbook.schema.json",
        "title": "salesplay playbook",
        "type": "object",
        "properties": {
            "playbook": {"type": "string", "description": "the playbook's name"},
            "description": {"type": "string"},
            "extends": {
                "type": ["string", "null"],
                "description": "a bundled playbook's name or a path to a .yaml file",
            },
            "timezone": {"type": "string", "description": "IANA zone, e.g. Asia/Shanghai"},
            "currency": {"type": "string"},
            "fields": {
                "type": "object",
                "description": "custom customer columns the rules use, with their type",
                "additionalProperties": {"enum": ["text", "number", "date", "bool"]},
            },
            "metrics": {
                "type": "object",
                "additionalProperties": {
                    "type": "object",
                    "if": {"required": ["formula"]},
                    "then": _FORMULA,
                    "else": _AGGREGATE,
                },
            },
        },
        "additionalProperties": False,
    }


def playbook_schema() -> dict[str, Any]:
    """The whole schema: what `salesplay schema` prints and editors validate against."""
    from salesplay.rules import FAMILIES

    schema = base_schema()
    for family in FAMILIES:
        schema["properties"][family.section] = family.schema
    from salesplay.engine.run import outbox
    from salesplay.engine.schedule import jobs as schedule

    schema["properties"]["jobs"] = schedule.SCHEMA
    schema["properties"]["delivery"] = outbox.SCHEMA
    return schema


def schema_json() -> str:
    return json.dumps(playbook_schema(), indent=2, ensure_ascii=False) + "\n"
