"""A funded portfolio (100,000 USDT), a bus that records risk events, and a factory for managers."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from decimal import Decimal as D
from typing import Any

import pytest

from core.clock import SimClock
from core.config import RiskConfig, TradingConfig
from core.events import EventBus, RiskAlert, RiskStateChanged, Subscription
from core.models import Balance, ContractType, Fill, Instrument, Side
from core.portfolio import Portfolio
from core.risk import RiskManager

BTC = Instrument(venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.01"), lot_size=D("0.0001"))
ETH = Instrument(venue="paper", symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=D("0.01"), lot_size=D("0.001"))
SOL = Instrument(venue="paper", symbol="SOL/USDT", base="SOL", quote="USDT", tick_size=D("0.01"), lot_size=D("0.01"))
PERP = Instrument(
    venue="paper", symbol="BTC/USDT:USDT", base="BTC", quote="USDT", contract_type=ContractType.LINEAR_PERPETUAL,
    tick_size=D("0.1"), lot_size=D("0.001"), max_leverage=20,
)
INSTRUMENTS = {i.symbol: i for i in (BTC, ETH, SOL, PERP)}
_ids = itertools.count()


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def events(bus: EventBus) -> Subscription:
    return bus.subscribe(RiskAlert, RiskStateChanged, name="test")


@pytest.fixture
def portfolio(clock: SimClock) -> Portfolio:
    p = Portfolio(clock)
    for instrument in INSTRUMENTS.values():
        p.register_instrument(instrument)
    p.set_balances("paper", [Balance(asset="USDT", free=D(100000))])
    return p


MakeRisk = Callable[..., RiskManager]


@pytest.fixture
def make_risk(portfolio: Portfolio, bus: EventBus, clock: SimClock) -> MakeRisk:
    """A RiskManager whose limits are the defaults overridden by keyword (trading_* for TradingConfig)."""

    def make(**overrides: Any) -> RiskManager:
        trading = {k.removeprefix("trading_"): v for k, v in overrides.items() if k.startswith("trading_")}
        risk = {k: v for k, v in overrides.items() if not k.startswith("trading_")}
        risk.setdefault("max_position_size", D(1_000_000))
        risk.setdefault("max_daily_loss", D(1_000_000))
        return RiskManager(RiskConfig(**risk), TradingConfig(**trading), portfolio, bus, clock)

    return make


def open_position(portfolio: Portfolio, symbol: str, side: Side, size: str, price: str) -> None:
    """Book a fill at ``price`` and mark the market there."""
    instrument = INSTRUMENTS[symbol]
    portfolio.apply_fill(
        Fill(fill_id=f"f{next(_ids)}", client_order_id="ot-x", venue="paper", symbol=symbol, side=side,
             size=D(size), price=D(price))
    )
    portfolio.update_mark(instrument.venue, symbol, D(price))
