"""The dispatcher: sends the outbox's pending deliveries, at least once.

A pass claims due rows per channel in a short transaction (FOR UPDATE SKIP LOCKED on
PostgreSQL), marking them with a claim that expires; sends outside any transaction; then marks
each message sent, or schedules a retry with exponential backoff and jitter, or after
`max_attempts` moves it to the dead-letter state (`dead`). A process killed between the send
and the mark leaves the claim to expire, and the row is sent again: receivers deduplicate by
the delivery id (the webhook's Idempotency-Key, the JSON line's `key`).

Whatever a channel raises for one message is that message's failed attempt, never the end of
the pass: the other messages and the other channels go on. A channel's secrets (the values of
the variables its settings name) are redacted from every error before it is stored or shown.

A channel's rate limit (`rate_per_minute`; 20 for WeCom and DingTalk robots) counts the
messages every process attempted on it in the last minute, as recorded in the database.
"""

from __future__ import annotations

import os
import random
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from salesplay.engine.delivery import channels as registry
from salesplay.engine.delivery import config
from salesplay.engine.delivery.channels import (
    Item,
    Message,
    Recipient,
    SendError,
    one_line,
    redact,
    secrets,
)
from salesplay.engine.lang.document import Document
from salesplay.engine.store import dialects
from salesplay.engine.store.crash import crash_point
from salesplay.engine.store.models import Alert, Delivery, Rep, Task, table_of

CLAIM = timedelta(minutes=5)  # a claim older than this is taken to be a dead sender's
BACKOFF_BASE = 30.0  # seconds before the first retry (before jitter)
BACKOFF_CAP = 3600.0
MAX_ATTEMPTS = 8
BATCH = 200
ERROR_LENGTH = 500  # of the one line kept as last_error


@dataclass
class DispatchResult:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    errors: list[str] = field(default_factory=list)
    # the tracebacks of what channels raised other than SendError (secrets redacted), for --debug
    tracebacks: list[str] = field(default_factory=list)
    next_due: datetime | None = None  # the earliest pending retry, for the daemon's sleep


def _naive(instant: datetime) -> datetime:
    return instant.astimezone(UTC).replace(tzinfo=None)


def backoff(attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Seconds to wait after the `attempt`-th failure: base·2^(attempt-1), capped, jittered to
    between half and all of it; never sooner than the far end's Retry-After."""
    ceiling = min(BACKOFF_CAP, BACKOFF_BASE * 2 ** (attempt - 1))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    return float(max(delay, retry_after or 0.0))


def dispatch(
    engine: Engine,
    playbook: Document,
    clock: Callable[[], datetime],
    env: Mapping[str, str] | None = None,
    rng: random.Random | None = None,
    should_stop: Callable[[], bool] = lambda: False,
) -> DispatchResult:
    """Send what is due on every channel the playbook configures; return what happened."""
    env = os.environ if env is None else env
    rng = rng or random.Random()
    result = DispatchResult()
    for name, spec in config.channels(playbook).items():
        hidden = secrets(spec, env)
        channel = _make(name, spec, env)
        rate = config.rate_per_minute(spec)
        attempts = int(spec.get("max_attempts", MAX_ATTEMPTS))
        while not should_stop():
            batch = _claim(engine, name, clock(), rate)
            if not batch:
                break
            for message in batch:
                _send(engine, channel, message, clock, attempts, rng, result, hidden)
    result.next_due = _next_due(engine)
    return result


class _Unusable:
    """A channel that could not be made: each of its messages fails with the reason, so that
    its deliveries back off and die like any other failure while the other channels go on."""

    def __init__(self, name: str, reason: str) -> None:
        self.name = name
        self.reason = reason

    def send(self, message: Message) -> None:
        raise SendError(self.reason)


def _make(name: str, spec: dict[str, Any], env: Mapping[str, str]) -> registry.Channel:
    try:
        return registry.make(name, spec, env)
    except Exception as exc:
        return _Unusable(name, f"cannot set the channel up: {_described(exc)}")


def _described(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def _snoozed(d: Any) -> Any:
    """A snoozed alert stays quiet: its deliveries wait, pending, until it wakes."""
    a = table_of(Alert)
    return (
        sa.select(a.c.id)
        .where(d.c.item_kind == "alert", a.c.id == d.c.item_id, a.c.status == "snoozed")
        .exists()
    )


def _claim(engine: Engine, channel: str, now: datetime, rate: int | None) -> list[Message]:
    d = table_of(Delivery)
    with engine.begin() as conn:
        dialect = dialects.of(conn)
        dialect.lock(conn, channel)  # one claimer per channel at a time: exact rates
        budget = BATCH
        if rate:
            message_key = sa.func.coalesce(d.c.digest_key, sa.cast(d.c.id, sa.String()))
            used = conn.execute(
                sa.select(sa.func.count(sa.distinct(message_key))).where(
                    d.c.channel == channel,
                    d.c.last_attempt_at > _naive(now - timedelta(minutes=1)),
                )
            ).scalar_one()
            budget = min(budget, rate - int(used))
            if budget <= 0:
                return []
        query = (
            sa.select(d.c.id, d.c.digest_key)
            .where(
                d.c.channel == channel,
                d.c.status == "pending",
                sa.or_(d.c.next_attempt_at.is_(None), d.c.next_attempt_at <= _naive(now)),
                sa.or_(d.c.claimed_until.is_(None), d.c.claimed_until < _naive(now)),
                ~_snoozed(d),
            )
            .order_by(d.c.id)
            .limit(BATCH * 5)
        )
        query = dialect.skip_locked(query)
        groups: dict[str, list[int]] = {}
        for row in conn.execute(query):
            key = row.digest_key or f"#{row.id}"
            if key not in groups and len(groups) >= budget:
                continue
            groups.setdefault(key, []).append(row.id)
        ids = [i for members in groups.values() for i in members]
        if not ids:
            return []
        conn.execute(
            d.update()
            .where(d.c.id.in_(ids))
            .values(
                claimed_until=_naive(now + CLAIM),
                last_attempt_at=_naive(now),
                attempts=d.c.attempts + 1,
            )
        )
        items = _items(conn, ids)
    return [_message(ids_, items, not key.startswith("#")) for key, ids_ in groups.items()]


def _items(conn: Any, ids: list[int]) -> dict[int, tuple[Item, Recipient | None]]:
    d, t, a, r = table_of(Delivery), table_of(Task), table_of(Alert), table_of(Rep)
    out: dict[int, tuple[Item, Recipient | None]] = {}
    for kind, table, text, level in (
        ("task", t, t.c.title, sa.null()),
        ("alert", a, a.c.message, a.c.level),
    ):
        due = t.c.due if kind == "task" else sa.null()
        query = (
            sa.select(
                d.c.id.label("delivery_id"),
                table.c.id,
                table.c.rule,
                table.c.subject_type,
                table.c.subject_id,
                text.label("text"),
                level.label("level"),
                due.label("due"),
                d.c.recipient_id,
                r.c.name,
                r.c.email,
                r.c.mobile,
                r.c.im_id,
            )
            .join_from(d, table, sa.and_(d.c.item_kind == kind, d.c.item_id == table.c.id))
            .outerjoin(r, r.c.id == d.c.recipient_id)
            .where(d.c.id.in_(ids))
        )
        for row in conn.execute(query):
            item = Item(
                delivery_id=row.delivery_id,
                kind=kind,
                id=row.id,
                rule=row.rule,
                subject_type=row.subject_type,
                subject_id=row.subject_id,
                text=row.text,
                level=row.level,
                due=str(row.due) if row.due is not None else None,
            )
            person = (
                Recipient(row.recipient_id, row.name, row.email, row.mobile, row.im_id)
                if row.recipient_id
                else None
            )
            out[row.delivery_id] = (item, person)
    return out


def _message(
    members: list[int], items: dict[int, tuple[Item, Recipient | None]], digest: bool
) -> Message:
    found = [items[i] for i in members if i in items]
    recipient = found[0][1] if found else None
    return Message(
        key=",".join(str(i) for i in members),
        items=[item for item, _ in found],
        recipient=recipient,
        digest=digest,
    )


def _send(
    engine: Engine,
    channel: registry.Channel,
    message: Message,
    clock: Callable[[], datetime],
    max_attempts: int,
    rng: random.Random,
    result: DispatchResult,
    hidden: list[str],
) -> None:
    d = table_of(Delivery)
    ids = [int(i) for i in message.key.split(",")]
    if not message.items:  # the items are gone (a reset database): nothing left to say
        error: SendError | None = SendError("the task or alert no longer exists", permanent=True)
    else:
        try:
            channel.send(message)
            crash_point("answered")
            error = None
        except SendError as exc:
            error = exc
        except Exception as exc:  # a channel's bug or an unforeseen failure: one failed attempt
            error = SendError(_described(exc))
            result.tracebacks.append(redact("".join(traceback.format_exception(exc)), hidden))
    if error is not None:  # stored and shown: one line, no secret in it
        error.reason = redact(one_line(error.reason), hidden)[:ERROR_LENGTH]
    now = clock()
    with engine.begin() as conn:
        if error is None:
            conn.execute(
                d.update()
                .where(d.c.id.in_(ids))
                .values(status="sent", sent_at=_naive(now), claimed_until=None, last_error=None)
            )
            result.sent += len(ids)
            return
        attempts = conn.execute(
            sa.select(sa.func.max(d.c.attempts)).where(d.c.id.in_(ids))
        ).scalar()
        attempts = int(attempts or 1)
        result.errors.append(f"{channel.name} {message.key}: {error.reason}")
        if error.permanent or attempts >= max_attempts:
            conn.execute(
                d.update()
                .where(d.c.id.in_(ids))
                .values(status="dead", claimed_until=None, last_error=error.reason)
            )
            result.dead += len(ids)
            return
        wait = backoff(attempts, rng, error.retry_after)
        crash_point("backoff")
        conn.execute(
            d.update()
            .where(d.c.id.in_(ids))
            .values(
                next_attempt_at=_naive(now + timedelta(seconds=wait)),
                claimed_until=None,
                last_error=error.reason,
            )
        )
        result.retried += len(ids)


def _next_due(engine: Engine) -> datetime | None:
    d = table_of(Delivery)
    with engine.connect() as conn:
        found = conn.execute(
            sa.select(sa.func.min(sa.func.coalesce(d.c.next_attempt_at, d.c.created_at))).where(
                d.c.status == "pending"
            )
        ).scalar()
    return found.replace(tzinfo=UTC) if found is not None else None


DELIVERY_COLUMNS = [
    "id",
    "item_kind",
    "item_id",
    "channel",
    "recipient_id",
    "rule",
    "status",
    "attempts",
    "next_attempt_at",
    "sent_at",
    "last_error",
]


def deliveries(engine: Engine, status: str | None = None) -> list[dict[str, Any]]:
    """The outbox, oldest first."""
    d = table_of(Delivery)
    query = sa.select(*[d.c[c] for c in DELIVERY_COLUMNS]).order_by(d.c.id)
    if status:
        query = query.where(d.c.status == status)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]


def retry_dead(engine: Engine, ids: list[int] | None = None) -> int:
    """Put dead deliveries (all, or these ids) back in the queue with fresh attempts."""
    d = table_of(Delivery)
    statement = d.update().where(d.c.status == "dead")
    if ids:
        statement = statement.where(d.c.id.in_(ids))
    with engine.begin() as conn:
        result = conn.execute(
            statement.values(
                status="pending", attempts=0, next_attempt_at=None, claimed_until=None
            ).execution_options(preserve_rowcount=True)
        )
        return int(result.rowcount)
