"""Index tasks and alerts by subject: `tasks --subject`, `alerts --subject` and explain look
them up by (subject_type, subject_id).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None
creates: tuple[str, ...] = ()  # the tables it adds (reset() drops them)


def upgrade() -> None:
    op.create_index("ix_tasks_subject", "tasks", ["subject_type", "subject_id"])
    op.create_index("ix_alerts_subject", "alerts", ["subject_type", "subject_id"])
    op.execute("UPDATE salesplay_meta SET schema_version = 4")
