"""The incentive family's own tables: statement lines and the periods that have closed."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


class PayoutLine(SQLModel, table=True):
    """One line of a rep's or team's statement: base × rate = amount, and why (detail).

    kind "line" rows of an open period are recomputed in place by every evaluation; at close
    they are frozen. Data arriving later for a closed period adds a kind "adjustment" row to
    the owner's open statement (adjusts = the closed period's label), never a rewrite.
    """

    __tablename__ = "payout_lines"
    __table_args__ = (Index("ix_payout_lines_owner", "owner_type", "owner_id", "period_start"),)
    id: int | None = Field(default=None, primary_key=True)
    owner_type: str  # rep / org_unit
    owner_id: str
    period_start: date
    period_end: date
    rule: str
    seq: int = 0  # the tier, for tiered commission
    base_cents: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    rate: float | None = None
    amount_cents: int = Field(sa_column=Column(BigInteger, nullable=False))
    detail: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    kind: str = "line"  # line / adjustment
    adjusts: str | None = None  # the closed period an adjustment corrects, e.g. 2024-06
    run_id: int | None = None


class PayoutClosing(SQLModel, table=True):
    """A statement period that has closed (its end plus the settlement lag): frozen since."""

    __tablename__ = "payout_closings"
    __table_args__ = (UniqueConstraint("period_start", "period_end"),)
    id: int | None = Field(default=None, primary_key=True)
    period_start: date
    period_end: date
    closed_on: date
    run_id: int | None = None
