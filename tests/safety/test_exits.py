"""Exits are never locked in: orders that only reduce a position pass the daily order count,
the rate limits and automatic halts; only a halt by a person stops them. And the check made
before a confirmation is a dry run: it counts nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import CircuitBreakerConfig, SurveillanceConfig
from core.engine import OrderRefused, TradingEngine
from core.models import OrderStatus, RiskState, Side
from core.risk.breakers import BreakerLevel
from tests.safety.conftest import PERP, EngineFactory, limit, market, safety_config, settle, start_engine

D = Decimal


async def long_position(engine: TradingEngine) -> None:
    order = await engine.place_order(market(symbol=PERP, size="0.01", leverage=2))
    await settle()
    assert order.status is OrderStatus.FILLED and engine.portfolio.position("paper", PERP) is not None


def blocking_rules(engine: TradingEngine) -> list[str | None]:
    return [b.rule for b in engine.guard.blockers(engine.open_orders())]


async def test_after_the_daily_order_cap_a_close_still_passes(make_engine: EngineFactory) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(max_trades_per_day=3))
    await long_position(engine)
    for offset in ("0.98", "0.97"):
        await engine.place_order(limit(engine, offset=offset))
    assert engine.guard.surveillance.orders_today() == 3
    assert blocking_rules(engine) == ["max_trades_per_day"]
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, offset="0.96"))
    assert refused.value.rule == "max_trades_per_day" and "reduce or close a position still pass" in refused.value.reason

    closing = await engine.close_position("paper", PERP)
    await settle()
    assert closing is not None and closing.status is OrderStatus.FILLED
    assert engine.portfolio.position("paper", PERP) is None
    assert engine.guard.surveillance.orders_today() == 4
    assert (await engine.cancel_order(engine.open_orders()[0].client_order_id)).status is OrderStatus.CANCELED


async def test_the_rate_limit_lets_a_close_through(make_engine: EngineFactory) -> None:
    engine = await make_engine(surveillance=SurveillanceConfig(max_orders_per_minute=2))
    await long_position(engine)
    await engine.place_order(limit(engine))
    assert blocking_rules(engine) == ["rate_limit"]
    assert await engine.close_position("paper", PERP) is not None


async def test_an_automatic_halt_stops_new_exposure_but_not_a_close(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    await long_position(engine)
    engine.guard.breakers.trip(BreakerLevel.ACCOUNT, "drawdown", "account", "test trip")
    assert engine.risk.state is RiskState.HALTED and not engine.risk.halted_by_person
    assert blocking_rules(engine) == ["halted", "breaker drawdown"]
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine))
    assert refused.value.rule == "breaker" and "orders that reduce a position still pass" in refused.value.reason
    closing = await engine.close_position("paper", PERP)
    await settle()
    assert closing is not None and closing.status is OrderStatus.FILLED


async def test_a_halt_by_a_person_stops_closes_too_and_survives_a_restart(isolated_home: Path, clock: SimClock) -> None:
    engine = await start_engine(isolated_home, clock, safety_config())
    await long_position(engine)
    engine.risk.set_state(RiskState.HALTED, "kill switch engaged by alice", by_person=True)
    with pytest.raises(OrderRefused) as refused:
        await engine.close_position("paper", PERP)
    assert refused.value.rule == "halted" and "nothing passes" in refused.value.reason
    await settle()
    await engine.close()
    engine = await start_engine(isolated_home, clock, safety_config())
    try:
        assert engine.risk.halted_by_person
        with pytest.raises(OrderRefused):
            await engine.close_position("paper", PERP)
    finally:
        await engine.close()


async def test_the_check_before_a_confirmation_counts_nothing(make_engine: EngineFactory) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(max_trades_per_day=2),
                               surveillance=SurveillanceConfig(runaway_orders=1))
    request = limit(engine, strategy_id="grid")
    for _ in range(5):
        assert engine.executor.precheck(request) is None
    assert engine.guard.surveillance.orders_today() == 0
    assert engine.guard.surveillance.take_runaways() == []
    assert engine.open_orders() == [] and await engine.order_history() == []
    far = limit(engine, offset="0.5")
    refusal = engine.executor.precheck(far)
    assert refusal is not None and refusal.rule == "fat_finger"


async def test_a_modification_refused_by_the_daily_cap_keeps_the_old_order(make_engine: EngineFactory) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(max_trades_per_day=1))
    order = await engine.place_order(limit(engine))
    new_price = order.price - 1  # type: ignore[operator]
    refusal = engine.executor.precheck_modify(order.client_order_id, price=new_price)
    assert refusal is not None and refusal.rule == "max_trades_per_day"
    with pytest.raises(OrderRefused):
        await engine.modify_order(order.client_order_id, price=new_price)
    assert [o.client_order_id for o in engine.open_orders()] == [order.client_order_id]


async def test_working_orders_count_toward_the_position_cap(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    engine.config.risk_management.max_position_size = D(1000)
    working = await engine.place_order(limit(engine, size="0.01", offset="0.99"))
    assert working.is_open
    refused = engine.executor.precheck(limit(engine, size="0.015", offset="0.995"))
    assert refused is not None and refused.rule == "max_position_size"
    assert "with the working buy orders (0.01 BTC)" in refused.reason
    assert engine.executor.precheck(limit(engine, side=Side.SELL, size="0.01", offset="1.01")) is None


async def test_an_order_does_not_change_the_leverage_of_an_open_position(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    await long_position(engine)
    assert engine.portfolio.leverage_in_use("paper", PERP) == (2, "open position")
    refused = engine.executor.precheck(market(symbol=PERP, size="0.02", leverage=3))
    assert refused is not None and refused.rule == "position_leverage" and "is at 2x" in refused.reason
    assert engine.executor.precheck(market(symbol=PERP, size="0.02", leverage=2)) is None
