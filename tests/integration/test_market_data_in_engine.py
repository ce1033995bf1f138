"""The data service inside the engine on the paper venue: it stores every configured market's
candles and readings, the strategies get the funding rate, and the analysis reads them (funding
and open interest for a perpetual, every configured market's stored closes for the correlation
check, held or not)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.scheduler import AnalysisScheduler
from agents.team import build_coordinator
from core.clock import SimClock
from core.marketdata.service import MarketDataService
from runtime.wiring import build_engine
from tests.engine.conftest import engine_config

PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"


async def test_the_service_feeds_the_strategies_and_the_agents(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    config.agents.enabled = False
    config.market_data.enabled = True
    engine = await build_engine(config, isolated_home, clock=clock)
    await engine.start()
    try:
        [service] = [s for s in engine.services if isinstance(s, MarketDataService)]
        async with asyncio.timeout(60):
            while service.collections < 1:
                await asyncio.sleep(0.01)
        stats = engine.market.stats("paper", PERP)
        assert stats is not None and stats.funding_rate is not None and stats.next_funding_ts is not None
        assert engine.market.stats("paper", SPOT).funding_rate is None  # type: ignore[union-attr]
        assert engine.host.funding_rate("paper", PERP) == stats.funding_rate
        assert len(await engine.db.load_candles("paper", SPOT, "1h")) > 20
        scheduler = AnalysisScheduler(engine, build_coordinator(config.agents, clock), config.agents)
        context = await scheduler.context(SPOT)
        # no position anywhere, yet the perpetual's stored closes are there for the correlation
        assert not engine.portfolio.positions() and len(context.peer_closes[PERP]) > 20
        perp = await scheduler.context(PERP)
        assert perp.funding_rate == stats.funding_rate and perp.long_short_ratio is None
    finally:
        await engine.close()
