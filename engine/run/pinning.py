"""The playbook in force is pinned, and time only moves forward.

The runs ledger records the playbook of every evaluation (a bundled one by name, a file by its
absolute path: Document.origin) with its content hash. Before an evaluation writes anything it
is compared with the last committed (succeeded) one, inside the transaction that would write:

- another playbook than the last evaluation's is refused unless the user named it (`--playbook`
  on this command's line); named, it goes ahead and the summary says that it changed.
- the same playbook with other content (the file was edited, a release changed a bundled one)
  goes ahead, and the summary says so.
- a manual evaluation as of a day before the latest evaluated one is refused (a replay, which
  changes nothing, may look at any day). Scheduled slots keep their own dates: a catch-up runs
  old slots after newer manual runs, which is why only `evaluate` asks for check_as_of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from salesplay.engine.errors import SalesplayError
from salesplay.engine.lang.document import Document, describe, origin_of
from salesplay.engine.store.models import Run, table_of


@dataclass(frozen=True)
class Recorded:
    """A committed evaluation as the ledger has it, its playbook normalised (origin_of)."""

    run_id: int
    as_of: date
    origin: str
    content_hash: str


def _recorded(conn: Connection, *order: Any, before: int | None = None) -> Recorded | None:
    runs = table_of(Run)
    query = sa.select(runs.c.id, runs.c.as_of, runs.c.playbook_path, runs.c.playbook_hash).where(
        runs.c.status == "succeeded"
    )
    if before is not None:
        query = query.where(runs.c.id < before)
    row = conn.execute(query.order_by(*order).limit(1)).first()
    if row is None:
        return None
    return Recorded(int(row.id), row.as_of, origin_of(row.playbook_path), row.playbook_hash)


def last_evaluation(conn: Connection, before: int | None = None) -> Recorded | None:
    """The newest committed evaluation (by run id: the order runs were started in), or the
    newest before run `before`."""
    runs = table_of(Run)
    return _recorded(conn, runs.c.id.desc(), before=before)


def latest_as_of(conn: Connection) -> Recorded | None:
    """The committed evaluation with the latest as-of date (the newest of those, on a tie)."""
    runs = table_of(Run)
    return _recorded(conn, runs.c.as_of.desc(), runs.c.id.desc())


@dataclass(frozen=True)
class PlaybookChange:
    """A run's playbook differs from the evaluation's before it: another one, or new content."""

    before: Recorded
    origin: str
    content_hash: str

    @property
    def switched(self) -> bool:
        return self.origin != self.before.origin

    def line(self, emitted: dict[str, int]) -> str:
        """One line for the run's summary; `emitted` is what the run counted."""
        if self.switched:
            moved = emitted.get("grade_changes", 0)
            return (
                f"playbook changed to {describe(self.origin)} from "
                f"{describe(self.before.origin)} (run {self.before.run_id}): "
                f"{moved} grade{'' if moved == 1 else 's'} moved"
            )
        return (
            f"playbook {describe(self.origin)} changed since run {self.before.run_id} "
            f"(hash {self.before.content_hash} → {self.content_hash})"
        )


def check(
    conn: Connection, playbook: Document, as_of: date, *, playbook_named: bool, forward_only: bool
) -> None:
    """Both checks, in the transaction that would write (nothing is written when one refuses)."""
    if forward_only:
        check_as_of(conn, as_of)
    check_playbook(conn, playbook, playbook_named)


def check_playbook(conn: Connection, playbook: Document, named: bool) -> None:
    """Refuse another playbook than the last evaluation's unless `named` (the user gave
    --playbook on this command's line). New content at the same place is no reason to stop."""
    before = last_evaluation(conn)
    if before is not None and before.origin != playbook.origin and not named:
        raise SalesplayError(
            f"the last evaluation (run {before.run_id}, as of {before.as_of}) used playbook "
            f"{describe(before.origin)}; this one would use {describe(playbook.origin)}: "
            "name it with --playbook to switch"
        )


def check_as_of(conn: Connection, as_of: date) -> None:
    """Refuse a day before the latest evaluated one (the same day again is fine)."""
    latest = latest_as_of(conn)
    if latest is not None and as_of < latest.as_of:
        raise SalesplayError(
            f"run {latest.run_id} already evaluated as of {latest.as_of}; {as_of} is earlier: "
            "use --replay to see what it would have emitted without changing anything"
        )


def notes(conn: Connection, run_id: int) -> list[str]:
    """What run_id's summary adds: that its playbook changed since the evaluation before it."""
    runs = table_of(Run)
    this = conn.execute(
        sa.select(runs.c.playbook_path, runs.c.playbook_hash, runs.c.emitted).where(
            runs.c.id == run_id
        )
    ).first()
    before = last_evaluation(conn, before=run_id)
    if this is None or before is None:
        return []
    change = PlaybookChange(before, origin_of(this.playbook_path), this.playbook_hash)
    if not change.switched and change.content_hash == before.content_hash:
        return []
    return [change.line(dict(this.emitted or {}))]
