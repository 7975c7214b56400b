"""Each run records the salesplay release that made it (`runs.salesplay_version`): when a
release changes what a rule computes, the ledger says which tasks, alerts and statement lines
came from which release. Runs made before this revision keep NULL there.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels = None
depends_on = None
creates: tuple[str, ...] = ()  # the tables it adds (reset() drops them)


def upgrade() -> None:
    op.add_column("runs", sa.Column("salesplay_version", sa.String(), nullable=True))
    op.execute("UPDATE salesplay_meta SET schema_version = 4")
