"""The paper venue's instruments: precision, limits and fees close to a large real exchange.

Known symbols get Binance-like figures; any other ``BASE/QUOTE`` or ``BASE/QUOTE:SETTLE`` needs
a ``price`` in the configuration, from which tick and lot sizes are derived.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal

from core.config import PaperMarketConfig
from core.models import ContractType, Instrument

SPOT_FEE = Decimal("0.001")
PERP_MAKER_FEE = Decimal("0.0002")
PERP_TAKER_FEE = Decimal("0.0005")
PERP_MAX_LEVERAGE = 20
MIN_NOTIONAL = Decimal(5)


@dataclass(frozen=True)
class MarketSpec:
    """What the simulator needs besides the instrument: where the price starts and how much
    it moves (standard deviation of log returns per simulated second)."""

    instrument: Instrument
    start_price: Decimal
    volatility: float


# symbol (without settle) -> tick, lot, price, per-second volatility
_KNOWN: dict[str, tuple[str, str, str, float]] = {
    "BTC/USDT": ("0.01", "0.00001", "60000", 1.0e-4),
    "ETH/USDT": ("0.01", "0.0001", "3000", 1.3e-4),
    "SOL/USDT": ("0.01", "0.001", "150", 1.8e-4),
}
_KNOWN_PERP: dict[str, tuple[str, str]] = {"BTC/USDT": ("0.1", "0.001"), "ETH/USDT": ("0.01", "0.001")}
_DEFAULT_VOLATILITY = 1.5e-4


def _steps_for(price: Decimal) -> tuple[Decimal, Decimal]:
    """About five significant digits of price and a lot worth about a cent."""
    magnitude = math.floor(math.log10(price))
    return Decimal(1).scaleb(magnitude - 4), Decimal(1).scaleb(-magnitude - 2)


def market_spec(venue: str, market: PaperMarketConfig) -> MarketSpec:
    """The instrument and simulation parameters of one configured market.

    Raises ValueError with a message for the person editing the configuration.
    """
    symbol = market.symbol
    pair, _, settle = symbol.partition(":")
    base, quote = pair.split("/")
    perpetual = bool(settle)
    if perpetual and settle != quote:
        raise ValueError(f"paper market {symbol}: only linear perpetuals settled in the quote currency are simulated")
    known = _KNOWN.get(pair)
    if known is None and market.price is None:
        raise ValueError(f"paper market {symbol} is not built in: give it a starting price (markets: [{{symbol: {symbol}, price: ...}}])")
    price = market.price if market.price is not None else Decimal(known[2])  # type: ignore[index]
    if known is not None:
        tick, lot = Decimal(known[0]), Decimal(known[1])
    else:
        tick, lot = _steps_for(price)
    if perpetual and pair in _KNOWN_PERP:
        tick, lot = (Decimal(v) for v in _KNOWN_PERP[pair])
    volatility = market.volatility or (known[3] if known is not None else _DEFAULT_VOLATILITY)
    instrument = Instrument(
        venue=venue,
        symbol=symbol,
        base=base,
        quote=quote,
        contract_type=ContractType.LINEAR_PERPETUAL if perpetual else ContractType.SPOT,
        tick_size=tick,
        lot_size=lot,
        min_size=lot,
        min_notional=MIN_NOTIONAL,
        maker_fee=PERP_MAKER_FEE if perpetual else SPOT_FEE,
        taker_fee=PERP_TAKER_FEE if perpetual else SPOT_FEE,
        max_leverage=PERP_MAX_LEVERAGE if perpetual else 1,
        contract_size=market.contract_size,
    )
    return MarketSpec(instrument, instrument.round_price(price), volatility)
