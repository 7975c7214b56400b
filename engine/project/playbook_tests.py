"""`salesplay test`: a playbook's own tests, written in YAML beside it (`NAME.test.yaml`).

    playbook: medical.yaml            # relative to this file; default: the project's playbook
    tests:
      - name: 三甲医院直接评为 A 级
        as_of: 2024-07-05             # or a list of dates, evaluated in order
        records:                      # kind -> rows with the import's columns
          customers: [{id: C1, name: 协和医院, owner_id: R1, hospital_level: 三甲}]
        expect:
          grades: {C1: A}
          tasks: [{rule: follow_up, subject_id: C1}]
          no_alerts: [{rule: follow_up}]
          payouts: {R1: {total: 26000.00}}

A test file is read like a playbook (the strict YAML reader, a JSON Schema, every problem at
its FILE:LINE: path). Each test runs in a database of its own, in memory: its records go
through the real importer, the playbook is evaluated as of each date, and what was emitted is
compared with what the test expects. Nothing is written to disk, so the user's database is
never touched and a killed run leaves nothing behind.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.errors import (
    ExpressionError,
    PlaybookError,
    PlaybookErrors,
    RecordError,
    SalesplayError,
)
from salesplay.engine.lang import periods, schema
from salesplay.engine.lang.dates import parse_day
from salesplay.engine.lang.document import BUNDLED, Document, YamlPath, bundled_names
from salesplay.engine.lang.values import cents
from salesplay.engine.lang.yamlsafe import load_yaml, render_path
from salesplay.engine.present.queries import ALERT_COLUMNS, TASK_COLUMNS
from salesplay.engine.run.evaluate import evaluate
from salesplay.engine.run.family import Outcome, Outcomes, Playbook
from salesplay.engine.store import db
from salesplay.engine.store.importer import import_rows
from salesplay.engine.store.models import Alert, Grade, Task, table_of
from salesplay.engine.store.records import KINDS

SUFFIX = ".test.yaml"
Load = Callable[[str], Playbook]
Echo = Callable[[str], None]

# What a test may say about the emitted tasks and alerts: the keys of `salesplay tasks
# --format json` and `alerts --format json` (ids aside: they depend on the order of work),
# and whom an alert went to.
TASK_KEYS = [k for k in TASK_COLUMNS if k != "id"]
ALERT_KEYS = [k for k in ALERT_COLUMNS if k != "id"] + ["recipient_id"]
TEXT_KEYS = {"title", "message"}  # may be matched with {contains: …}

_SCALAR = {"type": ["string", "number", "boolean", "null"]}
_CONTAINS = {
    "type": "object",
    "properties": {"contains": {"type": "string", "minLength": 1}},
    "required": ["contains"],
    "additionalProperties": False,
}


def _items(keys: list[str]) -> dict[str, Any]:
    return {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                k: {"anyOf": [_SCALAR, _CONTAINS]} if k in TEXT_KEYS else _SCALAR for k in keys
            },
            "additionalProperties": False,
            "minProperties": 1,
        },
    }


_DAY = {"type": "string", "description": "a date, e.g. 2024-07-05"}
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "salesplay playbook tests",
    "type": "object",
    "properties": {
        "playbook": {"type": "string", "minLength": 1},
        "description": {"type": "string"},
        "tests": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 1},
                    "description": {"type": "string"},
                    "as_of": {"anyOf": [_DAY, {"type": "array", "items": _DAY, "minItems": 1}]},
                    "records": {
                        "type": "object",
                        "properties": {
                            kind: {
                                "type": "array",
                                "items": {"type": "object", "additionalProperties": _SCALAR},
                            }
                            for kind in KINDS
                        },
                        "additionalProperties": False,
                    },
                    "expect": {
                        "type": "object",
                        "properties": {
                            "grades": {"type": "object", "additionalProperties": _SCALAR},
                            "tasks": _items(TASK_KEYS),
                            "no_tasks": _items(TASK_KEYS),
                            "alerts": _items(ALERT_KEYS),
                            "no_alerts": _items(ALERT_KEYS),
                            "payouts": {
                                "type": "object",
                                "additionalProperties": {
                                    "type": "object",
                                    "properties": {
                                        "total": {"type": ["number", "string"]},
                                        "period": {"type": ["string", "integer"]},
                                    },
                                    "required": ["total"],
                                    "additionalProperties": False,
                                },
                            },
                        },
                        "additionalProperties": False,
                        "minProperties": 1,
                    },
                },
                "required": ["name", "as_of", "expect"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["tests"],
    "additionalProperties": False,
}


# ---- reading test files -----------------------------------------------------------------------


@dataclass
class Case:
    """One test of a file, read and checked: its dates, its records and what it expects."""

    index: int
    name: str
    days: list[date]
    records: dict[str, list[tuple[YamlPath, dict[str, Any]]]]
    expect: dict[str, Any]


@dataclass
class TestFile:
    """A test file: its text's document (for locating problems), the playbook it tests."""

    doc: Document
    playbook: str  # a path, or a bundled name
    cases: list[Case]

    @property
    def path(self) -> str:
        return self.doc.path

    def error(self, path: YamlPath, message: str) -> PlaybookError:
        return self.doc.error(path, message)


def shown_path(path: Path) -> str:
    """A path as messages name it: relative to the working directory when it lies below it."""
    relative = os.path.relpath(path)
    return path.as_posix() if relative.startswith("..") else Path(relative).as_posix()


def collect(paths: Sequence[Path]) -> list[Path]:
    """Every *.test.yaml file under the paths (a file given by name is taken as it is)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(
                p
                for p in path.rglob(f"*{SUFFIX}")
                if p.is_file() and not _skipped(p.relative_to(path).parts[:-1])
            )
        elif path.is_file():
            found.append(path)
        else:
            raise SalesplayError(f"{path}: no such file or folder")
    unique = list(dict.fromkeys(p.resolve() for p in found))
    if not unique:
        shown = ", ".join(str(p) for p in paths)
        raise SalesplayError(
            f"no playbook tests under {shown}: a test file is named NAME{SUFFIX} "
            "(see salesplay test --help)"
        )
    return unique


def _skipped(folders: tuple[str, ...]) -> bool:
    """Hidden folders and installed packages (a .venv inside the project holds the bundled
    playbooks' tests) are not the project's."""
    return any(f.startswith(".") or f in ("site-packages", "node_modules") for f in folders)


def default_folder(playbook: str) -> Path:
    """Where `salesplay test` looks when given no path: the folder of the playbook in force
    (the bundled playbooks' folder for a bundled one)."""
    if playbook in bundled_names() and not Path(playbook).suffix and "/" not in playbook:
        return Path(str(resources.files(BUNDLED)))
    return Path(playbook).resolve().parent


def read(path: Path, default_playbook: str) -> TestFile:
    """Parse and check one test file; every problem is a PlaybookError at its line."""
    display = shown_path(path)
    try:
        text = path.read_text("utf-8-sig")
    except UnicodeDecodeError:
        raise PlaybookError("not UTF-8 text: save the test file as UTF-8", display, 1) from None
    except OSError as exc:
        raise SalesplayError(f"cannot read {display}: {exc.strerror}") from None
    data, raw_lines = load_yaml(text, display)
    lines = {p: (display, line) for p, line in raw_lines.items()}
    lines.setdefault((), (display, 1))
    doc = Document(path=display, data=data, lines=lines, content_hash="")
    if not isinstance(data, dict):
        raise PlaybookError("a test file is a map: playbook: and tests:", display, 1)
    problems = schema.errors(doc, SCHEMA)
    if problems:
        raise PlaybookErrors(problems)
    playbook = default_playbook
    if "playbook" in data:
        beside = path.parent / str(data["playbook"])
        playbook = shown_path(beside) if beside.exists() else str(data["playbook"])
    found = TestFile(doc, playbook, [])
    problems = []
    names: dict[str, int] = {}
    for i, raw in enumerate(data["tests"]):
        try:
            found.cases.append(_case(found, i, raw))
        except PlaybookError as exc:
            problems.append(exc)
        name = str(raw["name"])
        if name in names:
            problems.append(
                found.error(
                    ("tests", i, "name"),
                    f"a second test named '{name}' (the first is on line {names[name]}): "
                    "give each test its own name",
                )
            )
        names.setdefault(name, found.doc.where(("tests", i, "name"))[1])
    if problems:
        raise PlaybookErrors(problems)
    return found


def _case(file: TestFile, i: int, raw: dict[str, Any]) -> Case:
    at: YamlPath = ("tests", i)
    given = raw["as_of"] if isinstance(raw["as_of"], list) else [raw["as_of"]]
    days: list[date] = []
    for j, text in enumerate(given):
        where = (*at, "as_of", j) if isinstance(raw["as_of"], list) else (*at, "as_of")
        try:
            day = parse_day(text)
        except ExpressionError as exc:
            raise file.error(where, exc.message) from None
        if days and day < days[-1]:
            raise file.error(
                where, f"{day} is before {days[-1]}: list the dates in the order they come"
            )
        days.append(day)
    records: dict[str, list[tuple[YamlPath, dict[str, Any]]]] = {}
    for kind, rows in (raw.get("records") or {}).items():
        known = {c.name for c in KINDS[kind].columns}
        for j, row in enumerate(rows):
            for column in row:
                if column not in known and not KINDS[kind].extra_to_attrs:
                    close = difflib.get_close_matches(column, sorted(known), n=1)
                    hint = f" (did you mean '{close[0]}'?)" if close else ""
                    raise file.error(
                        (*at, "records", kind, j, column),
                        f"not a column of {kind}{hint}",
                    )
            records.setdefault(kind, []).append(((*at, "records", kind, j), row))
    expect = raw["expect"]
    for owner, spec in (expect.get("payouts") or {}).items():
        where = (*at, "expect", "payouts", owner)
        try:
            cents(spec["total"])
        except ExpressionError as exc:
            raise file.error((*where, "total"), exc.message) from None
        if "period" in spec:
            try:
                periods.parse(str(spec["period"]))
            except ExpressionError as exc:
                raise file.error((*where, "period"), exc.message) from None
    return Case(i, str(raw["name"]), days, records, expect)


# ---- a scratch database per test ----------------------------------------------------------------


class Scratch:
    """Fresh SQLite databases in memory, one per test. The tables are made once (the
    migrations take a while) and copied into each new database with SQLite's backup API."""

    def __init__(self) -> None:
        self._template: Engine | None = None

    def new(self) -> Engine:
        if self._template is None:
            self._template = db.connect("sqlite://", note=lambda _line: None)
        engine = db.connect("sqlite://", create=False)
        source, target = self._template.raw_connection(), engine.raw_connection()
        try:
            source.driver_connection.backup(target.driver_connection)  # type: ignore[union-attr]
        finally:
            target.close()
            source.close()
        return engine

    def close(self) -> None:
        if self._template is not None:
            self._template.dispose()


def _cell(value: Any) -> str:
    """A YAML value as a cell of an import file: the importer then reads it as imports do."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _import(engine: Engine, file: TestFile, case: Case, zone: ZoneInfo) -> None:
    """The test's records through the real importer, kind by kind in the order imports need
    (org_units, reps, customers, then the rest); a bad value is an error at its line here."""
    for kind_name, kind in KINDS.items():
        rows = case.records.get(kind_name)
        if not rows:
            continue
        header = list(dict.fromkeys(k for _, row in rows for k in row))
        header += [c.name for c in kind.columns if c.header and c.name not in header]
        numbered = [
            (j + 1, {k: _cell(v) for k, v in row.items()}) for j, (_, row) in enumerate(rows)
        ]
        marker = f"\0{kind_name}"
        try:
            with engine.begin() as conn:
                import_rows(conn, kind, header, iter(numbered), marker, False, zone)
        except RecordError as exc:
            raise PlaybookErrors(
                [_record_problem(file, problem, marker, rows) for problem in exc.problems]
            ) from None


def _record_problem(
    file: TestFile, problem: str, marker: str, rows: list[tuple[YamlPath, dict[str, Any]]]
) -> PlaybookError:
    """`MARKER:N: column: reason` from the importer, as FILE:LINE: path: reason here."""
    head, _, rest = problem.partition(": ")
    number = head.removeprefix(f"{marker}:")
    if not number.isdigit() or not 1 <= int(number) <= len(rows):
        return PlaybookError(problem.replace(marker, file.path))
    path, row = rows[int(number) - 1]
    for column in row:
        if rest.startswith(f"{column}: "):
            return file.error((*path, column), rest[len(column) + 2 :])
    return file.error(path, rest)


# ---- what was emitted, and comparing --------------------------------------------------------


@dataclass
class Emitted:
    grades: dict[str, str]
    tasks: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    statements: list[dict[str, Any]]


def _emitted(engine: Engine, playbook: Playbook, last: date, wanted: dict[str, Any]) -> Emitted:
    g, t, a = table_of(Grade), table_of(Task), table_of(Alert)
    with engine.connect() as conn:
        grades = {
            r.customer_id: r.grade for r in conn.execute(sa.select(g.c.customer_id, g.c.grade))
        }
        tasks = [
            dict(r)
            for r in conn.execute(
                sa.select(*[t.c[k] for k in TASK_KEYS]).order_by(t.c.id)
            ).mappings()
        ]
        alerts = [
            dict(r)
            for r in conn.execute(
                sa.select(*[a.c[k] for k in ALERT_KEYS]).order_by(a.c.id)
            ).mappings()
        ]
    statements: list[dict[str, Any]] = []
    for owner, spec in wanted.items():
        span = periods.parse(str(spec["period"])) if "period" in spec else None
        query = span or (date(last.year, 1, 1), date(last.year, 12, 31))
        for found in _payouts(engine, playbook, query):
            if owner not in (found.get("rep_id"), found.get("org_unit_id")):
                continue
            first, final = periods.parse(found["period"])
            if span is None and not first <= last <= final:
                continue
            statements.append(found)
    return Emitted(grades, tasks, alerts, statements)


def _payouts(engine: Engine, playbook: Playbook, span: tuple[date, date]) -> list[dict[str, Any]]:
    """The statements lying within span, as `salesplay payouts --format json` reports them
    (the report is a family's command: the engine asks for it by name)."""
    for family in playbook.families:
        for command in family.commands:
            if command.name == "payouts":
                session = _Session(engine, playbook, span[1])
                label = periods.label(*span)
                return list(command.run(session, period=label, rep_id=None, fmt="json").rows)
    raise SalesplayError("expect.payouts: this playbook's rule families report no payouts")


@dataclass
class _Session:
    engine: Engine
    playbook: Playbook
    as_of: date


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def _agrees(key: str, expected: Any, actual: Any) -> bool:
    """One key of an expected item against an emitted one. A rule names itself or the rules
    under it (`pool` is pool.release and pool.release.manager); {contains: …} a part of a
    title or message; anything else compares as written."""
    if isinstance(expected, dict):
        return str(expected["contains"]) in str(actual or "")
    if key == "rule" and actual is not None:
        return actual == str(expected) or str(actual).startswith(f"{expected}.")
    return _text(expected) == _text(actual)


def _matches(expected: dict[str, Any], item: dict[str, Any]) -> bool:
    return all(_agrees(k, v, item.get(k)) for k, v in expected.items())


def _show_value(value: Any) -> str:
    if isinstance(value, dict):
        return f"{{contains: {value['contains']}}}"
    shown = _text(value)
    return "null" if shown is None else shown


def _show(item: dict[str, Any]) -> str:
    return "{" + ", ".join(f"{k}: {_show_value(v)}" for k, v in item.items()) + "}"


def _nearest(expected: dict[str, Any], items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The emitted item agreeing with the most of the expected keys (the earliest on a tie)."""
    if not items:
        return None
    return max(items, key=lambda item: sum(_agrees(k, v, item.get(k)) for k, v in expected.items()))


@dataclass
class Failure:
    """One expectation not met: where it is written, and what was emitted instead."""

    where: str  # FILE:LINE: path
    message: str
    details: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{self.where}: {self.message}", *[f"    {d}" for d in self.details]]


def compare(file: TestFile, case: Case, emitted: Emitted) -> list[Failure]:
    """Every expectation of the case against what was emitted."""
    at: YamlPath = ("tests", case.index, "expect")
    failures: list[Failure] = []

    def fail(path: YamlPath, message: str, details: list[str] | None = None) -> None:
        where, line = file.doc.where(path)
        failures.append(Failure(f"{where}:{line}: {render_path(path)}", message, details or []))

    for customer, grade in (case.expect.get("grades") or {}).items():
        got = emitted.grades.get(str(customer))
        if got is None:
            fail((*at, "grades", customer), f"expected {grade}, but {customer} has no grade")
        elif got != _text(grade):
            fail((*at, "grades", customer), f"expected {grade}, emitted {got}")
    for key, noun, items in (
        ("tasks", "task", emitted.tasks),
        ("alerts", "alert", emitted.alerts),
    ):
        for j, expected in enumerate(case.expect.get(key) or []):
            if any(_matches(expected, item) for item in items):
                continue
            nearest = _nearest(expected, items)
            details = [f"expected: {_show(expected)}"]
            if nearest is None:
                details.append(f"emitted:  no {noun} at all")
            else:
                details.append(f"nearest:  {_show(nearest)}")
                details += [
                    f"{k}: expected {_show_value(v)}, emitted {_show_value(nearest.get(k))}"
                    for k, v in expected.items()
                    if not _agrees(k, v, nearest.get(k))
                ]
            fail((*at, key, j), f"no emitted {noun} matches", details)
        for j, unwanted in enumerate(case.expect.get(f"no_{key}") or []):
            hits = [item for item in items if _matches(unwanted, item)]
            if hits:
                details = [f"expected none like: {_show(unwanted)}"]
                details += [f"emitted:  {_show(item)}" for item in hits[:3]]
                if len(hits) > 3:
                    details.append(f"… and {len(hits) - 3} more")
                fail((*at, f"no_{key}", j), f"{len(hits)} emitted {noun}(s) match", details)
    for owner, spec in (case.expect.get("payouts") or {}).items():
        mine = [
            s
            for s in emitted.statements
            if owner in (s.get("rep_id"), s.get("org_unit_id"))
            and ("period" not in spec or _within(s["period"], str(spec["period"])))
        ]
        total = sum((Decimal(str(s["total"])) for s in mine), Decimal(0))
        expected = Decimal(cents(spec["total"])) / 100
        if total != expected:
            details = [
                f"{s['period']} ({s['status']}): {s['total']} = "
                + " + ".join(f"{line['rule']} {line['amount']}" for line in s["lines"])
                for s in mine
            ] or ["no statement"]
            fail((*at, "payouts", owner, "total"), f"expected {expected}, emitted {total}", details)
    return failures


def _within(label: str, period: str) -> bool:
    return periods.within(periods.parse(label), periods.parse(period))


# ---- running --------------------------------------------------------------------------------


@dataclass
class Summary:
    passed: int = 0
    failed: int = 0
    # per playbook tested (its display path): every outcome, reached by some test or not
    coverage: dict[str, dict[YamlPath, Outcome]] = field(default_factory=dict)
    books: dict[str, Playbook] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed else 0


def run_case(
    scratch: Scratch, file: TestFile, case: Case, playbook: Playbook, coverage: bool
) -> tuple[list[Failure], list[Outcome]]:
    """One test in a fresh database: import, evaluate as of each date, compare."""
    engine = scratch.new()
    try:
        _import(engine, file, case, ZoneInfo(playbook.timezone))
        for day in case.days:
            evaluate(engine, playbook, day)
        emitted = _emitted(engine, playbook, case.days[-1], case.expect.get("payouts") or {})
        failures = compare(file, case, emitted)
        outcomes: list[Outcome] = []
        if coverage:
            with engine.connect() as conn:
                for family in playbook.families:
                    if isinstance(family, Outcomes) and playbook.section(family.section):
                        outcomes += family.outcomes(playbook, conn)
        return failures, outcomes
    finally:
        engine.dispose()


def run(
    paths: Sequence[Path],
    default_playbook: str,
    load: Load,
    echo: Echo,
    coverage: bool = False,
) -> Summary:
    """Run every test of every *.test.yaml file under paths, printing a line per test, then
    each failure, `N passed, N failed` and (with coverage) what no test reached.

    Every file is read and checked before any test runs: a wrong test file (or a playbook that
    does not load) raises a located error and nothing runs."""
    files = [read(path, default_playbook) for path in collect(paths)]
    books: dict[str, Playbook] = {}
    for file in files:
        if file.playbook not in books:
            try:
                books[file.playbook] = load(file.playbook)
            except PlaybookError as exc:
                if exc.file:
                    raise
                raise file.error(("playbook",), exc.message) from None
    summary = Summary()
    failed: list[tuple[str, list[Failure]]] = []
    scratch = Scratch()
    try:
        for file in files:
            book = books[file.playbook]
            summary.books[book.path] = book
            reached = summary.coverage.setdefault(book.path, {})
            for case in file.cases:
                failures, outcomes = run_case(scratch, file, case, book, coverage)
                for outcome in outcomes:
                    before = reached.get(outcome.path)
                    if before is None or (outcome.reached and not before.reached):
                        reached[outcome.path] = outcome
                status = "FAILED" if failures else "PASSED"
                echo(f"{file.path}::{case.name} {status}")
                if failures:
                    summary.failed += 1
                    failed.append((f"{file.path}::{case.name}", failures))
                else:
                    summary.passed += 1
    finally:
        scratch.close()
    for title, failures in failed:
        echo("")
        echo(f"____ {title} ____")
        for failure in failures:
            for line in failure.lines():
                echo(line)
    echo("")
    echo(f"{summary.passed} passed, {summary.failed} failed")
    if coverage:
        for line in coverage_lines(summary):
            echo(line)
    return summary


def coverage_lines(summary: Summary) -> Iterator[str]:
    """Per playbook: what no test reached, each at the line of the playbook that says it."""
    for shown, outcomes in summary.coverage.items():
        book = summary.books[shown]
        missing = [o for o in outcomes.values() if not o.reached]
        yield ""
        if not missing:
            yield f"coverage of {shown}: every one of {len(outcomes)} outcomes is reached"
            continue
        yield (
            f"coverage of {shown}: {len(outcomes) - len(missing)} of {len(outcomes)} reached; "
            "no test reaches:"
        )
        for outcome in missing:
            where, line = book.where(outcome.path)
            yield f"  {where}:{line}: {render_path(outcome.path)}: {outcome.label}"
