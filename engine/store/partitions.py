"""Splitting a run by customer: a stored hash bucket per customer, contiguous bucket ranges per
partition, so each partition reads its customers (and their records) through an index."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from salesplay.engine.store.models import Customer, table_of

BUCKETS = 1024


def bucket_of(customer_id: str) -> int:
    """The customer's hash bucket: crc32 of its id, the same on every database and machine."""
    return zlib.crc32(customer_id.encode("utf-8")) % BUCKETS


@dataclass(frozen=True)
class Partition:
    """Partition `index` of `count`: the customers whose bucket lies in one contiguous range."""

    index: int
    count: int

    @property
    def buckets(self) -> tuple[int, int]:
        return self.index * BUCKETS // self.count, (self.index + 1) * BUCKETS // self.count - 1

    def customers(self) -> sa.Select[Any]:
        c = table_of(Customer)
        low, high = self.buckets
        return sa.select(c.c.id).where(c.c.bucket.between(low, high))

    def holds(self, customer_id: Any) -> Any:
        """A predicate: this customer id belongs to the partition."""
        return customer_id.in_(self.customers())

    def holds_row(self, customers: Any) -> Any:
        """A predicate on a customers table (or alias) itself."""
        low, high = self.buckets
        return customers.c.bucket.between(low, high)
