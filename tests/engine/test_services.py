"""Services beside the engine: added before the start or while it runs, started once, in the
order they were added, and stopped with the engine; and the wiring that attaches the
strategies and agents after the start, the way the TUI does."""

from __future__ import annotations

import asyncio
import gc
from decimal import Decimal
from pathlib import Path

import pytest

from agents.scheduler import AnalysisScheduler
from core.chart_history import ChartHistory
from core.clock import SimClock
from core.collector import YOUNG_THRESHOLD
from core.config import StrategyConfig
from core.models import Candle, Instrument
from core.ports import VenueError
from core.strategies.live import DailyReview, LiveStrategies
from runtime.wiring import attach_services, build_engine, start_engine
from tests.engine.conftest import engine_config, started


class Recorder:
    """A service that notes when it starts and stops; ``gate`` holds its start until set."""

    def __init__(self, name: str, journal: list[str], gate: asyncio.Event | None = None) -> None:
        self.name = name
        self.journal = journal
        self.gate = gate

    async def start(self) -> None:
        if self.gate is not None:
            await self.gate.wait()
        self.journal.append(f"start {self.name}")

    async def stop(self) -> None:
        self.journal.append(f"stop {self.name}")


async def test_services_added_before_the_start_start_with_the_engine_in_order(isolated_home: Path, clock: SimClock) -> None:
    journal: list[str] = []
    engine = await build_engine(engine_config(), isolated_home, clock=clock, services=False)
    await engine.add_service(Recorder("a", journal))
    await engine.add_service(Recorder("b", journal))
    assert journal == []
    await engine.start()
    assert journal == ["start a", "start b"]
    await engine.close()
    assert journal == ["start a", "start b", "stop b", "stop a"]


async def test_a_service_added_to_a_running_engine_starts_at_once_and_stops_with_it(isolated_home: Path, clock: SimClock) -> None:
    journal: list[str] = []
    engine = await started(isolated_home, clock)
    await engine.add_service(Recorder("late", journal))
    assert journal == ["start late"]
    await engine.close()
    assert journal == ["start late", "stop late"]


async def test_a_stop_during_a_services_start_waits_for_it_and_then_stops_it(isolated_home: Path, clock: SimClock) -> None:
    journal: list[str] = []
    gate = asyncio.Event()
    engine = await started(isolated_home, clock)
    adding = asyncio.create_task(engine.add_service(Recorder("slow", journal, gate)))
    await asyncio.sleep(0)
    closing = asyncio.create_task(engine.close())
    await asyncio.sleep(0)
    assert not closing.done(), "the stop must wait for the service being started"
    gate.set()
    await asyncio.wait_for(asyncio.gather(adding, closing), 10)
    assert journal == ["start slow", "stop slow"]
    assert not engine.running


async def test_strategies_and_agents_attached_after_the_start(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    config.strategies = {
        "ai_trend_following": StrategyConfig(enabled=True, symbols=["BTC/USDT"], confidence_threshold=0.7, position_size_pct=0.1)  # type: ignore[call-arg]
    }
    engine = await build_engine(config, isolated_home, clock=clock, services=False)
    try:
        before = engine.strategies
        assert before is None and engine.services == []
        await engine.start()
        await attach_services(engine)
        assert [type(s) for s in engine.services] == [ChartHistory, LiveStrategies, DailyReview, AnalysisScheduler], \
            "the strategies come before the agents, so the first signals find them listening"
        [info] = engine.strategies.list_strategies()
        assert info.strategy_id == "ai_trend_following" and info.state == "running"
        scheduler = engine.services[-1]
        assert isinstance(scheduler, AnalysisScheduler)
        async with asyncio.timeout(60):
            while scheduler.cycles < 1:
                await asyncio.sleep(0.01)
    finally:
        await engine.close()
    assert engine.strategies.list_strategies()[0].state == "stopped"


async def test_the_headless_wiring_still_builds_every_service(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    config.strategies = {"ai_trend_following": StrategyConfig(enabled=True)}  # type: ignore[call-arg]
    engine = await build_engine(config, isolated_home, clock=clock)
    try:
        assert [type(s) for s in engine.services] == [ChartHistory, LiveStrategies, DailyReview, AnalysisScheduler]
        assert engine.strategies is not None
    finally:
        await engine.db.close()


async def test_a_headless_start_freezes_what_the_start_up_built(isolated_home: Path, clock: SimClock) -> None:
    """What ``run --headless`` and the gateway build lives as long as the process: after the
    start the collector's full passes no longer walk it (each one a 30-60 ms stall of the loop)."""
    engine = await build_engine(engine_config(), isolated_home, clock=clock)
    gc.unfreeze()
    threshold = gc.get_threshold()
    gc.set_threshold(700, *threshold[1:])
    try:
        await start_engine(engine)
        assert engine.running
        assert gc.get_freeze_count() > 0
        assert id(engine.orders) not in {id(tracked) for tracked in gc.get_objects()}, \
            "the engine's objects are frozen, in none of the generations the collector walks"
        assert gc.get_threshold() == (YOUNG_THRESHOLD, *threshold[1:]), "the young generation is collected less often"
    finally:
        gc.unfreeze()  # the test process goes on: its later objects must be collected as usual
        gc.set_threshold(*threshold)
        await engine.close()


async def test_the_charts_start_with_each_venues_history(isolated_home: Path, clock: SimClock) -> None:
    engine = await build_engine(engine_config(), isolated_home, clock=clock, services=False)
    await engine.start()
    try:
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        assert all(len(engine.market.candles("paper", s, "1h")) <= 2 for s in ("BTC/USDT", "BTC/USDT:USDT")), \
            "without it, built from this process's trades only"
        await attach_services(engine)
        assert any(isinstance(s, ChartHistory) for s in engine.services)
        for _ in range(10_000):  # bounded: the history's task yields after each answer
            if len(engine.market.candles("paper", "BTC/USDT:USDT", "1h")) == 500:
                break
            await asyncio.sleep(0)
        for symbol in ("BTC/USDT", "BTC/USDT:USDT"):
            for timeframe in ("1m", "1h"):
                candles = engine.market.candles("paper", symbol, timeframe)
                venue = await engine.venues["paper"].fetch_ohlcv(symbol, timeframe)
                assert len(candles) == 500
                assert [c.ts for c in candles[:-2]] == [c.ts for c in venue[:-2]], "the venue's candles, in order"
    finally:
        await engine.close()


class NoHourly:
    """A venue that offers no hourly candles (ccxt exchanges differ in their timeframes)."""

    async def fetch_ohlcv(self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int = 500) -> list[Candle]:
        if timeframe == "1h":
            raise VenueError("timeframe 1h is not offered")
        return [Candle(ts=0, open=1, high=1, low=1, close=1, volume=1)]


async def test_a_timeframe_the_venue_lacks_is_named_and_the_others_still_come(
    isolated_home: Path, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    engine = await build_engine(engine_config(), isolated_home, clock=clock, services=False)
    try:
        instrument = Instrument(venue="odd", symbol="X/USDT", base="X", quote="USDT", tick_size=Decimal("0.01"), lot_size=Decimal(1))
        history = ChartHistory({"odd": NoHourly()}, lambda _venue: [instrument], engine.market)  # type: ignore[dict-item]
        await history.load()
        assert {tf: len(engine.market.candles("odd", "X/USDT", tf)) for tf in ("1m", "5m", "15m", "1h")} == \
            {"1m": 1, "5m": 1, "15m": 1, "1h": 0}
        assert "no 1h history of X/USDT on odd, the chart starts from live trades: timeframe 1h is not offered" in caplog.text
    finally:
        await engine.db.close()
