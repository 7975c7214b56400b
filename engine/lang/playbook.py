"""Loading a playbook: strict YAML, `extends`, JSON Schema, then every name and type checked.

Every problem is a PlaybookError naming file, line and YAML path, on one line, e.g.
`fmcg.yaml:23: grading.grades[1].when: unknown name 'revenu_6m' (did you mean 'revenue_6m'?)`
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import jsonschema

from salesplay.engine.errors import ExpressionError, PlaybookError, PlaybookErrors
from salesplay.engine.lang import dates
from salesplay.engine.lang.schema import DURATION
from salesplay.engine.lang.yamlsafe import load_yaml, render_path

YamlPath = tuple[str | int, ...]
BUNDLED = "salesplay.playbooks"
DEFAULT = "default"


@dataclass
class Playbook:
    """A loaded, merged and checked playbook."""

    path: str
    data: dict[str, Any]
    lines: dict[YamlPath, tuple[str, int]]
    content_hash: str
    files: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return str(self.data.get("playbook") or Path(self.path).stem)

    @property
    def timezone(self) -> str:
        return str(self.data.get("timezone") or "Asia/Shanghai")

    def today(self, now: datetime | None = None) -> date:
        """Today in the playbook's time zone (now is passed in by tests and schedulers)."""
        zone = ZoneInfo(self.timezone)
        return (now.astimezone(zone) if now else datetime.now(zone)).date()

    def section(self, name: str) -> Any:
        return self.data.get(name)

    def error(self, path: YamlPath, message: str) -> PlaybookError:
        """A PlaybookError pointing at the nearest line we know for path."""
        file, line = self.where(path)
        return PlaybookError(message, file, line, render_path(path))

    def expression_error(self, path: YamlPath, exc: ExpressionError) -> PlaybookError:
        return self.error(path, exc.message)

    def where(self, path: YamlPath) -> tuple[str, int]:
        probe = tuple(path)
        while probe:
            if probe in self.lines:
                return self.lines[probe]
            probe = probe[:-1]
        return self.lines.get((), (self.path, 1))


def bundled_names() -> list[str]:
    folder = resources.files(BUNDLED)
    return sorted(p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml"))


def resolve(ref: str, relative_to: Path | None = None) -> tuple[str, str]:
    """A playbook reference (bundled name or file path) -> (display path, text)."""
    display, text, _, _ = _resolve(ref, relative_to)
    return display, text


def _resolve(ref: str, relative_to: Path | None) -> tuple[str, str, str, Path | None]:
    """(display path, text, identity, folder its own extends is relative to).

    The identity tells two spellings of one file apart; bundled playbooks have no folder.
    """
    candidate = Path(ref)
    if relative_to is not None and not candidate.is_absolute():
        candidate = relative_to / candidate
    display = ref if relative_to is None else os.path.normpath(candidate)
    if candidate.suffix in (".yaml", ".yml") or candidate.exists():
        try:
            text = candidate.read_text("utf-8-sig")
        except FileNotFoundError:
            raise PlaybookError(f"playbook file not found: {display}") from None
        except IsADirectoryError:
            raise PlaybookError(f"{display} is a folder: give the playbook's .yaml file") from None
        except UnicodeDecodeError:
            raise PlaybookError("not UTF-8 text: save the playbook as UTF-8", display, 1) from None
        except OSError as exc:
            raise PlaybookError(f"cannot read {display}: {exc.strerror}") from None
        return display, text, str(candidate.resolve()), candidate.parent
    if ref in bundled_names():
        text = resources.files(BUNDLED).joinpath(f"{ref}.yaml").read_text("utf-8")
        return f"playbooks/{ref}.yaml", text, f"bundled:{ref}", None
    hint = difflib.get_close_matches(ref, bundled_names(), n=1)
    extra = f" (did you mean '{hint[0]}'?)" if hint else ""
    raise PlaybookError(
        f"no playbook '{ref}': give a .yaml file or one of {', '.join(bundled_names())}{extra}"
    )


Lines = dict[YamlPath, tuple[str, int]]


def _read(
    ref: str, relative_to: Path | None, chain: list[tuple[str, str]]
) -> tuple[dict[str, Any], Lines, list[str]]:
    """Read ref and, recursively, what it extends; chain holds (identity, display) so far."""
    display, text, identity, base = _resolve(ref, relative_to)
    if identity in [seen for seen, _ in chain]:
        loop = " -> ".join([*[shown for _, shown in chain], display])
        raise PlaybookError(
            f"loops back: {loop} (a playbook cannot extend itself, directly or through others)"
        )
    data, raw_lines = load_yaml(text, display)
    if not isinstance(data, dict):
        raise PlaybookError("a playbook is a map of sections (grading:, follow_up: …)", display, 1)
    lines = {path: (display, line) for path, line in raw_lines.items()}
    lines.setdefault((), (display, 1))
    parent_ref = data.get("extends")
    if parent_ref is None:
        return data, lines, [display]
    if not isinstance(parent_ref, str) or not parent_ref.strip():
        file, line = lines[("extends",)]
        raise PlaybookError(
            "must name one playbook: a bundled name like 'default' or a path to a .yaml file",
            file,
            line,
            "extends",
        )
    try:
        parent, parent_lines, files = _read(parent_ref, base, [*chain, (identity, display)])
    except PlaybookError as exc:
        if exc.file:
            raise
        file, line = lines[("extends",)]
        raise PlaybookError(exc.message, file, line, "extends") from None
    merged, merged_lines = merge(parent, parent_lines, data, lines)
    return merged, merged_lines, [*files, display]


def merge(
    parent: dict[str, Any],
    parent_lines: Lines,
    child: dict[str, Any],
    child_lines: Lines,
) -> tuple[dict[str, Any], Lines]:
    """Maps merge key by key; a list or a value replaces the parent's whole; null deletes."""
    lines = dict(parent_lines)

    def drop(prefix: YamlPath) -> None:
        for path in [p for p in lines if p[: len(prefix)] == prefix and p != prefix]:
            del lines[path]

    def take(prefix: YamlPath) -> None:
        for path, where in child_lines.items():
            if path[: len(prefix)] == prefix:
                lines[path] = where

    def walk(base: dict[str, Any], over: dict[str, Any], at: YamlPath) -> dict[str, Any]:
        out = dict(base)
        for key, value in over.items():
            here = (*at, key)
            if value is None and key != "extends":
                out.pop(key, None)
                drop(here)
                lines.pop(here, None)
            elif isinstance(value, dict) and isinstance(out.get(key), dict):
                lines[here] = child_lines.get(here, lines.get(here, ("", 0)))
                out[key] = walk(out[key], value, here)
            else:
                drop(here)
                take(here)
                out[key] = value
        return out

    # The name and the extends line belong to the file that says them, never to its children.
    merged = walk({k: v for k, v in parent.items() if k not in ("playbook", "extends")}, child, ())
    merged.pop("extends", None)
    if () in child_lines:
        lines[()] = child_lines[()]
    for key in ("playbook", "extends"):
        if key not in merged:
            lines.pop((key,), None)
    return merged, lines


def load(ref: str | None = None) -> Playbook:
    """Load, merge, validate and check a playbook; raise PlaybookError(s) on any problem."""
    from salesplay.engine.lang.schema import (
        playbook_schema,  # the schema is assembled from the rule families
    )

    ref = ref or DEFAULT
    data, lines, files = _read(ref, None, [])
    content = json.dumps(data, sort_keys=True, default=str, ensure_ascii=False)
    playbook = Playbook(
        path=files[-1],
        data=data,
        lines=lines,
        files=files,
        content_hash=hashlib.sha256(content.encode()).hexdigest()[:16],
    )
    errors = schema_errors(playbook, playbook_schema())
    if errors:
        raise PlaybookErrors(errors)
    check(playbook)
    return playbook


def check(playbook: Playbook) -> None:
    """Semantic checks beyond the schema: time zone, metrics, then every rule family."""
    from salesplay.engine.sql.metrics import check_metrics
    from salesplay.rules import FAMILIES

    try:
        ZoneInfo(playbook.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        close = difflib.get_close_matches(playbook.timezone, sorted(available_timezones()), n=1)
        hint = f"did you mean '{close[0]}'?" if close else "use an IANA name like Asia/Shanghai"
        raise playbook.error(
            ("timezone",), f"unknown time zone '{playbook.timezone}' ({hint})"
        ) from None
    check_metrics(playbook)
    for family in FAMILIES:
        if playbook.section(family.section) is not None:
            family.check(playbook)
    from salesplay.engine.run.outbox import check_delivery
    from salesplay.engine.schedule.jobs import check_jobs

    check_jobs(playbook)
    check_delivery(playbook)


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


def schema_errors(playbook: Playbook, schema: dict[str, Any]) -> list[PlaybookError]:
    """Every schema problem, one PlaybookError each (the same line twice is reported once)."""
    validator = jsonschema.Draft202012Validator(schema)
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


def _translate(playbook: Playbook, error: jsonschema.ValidationError) -> list[PlaybookError]:
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
