"""The playbook's JSON Schema: common fragments, the top level, assembly, and validation.

Each rule family brings the fragment for its own section; engine/loader.py assembles them with
the top level here and validates a document against the whole, reporting every problem at its
file and line in words an ops person reads (`must be a number, not 'abc'`).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import jsonschema

from salesplay.engine.errors import ExpressionError, PlaybookError
from salesplay.engine.lang import dates, values
from salesplay.engine.lang.document import Document, YamlPath

DURATION = {
    "type": "string",
    "pattern": r"^\s*\d+\s*(day|days|week|weeks|month|months|year|years|天|日|周|个月|月|年)\s*$",
    "format": "duration",
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
# Shares and amounts are checked by format (FORMATS below), each by the one parser in
# lang/values.py, so that every one of them anywhere in a playbook is refused at its own line.
SHARE = {
    "type": ["string", "number"],
    "format": "share",
    "description": "a share of at most 100%: 80%, 80 % or 0.8",
}
ATTAINMENT = {
    "type": ["string", "number"],
    "format": "attainment",
    "description": "a share of a target, which may pass 100%: 120% or 1.2",
}
MONEY = {
    "type": ["number", "string"],
    "format": "amount",
    "description": "an amount in units: 20000, 2万 or 20,000.50",
}
NAME = {
    "type": "string",
    "pattern": r"^[^\W\d]\w*$",
    "description": "letters, digits and _, not starting with a digit",
}
# Where a secret is named (delivery's url_env, password_env): only the variable's name. What is
# written there instead is never echoed: it may be the URL or password itself.
ENV_NAME = {
    "type": "string",
    "pattern": r"^[A-Za-z_][A-Za-z0-9_]*$",
    "description": "the name of an environment variable that holds the secret",
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


MAX_METRICS = 500

FORMATS = jsonschema.FormatChecker(formats=())


def _checks(name: str, parse: Callable[[Any], Any]) -> None:
    def check(instance: Any) -> bool:
        if isinstance(instance, str | int | float | Decimal) and not isinstance(instance, bool):
            parse(instance)  # anything else is the type check's to report
        return True

    FORMATS.checks(name, raises=ExpressionError)(check)


_checks("share", values.share)
_checks("attainment", lambda v: values.share(v, over_100=True))
_checks("amount", values.cents)
_checks("duration", dates.check_duration_length)


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
            "language": {
                "enum": ["zh", "en"],
                "description": "the language of tables' headers and values (default en)",
            },
            "fields": {
                "type": "object",
                "description": "custom customer columns the rules use, with their type",
                "additionalProperties": {"enum": ["text", "number", "date", "bool"]},
            },
            "metrics": {
                "type": "object",
                # each metric is a column of the facts tables: PostgreSQL holds at most 1600
                "maxProperties": MAX_METRICS,
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


def assemble(sections: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The whole schema: the top level plus one fragment per section (rule families, jobs,
    delivery), as `salesplay schema` prints it and editors validate against it."""
    schema = base_schema()
    schema["properties"].update(sections)
    return schema


def as_json(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _count(n: Any, one: str, many: str) -> str:
    return f"one {one}" if n == 1 else f"{n} {many}"


def _shown(value: Any) -> str:
    """A bad value as the message quotes it: scalars as written, collections by their kind."""
    if isinstance(value, dict):
        return "a map"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "empty"
    return f"'{value}'" if isinstance(value, str) else str(value)


_FRIENDLY: dict[str, Callable[[jsonschema.ValidationError], str]] = {
    "type": lambda e: f"must be {_type_words(e.validator_value)}, not {_shown(e.instance)}",
    "required": lambda e: e.message.replace("is a required property", "is required"),
    "enum": lambda e: (
        f"must be one of {', '.join(map(str, e.validator_value))}, not {_shown(e.instance)}"
    ),
    "pattern": lambda e: (
        f"{_shown(e.instance)} is not valid here"
        + (f": {e.schema['description']}" if "description" in e.schema else "")
    ),
    "minimum": lambda e: f"must be at least {e.validator_value}, not {e.instance}",
    "maximum": lambda e: f"must be at most {e.validator_value}, not {e.instance}",
    "minItems": lambda e: f"needs at least {_count(e.validator_value, 'item', 'items')}",
    "minProperties": lambda e: f"needs at least {_count(e.validator_value, 'entry', 'entries')}",
    "minLength": lambda e: "must not be empty",
    "maxProperties": lambda e: f"at most {e.validator_value} entries, not {len(e.instance)}",
}


def _type_words(types: Any) -> str:
    words = {
        "string": "text",
        "integer": "a whole number",
        "number": "a number",
        "object": "a map (key: value lines)",
        "array": "a list",
        "boolean": "true or false",
        "null": "empty",
    }
    if isinstance(types, list):
        return " or ".join(words.get(str(t), str(t)) for t in types)
    return words.get(types, str(types))


def errors(playbook: Document, schema: dict[str, Any]) -> list[PlaybookError]:
    """Every schema problem, one PlaybookError each (the same line twice is reported once)."""
    validator = jsonschema.Draft202012Validator(schema, format_checker=FORMATS)
    out: list[PlaybookError] = []
    for error in validator.iter_errors(playbook.data):
        for found in _translate(playbook, error):
            if str(found) not in [str(e) for e in out]:
                out.append(found)
    return out


def _one_of_keys(error: jsonschema.ValidationError) -> list[str] | None:
    """['sum', 'count', …] when a oneOf means "exactly one of these keys", else None."""
    branches = error.validator_value
    if error.validator != "oneOf" or not isinstance(error.instance, dict):
        return None
    if not all(set(b) == {"required"} and len(b["required"]) == 1 for b in branches):
        return None
    return [b["required"][0] for b in branches]


def _translate(playbook: Document, error: jsonschema.ValidationError) -> list[PlaybookError]:
    path: YamlPath = tuple(error.absolute_path)
    keys = _one_of_keys(error)
    if keys is not None:
        given = sorted(
            (k for k in keys if k in error.instance), key=lambda k: playbook.where((*path, k))
        )
        if not given:
            return [playbook.error(path, f"needs one of {', '.join(keys)}")]
        return [
            playbook.error(
                (*path, given[1]),
                f"give only one of {', '.join(keys)}, not both {given[0]} and {given[1]}",
            )
        ]
    if error.validator in ("oneOf", "anyOf") and error.context:
        # Report the branch that got furthest, not "is not valid under any of the given schemas".
        deepest = max(error.context, key=lambda e: (len(e.absolute_path), -len(e.message)))
        return _translate(playbook, deepest)
    if "propertyNames" in error.relative_schema_path:
        key = str(error.instance)
        return [
            playbook.error(
                (*path, key),
                f"'{key}' cannot be a name here: start with a "
                "letter, then use letters, digits and _",
            )
        ]
    if error.validator == "pattern" and error.schema.get("pattern") == DURATION["pattern"]:
        try:
            count, unit = dates.parse_duration(error.instance)
        except ExpressionError as exc:
            return [playbook.error(path, exc.message)]
        unit = unit if count != 1 else unit.rstrip("s")
        return [
            playbook.error(
                path,
                f"'{error.instance}' is not a duration: write the unit in "
                f"small letters, e.g. '{count} {unit}'",
            )
        ]
    if error.validator == "pattern" and error.schema.get("pattern") == ENV_NAME["pattern"]:
        url = "://" in str(error.instance) or str(error.instance).startswith("http")
        what = "a URL" if url else "not the name of an environment variable"
        return [
            playbook.error(
                path,
                f"{what}: write the name of the environment variable that holds the secret "
                "(letters, digits and _, e.g. HOOK_URL) and put the secret in that variable",
            )
        ]
    if error.validator == "format" and isinstance(error.cause, ExpressionError):
        return [playbook.error(path, error.cause.message)]
    if error.validator == "additionalProperties":
        known = list(error.schema.get("properties", {}))
        patterns = list(error.schema.get("patternProperties", {}))
        out = []
        for key in sorted(set(error.instance) - set(known)):
            if any(re.search(p, key) for p in patterns):
                continue
            close = difflib.get_close_matches(key, known, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            allowed = f"; allowed: {', '.join(known)}" if known and not close else ""
            out.append(playbook.error((*path, key), f"unknown key '{key}'{hint}{allowed}"))
        return out
    friendly = _FRIENDLY.get(str(error.validator))
    message = friendly(error) if friendly else error.message
    return [playbook.error(path, message)]
