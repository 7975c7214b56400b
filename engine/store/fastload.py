"""The bulk path of `salesplay import KIND FILE.csv`: the CSV text goes to the database as it
is read, and is checked and converted there.

The exact path (importer.py) converts every value in Python; at a million rows that is most of
the time. Here no Python runs per value:

- SQLite: one INSERT … VALUES, run by the driver's executemany straight from csv.reader. Each
  value is `CASE WHEN <text is canonical> THEN <its value, in SQL> ELSE salesplay_fix(…) END`:
  canonical text (2024-01-05, 1200.50, true, a listed choice, inside the range …) is converted
  by SQLite; anything else ('2024/1/5', '1,200.50', '是', ' C3 ') by salesplay_fix(), a Python
  function running the exact path's own converter, which SQLite calls for those cells only.
- PostgreSQL: COPY into a temporary text table; one scan finds the rows not all canonical, the
  exact path's RowConverter converts them and they are written back canonical; one INSERT …
  SELECT converts the text to values.

Money becomes cents by reading its digits as an integer, never through a binary float. Into an
empty table it is a plain INSERT, its secondary indexes built afterwards; otherwise the rows
are staged and the exact path's upsert (owner changes, counts, --full) writes them.
References are checked set-based afterwards, one anti-join per column.

Whatever this path cannot vouch for it does not decide: a value that does not convert, a
repeated id, an unknown reference, a row with a value count unlike the header's … rolls back to
a savepoint and returns Declined with the reason, and the caller imports the file on the exact
path, which writes every message (and, when the file is good, a note with that reason). A good
file ends exactly as the exact path would leave it; a bad one is reported exactly as before
(only later). A kind with a period column (progress notes) never comes here: see takes().
"""

from __future__ import annotations

import csv
import io
import itertools
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.errors import RecordError
from salesplay.engine.store import dialects, textfile
from salesplay.engine.store.convert import (
    BIGGEST,
    FORMULA_START,
    RowConverter,
    ascii_lower,
    blank,
    converter,
    unguard_formula,
)
from salesplay.engine.store.mapping import ImportMap
from salesplay.engine.store.models import Customer, table_of
from salesplay.engine.store.partitions import bucket_of
from salesplay.engine.store.records import KINDS, Column, Kind
from salesplay.engine.store.staging import (
    ImportResult,
    apply,
    header_problems,
    is_empty,
    kept_columns,
    staging_table,
)
from salesplay.engine.store.textfile import TextFormat

CHUNK = 50_000  # rows staged per executemany / COPY write, and per progress report
FIX_LIMIT = 50_000  # more rows than this not in canonical form: the exact path is as quick
SCAN_BLOCK = 1 << 22  # characters edges_clean() reads at a time
MAX_ATTRS = 40  # custom columns one json_object() call may take (SQLite allows 127 arguments)

# what str.strip() removes (every character with str.isspace(); a test holds this to that):
# SQL trim()s with this set remove exactly the same characters
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004"
    "\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SPACE = "[" + re.escape(WHITESPACE.replace("\r", "").replace("\n", "")) + "]"
# a field starts after a comma, a line break or an opening quote, and ends before one: find
# whitespace with one of those on either side (whitespace first: it is the rarer character)
_EDGE = re.compile(f'{_SPACE}(?:(?<=[,"\r\n]{_SPACE})|(?=[,"\r\n]))')
# a quoted value that starts or ends with a line break
_BREAK = re.compile('[,\r\n]"[\r\n]|[\r\n]"[,\r\n]')
# a value that starts with ' (maybe the quote before a formula-like text: see convert.py)
_QUOTE_FIRST = re.compile("'(?:(?<=[,\r\n]')|(?<=[,\r\n]\"'))")
TRUE_TEXT = ("true", "TRUE", "True", "1")
FALSE_TEXT = ("false", "FALSE", "False", "0")
_POW10 = " ".join(f"WHEN {k} THEN {10**k}.0" for k in range(15))  # exact doubles


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _one_of(v: str, values: Iterable[str]) -> str:
    # ORs, not IN (…): SQLite builds IN's lookup table again on every execution of a statement,
    # and executemany executes the INSERT once a row
    return "(" + " OR ".join(f"{v} = {_quote(x)}" for x in values) + ")"


def _not_space(code: str) -> str:
    """SQL: the character code is not whitespace (NULL when it is NULL)."""
    ranges: list[tuple[int, int]] = []
    for c in sorted(ord(c) for c in WHITESPACE):
        if ranges and ranges[-1][1] == c - 1:
            ranges[-1] = (ranges[-1][0], c)
        else:
            ranges.append((c, c))
    tests = [f"{code} = {a}" if a == b else f"{code} BETWEEN {a} AND {b}" for a, b in ranges]
    return f"NOT ({' OR '.join(tests)})"


def edges_clean(path: Path, form: TextFormat = textfile.UTF8) -> bool:
    """Can no value in this CSV file start or end with whitespace, nor start with a quote `'`?
    Then no text needs trimming or unquoting, and no cell needs the (costly) test. Looks at the
    text around every comma, line break and quote, so a "yes" is certain; a comma followed by
    a space inside a quoted value makes a "no" that only costs time. A file separated by tabs
    (themselves whitespace) is a "no"."""
    if form.delimiter != ",":
        return False
    try:
        with form.open(path) as handle:
            before = "\n\n"  # the file starts as a line does
            while block := handle.read(SCAN_BLOCK):
                text = before + block
                if _EDGE.search(text) or ("'" in text and _QUOTE_FIRST.search(text)):
                    return False
                if '"' in text and _BREAK.search(text):
                    return False
                before = text[-2:]
    except (OSError, UnicodeDecodeError):
        return False
    last = before[-1]
    if last.isspace() and last not in "\r\n":
        return False  # the last value ends with whitespace, and the file with it
    return not (last == '"' and before[-2] in "\r\n")  # … or with a quoted line break


# ---- the SQL: canonical-form checks and conversions, per database ----------------------------


class _Spelling:
    """SQL over the text of one cell, `v` (a parameter or a staged column), for SQLite; the
    subclass spells the same for PostgreSQL.

    The *_ok tests are true only for text in canonical form that the exact path's converter
    accepts, and the conversions then compute the value it would store from that text alone.
    Text they do not accept is converted in Python; test_importer.py holds the two to that.
    These are the bulk path's own spellings, one per strategy of store/dialects (`bulk_csv`):
    this one for "insert" (SQLite), the subclass for "stage" (PostgreSQL).
    """

    def canonical_text(self, v: str) -> str:
        # no whitespace at either end: the first byte alone settles it for ASCII and CJK text
        # (every whitespace character's UTF-8 starts with a byte below '!' or C2, E1, E2, E3);
        # nor a quote first, which may stand before a formula-like text: Python reads those
        first = (
            f"(({v} >= '!' AND ({v} < CAST(x'c2' AS TEXT) OR {v} >= CAST(x'e4' AS TEXT)))"
            f" OR {_not_space(f'unicode({v})')})"
        )
        unquoted = f"NOT ({v} >= '''' AND {v} < '(')"
        return f"({first} AND {unquoted} AND {_not_space(f'unicode(substr({v}, -1))')})"

    def date_ok(self, v: str) -> str:
        # date() normalises 2023-02-30 to 2023-03-02 and rewrites any other spelling
        return f"(date({v}, '+0 days') = {v} AND {v} >= '0001')"

    def datetime_ok(self, v: str) -> str:
        head = f"substr({v}, 1, 19)"
        return (
            f"({v} >= '0001' AND (datetime({v}, '+0 days') = {v} OR (length({v}) = 26 "
            f"AND substr({v}, 20, 1) = '.' AND datetime({head}, '+0 days') = {head} "
            f"AND substr({v}, 21) NOT GLOB '*[^0-9]*')))"
        )

    def money_ok(self, v: str) -> str:
        # 1200 (at most 16 digits) or 1200.50: digits that read back as the same integer (an
        # integer too large for SQLite does not: CAST stops at the largest one), or that are
        # digits all the same (0.50, -0.05); the cents at most BIGGEST either way, as in Python
        digits = f"replace({v}, '.', '')"
        return (
            f"(CASE WHEN instr({v}, '.') = 0 "
            f"THEN length({v}) <= 16 AND CAST(CAST({v} AS INTEGER) AS TEXT) = {v} "
            f"ELSE instr({v}, '.') = length({v}) - 2 AND length({digits}) = length({v}) - 1 "
            f"AND (CAST(CAST({digits} AS INTEGER) AS TEXT) = {digits} OR (length({v}) <= 19 "
            f"AND {digits} GLOB '[0-9-][0-9]*' AND {digits} NOT GLOB '?*[^0-9]*')) "
            f"AND CAST({digits} AS INTEGER) BETWEEN -{BIGGEST} AND {BIGGEST} END)"
        )

    def int_ok(self, v: str) -> str:
        return f"(length({v}) <= 18 AND CAST(CAST({v} AS INTEGER) AS TEXT) = {v})"

    def number_ok(self, v: str) -> str:
        # unsigned, at most 14 digits and one point: digits / 10^k is then one exact division
        digits = f"replace({v}, '.', '')"
        return (
            f"(length({v}) <= 15 AND {digits} <> '' AND {digits} NOT GLOB '*[^0-9]*' "
            f"AND length({v}) - length({digits}) <= 1)"
        )

    def text(self, v: str) -> str:
        return f"(CASE WHEN {v} <> '' THEN {v} END)"

    def date(self, v: str) -> str:
        return self.text(v)  # SQLAlchemy stores a date as 'YYYY-MM-DD'

    def datetime(self, v: str) -> str:
        # … and a datetime as 'YYYY-MM-DD HH:MM:SS.ffffff'
        return (
            f"(CASE WHEN {v} = '' THEN NULL WHEN length({v}) = 19 "
            f"THEN {v} || '.000000' ELSE {v} END)"
        )

    def local_date(self, v: str) -> str:
        return f"(CASE WHEN {v} <> '' THEN substr({v}, 1, 10) END)"

    def money(self, v: str) -> str:
        return (
            f"(CASE WHEN {v} <> '' THEN CAST(replace({v}, '.', '') AS INTEGER) "
            f"* CASE WHEN instr({v}, '.') = 0 THEN 100 ELSE 1 END END)"
        )

    def int(self, v: str) -> str:
        return f"(CASE WHEN {v} <> '' THEN CAST({v} AS INTEGER) END)"

    def number(self, v: str) -> str:
        return (
            f"(CASE WHEN {v} <> '' THEN CAST(CAST(replace({v}, '.', '') AS INTEGER) AS REAL) "
            f"/ CASE WHEN instr({v}, '.') = 0 THEN 1.0 "
            f"ELSE CASE length({v}) - instr({v}, '.') {_POW10} END END END)"
        )

    def boolean(self, value: bool | None) -> str:
        return "NULL" if value is None else ("1" if value else "0")

    def trim(self, v: str) -> str:
        return f"NULLIF(trim({v}, {_quote(WHITESPACE)}), '')"

    def unguarded(self, v: str) -> str:
        """SQL: v trimmed and without the quote before a formula-like text, as convert.py's
        unguard_formula() has it (`'=x` → `=x`)."""
        t = self.trim(v)
        after = f"substr(ltrim({t}, ''''), 1, 1)"
        guarded = f"(substr({t}, 1, 1) = '''' AND {_one_of(after, FORMULA_START)})"
        full = f"CASE WHEN {guarded} THEN substr({t}, 2) ELSE {t} END"
        return f"(CASE WHEN instr({v}, '''') = 0 THEN {t} ELSE {full} END)"

    def ascii_lower(self, v: str) -> str:
        return f"lower({v})"  # A-Z only, as convert.ascii_lower (SQLite without ICU)

    def starts_past_ascii(self, v: str, test: str) -> str:
        """SQL: `test`, looked at only when the text does not start with ASCII (a byte-wise
        comparison: SQLite compares text so)."""
        return f"({v} > '~' AND {test})"

    def number_text_ok(self, v: str) -> str:
        """A custom number column's text as convert.plain_number() writes it: 0, 12, 1200.5."""
        return (
            f"(length({v}) <= 20 AND {v} GLOB '[0-9]*' AND {v} NOT GLOB '*[^0-9.]*' "
            f"AND {v} NOT GLOB '*.*.*' AND {v} NOT GLOB '0[0-9]*' AND {v} NOT GLOB '*.' "
            f"AND {v} NOT GLOB '*.*0')"
        )

    def json_flag(self, v: str) -> str:
        """A custom yes/no column's canonical text as a JSON boolean (NULL when blank)."""
        return f"(CASE {v} WHEN 'true' THEN json('true') WHEN 'false' THEN json('false') END)"

    def attrs(self, pairs: list[tuple[str, str]], clean: bool) -> str:
        """The custom columns as one JSON object, or NULL: (key, SQL of its value, NULL when
        blank) pairs; `clean`: the only pair is a text cell with nothing to trim."""
        if len(pairs) == 1 and clean:
            ((key, v),) = pairs
            return f"(CASE WHEN {v} <> '' THEN json_object({_quote(key)}, {v}) END)"
        # json_patch drops the keys whose value is null (RFC 7396): blank cells leave no key
        args = ", ".join(f"{_quote(key)}, {value}" for key, value in pairs)
        return f"NULLIF(json_patch('{{}}', json_object({args})), '{{}}')"


# convert.py's unguard_formula() test as a PostgreSQL regular expression ('- last in brackets)
_GUARDED = _quote("^'+[" + "".join(sorted(FORMULA_START, key=lambda c: c == "-")) + "]")


class _PostgresSpelling(_Spelling):
    _DAY = "[0-9]{4}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])"

    def canonical_text(self, v: str) -> str:
        return f"(btrim({v}, {_quote(WHITESPACE)}) = {v} AND {v} !~ {_GUARDED})"

    def unguarded(self, v: str) -> str:
        t = self.trim(v)
        return f"(CASE WHEN {t} ~ {_GUARDED} THEN substr({t}, 2) ELSE {t} END)"

    # A date that matches the pattern but does not exist (2023-02-30) fails the INSERT's CAST:
    # the savepoint is rolled back and the exact path reports it.
    def date_ok(self, v: str) -> str:
        return f"({v} ~ '^{self._DAY}$')"

    def datetime_ok(self, v: str) -> str:
        return f"({v} ~ '^{self._DAY} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{{6}})?$')"

    def money_ok(self, v: str) -> str:
        # up to 17 digits: what does not fit a BIGINT fails its CAST, and the exact path says so
        return f"({v} ~ '^-?([0-9]{{1,17}}([.][0-9]{{0,2}})?|[.][0-9]{{1,2}})$')"

    def int_ok(self, v: str) -> str:
        return f"({v} ~ '^-?[0-9]{{1,18}}$')"

    def number_ok(self, v: str) -> str:
        # PostgreSQL reads a double with strtod: correctly rounded, as Python's float() is
        return f"(length({v}) <= 30 AND {v} ~ '^([0-9]+[.]?[0-9]*|[.][0-9]+)$')"

    def date(self, v: str) -> str:
        return f"CAST(NULLIF({v}, '') AS DATE)"

    def datetime(self, v: str) -> str:
        return f"CAST(NULLIF({v}, '') AS TIMESTAMP)"

    def local_date(self, v: str) -> str:
        return f"CAST(CAST(NULLIF({v}, '') AS TIMESTAMP) AS DATE)"

    def money(self, v: str) -> str:
        point = f"strpos({v}, '.')"
        return (
            f"(CAST(replace(NULLIF({v}, ''), '.', '') AS BIGINT) * CASE "
            f"WHEN {point} = 0 OR length({v}) = {point} THEN 100 "
            f"WHEN length({v}) - {point} = 1 THEN 10 ELSE 1 END)"
        )

    def int(self, v: str) -> str:
        return f"CAST(NULLIF({v}, '') AS BIGINT)"

    def number(self, v: str) -> str:
        return f"CAST(NULLIF({v}, '') AS DOUBLE PRECISION)"

    def boolean(self, value: bool | None) -> str:
        return "NULL" if value is None else ("true" if value else "false")

    def trim(self, v: str) -> str:
        return f"NULLIF(btrim({v}, {_quote(WHITESPACE)}), '')"

    def ascii_lower(self, v: str) -> str:  # lower() would fold every letter, not A-Z only
        return f"translate({v}, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')"

    def starts_past_ascii(self, v: str, test: str) -> str:
        return test  # a collation may not compare byte-wise: no shortcut (one scan anyway)

    def number_text_ok(self, v: str) -> str:
        # signed too: a negative number written back by _fix() must pass (-0 is written 0)
        return (
            f"(length({v}) <= 20 AND {v} <> '-0' AND {v} ~ '^-?(0|[1-9][0-9]*)([.][0-9]*[1-9])?$')"
        )

    def json_flag(self, v: str) -> str:
        return f"(CASE {v} WHEN 'true' THEN true WHEN 'false' THEN false END)"

    def attrs(self, pairs: list[tuple[str, str]], clean: bool) -> str:
        args = ", ".join(f"{_quote(key)}, {value}" for key, value in pairs)
        built = f"CAST(json_strip_nulls(json_build_object({args})) AS TEXT)"
        return f"CAST(NULLIF({built}, '{{}}') AS JSON)"


# ---- one file's plan: which cell holds what, and the SQL that reads it ------------------------

FIX = "salesplay_fix"  # the SQLite function that converts a cell not in canonical form


class _Plan:
    """The SQL for one file's header: `cells[i]` is how a statement reads the text of header
    column i (a staged column on PostgreSQL, a parameter of the INSERT on SQLite)."""

    def __init__(
        self,
        kind: Kind,
        header: list[str],
        spell: _Spelling,
        cells: list[str],
        clean: bool,
        words: Mapping[str, Mapping[str, str]] | None = None,
        constants: Mapping[str, str] | None = None,
    ) -> None:
        self.kind = kind
        self.clean = clean  # edges_clean(): text cells need no whitespace test
        self.header = header
        self.spell = spell
        self.cells = cells
        # a name given twice: the last value wins, as in the exact path's dict(zip(header, row))
        self.index = {name: i for i, name in enumerate(header) if name}
        known = {c.name for c in kind.columns}
        self.attrs = [(k, cells[i]) for k, i in self.index.items() if k not in known]
        self.fields = {c.name: c for c in kind.fields}  # the custom columns to check
        self.customers = kind.model is Customer
        # the file's words for values that SQL must leave to Python: a word a canonical cell
        # could hold (for a listed column, only those spelled as one of its values)
        self.words: dict[str, list[str]] = {}
        for column in (*kind.columns, *kind.fields):
            found = list((words or {}).get(column.name, {}))
            if column.choices:
                listed = {ascii_lower(c) for c in column.choices}
                found = [w for w in found if w in listed]
            if found:
                self.words[column.name] = found
        # the columns the file does not have that a constant fills: literals, canonical text
        self.constant_text = dict(constants or {})
        self.constants = {name: _quote(text) for name, text in self.constant_text.items()}
        self.word_table = words or {}

    def cell(self, column: Column) -> str | None:
        """How to read this record column's text, if the file has it (or a constant)."""
        i = self.index.get(column.name)
        if i is None:
            return self.constants.get(column.name)
        return self.cells[i]

    # -- checks

    def check(self, column: Column, v: str) -> str | None:
        """SQL: this cell is canonical, blank only where a blank is allowed; None: any text is."""
        parts = [] if column.type == "text" and self.clean else [self._shape(column, v)]
        if column.choices:
            parts.append(_one_of(v, column.choices))
        if column.name in self.words:  # a word of the file's: Python reads it
            parts.append(f"NOT {self._a_word(v, self.words[column.name])}")
        if column.low is not None:
            number = self.value(column, v)
            parts.append(f"{number} >= {column.low!r}")
            if column.high:  # as the converter: `low <= x <= (high or x)`
                parts.append(f"{number} <= {column.high!r}")
        if self.kind.name == "targets" and column.name == "period_end":
            first = next(c for c in self.kind.columns if c.name == "period_start")
            start = self.cell(first)
            # both canonical: their text order is their order in time
            parts.append(f"({start} = '' OR ({self.check(first, str(start))} AND {v} >= {start}))")
        if not parts:
            return f"{v} <> ''" if column.value else None
        # CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and a CAST of
        # text that failed the shape test would raise
        test = parts[0]
        for part in parts[1:]:
            test = f"(CASE WHEN {test} THEN {part} ELSE 1 = 0 END)"
        if column.value:
            return f"({v} <> '' AND {test})"
        return f"({v} = '' OR {test})"

    def _a_word(self, v: str, words: list[str]) -> str:
        """SQL: the cell is one of these words (lowered), whatever the case of its A-Z. A word
        with no a-z needs no lower(), and the Chinese ones only a cell that starts as they do
        (a test on every row of the file: the deal stages' words are checked so)."""
        cased = [w for w in words if any("a" <= ch <= "z" for ch in w)]
        plain = [w for w in words if w not in cased]
        tests = [_one_of(self.spell.ascii_lower(v), cased)] if cased else []
        wide = [w for w in plain if w[0] > "~"]
        if wide:
            tests.append(self.spell.starts_past_ascii(v, _one_of(v, wide)))
        if len(wide) < len(plain):
            tests.append(_one_of(v, [w for w in plain if w not in wide]))
        return "(" + " OR ".join(tests) + ")"

    def _shape(self, column: Column, v: str) -> str:
        spell = self.spell
        if column.custom:  # kept as text in attrs: canonical is what plain_number() writes
            custom: dict[str, Callable[[str], str]] = {
                "number": spell.number_text_ok,
                "date": spell.date_ok,
                "bool": lambda x: _one_of(x, ("true", "false")),
            }
            return custom[column.type](v)
        shapes: dict[str, Callable[[str], str]] = {
            "text": spell.canonical_text,
            "date": spell.date_ok,
            "datetime": spell.datetime_ok,
            "money": spell.money_ok,
            "decimal": spell.money_ok,
            "int": spell.int_ok,
            "number": spell.number_ok,
            "bool": lambda x: _one_of(x, TRUE_TEXT + FALSE_TEXT),
        }
        return shapes[column.type](v)

    def row_check(self) -> str:
        """SQL: every cell of the row is canonical. (NULL, from any part, counts as false.)"""
        columns = (*self.kind.columns, *self.fields.values())
        tests = [self.check(c, v) for c in columns if (v := self.cell(c))]
        return " AND ".join(t for t in tests if t) or "1 = 1"

    # -- values

    def value(self, column: Column, v: str) -> str:
        """SQL: the value a canonical cell stands for, as the exact path would store it."""
        spell = self.spell
        if column.type == "bool":
            default = spell.boolean(column.default)  # type: ignore[arg-type]
            true = _one_of(v, TRUE_TEXT)
            return (
                f"(CASE WHEN {v} = '' THEN {default} WHEN {true} "
                f"THEN {spell.boolean(True)} ELSE {spell.boolean(False)} END)"
            )
        if column.type == "text" and column.value:
            return v  # never blank once checked
        convert: Callable[[str], str] = {
            "text": spell.text,
            "date": spell.date,
            "datetime": spell.datetime,
            "money": spell.money,
            "decimal": spell.money,
            "int": spell.int,
            "number": spell.number,
        }[column.type]
        return convert(v)

    def columns(self, fix: bool = False) -> list[tuple[sa.Column[Any], str | None]]:
        """(column of the kind's table, SQL for its value or None for NULL), `deleted` aside.

        With `fix`, a cell that is not in canonical form is handed to the SQLite function
        salesplay_fix() (see _Fixer) instead of being trusted.
        """
        target = table_of(self.kind.model)
        by_column = {c.column: c for c in self.kind.columns}
        occurred = next((c for c in self.kind.columns if c.name == "occurred_at"), None)
        out: list[tuple[sa.Column[Any], str | None]] = []
        for target_column in target.columns:
            name = target_column.name
            column = by_column.get(name)
            v = self.cell(column) if column is not None else None
            sql: str | None = None
            if name == "deleted":
                continue
            if column is not None and v is not None:
                sql = self.value(column, v)
                test = self.check(column, v)
                if fix and test:
                    extra = ""
                    if self.kind.name == "targets" and name == "period_end":
                        start = next(c for c in self.kind.columns if c.name == "period_start")
                        extra = f", {self.cell(start)}"
                    row_id = self.cell(self.kind.columns[0])
                    if name == "occurred_at" and row_id:  # occurred_on: corrected afterwards
                        extra = f", {row_id}"
                    fallback = f"{FIX}('{name}', {v}{extra})"
                    sql = self._direct(column, v, fallback) or (
                        f"CASE WHEN {test} THEN {sql} ELSE {fallback} END"
                    )
            elif column is not None and column.type == "bool":  # absent: its default
                sql = self.spell.boolean(column.default)  # type: ignore[arg-type]
            elif name == "bucket" and self.customers:
                sql = self.cells[len(self.header)]  # computed in Python as the rows stream by
            elif name == "attrs" and self.attrs:
                sql = self._attrs(fix)
            elif name == "occurred_on" and occurred and (v := self.cell(occurred)):
                # with `fix`, right for every canonical occurred_at; the rows whose occurred_at
                # salesplay_fix() converts are corrected after the INSERT (see _Fixer.dates)
                sql = f"substr({v}, 1, 10)" if fix else self.spell.local_date(v)
            out.append((target_column, sql))
        return out

    def _attrs(self, fix: bool) -> str:
        """SQL: the custom columns as one JSON object. Text is kept trimmed; a custom column
        with a type (`fields:`) holds its canonical text, or with `fix` the text salesplay_fix()
        makes canonical, and yes/no as a JSON boolean."""
        pairs = []
        for key, v in self.attrs:
            column = self.fields.get(key)
            if column is None:  # text: trimmed, without the quote before a formula-like text
                pairs.append((key, self.spell.unguarded(v)))
                continue
            test = self.check(column, v)
            cell = f"(CASE WHEN {test} THEN {v} ELSE {FIX}('attrs:{key}', {v}) END)" if fix else v
            if column.type == "bool":
                pairs.append((key, self.spell.json_flag(cell)))
            else:
                pairs.append((key, f"NULLIF({cell}, '')"))
        if len(self.attrs) == 1 and self.clean and not self.fields.get(self.attrs[0][0]):
            return self.spell.attrs(self.attrs, clean=True)
        return self.spell.attrs(pairs, clean=False)

    def _direct(self, column: Column, v: str, fallback: str) -> str | None:
        """SQLite: check and value in one CASE, where the commonest text takes the shortest way
        (an amount in whole units: two CASTs, no function call). None: check() then value()."""
        if column.choices or column.low is not None or column.name in self.words:
            return None
        blank = "" if column.value else f"WHEN {v} = '' THEN NULL "
        if column.type in ("money", "decimal"):
            whole = f"CAST({v} AS INTEGER)"
            return (
                f"(CASE {blank}WHEN CAST({whole} AS TEXT) = {v} "
                f"AND {whole} BETWEEN -{BIGGEST // 100} AND {BIGGEST // 100} THEN {whole} * 100 "
                f"WHEN {self.spell.money_ok(v)} THEN {self.spell.money(v)} ELSE {fallback} END)"
            )
        if column.type == "datetime":
            return (
                f"(CASE {blank}WHEN {v} >= '0001' AND datetime({v}, '+0 days') = {v} "
                f"THEN {v} || '.000000' WHEN {self.spell.datetime_ok(v)} THEN {v} "
                f"ELSE {fallback} END)"
            )
        if column.type == "bool":
            default = self.spell.boolean(column.default)  # type: ignore[arg-type]
            blank = "" if column.value else f"WHEN {v} = '' THEN {default} "
            return (
                f"(CASE WHEN {_one_of(v, TRUE_TEXT)} THEN 1 WHEN {_one_of(v, FALSE_TEXT)} THEN 0 "
                f"{blank}ELSE {fallback} END)"
            )
        return None

    def typed(self, name: str) -> sa.Subquery:
        """PostgreSQL: the staged rows as the kind's table holds them."""
        exprs = []
        for column, sql in self.columns():
            if sql is None:  # typed: PostgreSQL reads a bare NULL in a subquery as text
                exprs.append(sa.cast(sa.null(), column.type).label(column.name))
            else:
                exprs.append(sa.literal_column(sql, column.type).label(column.name))
        stage = sa.table(f"staging_raw_{self.kind.name}")
        return sa.select(*exprs).select_from(stage).subquery(name)

    def canonical(self, column: Column, value: Any) -> str:
        """PostgreSQL: the text check() accepts and value() turns into this converted value."""
        return canonical(column, value)


def canonical(column: Column, value: Any) -> str:
    """The text check() accepts and value() turns into this converted value (PostgreSQL's
    rows converted in Python, and constants)."""
    if value is None:
        return ""
    if column.custom:  # attrs' own text, or a yes/no
        return ("true" if value else "false") if isinstance(value, bool) else str(value)
    if column.type == "date":
        assert isinstance(value, date)
        return value.isoformat()
    if column.type == "datetime":
        assert isinstance(value, datetime)
        return value.isoformat(sep=" ")
    if column.type in ("money", "decimal"):
        sign, cents = ("-" if value < 0 else ""), abs(value)
        return f"{sign}{cents // 100}.{cents % 100:02d}"
    if column.type == "bool":
        return TRUE_TEXT[0] if value else FALSE_TEXT[0]
    if column.type == "number":
        return repr(value)  # the shortest text that reads back as this double
    return str(value)


# ---- loading --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Declined:
    """The bulk path did not take the file (nothing changed); the exact path takes it."""

    reason: str  # for people: `line 7: the row has 9 values, the header 8`


class _Decline(Exception):
    """Raised where the bulk path finds what it cannot vouch for: rolls back to the savepoint."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def takes(kind: Kind) -> bool:
    """Whether the bulk path imports this kind at all: a period column (`2024-Q2`) is parsed
    in Python, so such a kind (progress notes) always goes the exact path."""
    return not any(c.type == "period" for c in kind.columns)


def load_csv(
    conn: Connection,
    kind: Kind,
    path: Path,
    full: bool,
    zone: ZoneInfo,
    progress: Callable[[int], None] | None = None,
    *,
    form: TextFormat = textfile.UTF8,
    mapping: ImportMap | None = None,
    compare: bool = False,
) -> ImportResult | Declined:
    """Import a CSV file on the bulk path, or say why not (nothing changed) for the exact one.

    `form`: the file's encoding and separator; `mapping`: the kind's import mapping (default:
    the built-in names); `compare`: count unchanged rows (a dry run, see staging.apply). A
    guessed encoding that fails raises textfile.Misread."""
    mapping = mapping or ImportMap.build(kind.name)
    kind = mapping.kind
    strategy = dialects.of(conn).bulk_csv
    if not takes(kind):
        return Declined(f"{kind.name} are always imported row by row")
    try:
        handle = form.open(path)
    except OSError as exc:
        return Declined(f"cannot read the file: {exc.strerror}")
    with handle:
        try:
            # the exact path's reader: same dialect, strict, header trimmed
            reader = form.reader(handle)
            header = [h.strip().lstrip("\ufeff") for h in next(reader, [])]
        except UnicodeDecodeError:
            if not form.sure:
                raise textfile.Misread() from None
            return Declined(f"the file is not {form.label} text")
        except csv.Error as exc:
            return Declined(f"line 1: not valid CSV: {exc}")
        try:
            named = mapping.rename(header, str(path))
        except RecordError:
            return Declined("two columns of the header would be one")
        dated = [c for c in (*kind.columns, *kind.fields) if c.type in ("date", "datetime")]
        if mapping.date_format and any(c.name in named for c in dated):
            return Declined(f"dates are read with date_format {mapping.date_format}")
        constants = mapping.constants_for(named)
        missing, notes = header_problems(kind, [*named, *constants], str(path))
        if missing:
            return Declined(f"{len(missing) - 1} missing column(s)")
        try:
            literals = _literals(kind, mapping, constants, zone)
        except ValueError as exc:
            return Declined(f"a constant: {exc}")
        known = {c.name for c in kind.columns}
        custom = len([h for h in named if h and h not in known])
        if custom > MAX_ATTRS:
            return Declined(f"{custom} custom columns (the bulk path takes at most {MAX_ATTRS})")
        setup = _Setup(named, mapping.words, literals, compare)
        savepoint = conn.begin_nested()
        # SQLite's conversion function; it remembers the first cell it refused, and where
        fixer = _Fixer(conn, kind, zone, reader, mapping.words) if strategy == "insert" else None
        try:
            if fixer is not None:
                result = _load_converting(
                    conn, kind, path, form, setup, reader, full, progress, fixer
                )
            else:
                result = _load_staged(conn, kind, path, form, setup, reader, full, zone, progress)
        except _Decline as exc:
            savepoint.rollback()
            return Declined(exc.reason)
        except UnicodeDecodeError:
            savepoint.rollback()
            if not form.sure:
                raise textfile.Misread() from None
            return Declined(f"the file is not {form.label} text")
        except Exception as exc:  # anything else: the exact path decides, and reports
            savepoint.rollback()
            failed = fixer.failed if fixer is not None else None
            return Declined(_diagnose(path, form, named, failed) or _unforeseen(exc))
        savepoint.commit()
    result.notes = notes
    return result


@dataclass(frozen=True)
class _Setup:
    """What one file's load needs beyond the kind: its header (as the mapping names it), the
    mapping's words for values, the constants' canonical text, and whether to compare."""

    header: list[str]
    words: Mapping[str, Mapping[str, str]]
    constants: Mapping[str, str]
    compare: bool


def _literals(
    kind: Kind, mapping: ImportMap, constants: Mapping[str, str], zone: ZoneInfo
) -> dict[str, str]:
    """Each constant as the canonical text the SQL reads as its value."""
    columns = {c.name: c for c in kind.columns}
    out = {}
    for name, text in constants.items():
        column = columns[name]
        out[name] = canonical(column, converter(column, zone, mapping.words.get(name))(text))
    return out


def _diagnose(
    path: Path, form: TextFormat, header: list[str], failed: tuple[int, str] | None
) -> str | None:
    """Why a load failed, read from the file: the first row whose value count is not the
    header's (the INSERT or COPY cannot take it), or the row salesplay_fix() refused (`failed`:
    the line that row ends on, and the reason)."""
    try:
        with form.open(path) as handle:
            reader = form.reader(handle)
            next(reader, None)
            ended = reader.line_num
            for values in reader:
                line, ended = ended + 1, reader.line_num
                if not any(values):  # skipped on both paths
                    continue
                if len(values) != len(header):
                    return (
                        f"line {line}: the row has {len(values)} values, the header {len(header)}"
                    )
                if failed and ended >= failed[0]:
                    if not any(v.strip() for v in values):
                        return f"line {line}: a row of blank values"
                    return f"line {line}: {failed[1]}"
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
    return None


def _unforeseen(exc: Exception) -> str:
    """The first line of what went wrong: the database's own words for a database error."""
    cause = exc.orig if isinstance(exc, sa.exc.DBAPIError) and exc.orig else exc
    text = (str(cause).strip().splitlines() or [""])[0]
    return f"{type(cause).__name__}: {text}" if text else type(cause).__name__


def _rows(kind: Kind, header: list[str], reader: Iterator[list[str]]) -> Iterator[list[Any]]:
    """The records as the driver takes them: blank lines and rows of empty values skipped, as
    the exact path does (a row of spaces is not: the conversion function fails it, and the
    exact path skips it), customers with their partition bucket appended."""
    rows: Iterator[list[Any]] = filter(any, reader)  # any(): a value that is not ''.
    if kind.model is Customer:
        at = max(i for i, name in enumerate(header) if name == "id")  # the last, as in dict()
        rows = ([*row, bucket_of(unguard_formula(row[at].strip()))] for row in rows)
    return rows


def _drop_indexes(conn: Connection, table: sa.Table) -> list[str]:
    """Drop the table's secondary indexes (not those of its primary key or constraints) and
    return the statements that build them again, as the database itself wrote them down.

    For an import into an empty table: one sort per index once the rows are in is quicker
    than a million inserts at random places in it. Should anything fail, rolling back to the
    savepoint brings them back."""
    found = dialects.of(conn).secondary_indexes(conn, table.name)
    for name, _ in found:
        conn.exec_driver_sql(f"DROP INDEX {name}")
    return [ddl for _, ddl in found]


# -- SQLite: one INSERT, run by executemany straight from the CSV reader


class _Fixer:
    """salesplay_fix(column, text[, other]): what the exact path stores for a cell that is not
    in canonical form ('2024/1/5', '1,200.50', '是', ' C3 '), converted by the exact path's own
    converters. A bad cell raises: the INSERT fails and the exact path takes the file, and
    reports it. `other`: period_end's period_start (not after it), occurred_at's row id (the
    INSERT takes occurred_on from the text, so `dates` keeps the right one for that row)."""

    def __init__(
        self,
        conn: Connection,
        kind: Kind,
        zone: ZoneInfo,
        reader: Any,
        words: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        words = words or {}
        self.columns = {c.column: (c, converter(c, zone, words.get(c.name))) for c in kind.columns}
        # a custom column's cell, kept in attrs (see _Plan._attrs)
        self.columns.update(
            {f"attrs:{c.name}": (c, converter(c, zone, words.get(c.name))) for c in kind.fields}
        )
        self.dates: list[tuple[Any, str]] = []  # (occurred_on, row id)
        self.reader = reader  # its line_num: where the row being inserted ends
        self.failed: tuple[int, str] | None = None  # the first refusal: (line, reason)
        dialect = conn.dialect
        self.process = {  # what SQLAlchemy would send for the value: '2024-01-05', 1 …
            c.name: c.type.dialect_impl(dialect).bind_processor(dialect)
            for c in table_of(kind.model).columns
        }

    def value(self, name: str, text: str) -> Any:
        column, convert = self.columns[name]
        if blank(text):
            if column.value:
                raise ValueError("a value is required")
            return column.default
        return convert(text)

    def __call__(self, name: str, text: str, other: str | None = None) -> Any:
        try:
            return self.convert(name, text, other)
        except ValueError as exc:  # SQLite keeps only "user-defined function raised exception"
            if self.failed is None:
                self.failed = (self.reader.line_num, f"{self.columns[name][0].name}: {exc}")
            raise

    def convert(self, name: str, text: str, other: str | None) -> Any:
        value = self.value(name, text)
        if name == "period_end" and other is not None:
            first = self.value("period_start", other)
            if first and value and value < first:
                raise ValueError(f"{value} is before period_start {first}")
        if name == "occurred_at" and other is not None:
            row_id = unguard_formula(other.strip())  # the id as stored
            self.dates.append((self.send("occurred_on", value.date()), row_id))
        return self.send(name, value)

    def send(self, name: str, value: Any) -> Any:
        if name.startswith("attrs:"):  # the canonical text the plan's SQL then reads
            return None if value is None else canonical(self.columns[name][0], value)
        process = self.process[name]
        return value if value is None or process is None else process(value)


def _load_converting(
    conn: Connection,
    kind: Kind,
    path: Path,
    form: TextFormat,
    setup: _Setup,
    reader: Iterator[list[str]],
    full: bool,
    progress: Callable[[int], None] | None,
    fixer: _Fixer,
) -> ImportResult:
    header = setup.header
    width = len(header)
    cells = [f"?{i + 1}" for i in range(width + 1)]  # the last one: a customer's bucket
    clean = edges_clean(path, form)
    plan = _Plan(kind, header, _Spelling(), cells, clean, setup.words, setup.constants)
    target = table_of(kind.model)
    empty = is_empty(conn, kind)
    if empty:
        into = target  # a plain INSERT: a repeated id fails on the primary key
    else:
        # an upsert needs the rows first (owner changes, counts); a unique index refuses a
        # repeated id, which ON CONFLICT would quietly apply twice
        into = staging_table(kind)
        sa.Index(f"{into.name}_id", into.c.id, unique=True)
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {into.name}")
        into.create(conn)
    columns = [(c, sql) for c, sql in plan.columns(fix=True) if sql is not None]
    # SQLite expects as many values as the highest parameter number a statement uses: name
    # the last one (an ignored column, maybe) where it costs nothing, so a row with a value
    # too many or too few fails to bind (and goes to the exact path, which reports it)
    last = cells[width - 1]
    used = any(re.search(rf"\{last}(?!\d)", sql) for _, sql in columns)
    zero = "0" if used else f"({last} IS NULL)"
    columns.append((target.c.deleted, zero) if empty else (into.c._line, zero))
    # VALUES, not SELECT: SQLite runs INSERT … SELECT several times slower once a row
    sql = (
        f"INSERT INTO {into.name} ({', '.join(c.name for c, _ in columns)}) "
        f"VALUES ({', '.join(sql for _, sql in columns)})"
    )
    driver = conn.connection.driver_connection
    indexes = _drop_indexes(conn, target) if empty else []
    driver.create_function(FIX, -1, fixer)  # type: ignore[union-attr]
    try:
        count = _insert_all(driver, sql, _rows(kind, header, reader), reader, progress)
    finally:
        driver.create_function(FIX, -1, None)  # type: ignore[union-attr]
    if fixer.dates:
        update = f"UPDATE {into.name} SET occurred_on = ? WHERE id = ?"
        conn.exec_driver_sql(update, fixer.dates)
    for ddl in indexes:
        conn.exec_driver_sql(ddl)
    _check_references(conn, kind, into, [target, into])
    if empty:
        return ImportResult(kind.name, count, count, 0, 0)
    keep = kept_columns(kind, [*header, *setup.constants])
    result = apply(conn, kind, into, full, keep, compare=setup.compare)
    conn.exec_driver_sql(f"DROP TABLE {into.name}")
    return result


def _insert_all(
    driver: Any,
    sql: str,
    rows: Iterator[list[Any]],
    reader: Any,
    progress: Callable[[int], None] | None,
) -> int:
    """executemany, CHUNK rows at a time: the rows go from the reader to SQLite in C."""
    cursor = driver.cursor()
    count = 0
    try:
        while True:
            before = reader.line_num
            cursor.executemany(sql, itertools.islice(rows, CHUNK))
            count += int(cursor.rowcount)
            if reader.line_num == before:
                return count
            if progress:
                progress(count)
    finally:
        cursor.close()


# -- PostgreSQL: COPY the text into a staging table, then convert set-based


def _load_staged(
    conn: Connection,
    kind: Kind,
    path: Path,
    form: TextFormat,
    setup: _Setup,
    reader: Iterator[list[str]],
    full: bool,
    zone: ZoneInfo,
    progress: Callable[[int], None] | None,
) -> ImportResult:
    header = setup.header
    width = len(header)
    cells = [f"c{i}" for i in range(width + 1)]
    clean = edges_clean(path, form)
    plan = _Plan(kind, header, _PostgresSpelling(), cells, clean, setup.words, setup.constants)
    cols: list[sa.Column[Any]] = [sa.Column(f"c{i}", sa.Text()) for i in range(width)]
    if plan.customers:
        cols.append(sa.Column(f"c{width}", sa.Integer()))
    stage = sa.Table(f"staging_raw_{kind.name}", sa.MetaData(), *cols, prefixes=["TEMPORARY"])
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS {stage.name}")
    stage.create(conn)

    _copy(conn, stage, _rows(kind, header, reader), progress)
    _fix(conn, plan, stage, zone)
    staged, target = plan.typed("staged"), table_of(kind.model)
    if is_empty(conn, kind):
        # insert first, then look up each distinct reference once, through the new indexes
        indexes = _drop_indexes(conn, target)
        result = apply(conn, kind, staged, full, set(), empty=True)
        for ddl in indexes:
            conn.exec_driver_sql(ddl)
        _check_references(conn, kind, target, [target])
    else:
        _check_references(conn, kind, staged, [target, plan.typed("other")])
        keep = kept_columns(kind, [*header, *setup.constants])
        result = apply(conn, kind, staged, full, keep, compare=setup.compare)
    conn.exec_driver_sql(f"DROP TABLE {stage.name}")
    return result


def _copy(
    conn: Connection,
    stage: sa.Table,
    rows: Iterator[list[Any]],
    progress: Callable[[int], None] | None,
) -> None:
    """COPY the rows in, re-written as CSV by the csv module (in C): every value quoted, so ''
    stays text and nothing is read as NULL; a row of the wrong width fails the COPY."""
    names = ", ".join(c.name for c in stage.columns)
    sent = 0
    with (
        conn.connection.driver_connection.cursor() as cursor,  # type: ignore[union-attr]
        cursor.copy(f"COPY {stage.name} ({names}) FROM STDIN (FORMAT csv)") as copy,
    ):
        while chunk := list(itertools.islice(rows, CHUNK)):
            out = io.StringIO()
            csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n").writerows(chunk)
            copy.write(out.getvalue())
            sent += len(chunk)
            if progress:
                progress(sent)
    conn.exec_driver_sql(f"ANALYZE {stage.name}")


def _fix(conn: Connection, plan: _Plan, stage: sa.Table, zone: ZoneInfo) -> int:
    """Convert the staged rows not in canonical form in Python, and write them back canonical.

    Returns how many blank rows it removed; raises _Decline when a row is bad (or there are
    too many to be worth it): the exact path then takes the file.
    """
    cells = plan.cells[: len(plan.header)]
    failing = (
        f"SELECT ctid, {', '.join(cells)} FROM {stage.name} "
        f"WHERE CASE WHEN {plan.row_check()} THEN 0 ELSE 1 END = 1"
    )
    rows = conn.exec_driver_sql(f"{failing} LIMIT {FIX_LIMIT + 1}").fetchall()
    if not rows:
        return 0
    if len(rows) > FIX_LIMIT:
        raise _Decline(
            f"more than {FIX_LIMIT:,} rows hold values written otherwise than 2024-01-05, "
            "1200.50 or true (such as 2024/1/5, 1,200.50 or 是), converted one by one"
        )
    convert = RowConverter(plan.kind, zone, plan.word_table, constants=plan.constant_text)
    present = [(c, plan.index[c.name]) for c in plan.kind.columns if c.name in plan.index]
    customs = [(c, plan.index[c.name]) for c in plan.kind.fields if c.name in plan.index]
    blank: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for rid, *values in rows:
        if not any(v.strip() for v in values):  # spaces only: skipped, as there
            blank.append({"rid": rid})
            continue
        record, problems = convert(dict(zip(plan.header, values, strict=True)))
        if problems:
            name, reason = problems[0]
            raise _Decline(f"{name}: {reason}" if name else reason)
        update = dict(zip(cells, values, strict=True))
        for column, i in present:
            update[cells[i]] = plan.canonical(column, record[column.column])
        for column, i in customs:
            update[cells[i]] = plan.canonical(column, (record["attrs"] or {}).get(column.name))
        update["rid"] = rid
        updates.append(update)
    where = "ctid = CAST(:rid AS tid)"
    if blank:
        conn.execute(sa.text(f"DELETE FROM {stage.name} WHERE {where}"), blank)
    if updates:
        sets = ", ".join(f"{c} = :{c}" for c in cells)
        conn.execute(sa.text(f"UPDATE {stage.name} SET {sets} WHERE {where}"), updates)
    # what was written back must now pass: if not, this path has no business with the file
    if conn.exec_driver_sql(f"{failing} LIMIT 1").first() is not None:
        raise _Decline("a value converted in Python did not pass the bulk path's own check")
    return len(blank)


# -- both


def _check_references(
    conn: Connection, kind: Kind, rows: sa.FromClause, own: list[sa.FromClause]
) -> None:
    """Raise _Decline when a row points at a record that is not in its table (nor, for a
    reference to the same kind, among `own`: the kind's table and the file's rows)."""
    aliases = [t.alias(f"own{i}") for i, t in enumerate(own)]  # rows may be one of them
    reps, units = table_of(KINDS["reps"].model), table_of(KINDS["org_units"].model)
    for column in kind.columns:
        if not column.ref and not (kind.name == "targets" and column.name == "owner_id"):
            continue
        value: Any = rows.c[column.column]
        source: sa.FromClause = rows
        if kind.name == "targets":
            is_rep = rows.c.owner_type == "rep"
            unknown = sa.or_(
                sa.and_(is_rep, ~_exists(reps.c.id == value)),
                sa.and_(~is_rep, ~_exists(units.c.id == value)),
            )
        else:
            if isinstance(rows, sa.Table) and any(
                next(iter(index.columns)).name == column.column for index in rows.indexes
            ):  # each distinct value once, in order, from the index
                source = sa.select(value.label("v")).distinct().subquery("values")
                value = source.c.v
            if column.ref == kind.name:  # a row may point at another row of the same file
                unknown = sa.and_(*[~_exists(t.c.id == value) for t in aliases])
            else:
                unknown = ~_exists(table_of(KINDS[column.ref].model).c.id == value)
        query = sa.select(value).select_from(source).where(value.is_not(None), unknown)
        found = conn.execute(query.limit(1)).first()
        if found is not None:
            noun = "owner" if kind.name == "targets" else str(column.ref).rstrip("s")
            raise _Decline(f"{column.name}: unknown {noun.replace('_', ' ')} '{found[0]}'")


def _exists(*where: Any) -> Any:
    """EXISTS (SELECT 1 …): SQLite then answers from the index alone."""
    return sa.select(sa.literal(1)).where(*where).exists()
