"""`salesplay import KIND FILE`: CSV, JSON Lines or Excel, all or nothing.

This is the exact path: rows are parsed and converted in Python, staged in a temporary table,
checked set-based (references), then upserted by id with one INSERT … SELECT … ON CONFLICT. Any
bad row rejects the whole file with `FILE:LINE: column: reason` lines and leaves the database as
it was. A CSV file first tries the bulk path (fastload.py), which hands the raw text to the
database and converts it in SQL; whatever that path cannot vouch for (a bad row, a duplicate id)
comes back here, so every message is written by this module.
"""

from __future__ import annotations

import csv
import difflib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from salesplay.engine.errors import ExpressionError, RecordError, SalesplayError
from salesplay.engine.lang import periods
from salesplay.engine.store.db import upsert
from salesplay.engine.store.models import Customer, OwnerChange, table_of
from salesplay.engine.store.partitions import bucket_of
from salesplay.engine.store.records import KINDS, Column, Kind

BATCH = 5000
MAX_REPORTED = 1000  # a file with more bad rows than this is reported in part


@dataclass(frozen=True)
class RowProblem:
    """A row the reader could not turn into values (bad JSON, wrong number of CSV values)."""

    reason: str
    column: str = ""  # the column it concerns, when there is one


Row = dict[str, Any] | RowProblem


@dataclass
class ImportResult:
    kind: str
    rows: int
    inserted: int
    updated: int
    deleted: int = 0
    notes: list[str] = field(default_factory=list)


# ---- reading files --------------------------------------------------------------------------


def read_rows(path: Path) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    """(header, rows with their line numbers) from a .csv, .jsonl/.ndjson or .xlsx file."""
    suffix = path.suffix.lower()
    if not path.exists():
        raise SalesplayError(f"{path}: no such file")
    if suffix in (".csv", ".txt"):
        return _read_csv(path)
    if suffix in (".jsonl", ".ndjson", ".json"):
        return _read_jsonl(path)
    if suffix in (".xlsx", ".xlsm"):
        return _read_xlsx(path)
    raise SalesplayError(f"{path}: unknown file type '{suffix}': use .csv, .jsonl or .xlsx")


def _read_csv(path: Path) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    handle = path.open(encoding="utf-8-sig", newline="")  # utf-8-sig: Excel's BOM
    try:
        # strict: a quote left open is an error, not a value that swallows the rest of the file
        reader = csv.reader(handle, strict=True)
        header = [h.strip() for h in next(reader, [])]
    except UnicodeDecodeError:
        handle.close()
        raise SalesplayError(f"{path}:1: the file is not UTF-8: save it as 'CSV UTF-8'") from None
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
                raise RecordError(
                    [f"{path}:{reader.line_num + 1}: not UTF-8 text: save the file as 'CSV UTF-8'"]
                ) from None

    return header, rows()


def _read_jsonl(path: Path) -> tuple[list[str], Iterator[tuple[int, Row]]]:
    try:
        # split on \n only: str.splitlines() also breaks at U+2028, U+0085 … which JSON
        # strings may hold unescaped (json.dumps(ensure_ascii=False) writes them as they are)
        lines = path.read_text("utf-8-sig").split("\n")
    except UnicodeDecodeError:
        raise SalesplayError(f"{path}:1: the file is not UTF-8") from None
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


# ---- converting values ----------------------------------------------------------------------

TRUE = {"true", "1", "yes", "y", "t", "是", "真", "对"}
FALSE = {"false", "0", "no", "n", "f", "否", "假", "不是"}


def _text(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


# What Excel writes for a date or a time in a CSV: 2024/1/5, 2024/1/5 9:30, 2024-01-05 09:30:15
_LOOSE = re.compile(r"(\d{4})-(\d{1,2})-(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def _loose(text: str) -> datetime | None:
    """A local date (and time) without an offset; month, day and hour may have one digit."""
    found = _LOOSE.fullmatch(text)
    if not found:
        return None
    try:
        year, month, day, hour, minute, second = (int(part or 0) for part in found.groups())
        return datetime(year, month, day, hour, minute, second)
    except ValueError:  # 2024-02-30, 25:00
        return None


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    try:
        return date.fromisoformat(text[:10] if len(text) > 10 and text[10] in " T" else text)
    except ValueError:
        loose = _loose(text)
        if loose is None:
            raise ValueError(f"'{value}' is not a date (write YYYY-MM-DD)") from None
        return loose.date()


def _datetime(zone: ZoneInfo) -> Callable[[Any], datetime]:
    def convert(value: Any) -> datetime:
        if isinstance(value, datetime):
            moment = value
        elif isinstance(value, date):
            moment = datetime(value.year, value.month, value.day)
        else:
            text = str(value).strip().replace("/", "-")
            try:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                loose = _loose(text)
                if loose is None:
                    raise ValueError(
                        f"'{value}' is not a date and time (write YYYY-MM-DD HH:MM)"
                    ) from None
                moment = loose
        if moment.tzinfo is not None:  # an offset: convert to the playbook's local time
            moment = moment.astimezone(zone).replace(tzinfo=None)
        return moment

    return convert


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):  # JSON true is an int to Python, not a number to a user
        raise ValueError(f"'{value}' is not a number")
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    text = str(value).strip().replace(",", "").replace("，", "")
    try:
        result = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"'{value}' is not a number") from None
    if not result.is_finite():
        raise ValueError(f"'{value}' is not a number")
    return result


BIGGEST = 2**63 - 1  # a BIGINT column: larger values fail in the database, not as a row problem


def _hundredths(value: Any) -> int:
    amount = _decimal(value) * 100
    if amount != amount.to_integral_value():
        raise ValueError(f"'{value}' has more than 2 decimal places")
    if abs(amount) > BIGGEST:
        raise ValueError(f"'{value}' is too large")
    return int(amount)


def _target_value(value: Any) -> int:
    """A target's value in hundredths; a share may be written 90% (stored as 0.90)."""
    text = str(value).strip()
    if text.endswith("%") and not isinstance(value, (int, float, Decimal)):
        return _hundredths(_decimal(text[:-1]) / 100)
    return _hundredths(value)


def _period(value: Any) -> str:
    try:
        return periods.label(*periods.parse(str(value)))
    except ExpressionError as exc:
        raise ValueError(exc.message) from None


def _int(value: Any) -> int:
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"'{value}' is not a whole number")
    if abs(number) > BIGGEST:
        raise ValueError(f"'{value}' is too large")
    return int(number)


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise ValueError(f"'{value}' is not true or false")


def converter(column: Column, zone: ZoneInfo) -> Callable[[Any], Any]:
    base: Callable[[Any], Any] = {
        "text": _text,
        "date": _date,
        "datetime": _datetime(zone),
        "money": _hundredths,
        "decimal": _target_value,
        "period": _period,
        "int": _int,
        "number": lambda v: float(_decimal(v)),
        "bool": _bool,
    }[column.type]
    if not (column.choices or column.low is not None):
        return base

    def checked(value: Any) -> Any:
        result = base(value)
        if column.choices and result not in column.choices:
            raise ValueError(f"'{result}' is not one of {', '.join(column.choices)}")
        if column.low is not None and not (column.low <= result <= (column.high or result)):
            raise ValueError(f"'{_text(value)}' is outside {column.low:g}–{column.high:g}")
        return result

    return checked


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")


# ---- importing ------------------------------------------------------------------------------


def import_file(
    engine: Engine,
    kind_name: str,
    path: Path,
    full: bool = False,
    timezone_name: str = "Asia/Shanghai",
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Import one file of one record kind; raise RecordError (data untouched) on any bad row."""
    kind = _kind(kind_name)
    zone = ZoneInfo(timezone_name)
    if path.suffix.lower() in (".csv", ".txt") and path.exists():
        from salesplay.engine.store.fastload import (
            load_csv,  # fastload builds on this module's helpers
        )

        with engine.begin() as conn:
            result = load_csv(conn, kind, path, full, zone, progress)
            if result is not None:
                return result
    header, rows = read_rows(path)
    with engine.begin() as conn:
        return import_rows(conn, kind, header, rows, str(path), full, zone, progress)


def _kind(name: str) -> Kind:
    if name not in KINDS:
        close = difflib.get_close_matches(name, list(KINDS), n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        raise SalesplayError(f"KIND: unknown record kind '{name}'{hint}; one of {', '.join(KINDS)}")
    return KINDS[name]


def import_rows(
    conn: Connection,
    kind: Kind,
    header: list[str],
    rows: Iterator[tuple[int, Row]],
    source: str,
    full: bool,
    zone: ZoneInfo,
    progress: Callable[[int], None] | None = None,
) -> ImportResult:
    """Stage, check and upsert rows inside the caller's transaction.

    Every bad row is reported, value problems and unknown references alike, one line each in
    line order; the caller's transaction is then rolled back by the RecordError.
    """
    missing, notes = header_problems(kind, header, source)
    if missing:
        raise RecordError(missing)
    position = {c.name: i for i, c in enumerate(kind.columns)}
    problems: list[tuple[int, int, str]] = []  # (line, column position, text): sorted at the end

    def problem(line: int, column: str, reason: str) -> None:
        where = f"{column}: " if column else ""
        problems.append((line, position.get(column, -1), f"{source}:{line}: {where}{reason}"))

    stage = _staging_table(kind)
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage.name}")
    stage.create(conn)
    convert = RowConverter(kind, zone)
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
        problems.extend(_reference_problems(conn, kind, stage, source, position))
    if problems:
        texts = [text for _, _, text in sorted(problems, key=lambda p: (p[0], p[1]))]
        if len(texts) > MAX_REPORTED:
            texts = [
                *texts[:MAX_REPORTED],
                f"{source}: … more bad rows not listed: fix these and import again",
            ]
        raise RecordError(texts)
    result = _apply(conn, kind, stage, full, kept_columns(kind, header), is_empty(conn, kind))
    result.rows = count
    result.notes = notes
    conn.exec_driver_sql(f"DROP TABLE {stage.name}")
    return result


def header_problems(kind: Kind, header: list[str], source: str) -> tuple[list[str], list[str]]:
    """(one line per required column the header lacks, notes on the columns it ignores)."""
    known = {c.name for c in kind.columns}
    missing = [c.name for c in kind.columns if c.header and c.name not in header]
    notes: list[str] = []
    if not kind.extra_to_attrs:
        for name in (h for h in header if h and h not in known):
            close = difflib.get_close_matches(name, list(known), n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            notes.append(f"{source}:1: {name}: not a column of {kind.name}{hint}; ignored")
    return [f"{source}:1: {name}: missing column" for name in missing], notes


def kept_columns(kind: Kind, header: list[str]) -> set[str]:
    """Columns the file does not have: they keep their stored values when a row is updated."""
    keep = {c.column for c in kind.columns if not c.header and c.name not in header}
    known = {c.name for c in kind.columns}
    if kind.extra_to_attrs and not any(h and h not in known for h in header):
        keep.add("attrs")
    return keep


def is_empty(conn: Connection, kind: Kind) -> bool:
    """No row at all, deleted ones included: an import can then INSERT rather than upsert."""
    target = table_of(kind.model)
    return conn.execute(sa.select(sa.literal(1)).select_from(target).limit(1)).first() is None


class RowConverter:
    """One file row (header name -> value) to the staged record, with what is wrong with it.

    The same conversion serves both paths: every row here, and on the bulk path each row whose
    text is not already in canonical form.
    """

    def __init__(self, kind: Kind, zone: ZoneInfo) -> None:
        self.kind = kind
        self.known = {c.name for c in kind.columns}
        self.converters = [(c, converter(c, zone)) for c in kind.columns]

    def __call__(self, raw: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        kind = self.kind
        record: dict[str, Any] = {}
        problems: list[tuple[str, str]] = []  # (column, reason)
        for column, convert in self.converters:
            value = raw.get(column.name)
            if _blank(value):
                if column.value:
                    problems.append((column.name, "a value is required"))
                record[column.column] = column.default
                continue
            try:
                record[column.column] = convert(value)
            except ValueError as exc:
                problems.append((column.name, str(exc)))
                record[column.column] = None
        if kind.model is Customer and record.get("id") is not None:
            record["bucket"] = bucket_of(record["id"])  # partitions of a run, see partitions.py
        if kind.extra_to_attrs:
            known = self.known
            attrs = {k: _text(v) for k, v in raw.items() if k and k not in known and not _blank(v)}
            record["attrs"] = attrs or None
        if kind.name == "activities":  # every staged row has the same keys, bad ones too
            occurred = record.get("occurred_at")
            record["occurred_on"] = occurred.date() if occurred is not None else None
        if kind.name == "progress_notes":  # every staged row has the same keys, bad ones too
            record["period_start"], record["period_end"] = (
                periods.parse(record["period"]) if record.get("period") else (None, None)
            )
            if record.get("id") is None and all(
                record.get(k) for k in ("owner_type", "owner_id", "metric")
            ):
                record["id"] = ":".join(
                    str(record[k]) for k in ("owner_type", "owner_id", "metric", "period")
                )
        if kind.name == "targets":
            start, end = record.get("period_start"), record.get("period_end")
            if start and end and end < start:
                problems.append(("period_end", f"{end} is before period_start {start}"))
        return record, problems


def _staging_table(kind: Kind) -> sa.Table:
    target = table_of(kind.model)
    cols = [sa.Column("_line", sa.Integer())]
    for column in target.columns:
        if column.name == "deleted":
            continue
        # a missing JSON value is SQL NULL, not the JSON text 'null'
        kind_of: Any = column.type
        if isinstance(kind_of, sa.JSON):
            kind_of = sa.JSON(none_as_null=True)
        cols.append(sa.Column(column.name, kind_of))
    return sa.Table(f"staging_{kind.name}", sa.MetaData(), *cols, prefixes=["TEMPORARY"])


def _reference_problems(
    conn: Connection, kind: Kind, stage: sa.Table, source: str, position: dict[str, int]
) -> list[tuple[int, int, str]]:
    problems: list[tuple[int, int, str]] = []
    refs = [(c, c.ref) for c in kind.columns if c.ref]
    if kind.name == "targets":
        refs = [(c, "reps") for c in kind.columns if c.name == "owner_id"]
    for column, ref in refs:
        target = table_of(KINDS[ref].model)
        value = stage.c[column.column]
        exists = sa.exists().where(target.c.id == value)
        condition = [value.is_not(None), ~exists]
        if ref == kind.name:  # a row may point at another row of the same file
            other = stage.alias("other")
            condition.append(~sa.exists().where(other.c.id == value))
        if kind.name == "targets":
            org = table_of(KINDS["org_units"].model)
            is_rep = stage.c.owner_type == "rep"
            condition = [
                value.is_not(None),
                sa.or_(
                    sa.and_(is_rep, ~exists),
                    sa.and_(~is_rep, ~sa.exists().where(org.c.id == value)),
                ),
            ]
        for line, bad, owner_type in conn.execute(
            sa.select(
                stage.c._line,
                value,
                stage.c.owner_type if kind.name == "targets" else sa.literal(""),
            )
            .where(*condition)
            .order_by(stage.c._line)
        ):
            what = (owner_type or ref.rstrip("s")).replace("org_unit", "org unit")
            problems.append(
                (
                    line,
                    position[column.name],
                    f"{source}:{line}: {column.name}: unknown {what} '{bad}'",
                )
            )
    return problems


def _apply(
    conn: Connection,
    kind: Kind,
    stage: sa.Table | sa.Subquery,
    full: bool,
    keep: set[str],
    empty: bool = False,
) -> ImportResult:
    """Write the staged rows (a table, or the bulk path's converting subquery) into the kind's
    table. `empty`: the table has no row at all, so a plain INSERT does (a repeated id then
    fails on the primary key instead of updating the row it inserted a moment before)."""
    target = table_of(kind.model)
    names = [c.name for c in stage.columns if c.name != "_line"]
    total = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    rows = sa.select(*[stage.c[n] for n in names], sa.false()).where(sa.true())
    if empty:
        conn.execute(sa.insert(target).from_select([*names, "deleted"], rows))
        return ImportResult(kind.name, total, total, 0, 0)
    existing = conn.execute(
        sa.select(sa.func.count())
        .select_from(stage)
        .where(sa.exists().where(target.c.id == stage.c.id))
    ).scalar_one()
    if kind.model is Customer:
        _record_owner_changes(conn, stage)
        keep = keep | POOL_COLUMNS
    insert = upsert(target, conn.dialect.name).from_select([*names, "deleted"], rows)
    overrides = _pool_aware_owner(target, insert.excluded) if kind.model is Customer else {}
    conn.execute(
        insert.on_conflict_do_update(
            index_elements=["id"],
            set_={
                **{n: insert.excluded[n] for n in names if n != "id" and n not in keep},
                **overrides,
                "deleted": sa.false(),
            },
        )
    )
    deleted = 0
    if full:
        deleted = conn.execute(
            target.update()
            .where(target.c.deleted == sa.false(), ~sa.exists().where(stage.c.id == target.c.id))
            .values(deleted=True)
        ).rowcount
    return ImportResult(kind.name, total, total - existing, existing, deleted)


def _record_owner_changes(conn: Connection, stage: sa.Table | sa.Subquery) -> None:
    """The CRM is the source of truth for owners: record every owner it changes, with why."""
    c = table_of(Customer)
    now = datetime.now(UTC).replace(tzinfo=None)
    changed = sa.and_(
        sa.or_(
            sa.and_(c.c.owner_id.is_(None), stage.c.owner_id.is_not(None)),
            sa.and_(c.c.owner_id.is_not(None), stage.c.owner_id.is_(None)),
            c.c.owner_id != stage.c.owner_id,
        ),
        ~_stale_owner(c, stage.c.owner_id),
    )
    conn.execute(
        sa.insert(table_of(OwnerChange)).from_select(
            ["customer_id", "old_owner_id", "new_owner_id", "changed_at", "reason", "source"],
            sa.select(
                stage.c.id,
                c.c.owner_id,
                stage.c.owner_id,
                sa.literal(now, sa.DateTime()),
                sa.literal("owner changed in the CRM export"),
                sa.literal("import"),
            )
            .join(c, c.c.id == stage.c.id)
            .where(changed),
        )
    )


# Columns the shared-pool rules own: an import never overwrites them.
POOL_COLUMNS = {"pooled_on", "pooled_from", "crm_owner_id", "owner_seen", "owner_since"}


def _stale_owner(customers: Any, incoming: Any) -> Any:
    """The export still names the owner a rule took the customer from (or none): the CRM has
    not caught up with the pool, so the rule's decision stands. Any other owner is the CRM's
    deliberate new decision and wins (it takes the customer out of the pool)."""
    return sa.and_(
        customers.c.crm_owner_id.is_not(None),
        sa.or_(incoming.is_(None), incoming == customers.c.crm_owner_id),
    )


def _pool_aware_owner(customers: Any, excluded: Any) -> dict[str, Any]:
    stale = _stale_owner(customers, excluded.owner_id)
    return {
        "owner_id": sa.case((stale, customers.c.owner_id), else_=excluded.owner_id),
        "crm_owner_id": sa.case((stale, customers.c.crm_owner_id), else_=sa.null()),
    }
