"""Operators as data: each one's SQL and the words `explain` and messages use for it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql.expression import ColumnElement

Sql = ColumnElement[Any]


@dataclass(frozen=True)
class Comparison:
    symbol: str
    phrase: str  # "revenue_6m is at least 500000"
    negation: str
    build: Callable[[Sql, Sql], Sql]


COMPARISONS: dict[str, Comparison] = {
    "=": Comparison("=", "is", "is not", lambda a, b: a == b),
    "!=": Comparison("≠", "is not", "is", lambda a, b: a != b),
    "<": Comparison("<", "is below", "is not below", lambda a, b: a < b),
    "<=": Comparison("≤", "is at most", "is above", lambda a, b: a <= b),
    ">": Comparison(">", "is above", "is not above", lambda a, b: a > b),
    ">=": Comparison("≥", "is at least", "is below", lambda a, b: a >= b),
}

# Which value types each arithmetic operator accepts, and what it gives back. "amount" is an
# exact quantity kept ×100 (money in cents, target values in hundredths).
ARITHMETIC: dict[tuple[str, str, str], str] = {
    ("+", "amount", "amount"): "amount",
    ("-", "amount", "amount"): "amount",
    ("+", "number", "number"): "number",
    ("-", "number", "number"): "number",
    ("*", "number", "number"): "number",
    ("/", "number", "number"): "number",
    ("*", "amount", "number"): "amount",
    ("*", "number", "amount"): "amount",
    ("/", "amount", "number"): "amount",
    ("/", "amount", "amount"): "number",
    ("-", "date", "date"): "number",
    ("+", "date", "duration"): "date",
    ("-", "date", "duration"): "date",
}

TYPE_WORDS = {
    "amount": "an amount",
    "number": "a number",
    "date": "a date",
    "text": "text",
    "bool": "a yes/no value",
    "duration": "a duration",
    "null": "null",
}
