"""Strategies in the real engine over the paper venue, across a restart: they know their
positions, and on a spot market they go flat where they would go short."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import AppConfig, StrategyConfig, StrategyReviewConfig
from core.engine import TradingEngine
from core.events import SignalGenerated
from core.models import Direction, OrderStatus, Signal
from runtime.wiring import build_engine
from tests.engine.conftest import engine_config


def config() -> AppConfig:
    base = engine_config()
    base.agents.enabled = False
    return base.model_copy(update={
        "strategies": {"ai_trend_following": StrategyConfig(enabled=True, symbols=["BTC/USDT"], allow_short=True)},  # type: ignore[call-arg]
        "strategy_review": StrategyReviewConfig(enabled=False),
    })


async def signal(engine: TradingEngine, clock: SimClock, direction: Direction) -> None:
    """An agent's signal, then the prints the strategy trades on, each given time to land."""
    engine.bus.publish(SignalGenerated(Signal(instrument_id="BTC/USDT", direction=direction, strength=0.9,
                                              confidence=0.9, generated_time=clock.now_ms(), source="coordinator")))
    for _ in range(10):
        clock.advance(5_000)
        engine.venues["paper"].step(5.0)  # type: ignore[attr-defined]
        await asyncio.sleep(0.01)


async def test_a_strategy_sells_what_it_held_before_the_restart_and_no_more(
    isolated_home: Path, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await build_engine(config(), isolated_home, clock=clock)
    await engine.start()
    try:
        await signal(engine, clock, Direction.BUY)
        held = engine.strategies.context("ai_trend_following").position("BTC/USDT")
        assert held > 0
    finally:
        await engine.close()

    engine = await build_engine(config(), isolated_home, clock=clock)
    await engine.start()
    try:
        ctx = engine.strategies.context("ai_trend_following")
        assert ctx.position("BTC/USDT") == held and ctx.strategy.plans["BTC/USDT"].side == 1
        await signal(engine, clock, Direction.SELL)
        orders = await engine.order_history(strategy_id="ai_trend_following")
        assert [o.status for o in orders] == [OrderStatus.FILLED, OrderStatus.FILLED]
        assert orders[-1].size == held and ctx.position("BTC/USDT") == Decimal(0)
        assert caplog.text.count("going flat where it would go short") == 1
    finally:
        await engine.close()
