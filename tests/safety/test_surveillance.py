"""Abnormal trading detection in the order path: rates, daily count, duplicates, self-trades
and runaway strategies."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import CircuitBreakerConfig, SurveillanceConfig
from core.engine import OrderRefused
from core.events import EventBus, OrderFilled, StrategyHalted
from core.models import Balance, ContractType, Fill, Instrument, Side
from core.portfolio import Portfolio
from core.risk.surveillance import Surveillance
from core.strategies.sma_cross import SmaCross
from tests.safety.conftest import SPOT, EngineFactory, limit, market, safety_config, start_engine, until

D = Decimal


def offsets(n: int) -> list[str]:
    return [str(D("0.99") - D(i) / 1000) for i in range(n)]


async def test_account_order_rate_is_limited_per_minute(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine(surveillance=SurveillanceConfig(max_orders_per_minute=3))
    prices = offsets(5)
    for offset in prices[:3]:
        await engine.place_order(limit(engine, offset=offset))
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, offset=prices[3]))
    assert refused.value.rule == "rate_limit" and "last minute" in refused.value.reason
    clock.advance(60_001)
    assert (await engine.place_order(limit(engine, offset=prices[4]))).is_open


async def test_each_strategy_has_its_own_rate(make_engine: EngineFactory) -> None:
    engine = await make_engine(surveillance=SurveillanceConfig(max_strategy_orders_per_minute=2))
    prices = offsets(5)
    for offset in prices[:2]:
        await engine.place_order(limit(engine, offset=offset, strategy_id="grid"))
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, offset=prices[2], strategy_id="grid"))
    assert refused.value.rule == "strategy_rate_limit"
    assert (await engine.place_order(limit(engine, offset=prices[3], strategy_id="trend"))).is_open
    assert (await engine.place_order(limit(engine, offset=prices[4]))).is_open


async def test_trades_per_day_are_capped_and_the_count_survives_a_restart(isolated_home: Path, clock: SimClock) -> None:
    config = safety_config(circuit_breakers=CircuitBreakerConfig(max_trades_per_day=3))
    engine = await start_engine(isolated_home, clock, config)
    prices = offsets(6)
    for offset in prices[:2]:
        await engine.place_order(limit(engine, offset=offset))
    await engine.close()
    engine = await start_engine(isolated_home, clock, config)
    try:
        await engine.place_order(limit(engine, offset=prices[2]))
        with pytest.raises(OrderRefused) as refused:
            await engine.place_order(limit(engine, offset=prices[3]))
        assert refused.value.rule == "max_trades_per_day" and "3 orders were placed today" in refused.value.reason
        clock.advance(86_400_000)
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        assert (await engine.place_order(limit(engine, offset=prices[4]))).is_open
    finally:
        await engine.close()


async def test_the_same_order_twice_within_the_window_is_a_duplicate(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine(surveillance=SurveillanceConfig(duplicate_window=2))
    first = await engine.place_order(limit(engine))
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine))
    assert refused.value.rule == "duplicate_order" and "same buy of 0.01 BTC/USDT" in refused.value.reason
    await engine.place_order(limit(engine, size="0.02"))  # another size is another order
    await engine.cancel_order(first.client_order_id)
    assert (await engine.place_order(limit(engine))).is_open, "a canceled order may be placed again at once"
    await engine.place_order(market())
    with pytest.raises(OrderRefused, match="duplicate"):
        await engine.place_order(market())
    clock.advance(2_001)
    engine.venues["paper"].step()  # type: ignore[attr-defined]
    assert (await engine.place_order(market())).status.value == "filled"


async def test_an_order_that_would_trade_with_our_own_resting_order_is_refused(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    await engine.place_order(market(size="0.1"))  # coins to sell
    resting_sell = await engine.place_order(limit(engine, side=Side.SELL, offset="1.01", size="0.05"))
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, side=Side.BUY, offset="1.02"))
    assert refused.value.rule == "self_trade" and resting_sell.client_order_id in refused.value.reason
    assert (await engine.place_order(limit(engine, side=Side.BUY, offset="0.99"))).is_open
    assert (await engine.place_order(market(side=Side.BUY, size="0.02"))).status.value == "filled", (
        "our sell is above the touch, so a market buy trades with others"
    )


async def test_a_runaway_strategy_is_stopped_on_its_own(make_engine: EngineFactory) -> None:
    engine = await make_engine(surveillance=SurveillanceConfig(runaway_orders=4, runaway_window=600))
    engine.strategies.add(SmaCross(strategy_id="loop"), venue="paper", symbols=[SPOT], timeframe="1m", allocation_pct=0.5)
    await engine.strategies.start("loop")
    halted = engine.bus.subscribe(StrategyHalted)
    for offset in offsets(4):
        await engine.place_order(limit(engine, offset=offset, strategy_id="loop"))
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, offset="0.96", strategy_id="loop"))
    assert refused.value.rule == "strategy_halted" and "runaway" in refused.value.reason
    assert [e.strategy_id for e in halted.drain()] == ["loop"]
    await until(lambda: not engine.open_orders(), "its working orders canceled")
    assert [i.state for i in engine.strategies.list_strategies()] == ["stopped"]
    cancels = await engine.db.audit_entries(kind="cancel_requested", actor="breaker")
    assert len(cancels) == 4
    assert (await engine.place_order(limit(engine, offset="0.96", strategy_id="other"))).is_open


async def test_a_strategy_losing_too_much_in_the_window_is_stopped(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine(surveillance=SurveillanceConfig(runaway_loss_pct=0.01))
    halted = engine.bus.subscribe(StrategyHalted)

    def fill(side: Side, price: str, n: int) -> OrderFilled:
        return OrderFilled(Fill(fill_id=f"f{n}", client_order_id=f"o{n}", venue="paper", symbol=SPOT, side=side,
                                price=D(price), size=D(1), ts=clock.now_ms(), strategy_id="bleeder"))

    engine.bus.publish(fill(Side.BUY, "60000", 1))
    engine.bus.publish(fill(Side.SELL, "59900", 2))  # -100: far under 1% of equity
    await engine.check_risk()
    assert halted.drain() == []
    engine.bus.publish(fill(Side.BUY, "60000", 3))
    engine.bus.publish(fill(Side.SELL, "58500", 4))  # -1,600 in all: past 1% of ~100k
    await engine.check_risk()
    events = halted.drain()
    assert [e.strategy_id for e in events] == ["bleeder"] and "realized loss" in events[0].reason


def test_the_runaway_loss_counts_the_contract_size(clock: SimClock) -> None:
    """Contracts worth 0.01 BTC: a 500 USDT drop on 100 of them loses 500, not the 50,000 its
    own average-cost copy counted (which stopped the strategy at once)."""
    perp = Instrument(venue="paper", symbol="BTC/USDT:USDT", base="BTC", quote="USDT",
                      contract_type=ContractType.LINEAR_PERPETUAL, tick_size=D("0.1"), lot_size=D(1),
                      contract_size=D("0.01"), max_leverage=20)
    portfolio = Portfolio(clock)
    portfolio.register_instrument(perp)
    portfolio.set_balances("paper", [Balance(asset="USDT", free=D(100_000))])
    bus = EventBus()
    surveillance = Surveillance(SurveillanceConfig(runaway_loss_pct=0.01), CircuitBreakerConfig(), portfolio, bus, clock)
    for n, (side, price) in enumerate(((Side.BUY, "60000"), (Side.SELL, "59500"), (Side.BUY, "60000"),
                                       (Side.SELL, "59000"))):
        bus.publish(OrderFilled(Fill(fill_id=f"f{n}", client_order_id=f"o{n}", venue="paper", symbol=perp.symbol,
                                     side=side, price=D(price), size=D(100), ts=clock.now_ms(), strategy_id="s")))
        if n == 1:
            assert surveillance.take_runaways() == [], "-500 is half of the 1% limit"
    [(strategy_id, reason)] = surveillance.take_runaways()
    assert strategy_id == "s" and "realized loss of 1,500" in reason
