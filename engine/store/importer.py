"""`salesplay import KIND FILE`: CSV, JSON Lines or Excel, all or nothing.

This is the exact path: rows are parsed and converted in Python (convert.py), staged, checked
and upserted by id (staging.py). Any bad row rejects the whole file with `FILE:LINE: column:
reason` lines and leaves the database as it was. A CSV file first tries the bulk path
(fastload.py), which hands the raw text to the database and converts it in SQL; whatever that
path cannot vouch for (a bad row, a duplicate id) comes back here, so every message is written
by this module. A good file that comes back says why in a note (`FILE: imported row by row, not
in bulk: line 7: …`); a bad one needs none, its errors name every bad row.

Both paths read a file through the same two things: its text format (textfile.py: UTF-8,
GB18030 or UTF-16, commas or tabs) and the kind's import mapping (mapping.py: the file's own
names for columns and values, the built-in ones and the configured ones). A dry run is either
path in a transaction that is rolled back, counting what it would have done.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import RecordError, SalesplayError
from salesplay.engine.store import textfile
from salesplay.engine.store.convert import RowConverter
from salesplay.engine.store.fastload import Declined, load_csv, takes
from salesplay.engine.store.mapping import ImportMap
from salesplay.engine.store.records import Kind, kind_named
from salesplay.engine.store.staging import (
    ImportResult,
    apply,
    header_problems,
    is_empty,
    kept_columns,
    reference_problems,
    staging_table,
)
from salesplay.engine.store.textfile import TextFormat

BATCH = 5000
MAX_REPORTED = 1000  # a file with more bad rows than this is reported in part


@dataclass(frozen=True)
class RowProblem:
    """A row the reader could not turn into values (bad JSON, wrong number of CSV values)."""

    reason: str
    column: str = ""  # the column it concerns, when there is one


Row = dict[str, Any] | RowProblem


# ---- reading files ----------------------------------------------------------------------------


def read_rows(
    path: Path, form: TextFormat | None = None
) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    """(header, rows with their line numbers) from a .csv/.txt/.tsv, .jsonl/.ndjson or .xlsx
    file. `form`: a text file's encoding and separator (default: found from the file)."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise SalesplayError(f"{path}: no such file")
    if suffix in TEXT_SUFFIXES:
        return _read_csv(path, form or textfile.sniff(path))
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path, form or textfile.UTF8)
    if suffix in (".xlsx", ".xlsm"):
        if form is not None and form.named:
            raise SalesplayError(
                f"--encoding {form.named}: {path.name} is a workbook, which has no encoding: "
                "leave the option out"
            )
        return _read_xlsx(path)
    raise SalesplayError(f"{path}: unknown file type '{suffix}': use .csv, .jsonl or .xlsx")


TEXT_SUFFIXES = (".csv", ".txt", ".tsv")


def _read_csv(path: Path, form: TextFormat) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    handle = form.open(path)
    try:
        reader = form.reader(handle)
        header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
    except UnicodeDecodeError:
        handle.close()
        if not form.sure:
            raise textfile.Misread() from None
        raise SalesplayError(textfile.undecodable(path, form)) from None
    except csv.Error as exc:
        handle.close()
        raise SalesplayError(f"{path}:1: not valid CSV: {exc}") from None

    def rows() -> Iterator[tuple[int, Row]]:
        with handle:
            ended = reader.line_num  # the physical line the previous record ended on
            try:
                for values in reader:
                    line, ended = ended + 1, reader.line_num  # a quoted value may span lines
                    if not any(v.strip() for v in values):
                        continue
                    if len(values) > len(header) and any(v.strip() for v in values[len(header) :]):
                        yield (
                            line,
                            RowProblem(
                                f"row has {len(values)} values but the header has "
                                f"{len(header)} columns"
                            ),
                        )
                    elif len(values) < len(header):
                        absent = next((h for h in header[len(values) :] if h), "")
                        yield (
                            line,
                            RowProblem(
                                f"missing column (the row has {len(values)} "
                                f"values, the header {len(header)})",
                                absent,
                            ),
                        )
                    else:
                        yield line, dict(zip(header, values, strict=False))
            except csv.Error as exc:  # the reader cannot go on: report it with the rows before
                yield ended + 1, RowProblem(f"not valid CSV: {exc}")
            except UnicodeDecodeError:
                if not form.sure:
                    raise textfile.Misread() from None
                raise RecordError([textfile.undecodable(path, form)]) from None

    return header, rows()


def _read_jsonl(path: Path, form: TextFormat) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    try:
        # split on \n only: str.splitlines() also breaks at U+2028, U+0085 … which JSON
        # strings may hold unescaped (json.dumps(ensure_ascii=False) writes them as they are)
        lines = path.read_text(form.encoding).split("\n")
    except UnicodeDecodeError:
        if form.named:
            raise SalesplayError(textfile.undecodable(path, form)) from None
        raise SalesplayError(
            f"{textfile.undecodable(path, form).split(': not ')[0]}: not UTF-8 text: save the "
            "file as UTF-8, or name its encoding with --encoding NAME"
        ) from None
    parsed: list[tuple[int, Row]] = []
    header: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            parsed.append((number, RowProblem(f"not valid JSON: {exc.msg}")))
            continue
        if not isinstance(obj, dict):
            parsed.append((number, RowProblem("each line must be a JSON object")))
            continue
        header.update(dict.fromkeys(obj))
        parsed.append((number, obj))
    return list(header), iter(parsed)


def _read_xlsx(path: Path) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a damaged file
        raise SalesplayError(f"{path}: cannot read the workbook: {exc}") from None
    sheet = book.worksheets[0]
    # read-only mode trusts the sheet's stored dimension, which some writers get wrong (A1):
    # forget it, so that every row in the file is read
    sheet.reset_dimensions()
    values = sheet.iter_rows(values_only=True)
    first = next(values, ())
    header = [str(h).strip() if h is not None else "" for h in first]

    def rows() -> Iterator[tuple[int, Row]]:
        for number, row in enumerate(values, start=2):
            if all(v is None or str(v).strip() == "" for v in row):
                continue
            yield number, dict(zip(header, row, strict=False))
        book.close()

    return header, rows()


# ---- importing ------------------------------------------------------------------------------


def import_file(
    engine: Engine,
    kind_name: str,
    path: Path,
    full: bool = False,
    timezone_name: str = "Asia/Shanghai",
    progress: Callable[[int], None] | None = None,
    *,
    encoding: str | None = None,
    mapping: ImportMap | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Import one file of one record kind; raise RecordError (data untouched) on any bad row.

    `encoding`: a text file's encoding, as --encoding names it (default: found from the file);
    `mapping`: the kind's import mapping in force (default: the built-in names only);
    `dry_run`: check and count everything, then roll back: nothing is written."""
    kind_named(kind_name)
    mapping = mapping or ImportMap.build(kind_name)
    zone = ZoneInfo(timezone_name)
    if not path.exists():
        raise SalesplayError(f"{path}: no such file")
    text = path.suffix.lower() in TEXT_SUFFIXES
    form = textfile.sniff(path, encoding) if text else textfile.given(encoding)
    try:
        return _import(engine, mapping, path, form, full, zone, progress, dry_run)
    except textfile.Misread:  # the first block's guess was wrong: read all of it to know
        form = textfile.settle(path)
        return _import(engine, mapping, path, form, full, zone, progress, dry_run)


def _import(
    engine: Engine,
    mapping: ImportMap,
    path: Path,
    form: TextFormat | None,
    full: bool,
    zone: ZoneInfo,
    progress: Callable[[int], None] | None,
    dry_run: bool,
) -> ImportResult:
    kind = mapping.kind
    declined: Declined | None = None
    if path.suffix.lower() in TEXT_SUFFIXES and form is not None and takes(kind):
        with _transaction(engine, dry_run) as conn:
            loaded = load_csv(
                conn, kind, path, full, zone, progress, form=form, mapping=mapping, compare=dry_run
            )
        if not isinstance(loaded, Declined):
            return loaded
        declined = loaded
    header, rows = read_rows(path, form)
    with _transaction(engine, dry_run) as conn:
        result = import_rows(
            conn, kind, header, rows, str(path), full, zone, progress, mapping, compare=dry_run
        )
    if declined is not None:  # only a good file gets here: a bad one raised RecordError
        result.notes.append(f"{path}: imported row by row, not in bulk: {declined.reason}")
    return result


@contextmanager
def _transaction(engine: Engine, dry_run: bool) -> Iterator[Connection]:
    """One all-or-nothing transaction; a dry run's is rolled back however it ends."""
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            yield conn
        except BaseException:
            transaction.rollback()
            raise
        if dry_run:
            transaction.rollback()
        else:
            transaction.commit()


def import_rows(
    conn: Connection,
    kind: Kind,
    header: list[str],
    rows: Iterator[tuple[int, Row]],
    source: str,
    full: bool,
    zone: ZoneInfo,
    progress: Callable[[int], None] | None = None,
    mapping: ImportMap | None = None,
    compare: bool = False,
) -> ImportResult:
    """Stage, check and upsert rows inside the caller's transaction.

    Every bad row is reported, value problems and unknown references alike, one line each in
    line order; the caller's transaction is then rolled back by the RecordError. The header
    and values are read through the kind's import mapping (default: the built-in names);
    `compare`: count the rows left unchanged (a dry run; see staging.apply).
    """
    mapping = mapping or ImportMap.build(kind.name)
    kind = mapping.kind
    named = mapping.rename(header, source)
    constants = mapping.constants_for(named)
    columns = [*named, *constants]
    missing, notes = header_problems(kind, columns, source, header, mapping.names_of)
    if missing:
        raise RecordError(missing)
    if named != header:
        rows = _renamed(rows, dict(zip(header, named, strict=True)))
    position = {c.name: i for i, c in enumerate((*kind.columns, *kind.fields))}
    problems: list[tuple[int, int, str]] = []  # (line, column position, text): sorted at the end

    def problem(line: int, column: str, reason: str) -> None:
        where = f"{column}: " if column else ""
        problems.append((line, position.get(column, -1), f"{source}:{line}: {where}{reason}"))

    stage = staging_table(kind)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage.name}")
    stage.create(conn)
    convert = RowConverter(kind, zone, mapping.words, mapping.date_format, constants)
    seen: dict[str, int] = {}
    batch: list[dict[str, Any]] = []
    count = 0
    for line, raw in rows:
        count += 1
        if isinstance(raw, RowProblem):
            problem(line, raw.column, raw.reason)
            continue
        record, bad = convert(raw)
        record["_line"] = line
        for column, reason in bad:
            problem(line, column, reason)
        rid = record.get("id")
        if rid is not None:
            if rid in seen:
                problem(line, "id", f"'{rid}' appears twice (first on line {seen[rid]})")
            else:
                seen[rid] = line
        batch.append(record)
        if len(batch) >= BATCH:
            conn.execute(stage.insert(), batch)  # staged even when bad: references are checked
            batch = []
            if progress:
                progress(count)
        if len(problems) > MAX_REPORTED:
            break
    if batch:
        conn.execute(stage.insert(), batch)
    if len(problems) <= MAX_REPORTED:
        problems.extend(reference_problems(conn, kind, stage, source, position))
    if problems:
        texts = [text for _, _, text in sorted(problems, key=lambda p: (p[0], p[1]))]
        if len(texts) > MAX_REPORTED:
            texts = [
                *texts[:MAX_REPORTED],
                f"{source}: … more bad rows not listed: fix these and import again",
            ]
        raise RecordError(texts)
    empty = is_empty(conn, kind)
    result = apply(conn, kind, stage, full, kept_columns(kind, columns), empty, compare=compare)
    result.rows = count
    result.notes = notes
    conn.exec_driver_sql(f"DROP TABLE {stage.name}")
    return result


def _renamed(rows: Iterator[tuple[int, Row]], names: dict[str, str]) -> Iterator[tuple[int, Row]]:
    """The rows with each header name read as the mapping names it."""
    for line, raw in rows:
        if isinstance(raw, RowProblem):
            yield line, RowProblem(raw.reason, names.get(raw.column, raw.column))
        else:
            yield line, {names.get(k, k): v for k, v in raw.items()}
