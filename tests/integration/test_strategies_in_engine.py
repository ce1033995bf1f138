"""Configured strategies run inside the engine and trade through the same risk checks."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import StrategyConfig
from core.events import SignalGenerated
from core.models import Direction, Signal
from core.storage.link import DB_THREAD_PREFIX
from core.strategies.base import ParameterError
from runtime.wiring import build_engine
from tests.engine.conftest import engine_config


def database_threads() -> int:
    """Each database connection runs on its own thread; a leaked one keeps the process alive."""
    return sum(t.name.startswith(DB_THREAD_PREFIX) for t in threading.enumerate())


async def until(predicate, what: str) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(30):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_ai_trend_following_trades_an_agent_signal_through_the_engine(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    config.agents.enabled = False
    config.strategies = {
        "ai_trend_following": StrategyConfig(enabled=True, symbols=["BTC/USDT"], confidence_threshold=0.7, position_size_pct=0.1)  # type: ignore[call-arg]
    }
    engine = await build_engine(config, isolated_home, clock=clock)
    await engine.start()
    try:
        [info] = engine.strategies.list_strategies()
        assert info.strategy_id == "ai_trend_following" and info.state == "running"
        engine.bus.publish(SignalGenerated(Signal(instrument_id="BTC/USDT", direction=Direction.BUY, strength=0.9,
                                                  confidence=0.9, generated_time=clock.now_ms(), source="coordinator")))
        await until(lambda: engine.strategies.list_strategies()[0].recent_signals or True, "the signal")
        for _ in range(10):  # trades on the tape: the strategy enters at the market on the next one
            clock.advance(5_000)
            engine.venues["paper"].step(5.0)  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        await until(lambda: engine.portfolio.position("paper", "BTC/USDT") is not None, "a position")
        orders = await engine.order_history(strategy_id="ai_trend_following")
        assert orders and orders[0].strategy_id == "ai_trend_following"
        position = engine.portfolio.position("paper", "BTC/USDT")
        assert position is not None
        equity = engine.portfolio.equity()
        assert position.size * position.entry_price <= equity * Decimal("0.11")
        actors = {e.actor for e in await engine.db.audit_entries(kind="order")}
        assert "strategy:ai_trend_following" in actors
    finally:
        await engine.close()


async def test_a_bad_strategy_parameter_stops_start_up_with_its_name(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    config.strategies = {"ai_trend_following": StrategyConfig(enabled=True, confidence_threshold=7)}  # type: ignore[call-arg]
    before = database_threads()
    with pytest.raises(ParameterError, match="confidence_threshold"):
        await build_engine(config, isolated_home, clock=clock)
    assert database_threads() == before, "the database opened before the error was left open"


async def test_closed_candles_are_stored_and_the_daily_review_is_scheduled(isolated_home: Path, clock: SimClock) -> None:
    from core.strategies.live import DailyReview

    config = engine_config()
    config.agents.enabled = False
    config.strategies = {"sma_cross": StrategyConfig(enabled=True, symbols=["BTC/USDT"], fast=5, slow=20)}  # type: ignore[call-arg]
    engine = await build_engine(config, isolated_home, clock=clock)
    assert any(isinstance(s, DailyReview) for s in engine.services)
    await engine.start()
    try:
        for _ in range(3):
            clock.advance(60_000)
            engine.venues["paper"].step(60.0)  # type: ignore[attr-defined]
            await asyncio.sleep(0.01)
        async with asyncio.timeout(30):
            while not await engine.db.load_candles("paper", "BTC/USDT", "1m"):
                await asyncio.sleep(0.01)
        review = next(s for s in engine.services if isinstance(s, DailyReview))
        results = await review.review()
        assert set(results) == {"sma_cross"}
    finally:
        await engine.close()


async def test_a_1m_strategy_gets_a_candle_every_second_at_speed_60(isolated_home: Path, clock: SimClock) -> None:
    """At speed 60 a simulated minute passes each second: the 1m strategy sees a candle a second
    (before, one per minute of the clock, an hour of the simulated market apart)."""
    config = engine_config()
    config.agents.enabled = False
    config.venues["paper"] = config.venues["paper"].model_copy(update={"speed": 60.0})
    config.strategies = {"sma_cross": StrategyConfig(enabled=True, symbols=["BTC/USDT"], fast=5, slow=20)}  # type: ignore[call-arg]
    engine = await build_engine(config, isolated_home, clock=clock)
    await engine.start()
    try:
        strategy = engine.strategies.context("sma_cross").strategy
        for _ in range(50):  # five seconds of the clock
            clock.advance(100)
            for _ in range(5):
                await asyncio.sleep(0)
        await until(lambda: len(strategy.history("BTC/USDT")) >= 4, "four candles")
    finally:
        await engine.close()
