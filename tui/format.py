"""How numbers look on screen: fixed decimals from the instrument, thousands separators.

Prices and sizes go through ``show_price`` and ``show_size`` wherever they are shown (tables,
the ticket, confirmations, notifications), so "59,000.00" never stands beside "59,000" and
"0.01000" never beside "0.01" for the same market.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from core.models import Instrument, MarketStats


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


def fmt_countdown(ms: int) -> str:
    """Time left as h:mm:ss (0:00:00 once it has passed)."""
    seconds = max(0, ms) // 1000
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def perpetual_line(stats: MarketStats | None, instrument: Instrument, now_ms: int) -> str:
    """A perpetual's funding, time to the next payment and open interest, as the data service
    last read them; dashes for what it has not read (or the venue does not give)."""
    if stats is None:
        return "funding -  open interest -  [dim](no reading yet: market_data in the configuration)[/dim]"
    if stats.funding_rate is None:
        funding = "funding -"
    else:
        colour = "$error" if stats.funding_rate > 0 else "$success"  # positive: longs pay
        funding = f"funding [{colour}]{stats.funding_rate * 100:+.4f}%[/]"
    if stats.next_funding_ts is not None:
        funding += f" next in {fmt_countdown(stats.next_funding_ts - now_ms)}"
    interest = "-" if stats.open_interest is None else f"{stats.open_interest:,.2f} {instrument.base}"
    ratio = "" if stats.long_short_ratio is None else f"  long/short {stats.long_short_ratio:.2f}"
    return f"{funding}  open interest {interest}{ratio}"


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
