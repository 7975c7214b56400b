"""The stored records (what the CRM exports) and the engine's outputs, as sqlmodel tables.

Money is stored as integer cents (`*_cents`) so that SQLite and PostgreSQL sum and compare it
exactly. Every record table keeps `deleted` so that a `--full` import can retire rows without
losing history.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Table,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel


def _naive(nullable: bool = False) -> Any:
    """A time stored without an offset: activities' occurred_at in the playbook's zone, the
    engine's own timestamps (runs, owner changes) in UTC."""
    return Field(default=None, sa_column=Column(DateTime(), nullable=nullable))


def _money() -> Any:
    return Field(default=None, sa_column=Column(BigInteger, nullable=True))


class OrgUnit(SQLModel, table=True):
    __tablename__ = "org_units"
    id: str = Field(primary_key=True)
    name: str
    parent_id: str | None = Field(default=None, index=True)
    kind: str | None = None
    manager_id: str | None = None
    deleted: bool = False


class Rep(SQLModel, table=True):
    __tablename__ = "reps"
    id: str = Field(primary_key=True)
    name: str
    org_unit_id: str | None = Field(default=None, index=True)
    manager_id: str | None = None
    hired_on: date | None = None
    left_on: date | None = None  # the last day worked: targets are pro-rated by days active
    exam_score: float | None = None
    active: bool = True
    email: str | None = None
    mobile: str | None = None
    im_id: str | None = None
    deleted: bool = False


class Customer(SQLModel, table=True):
    __tablename__ = "customers"
    id: str = Field(primary_key=True)
    name: str
    owner_id: str | None = Field(default=None, index=True)
    org_unit_id: str | None = None
    industry: str | None = None
    strategic: bool = False
    status: str | None = None
    created_on: date | None = None
    attrs: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    bucket: int = Field(default=0, index=True)  # crc32(id) % 1024: partitions of a run
    deleted: bool = False
    # Written by the shared-pool rules (rules/pool.py), never by an import: see importer._apply.
    pooled_on: date | None = None  # the day the release rule last put it in the pool
    pooled_from: str | None = None  # the owner it was released from
    crm_owner_id: str | None = None  # the CRM's owner when a rule has since changed it
    owner_seen: str | None = None  # the owner the pool rule saw at its last run
    owner_since: date | None = None  # the first run that saw the current owner (after a change)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        # covering indexes: the grouped metric queries read them and never touch the table
        Index("ix_orders_customer_day", "customer_id", "ordered_on", "amount_cents", "deleted"),
        Index("ix_orders_rep_day", "rep_id", "ordered_on", "amount_cents", "deleted"),
    )
    id: str = Field(primary_key=True)
    customer_id: str
    rep_id: str | None = None
    amount_cents: int | None = _money()
    ordered_on: date
    collected_cents: int | None = _money()
    product: str | None = None
    deleted: bool = False


class Payment(SQLModel, table=True):
    __tablename__ = "payments"
    id: str = Field(primary_key=True)
    order_id: str = Field(index=True)
    amount_cents: int | None = _money()
    paid_on: date
    deleted: bool = False


class Survey(SQLModel, table=True):
    __tablename__ = "surveys"
    id: str = Field(primary_key=True)
    customer_id: str = Field(index=True)
    surveyed_on: date
    nps: int | None = None
    satisfaction: float | None = None
    complaint: bool = False
    deleted: bool = False


class Deal(SQLModel, table=True):
    __tablename__ = "deals"
    __table_args__ = (
        Index("ix_deals_customer_status", "customer_id", "status", "amount_cents", "deleted"),
    )
    id: str = Field(primary_key=True)
    customer_id: str
    rep_id: str | None = Field(default=None, index=True)
    stage: str | None = None
    amount_cents: int | None = _money()
    expected_close: date | None = None
    stage_changed_on: date | None = None
    status: str = "open"
    deleted: bool = False


class Activity(SQLModel, table=True):
    __tablename__ = "activities"
    __table_args__ = (
        Index("ix_activities_customer_day", "customer_id", "occurred_on", "channel", "deleted"),
        Index("ix_activities_rep_day", "rep_id", "occurred_on", "channel", "deleted"),
    )
    id: str = Field(primary_key=True)
    customer_id: str
    rep_id: str | None = None
    occurred_at: datetime = _naive()
    occurred_on: date  # the local date of occurred_at, kept so windows compare dates
    channel: str
    content: str | None = None
    feedback: str | None = None
    next_step: str | None = None
    contact_role: str | None = None  # e.g. decision_maker: instant recognition
    deleted: bool = False


class Target(SQLModel, table=True):
    __tablename__ = "targets"
    __table_args__ = (Index("ix_targets_owner", "owner_type", "owner_id", "metric"),)
    id: str = Field(primary_key=True)
    owner_type: str
    owner_id: str
    metric: str
    period_start: date
    period_end: date
    value_x100: int = Field(sa_column=Column(BigInteger, nullable=False))  # hundredths, exact
    deleted: bool = False


class ProgressNote(SQLModel, table=True):
    """Why a goal is behind and what will be done: one row per goal, the latest import wins."""

    __tablename__ = "progress_notes"
    __table_args__ = (
        Index("ix_progress_notes_goal", "owner_type", "owner_id", "metric", "period_start"),
    )
    id: str = Field(
        primary_key=True
    )  # owner_type:owner_id:metric:period, unless the file names one
    owner_type: str
    owner_id: str
    metric: str
    period: str
    period_start: date
    period_end: date
    reason: str | None = None
    plan: str | None = None
    deleted: bool = False


# ---- what the engine writes -------------------------------------------------------------


class Run(SQLModel, table=True):
    __tablename__ = "runs"
    __table_args__ = (
        # One row per (job, slot): the database decides which scheduled runs happen. A manual
        # run has no slot (NULLs never collide).
        UniqueConstraint("job", "slot"),
        # At most one running scheduled run per job: a claim that would break this is refused.
        Index(
            "ux_runs_one_running",
            "job",
            unique=True,
            sqlite_where=text("status = 'running' AND slot IS NOT NULL"),
            postgresql_where=text("status = 'running' AND slot IS NOT NULL"),
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    job: str = "manual"
    started_at: datetime = _naive()
    finished_at: datetime | None = _naive(nullable=True)
    as_of: date
    playbook_path: str
    playbook_hash: str
    status: str = "running"
    emitted: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))
    # Scheduled runs (engine/scheduler.py): the slot in UTC, who holds the claim, until when.
    slot: datetime | None = _naive(nullable=True)
    owner: str | None = None  # host:pid:token of the claimant
    host: str | None = None
    pid: int | None = None
    lease_until: datetime | None = _naive(nullable=True)
    attempts: int = 0
    error: str | None = None
    salesplay_version: str | None = None  # the release that made the run (schema 4 on)


class EvalPartition(SQLModel, table=True):
    """One slice of a partitioned run (part -1 is the final, cross-customer step).

    A worker claims a pending row and does its work in the same transaction, so a worker that
    dies leaves the row pending for another to take.
    """

    __tablename__ = "eval_partitions"
    __table_args__ = (UniqueConstraint("run_id", "part"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    part: int
    parts: int
    status: str = "pending"  # pending / done
    worker: str | None = None
    finished_at: datetime | None = _naive(nullable=True)
    emitted: dict[str, int] | None = Field(default=None, sa_column=Column(JSON))


class Grade(SQLModel, table=True):
    __tablename__ = "grades"
    customer_id: str = Field(primary_key=True)
    grade: str
    since: date
    source: str = "rule"  # rule / manual
    run_id: int | None = None  # the values that decided it: the latest grade_changes row


class OwnerChange(SQLModel, table=True):
    __tablename__ = "owner_changes"
    id: int | None = Field(default=None, primary_key=True)
    customer_id: str = Field(index=True)
    old_owner_id: str | None = None
    new_owner_id: str | None = None
    changed_at: datetime = _naive()
    reason: str
    source: str  # import / rule / manual


class EpisodeKey(SQLModel):
    """(rule, subject, episode, seq): what a task or alert is about, unique per table."""

    id: int | None = Field(default=None, primary_key=True)
    rule: str
    subject_type: str
    subject_id: str
    episode: str
    seq: int


class Episode(EpisodeKey, table=True):
    """One stretch of time during which a rule's condition holds for a subject."""

    __tablename__ = "episodes"
    __table_args__ = (
        UniqueConstraint("rule", "subject_type", "subject_id", "episode", "seq"),
        Index("ix_episodes_open", "rule", "cleared_on", "subject_id"),
    )
    opened_on: date
    cleared_on: date | None = None
    run_id: int | None = None


class Task(EpisodeKey, table=True):
    __tablename__ = "tasks"
    __table_args__ = (
        UniqueConstraint("rule", "subject_type", "subject_id", "episode", "seq"),
        Index("ix_tasks_status", "status", "assignee_id"),
    )
    assignee_id: str | None = None
    due: date | None = None
    title: str
    status: str = "open"  # open / done / closed
    created_on: date
    closed_on: date | None = None
    note: str | None = None
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    run_id: int | None = None


class Alert(EpisodeKey, table=True):
    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("rule", "subject_type", "subject_id", "episode", "seq"),
        Index("ix_alerts_status", "status", "level"),
    )
    recipient_id: str | None = None
    level: str
    message: str
    raised_on: date
    status: str = "open"  # open / acknowledged / snoozed / resolved
    resolved_on: date | None = None
    acknowledged_on: date | None = None
    snoozed_until: date | None = None  # a snoozed alert is open again from this day
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    run_id: int | None = None


class Delivery(SQLModel, table=True):
    """The outbox: one row per (task or alert, channel), written in the transaction that stores
    the item, sent at least once by the dispatcher (engine/dispatch.py)."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("item_kind", "item_id", "channel"),
        Index("ix_deliveries_due", "status", "channel", "next_attempt_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    item_kind: str  # task / alert
    item_id: int
    channel: str
    recipient_id: str | None = None
    rule: str
    run_id: int | None = Field(default=None, index=True)
    digest_key: str | None = None  # deliveries sharing one are sent as one message
    status: str = "pending"  # pending / sent / dead
    attempts: int = 0
    next_attempt_at: datetime | None = _naive(nullable=True)
    claimed_until: datetime | None = _naive(nullable=True)
    last_attempt_at: datetime | None = _naive(nullable=True)
    sent_at: datetime | None = _naive(nullable=True)
    last_error: str | None = None
    created_at: datetime | None = _naive(nullable=True)


class CalendarDay(SQLModel, table=True):
    """Every day 1950-2149 with its day and month numbers: date arithmetic that both databases
    agree on."""

    __tablename__ = "calendar"
    day: date = Field(primary_key=True)
    day_num: int = Field(index=True, unique=True)
    month_num: int  # year * 12 + month - 1
    dom: int  # day of month


class CalendarMonth(SQLModel, table=True):
    __tablename__ = "calendar_months"
    month_num: int = Field(primary_key=True)
    first_day_num: int
    days: int


class PlanTask(SQLModel, table=True):
    """An improvement-plan task (DOMAIN.md §3): owner and milestone date, imported."""

    __tablename__ = "plan_tasks"
    id: str = Field(primary_key=True)
    owner_id: str = Field(index=True)
    title: str
    due_on: date
    deleted: bool = False


def table_of(model: type[SQLModel]) -> Table:
    """A model's Core table (sqlmodel's classes do not declare __table__ to type checkers)."""
    return model.__table__  # type: ignore[attr-defined, no-any-return]
