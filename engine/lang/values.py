"""Values people write in a playbook: shares (`80%`, `0.8`) and amounts (`20000`, `199.50`),
read exactly: a share is a Fraction, an amount integer cents."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from salesplay.engine.errors import ExpressionError


def share(value: Any) -> Fraction:
    """80%, '80%', 0.8 → Fraction(4, 5); ExpressionError for anything else."""
    text = str(value).strip()
    scale = Fraction(1)
    if text.endswith("%"):
        text, scale = text[:-1].strip(), Fraction(1, 100)
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ExpressionError(f"'{value}' is not a share: write e.g. 80% or 0.8") from None
    if not number.is_finite() or number < 0:
        raise ExpressionError(f"'{value}' is not a share: write e.g. 80% or 0.8")
    return Fraction(number) * scale


def cents(value: Any) -> int:
    """An amount in units with at most two decimals, as cents: 199.5 → 19950."""
    try:
        number = Fraction(str(value)) * 100
    except (ValueError, ZeroDivisionError):
        raise ExpressionError(f"'{value}' is not an amount like 20000 or 199.50") from None
    if number.denominator != 1:
        raise ExpressionError(f"'{value}' has more than 2 decimal places")
    return int(number)
