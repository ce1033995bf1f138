"""One reading of a typed number, for every field that takes a price, a size or a decimal
parameter (order ticket, modify dialog, strategy parameters).

A number means one thing: ASCII digits, at most one dot for the decimals, an optional sign and
exponent. A comma is refused rather than guessed at: "1,5" is one and a half to some traders
and fifteen to others (the ticket once read it as 15). Thousands separators of any kind, "inf",
"nan" and exponents that leave every market's range are refused too, each with a message that
says what is wrong.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SEPARATORS = frozenset("'_ \u00a0\u2009\u202f\u2019")
MAX_INTEGER_DIGITS = 15
MAX_DECIMALS = 18


class NumberError(ValueError):
    """What is wrong with a typed number, worded for the trader."""


def parse_number(text: str, *, positive: bool = True) -> Decimal:
    """The number typed in ``text``; NumberError when it is not exactly one. ``positive``:
    zero and negative numbers are refused too (prices and sizes)."""
    typed = text.strip()
    if not typed:
        raise NumberError("required")
    if "," in typed:
        raise NumberError(f"'{typed}' has a comma: use a dot as the decimal separator (1.5), "
                          "and no thousands separators")
    if any(char in _SEPARATORS for char in typed):
        raise NumberError(f"'{typed}' has a thousands separator: type the digits alone, "
                          "with a dot as the decimal separator")
    bare = typed.lstrip("+-").lower()
    if bare in ("inf", "infinity"):
        raise NumberError(f"'{typed}' is infinite: type a finite number")
    if bare in ("nan", "snan"):
        raise NumberError(f"'{typed}' is not a number (nan)")
    if not _NUMBER.fullmatch(typed):
        raise NumberError(f"'{typed}' is not a number")
    try:
        value = Decimal(typed)
    except InvalidOperation:  # an exponent beyond what Decimal can hold
        raise NumberError(f"'{typed}' is out of range") from None
    if value and value.adjusted() >= MAX_INTEGER_DIGITS:
        raise NumberError(f"'{typed}' is too large: at most {MAX_INTEGER_DIGITS} digits before the decimal point")
    if value and -value.as_tuple().exponent > MAX_DECIMALS:  # type: ignore[operator]
        raise NumberError(f"'{typed}' has more than {MAX_DECIMALS} decimal places")
    if positive and value < 0:
        raise NumberError(f"'{typed}' is negative: must be greater than 0")
    if positive and value == 0:
        raise NumberError("must be greater than 0")
    return value
