"""Loading a playbook, in phases, for a given list of rule families:

    1. parse      strict YAML, every value's line kept          (lang/yamlsafe.py)
    2. extends    merged over the playbooks it extends           (lang/document.py)
    3. schema     validated against the schema assembled from the families' fragments, the
                  jobs', the delivery's and the import mappings' (lang/schema.py)
    4. checks     time zone, metrics, each family's own checks, jobs, delivery, imports

Each phase sees only what the ones before it produced; this module, above every layer, is the
one place that knows all of them. Every problem is a located PlaybookError (or several at once).

    from salesplay.rules import FAMILIES
    playbook = load("playbooks/fmcg.yaml", FAMILIES)

lint() then looks at a valid playbook for what it allows but its author almost surely did not
mean: each finding is located like an error, and none stops the playbook from running.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from salesplay.engine.delivery import config as delivery
from salesplay.engine.errors import PlaybookError, PlaybookErrors
from salesplay.engine.lang import document, schema
from salesplay.engine.lang.templates import lookalikes
from salesplay.engine.run.family import Lints, Playbook, RuleFamily
from salesplay.engine.schedule import jobs
from salesplay.engine.sql import metrics
from salesplay.engine.sql.metrics import check_metrics
from salesplay.engine.store import mapping


def playbook_schema(families: Sequence[RuleFamily]) -> dict[str, Any]:
    """The whole schema: what `salesplay schema` prints and editors validate against."""
    sections: dict[str, dict[str, Any]] = {f.section: dict(f.schema) for f in families}
    sections["jobs"] = jobs.SCHEMA
    sections["delivery"] = delivery.schema()
    sections["imports"] = mapping.section_schema()
    return schema.assemble(sections)


def schema_json(families: Sequence[RuleFamily]) -> str:
    return schema.as_json(playbook_schema(families))


def load(ref: str | None, families: Sequence[RuleFamily]) -> Playbook:
    """Read, merge, validate and check a playbook (default: the bundled `default`)."""
    read = document.read(ref)
    problems = schema.errors(read, playbook_schema(families))
    if problems:
        raise PlaybookErrors(problems)
    playbook = Playbook(
        path=read.path,
        data=read.data,
        lines=read.lines,
        content_hash=read.content_hash,
        files=read.files,
        origin=read.origin,
        families=tuple(families),
    )
    check(playbook)
    return playbook


def check(playbook: Playbook) -> None:
    """What the schema cannot say, each part by its owner."""
    playbook.check_timezone()
    check_metrics(playbook)
    for family in playbook.families:
        if playbook.section(family.section) is not None:
            family.check(playbook)
    jobs.check_jobs(playbook)
    delivery.check(playbook)
    if playbook.section("imports"):
        mapping.check_section(playbook, ("imports",), playbook.section("fields") or {})


def lint(playbook: Playbook) -> list[PlaybookError]:
    """Findings in a valid playbook, in file and line order: metrics nothing uses, values a
    record field never holds, placeholders that print as written, and each family's own
    (a grade that can never match, a warning that can never fire)."""
    found = [*metrics.unused(playbook), *metrics.unknown_values(playbook)]
    found += _lookalike_placeholders(playbook, playbook.data, ())
    for family in playbook.families:
        if playbook.section(family.section) is not None and isinstance(family, Lints):
            found += family.lint(playbook)
    return sorted(found, key=lambda e: (e.file, e.line, e.path, e.message))


def _lookalike_placeholders(
    playbook: Playbook, value: Any, path: document.YamlPath
) -> list[PlaybookError]:
    if isinstance(value, str):
        return [
            playbook.error(
                path,
                f"{text} prints as it stands: a placeholder is written in plain braces, "
                f"{{{text.strip('{}｛｝ ')}}}",
            )
            for text in lookalikes(value)
        ]
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = [(k, v) for k, v in value.items() if k != "description"]
    elif isinstance(value, list):
        items = list(enumerate(value))
    return [f for key, item in items for f in _lookalike_placeholders(playbook, item, (*path, key))]
