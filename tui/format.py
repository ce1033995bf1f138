"""How numbers look on screen: fixed decimals from the instrument, thousands separators.

Prices and sizes go through ``show_price`` and ``show_size`` wherever they are shown (tables,
the ticket, confirmations, notifications), so "59,000.00" never stands beside "59,000" and
"0.01000" never beside "0.01" for the same market.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.models import Instrument


def fmt_num(value: Decimal | float | int | None, decimals: int = 2, *, sign: bool = False) -> str:
    if value is None:
        return "-"
    return f"{Decimal(str(value)):{'+' if sign else ''},.{decimals}f}"


def fmt_money(value: Decimal | float | None, *, sign: bool = False) -> str:
    return fmt_num(value, 2, sign=sign)


def fmt_time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%H:%M:%S")


def fmt_datetime(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")


def compact_size(value: Decimal | float) -> str:
    """Sizes in narrow columns: 1.23K, 4.5M."""
    number = float(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(number) >= limit:
            return f"{number / limit:.2f}{suffix}"
    if abs(number) >= 100:
        return f"{number:.1f}"
    return f"{number:.4f}".rstrip("0").rstrip(".") or "0"


def fmt_price(value: Decimal | None, decimals: int) -> str:
    """A price at the instrument's precision (display only: averages can carry more digits)."""
    return fmt_num(value, decimals)


def fmt_size(value: Decimal | None, decimals: int) -> str:
    """A size at the instrument's lot precision."""
    return fmt_num(value, decimals)


def _as_typed(value: Decimal | None) -> str:
    return "-" if value is None else f"{value.normalize():,f}"


def show_price(instrument: Instrument | None, value: Decimal | None) -> str:
    """A price at its market's tick precision (as it is, for a market no longer listed)."""
    return _as_typed(value) if instrument is None else fmt_price(value, instrument.price_decimals)


def show_size(instrument: Instrument | None, value: Decimal | None) -> str:
    """A size at its market's lot precision (as it is, for a market no longer listed)."""
    return _as_typed(value) if instrument is None else fmt_size(value, instrument.size_decimals)
