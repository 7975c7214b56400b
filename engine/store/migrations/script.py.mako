"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision: str | None = ${repr(down_revision)}
branch_labels = None
depends_on = None
creates: tuple[str, ...] = ()  # the tables it adds (reset() drops them)


def upgrade() -> None:
    ${upgrades if upgrades else "..."}
    op.execute("UPDATE salesplay_meta SET schema_version = ${int(up_revision)}")
