"""How a file's own names are read as canonical columns and values: the import mapping.

One entry per record kind, in the playbook's `imports:` section, in salesplay.toml's
`[imports.KIND]` tables, or in a file given with `--map FILE.yaml`:

    imports:
      customers:
        columns: {客户名称: name, 门店数: outlets}    # source header -> canonical column
        values:                                       # canonical column -> {source: value}
          status: {合作中: active}
        constants: {org_unit_id: SH}                  # a column the file does not have
        date_format: "%d/%m/%Y"                       # strptime; the usual forms still read

Over the built-in names (names.py), the most specific wins, key by key: --map, then the
playbook, then salesplay.toml. Every entry is checked at its file and line before a row is
read: a column that is not one of the kind's, a value mapped onto one the column refuses.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from salesplay.engine.errors import PlaybookError, PlaybookErrors, RecordError, SalesplayError
from salesplay.engine.lang import schema
from salesplay.engine.lang.document import Document, YamlPath
from salesplay.engine.lang.yamlsafe import load_yaml
from salesplay.engine.store.convert import ascii_lower, converter
from salesplay.engine.store.names import HEADERS, WORDS
from salesplay.engine.store.records import KINDS, Column, Kind, kind_named

KEYS = ("columns", "values", "constants", "date_format")
_SCALAR = {"type": ["string", "number", "boolean"]}
ENTRY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "how one kind's files name columns and values",
    "properties": {
        "columns": {
            "type": "object",
            "description": "source header -> canonical column, e.g. 客户名称: name",
            "additionalProperties": {"type": "string"},
        },
        "values": {
            "type": "object",
            "description": "canonical column -> {source value: canonical value}, "
            "e.g. channel: {拜访: visit}",
            "additionalProperties": {"type": "object", "additionalProperties": _SCALAR},
        },
        "constants": {
            "type": "object",
            "description": "canonical column -> its value, for a column the files do not have",
            "additionalProperties": _SCALAR,
        },
        "date_format": {
            "type": "string",
            "minLength": 1,
            "description": "how the files write a date, in strptime directives, e.g. %d/%m/%Y",
        },
    },
    "additionalProperties": False,
}


def section_schema() -> dict[str, Any]:
    """The `imports:` section: one entry per record kind."""
    return {
        "type": "object",
        "description": "import mappings: how each kind's files name columns and values",
        "properties": {name: ENTRY_SCHEMA for name in KINDS},
        "additionalProperties": False,
    }


def _text(value: Any) -> str:
    """A YAML or TOML scalar as the text a cell would hold: true -> 'true', 1.50 -> '1.50'."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def _columns_of(kind: Kind, fields: Mapping[str, str]) -> dict[str, Column]:
    """What a mapping may name for this kind: its columns, and for customers the playbook's
    custom columns (`fields:`; those without a type to check are text)."""
    found = {c.name: c for c in kind.columns}
    if kind.extra_to_attrs:
        typed = {c.name: c for c in kind.with_fields(fields).fields}
        for name in fields:
            found.setdefault(name, typed.get(name) or Column(name, "text", header=False))
    return found


def check_entry(
    doc: Document, at: YamlPath, kind_name: str, fields: Mapping[str, str]
) -> list[PlaybookError]:
    """What the schema cannot say about one kind's entry (its shape already checked): every
    column named is the kind's, every value converts, the date format reads a day."""
    entry = _at(doc.data, at)
    kind = KINDS[kind_name]
    columns = _columns_of(kind, fields)
    utc = ZoneInfo("UTC")
    problems: list[PlaybookError] = []

    def column(path: YamlPath, name: str) -> Column | None:
        found = columns.get(name)
        if found is None:
            close = difflib.get_close_matches(name, list(columns), n=1)
            if close:
                hint = f" (did you mean '{close[0]}'?)"
            else:
                hint = f": its columns are {', '.join(columns)}"
                if kind.extra_to_attrs:
                    hint += " (a custom column is declared in the playbook's fields: first)"
            problems.append(doc.error(path, f"'{name}' is not a column of {kind_name}{hint}"))
        return found

    def converts(path: YamlPath, target: Column, value: Any) -> None:
        try:
            converter(target, utc)(_text(value))
        except ValueError as exc:  # without the hint to map words: this is the mapping
            problems.append(doc.error(path, str(exc).split(" (map other words")[0]))

    date_format = entry.get("date_format")
    for source, name in (entry.get("columns") or {}).items():
        column((*at, "columns", source), str(name))
    for name, words in (entry.get("values") or {}).items():
        target = column((*at, "values", name), name)
        if target is not None:
            for word, value in words.items():
                converts((*at, "values", name, word), target, value)
    own = {c.name for c in kind.columns}
    for name, value in (entry.get("constants") or {}).items():
        path = (*at, "constants", name)
        target = column(path, name)
        if target is not None and name not in own:
            problems.append(
                doc.error(path, f"constants are for the columns of {kind_name}, not '{name}'")
            )
        elif target is not None:
            converts(path, target, value)
    if date_format is not None:
        problem = _date_format_problem(str(date_format))
        if problem:
            problems.append(doc.error((*at, "date_format"), problem))
    return problems


def _date_format_problem(form: str) -> str | None:
    sample = datetime(2024, 7, 5)
    try:
        back = datetime.strptime(sample.strftime(form), form)
    except ValueError:
        back = None
    if back is None or back.date() != sample.date():
        return f"'{form}' is not a date format that reads a whole day: write e.g. %d/%m/%Y"
    return None


def _at(data: Any, path: YamlPath) -> Any:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return data or {}


def check_section(doc: Document, at: YamlPath, fields: Mapping[str, str]) -> None:
    """Every entry of an `imports:` section (at `at`, shape already checked): PlaybookErrors."""
    problems: list[PlaybookError] = []
    for kind_name in _at(doc.data, at):
        problems += check_entry(doc, (*at, kind_name), kind_name, fields)
    if problems:
        raise PlaybookErrors(problems)


def validated(doc: Document, at: YamlPath, fields: Mapping[str, str]) -> dict[str, Any]:
    """An `imports:` section at `at` in a document (salesplay.toml's), checked whole."""
    _check_shape(doc, at, section_schema())
    check_section(doc, at, fields)
    return dict(_at(doc.data, at))


def _check_shape(doc: Document, at: YamlPath, shape: dict[str, Any]) -> None:
    for part in reversed(at):
        shape = {"type": "object", "properties": {part: shape}}
    problems = schema.errors(doc, shape)
    if problems:
        raise PlaybookErrors(problems)


def read_file(path: Path, kind_name: str, fields: Mapping[str, str]) -> dict[str, Any]:
    """A --map file's entry for kind_name: the file is one kind's entry (columns:, values: …),
    or holds one entry per kind (customers:, activities: …). Problems are located in the file
    by their path in it."""
    try:
        text = path.read_text("utf-8-sig")
    except FileNotFoundError:
        raise SalesplayError(f"--map {path}: no such file") from None
    except UnicodeDecodeError:
        raise PlaybookError("not UTF-8 text: save the mapping as UTF-8", str(path), 1) from None
    data, raw_lines = load_yaml(text, str(path))
    data = data if data is not None else {}
    if not isinstance(data, dict):
        raise PlaybookError(
            "a mapping is a map: columns:, values:, constants:, date_format:", str(path), 1
        )
    # checked as the value of a key `map`, whose name is then taken out of every message
    lines = {("map", *p): (str(path), line) for p, line in raw_lines.items()}
    lines[()] = (str(path), 1)
    doc = Document(str(path), {"map": data}, lines, "")
    per_kind = bool(data) and all(k in KINDS for k in data)
    try:
        if per_kind:
            entries = validated(doc, ("map",), fields)
        else:
            _check_shape(doc, ("map",), ENTRY_SCHEMA)
            found = check_entry(doc, ("map",), kind_name, fields)
            if found:
                raise PlaybookErrors(found)
            return dict(data)
    except PlaybookErrors as exc:
        raise PlaybookErrors([_unwrapped(e) for e in exc.errors]) from None
    if kind_name not in entries:
        raise PlaybookError(
            f"no entry for {kind_name} (the file has {', '.join(entries)})", str(path), 1
        )
    return dict(entries[kind_name])


def _unwrapped(problem: PlaybookError) -> PlaybookError:
    """A --map file's problem at its path in the file (without the `map` it was checked at)."""
    path = problem.path.removeprefix("map").removeprefix(".")
    return PlaybookError(problem.message, problem.file, problem.line, path)


# ---- one kind's mapping in force --------------------------------------------------------------


@dataclass
class ImportMap:
    """One kind's mapping in force: the built-in names and the configured layers merged."""

    kind: Kind  # with the playbook's typed custom columns (Kind.fields)
    headers: dict[str, tuple[str, int]] = field(default_factory=dict)  # source -> (column, rank)
    spelled: dict[str, str] = field(default_factory=dict)  # source, lowered -> as written
    words: dict[str, dict[str, str]] = field(default_factory=dict)  # column -> {word: value}
    constants: dict[str, str] = field(default_factory=dict)  # column -> its text
    date_format: str | None = None

    @classmethod
    def build(
        cls,
        kind_name: str,
        layers: Sequence[Mapping[str, Any]] = (),
        fields: Mapping[str, str] | None = None,
    ) -> ImportMap:
        """The built-in names, then each layer (salesplay.toml, playbook, --map) over them."""
        kind = KINDS[kind_name].with_fields(fields or {})
        found = cls(kind)
        canonical = [c.name for c in kind.columns] + list(fields or {}) * kind.extra_to_attrs
        for column, names in HEADERS.get(kind_name, {}).items():
            for name in names:
                found.headers[ascii_lower(name)] = (column, RANK_BUILT_IN)
                found.spelled[ascii_lower(name)] = name
        for name in canonical:
            found.headers[ascii_lower(name)] = (name, RANK_CANONICAL)
        for column, table in WORDS.get(kind_name, {}).items():
            words = found.words.setdefault(column, {})
            for value, names in table.items():
                words.update({ascii_lower(name): value for name in names})
        for layer in layers:
            for source, column in (layer.get("columns") or {}).items():
                found.headers[ascii_lower(str(source).strip())] = (str(column), RANK_MAPPED)
                found.spelled[ascii_lower(str(source).strip())] = str(source).strip()
            for column, table in (layer.get("values") or {}).items():
                words = found.words.setdefault(column, {})
                words.update({ascii_lower(str(k).strip()): _text(v) for k, v in table.items()})
            for column, value in (layer.get("constants") or {}).items():
                found.constants[column] = _text(value)
            if layer.get("date_format"):
                found.date_format = str(layer["date_format"])
        return found

    def rename(self, header: Sequence[str], source: str) -> list[str]:
        """The header with each name the mapping knows read as its column. Two headers that
        would be one column: the more specific name wins (mapped, then canonical, then
        built-in), the other is left as it is; equally specific ones are an error."""
        targets: list[tuple[str, int] | None] = [
            self.headers.get(ascii_lower(h.strip())) if h else None for h in header
        ]
        best: dict[str, int] = {}
        for target in targets:
            if target is not None:
                best[target[0]] = min(best.get(target[0], target[1]), target[1])
        renamed: list[str] = []
        clashes: dict[str, list[str]] = {}
        for name, target in zip(header, targets, strict=True):
            if target is None or target[1] != best[target[0]]:
                renamed.append(name)
                continue
            clashes.setdefault(target[0], []).append(name)
            renamed.append(target[0])
        problems = [
            f"{source}:1: {', '.join(names)}: all would be the column {column}: keep one, or "
            "map the others to other columns with columns: in the import mapping"
            for column, names in clashes.items()
            if len(names) > 1
        ]
        if problems:
            raise RecordError(problems)
        return renamed

    def names_of(self, column: str) -> list[str]:
        """The headers read as this column, the canonical name first."""
        return [column] + [
            self.spelled.get(s, s)
            for s, (c, rank) in self.headers.items()
            if c == column and rank != RANK_CANONICAL and s != column
        ]

    def constants_for(self, header: Sequence[str]) -> dict[str, str]:
        """The constants of the columns this file does not have."""
        return {c: v for c, v in self.constants.items() if c not in header}


RANK_MAPPED, RANK_CANONICAL, RANK_BUILT_IN = 0, 1, 2


def in_force(
    kind_name: str, playbook: Document, project: Document | None, map_file: Path | None
) -> ImportMap:
    """The kind's mapping for an import: the built-in names, then salesplay.toml's
    `[imports.KIND]`, the playbook's `imports: KIND:` (checked when it was loaded) and the
    --map file over them; the playbook's typed custom columns (`fields:`) checked too."""
    kind_named(kind_name)
    fields = {str(k): str(v) for k, v in (playbook.section("fields") or {}).items()}
    layers: list[Mapping[str, Any]] = []
    if project is not None and project.data.get("imports"):
        layers.append(validated(project, ("imports",), fields).get(kind_name) or {})
    layers.append((playbook.section("imports") or {}).get(kind_name) or {})
    if map_file is not None:
        layers.append(read_file(map_file, kind_name, fields))
    return ImportMap.build(kind_name, layers, fields)


def ordinary(kind_name: str) -> ImportMap:
    """The mapping with nothing configured: the built-in names only."""
    return ImportMap.build(kind_name)
