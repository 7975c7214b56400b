"""Shares and amounts as a playbook writes them, read by the one parser each (lang/values.py).

A share written as a plain number is a fraction of 1: 0.05 is 5%, and 3 would be 300%. Where a
share cannot pass 100% a plain number above 1 is refused; where it may (attainment) only one
above 10. Amounts are units, read to the cent: 2万 is 20,000.00 = 2,000,000 cents.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest

from salesplay.engine.errors import ExpressionError
from salesplay.engine.lang.values import cents, share


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        ("5%", Fraction(1, 20)),
        ("5 %", Fraction(1, 20)),
        ("5％", Fraction(1, 20)),
        (Decimal("0.05"), Fraction(1, 20)),
        ("0.05", Fraction(1, 20)),
        ("12.5%", Fraction(1, 8)),
        (1, Fraction(1)),  # a plain 1 is 100%, the most a share here can be
        ("100%", Fraction(1)),
        (0, Fraction(0)),
    ],
)
def test_a_share_is_written_with_percent_or_as_a_fraction_of_1(
    written: Any, expected: Fraction
) -> None:
    assert share(written) == expected
    assert share(written, over_100=True) == expected


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (3, "3 would be 300%; write 3% (or 0.03)"),
        (Decimal("1.2"), "1.2 would be 120%; write 1.2% (or 0.012)"),
        ("80", "80 would be 8000%; write 80% (or 0.8)"),
        ("300%", "300% is more than 100%, the most it can be here"),
        ("100.5%", "100.5% is more than 100%, the most it can be here"),
        ("lots", "'lots' is not a share: write e.g. 80% or 0.8"),
        (-1, "'-1' is not a share: write e.g. 80% or 0.8"),
        (True, "'True' is not a share: write e.g. 80% or 0.8"),
    ],
)
def test_a_share_of_at_most_100_percent_refuses_a_plain_number_above_1(
    written: Any, message: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        share(written)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (Decimal("1.2"), Fraction(6, 5)),
        ("120%", Fraction(6, 5)),
        ("300%", Fraction(3)),
        (10, Fraction(10)),  # 1000%: a multiple someone may mean
    ],
)
def test_a_share_that_may_pass_100_percent_takes_1_2_as_120_percent(
    written: Any, expected: Fraction
) -> None:
    assert share(written, over_100=True) == expected


@pytest.mark.parametrize(
    ("written", "message"),
    [
        (120, "120 would be 12000%; write 120% (or 1.2)"),
        (Decimal("10.5"), "10.5 would be 1050%; write 10.5% (or 0.105)"),
    ],
)
def test_a_share_that_may_pass_100_percent_refuses_a_plain_number_above_10(
    written: Any, message: str
) -> None:
    with pytest.raises(ExpressionError) as caught:
        share(written, over_100=True)
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("written", "expected"),
    [
        (20000, 2_000_000),
        ("20000", 2_000_000),
        ("2万", 2_000_000),
        ("2 万", 2_000_000),
        ("1.5万", 1_500_000),
        ("20,000", 2_000_000),
        ("20,000.50", 2_000_050),
        ("1,000,000", 100_000_000),
        ("1.2亿", 12_000_000_000),
        (Decimal("199.5"), 19_950),
        (0, 0),
    ],
)
def test_an_amount_in_units_with_wan_or_thousands_separators(written: Any, expected: int) -> None:
    assert cents(written) == expected


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("abc", "'abc' is not an amount: write e.g. 20000, 2万 or 20,000.50"),
        ("2,0000", "'2,0000' is not an amount: write e.g. 20000, 2万 or 20,000.50"),
        ("20000元", "'20000元' is not an amount: write e.g. 20000, 2万 or 20,000.50"),
        ("5%", "'5%' is not an amount: write e.g. 20000, 2万 or 20,000.50"),
        (-5, "'-5' is not an amount: write e.g. 20000, 2万 or 20,000.50"),
        (Decimal("1.234"), "'1.234' has more than 2 decimal places"),
        ("1.2345678万", "'1.2345678万' has more than 2 decimal places"),  # 12,345.678
    ],
)
def test_anything_else_is_not_an_amount(written: Any, message: str) -> None:
    with pytest.raises(ExpressionError) as caught:
        cents(written)
    assert caught.value.message == message
