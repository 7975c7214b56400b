"""v3: the tables as release 542acbb (SCHEMA_VERSION = 3) creates them, and the calendar.

Every table, column, type, nullability, index, unique constraint and partial index exactly as
that release's SQLModel `create_all` makes them on SQLite and PostgreSQL, plus `salesplay_meta`
and the calendar rows. A database that release made is stamped with this revision, not run
through it; a new database starts here.

Revision ID: 0003
Revises: (none)
"""

from __future__ import annotations

from calendar import monthrange
from datetime import date
from typing import Any

import sqlalchemy as sa
from alembic import op

from salesplay.engine.store.dialects import bulk_insert

revision = "0003"
down_revision: str | None = None
branch_labels = None
depends_on = None
creates = (  # what reset() drops: every table below
    "org_units",
    "reps",
    "customers",
    "orders",
    "payments",
    "surveys",
    "deals",
    "activities",
    "targets",
    "progress_notes",
    "runs",
    "eval_partitions",
    "grades",
    "grade_changes",
    "grade_overrides",
    "owner_changes",
    "payout_lines",
    "payout_closings",
    "episodes",
    "tasks",
    "alerts",
    "deliveries",
    "calendar",
    "calendar_months",
    "plan_tasks",
    "task_reassignments",
    "salesplay_meta",
)

CALENDAR_FIRST = date(1950, 1, 1)
CALENDAR_LAST = date(2149, 12, 31)


def upgrade() -> None:
    op.create_table(
        "org_units",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("parent_id", sa.String(), nullable=True),
        sa.Column("kind", sa.String(), nullable=True),
        sa.Column("manager_id", sa.String(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_org_units_parent_id", "org_units", ["parent_id"], unique=False)
    op.create_table(
        "reps",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("org_unit_id", sa.String(), nullable=True),
        sa.Column("manager_id", sa.String(), nullable=True),
        sa.Column("hired_on", sa.Date(), nullable=True),
        sa.Column("left_on", sa.Date(), nullable=True),
        sa.Column("exam_score", sa.Float(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("email", sa.String(), nullable=True),
        sa.Column("mobile", sa.String(), nullable=True),
        sa.Column("im_id", sa.String(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_reps_org_unit_id", "reps", ["org_unit_id"], unique=False)
    op.create_table(
        "customers",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=True),
        sa.Column("org_unit_id", sa.String(), nullable=True),
        sa.Column("industry", sa.String(), nullable=True),
        sa.Column("strategic", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(), nullable=True),
        sa.Column("created_on", sa.Date(), nullable=True),
        sa.Column("attrs", sa.JSON(), nullable=True),
        sa.Column("bucket", sa.Integer(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.Column("pooled_on", sa.Date(), nullable=True),
        sa.Column("pooled_from", sa.String(), nullable=True),
        sa.Column("crm_owner_id", sa.String(), nullable=True),
        sa.Column("owner_seen", sa.String(), nullable=True),
        sa.Column("owner_since", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_customers_bucket", "customers", ["bucket"], unique=False)
    op.create_index("ix_customers_owner_id", "customers", ["owner_id"], unique=False)
    op.create_table(
        "orders",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("rep_id", sa.String(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("ordered_on", sa.Date(), nullable=False),
        sa.Column("collected_cents", sa.BigInteger(), nullable=True),
        sa.Column("product", sa.String(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_orders_customer_day",
        "orders",
        ["customer_id", "ordered_on", "amount_cents", "deleted"],
        unique=False,
    )
    op.create_index(
        "ix_orders_rep_day",
        "orders",
        ["rep_id", "ordered_on", "amount_cents", "deleted"],
        unique=False,
    )
    op.create_table(
        "payments",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("order_id", sa.String(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_payments_order_id", "payments", ["order_id"], unique=False)
    op.create_table(
        "surveys",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("surveyed_on", sa.Date(), nullable=False),
        sa.Column("nps", sa.Integer(), nullable=True),
        sa.Column("satisfaction", sa.Float(), nullable=True),
        sa.Column("complaint", sa.Boolean(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_surveys_customer_id", "surveys", ["customer_id"], unique=False)
    op.create_table(
        "deals",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("rep_id", sa.String(), nullable=True),
        sa.Column("stage", sa.String(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=True),
        sa.Column("expected_close", sa.Date(), nullable=True),
        sa.Column("stage_changed_on", sa.Date(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_deals_customer_status",
        "deals",
        ["customer_id", "status", "amount_cents", "deleted"],
        unique=False,
    )
    op.create_index("ix_deals_rep_id", "deals", ["rep_id"], unique=False)
    op.create_table(
        "activities",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("rep_id", sa.String(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("content", sa.String(), nullable=True),
        sa.Column("feedback", sa.String(), nullable=True),
        sa.Column("next_step", sa.String(), nullable=True),
        sa.Column("contact_role", sa.String(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_activities_customer_day",
        "activities",
        ["customer_id", "occurred_on", "channel", "deleted"],
        unique=False,
    )
    op.create_index(
        "ix_activities_rep_day",
        "activities",
        ["rep_id", "occurred_on", "channel", "deleted"],
        unique=False,
    )
    op.create_table(
        "targets",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner_type", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("value_x100", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_targets_owner", "targets", ["owner_type", "owner_id", "metric"], unique=False
    )
    op.create_table(
        "progress_notes",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner_type", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=False),
        sa.Column("metric", sa.String(), nullable=False),
        sa.Column("period", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("plan", sa.String(), nullable=True),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_progress_notes_goal",
        "progress_notes",
        ["owner_type", "owner_id", "metric", "period_start"],
        unique=False,
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job", sa.String(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("playbook_path", sa.String(), nullable=False),
        sa.Column("playbook_hash", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("emitted", sa.JSON(), nullable=True),
        sa.Column("slot", sa.DateTime(), nullable=True),
        sa.Column("owner", sa.String(), nullable=True),
        sa.Column("host", sa.String(), nullable=True),
        sa.Column("pid", sa.Integer(), nullable=True),
        sa.Column("lease_until", sa.DateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("job", "slot"),
    )
    op.create_index(
        "ux_runs_one_running",
        "runs",
        ["job"],
        unique=True,
        sqlite_where=sa.text("status = 'running' AND slot IS NOT NULL"),
        postgresql_where=sa.text("status = 'running' AND slot IS NOT NULL"),
    )
    op.create_table(
        "eval_partitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("parts", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("worker", sa.String(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("emitted", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "part"),
    )
    op.create_index("ix_eval_partitions_run_id", "eval_partitions", ["run_id"], unique=False)
    op.create_table(
        "grades",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("grade", sa.String(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("customer_id"),
    )
    op.create_table(
        "grade_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("old_grade", sa.String(), nullable=True),
        sa.Column("new_grade", sa.String(), nullable=False),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_grade_changes_customer_id", "grade_changes", ["customer_id"], unique=False)
    op.create_table(
        "grade_overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("grade", sa.String(), nullable=False),
        sa.Column("set_by", sa.String(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("set_on", sa.Date(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_grade_overrides_customer_id", "grade_overrides", ["customer_id"], unique=False
    )
    op.create_table(
        "owner_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("old_owner_id", sa.String(), nullable=True),
        sa.Column("new_owner_id", sa.String(), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_owner_changes_customer_id", "owner_changes", ["customer_id"], unique=False)
    op.create_table(
        "payout_lines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_type", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("base_cents", sa.BigInteger(), nullable=True),
        sa.Column("rate", sa.Float(), nullable=True),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("adjusts", sa.String(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_payout_lines_owner",
        "payout_lines",
        ["owner_type", "owner_id", "period_start"],
        unique=False,
    )
    op.create_table(
        "payout_closings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("period_start", "period_end"),
    )
    op.create_table(
        "episodes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("subject_type", sa.String(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("episode", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("opened_on", sa.Date(), nullable=False),
        sa.Column("cleared_on", sa.Date(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "subject_type", "subject_id", "episode", "seq"),
    )
    op.create_index(
        "ix_episodes_open", "episodes", ["rule", "cleared_on", "subject_id"], unique=False
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("subject_type", sa.String(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("episode", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("assignee_id", sa.String(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("created_on", sa.Date(), nullable=False),
        sa.Column("closed_on", sa.Date(), nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "subject_type", "subject_id", "episode", "seq"),
    )
    op.create_index("ix_tasks_status", "tasks", ["status", "assignee_id"], unique=False)
    op.create_table(
        "alerts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("subject_type", sa.String(), nullable=False),
        sa.Column("subject_id", sa.String(), nullable=False),
        sa.Column("episode", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=False),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("raised_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("resolved_on", sa.Date(), nullable=True),
        sa.Column("acknowledged_on", sa.Date(), nullable=True),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("rule", "subject_type", "subject_id", "episode", "seq"),
    )
    op.create_index("ix_alerts_status", "alerts", ["status", "level"], unique=False)
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("item_kind", sa.String(), nullable=False),
        sa.Column("item_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(), nullable=False),
        sa.Column("recipient_id", sa.String(), nullable=True),
        sa.Column("rule", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("digest_key", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_until", sa.DateTime(), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("item_kind", "item_id", "channel"),
    )
    op.create_index(
        "ix_deliveries_due", "deliveries", ["status", "channel", "next_attempt_at"], unique=False
    )
    op.create_index("ix_deliveries_run_id", "deliveries", ["run_id"], unique=False)
    op.create_table(
        "calendar",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("day_num", sa.Integer(), nullable=False),
        sa.Column("month_num", sa.Integer(), nullable=False),
        sa.Column("dom", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day"),
    )
    op.create_index("ix_calendar_day_num", "calendar", ["day_num"], unique=True)
    op.create_table(
        "calendar_months",
        sa.Column("month_num", sa.Integer(), nullable=False),
        sa.Column("first_day_num", sa.Integer(), nullable=False),
        sa.Column("days", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("month_num"),
    )
    op.create_table(
        "plan_tasks",
        sa.Column("id", sa.String(), nullable=False),
        sa.Column("owner_id", sa.String(), nullable=False),
        sa.Column("title", sa.String(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_plan_tasks_owner_id", "plan_tasks", ["owner_id"], unique=False)
    op.create_table(
        "task_reassignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=False),
        sa.Column("old_assignee_id", sa.String(), nullable=True),
        sa.Column("new_assignee_id", sa.String(), nullable=True),
        sa.Column("changed_on", sa.Date(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_task_reassignments_task_id", "task_reassignments", ["task_id"], unique=False
    )
    # Not a model: the release wrote it by hand, and users' queries may read it.
    op.execute("CREATE TABLE salesplay_meta (schema_version INTEGER NOT NULL)")
    op.execute("INSERT INTO salesplay_meta (schema_version) VALUES (3)")
    _fill_calendar()


def _fill_calendar() -> None:
    """Every day 1950-2149 with its day number (the proleptic ordinal), month number
    (year * 12 + month - 1) and day of month; each month's first day number and length. Days
    go in as ISO text, which both databases store as they would a date (and faster)."""
    days: list[tuple[Any, ...]] = []
    for day_num in range(CALENDAR_FIRST.toordinal(), CALENDAR_LAST.toordinal() + 1):
        day = date.fromordinal(day_num)
        days.append((day.isoformat(), day_num, day.year * 12 + day.month - 1, day.day))
    months = [
        (year * 12 + month - 1, date(year, month, 1).toordinal(), monthrange(year, month)[1])
        for year in range(CALENDAR_FIRST.year, CALENDAR_LAST.year + 1)
        for month in range(1, 13)
    ]
    conn = op.get_bind()
    bulk_insert(conn, "calendar", ["day", "day_num", "month_num", "dom"], days)
    bulk_insert(conn, "calendar_months", ["month_num", "first_day_num", "days"], months)
