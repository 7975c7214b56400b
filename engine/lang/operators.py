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
# exact quantity kept ×100 (money in cents, target values in hundredths). A "share" is a ratio
# kept as a fraction of 1 (80% is 0.8): amount ÷ amount, completion, pace. A share of an amount
# is an amount, of a count a count; shares combine into shares. (The compiler adds two cases a
# table of types cannot say: a share times or divided by a constant stays a share, and a count
# divided by a count — two numbers, neither a constant — is a share.)
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
    ("/", "amount", "amount"): "share",
    ("+", "share", "share"): "share",
    ("-", "share", "share"): "share",
    ("*", "share", "share"): "share",
    ("/", "share", "share"): "share",
    ("*", "share", "amount"): "amount",
    ("*", "amount", "share"): "amount",
    ("/", "amount", "share"): "amount",
    ("*", "share", "number"): "number",
    ("*", "number", "share"): "number",
    ("/", "share", "number"): "number",
    ("/", "number", "share"): "number",
    ("-", "date", "date"): "number",
    ("+", "date", "duration"): "date",
    ("-", "date", "duration"): "date",
}

NUMERIC = ("number", "amount", "share")  # what negates, abs() takes and arithmetic reads

TYPE_WORDS = {
    "amount": "an amount",
    "number": "a number",
    "share": "a share",
    "date": "a date",
    "text": "text",
    "bool": "a yes/no value",
    "duration": "a duration",
    "null": "null",
}
