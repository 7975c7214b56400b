"""Values people write in a playbook: shares (`80%`, `0.8`) and amounts (`20000`, `2万`,
`20,000.50`), read exactly: a share is a Fraction, an amount integer cents. The tables of how
people write numbers (万 and 亿; and for imported records also ¥, 元 and full-width digits,
see store/convert.py) are here once, for both.

A share written as a plain number is a fraction of 1, so `rate: 3` would be 300%. Nobody means
that, so it is refused where a share cannot pass 100% (a rate, a weight, a light), with the way
to write it; where a share may pass 100% (a tier bound of attainment) `1.2` is 120% and only a
plain number above 10 is refused (`upto: 120` would be 12000%).
"""

from __future__ import annotations

import re
from contextlib import suppress
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from salesplay.engine.errors import ExpressionError

CHINESE_MULTIPLIERS = {"万": Decimal(10_000), "亿": Decimal(100_000_000)}
PERCENT_SIGNS = ("%", "％")
CURRENCY_SIGNS = ("¥", "￥")  # before an amount: ¥1,200
CURRENCY_UNITS = ("元",)  # after it: 1,200元, 12.5万元
# What a Chinese input method types in full width, read as its ASCII twin: １２３４，５ → 1234,5.
# Not NFKC, which would also read ² as 2 and ½ as 1⁄2.
FULL_WIDTH = str.maketrans("０１２３４５６７８９，．－＋", "0123456789,.-+")
# The most a plain number may be where a share may pass 100%: 10 (1000%) is still a multiple
# someone could mean; 80 or 120 is a percentage written without its sign.
MOST_PLAIN_OVER_100 = 10
# The largest amount (in units) and share a playbook may write. Amounts are integer cents in a
# 64-bit column, and ten trillion is more than any sale; a share of 1000% (ten times a target) is
# more than any tier bound or cap means. Larger numbers validated but overflowed the database.
MOST_AMOUNT = 10**13
MOST_SHARE = 10
# Decimal places a share may have: 1e-999999999 would make a fraction of a billion digits.
MOST_DECIMALS = 12
_AMOUNT = re.compile(
    r"(?P<number>\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*(?P<unit>万|亿)?"
)
_NOT_AN_AMOUNT = "'{}' is not an amount: write e.g. 20000, 2万 or 20,000.50"


def _decimal_text(value: Decimal | Fraction) -> str:
    exact = Fraction(value)
    number = Decimal(exact.numerator) / Decimal(exact.denominator)
    with suppress(InvalidOperation):  # too many digits to hold six decimals: print it as is
        number = number.quantize(Decimal("0.000001"))
    text = f"{number.normalize():f}"
    return "0" if text == "-0" else text


def percent_text(value: Decimal | Fraction) -> str:
    """0.05 → '5%', 3 → '300%', Fraction(1, 3) → '33.333333%'."""
    return _decimal_text(Fraction(value) * 100) + "%"


def plain_text(value: Decimal | Fraction) -> str:
    """A number as written, without exponent or trailing zeros: 3, 0.05, 120."""
    return _decimal_text(value)


def plain_share_problem(value: Decimal | Fraction, *, over_100: bool = False) -> str | None:
    """Why a plain number (written without %) cannot stand for a share, or None if it can:
    '3 would be 300%; write 3% (or 0.03)'."""
    most = MOST_PLAIN_OVER_100 if over_100 else 1
    if abs(Fraction(value)) <= most:
        return None
    written = plain_text(value)
    meant = plain_text(Fraction(value) / 100)
    return f"{written} would be {percent_text(value)}; write {written}% (or {meant})"


def decimal_places(number: Decimal) -> int:
    """How many decimal places a number needs: 0.80 → 1, 1e-9 → 9, 1200 → 0."""
    _, digits, exponent = number.as_tuple()
    if not isinstance(exponent, int):
        return 0
    trailing = len(digits) - len("".join(map(str, digits)).rstrip("0"))
    return max(0, -(exponent + trailing))


def share(value: Any, *, over_100: bool = False) -> Fraction:
    """5%, '5 %', 0.05 → Fraction(1, 20); ExpressionError for anything else.

    A plain number above 1 is refused (`3` would be 300%), and so is a percentage above 100%;
    with over_100 (attainment: a tier bound, a cap) a share may pass 100% and only a plain
    number above 10 is refused (`120` would be 12000%; `1.2` is 120%).
    """
    if isinstance(value, bool):
        raise ExpressionError(f"'{value}' is not a share: write e.g. 80% or 0.8")
    text = str(value).strip()
    percent = text.endswith(PERCENT_SIGNS)
    if percent:
        text = text[:-1].strip()
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise ExpressionError(f"'{value}' is not a share: write e.g. 80% or 0.8") from None
    if not number.is_finite() or number < 0:
        raise ExpressionError(f"'{value}' is not a share: write e.g. 80% or 0.8")
    # A percentage past the bound, or a plain number so large that even its "write N%" hint
    # would be thousands of digits long.
    if number > (MOST_SHARE * 100 if percent else MOST_AMOUNT):
        raise ExpressionError(
            f"'{value}' is more than {MOST_SHARE * 100}%, the most a share can be"
        )
    if decimal_places(number) > MOST_DECIMALS:
        raise ExpressionError(f"'{value}' has more than {MOST_DECIMALS} decimal places")
    found = Fraction(number) / 100 if percent else Fraction(number)
    if not percent:
        problem = plain_share_problem(number, over_100=over_100)
        if problem:
            raise ExpressionError(problem)
    if found > 1 and not over_100:
        raise ExpressionError(f"{percent_text(found)} is more than 100%, the most it can be here")
    return found


def cents(value: Any) -> int:
    """An amount in units with at most two decimals, as cents: 20000, '2万', '20,000.50',
    '1.5万' → 2000000, 2000000, 2000050, 1500000; ExpressionError for anything else."""
    if isinstance(value, bool):
        raise ExpressionError(_NOT_AN_AMOUNT.format(value))
    if isinstance(value, int | Decimal):
        number = Decimal(value)
    elif isinstance(value, float):
        number = Decimal(repr(value))
    else:
        match = _AMOUNT.fullmatch(str(value).strip())
        if match is None:
            raise ExpressionError(_NOT_AN_AMOUNT.format(value))
        number = Decimal(re.sub("[,，]", "", match["number"]))
        if match["unit"]:
            number *= CHINESE_MULTIPLIERS[match["unit"]]
    if not number.is_finite() or number < 0:
        raise ExpressionError(_NOT_AN_AMOUNT.format(value))
    if number > MOST_AMOUNT:
        raise ExpressionError(f"'{value}' is more than {MOST_AMOUNT:,}, the most an amount can be")
    scaled = number * 100
    if decimal_places(number) > 2:
        raise ExpressionError(f"'{value}' has more than 2 decimal places")
    return int(scaled)


def without_currency(text: str) -> str:
    """An amount's text without its currency and in half-width digits: '¥1,200' and '１２００元'
    → '1,200' and '1200'; '-¥5' → '-5'. Anything else is left for the caller to refuse."""
    text = text.strip().translate(FULL_WIDTH)
    sign = text[:1] if text[:1] in "+-" else ""
    rest = text[len(sign) :].lstrip()
    for mark in CURRENCY_SIGNS:
        if rest.startswith(mark):
            rest = rest[len(mark) :].lstrip()
            break
    for mark in CURRENCY_UNITS:
        if rest.endswith(mark):
            rest = rest[: -len(mark)].rstrip()
            break
    return sign + rest


def multiplied(text: str) -> tuple[str, Decimal]:
    """A number's text and its Chinese multiplier: '12.5万' → ('12.5', 10000), '3' → ('3', 1)."""
    text = text.strip()
    if text[-1:] in CHINESE_MULTIPLIERS:
        return text[:-1].rstrip(), CHINESE_MULTIPLIERS[text[-1]]
    return text, Decimal(1)
