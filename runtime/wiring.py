"""The composition root: builds a TradingEngine with its venues, strategies and agents from the
configuration. Which code implements a venue, a strategy or an agent is looked up by name among
the plugins (core.plugins; venues in runtime.venues): the built-in ones and installed packages'.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from pathlib import Path

from core import collector
from core.chart_history import ChartHistory
from core.clock import WallClock
from core.config import AppConfig, margin_venues
from core.engine import TradingEngine
from core.filemodes import private_dir
from core.models import Instrument, build_schemas
from core.ports import Clock, ExchangeAdapter, Service
from core.storage.anchor import ANCHOR_NAME
from core.storage.link import InFlight
from core.storage.target import StorageTarget
from runtime.venues import build_venue

log = logging.getLogger(__name__)


async def build_engine(
    config: AppConfig,
    home: Path,
    *,
    seed: int | None = None,
    clock: Clock | None = None,
    venue: str | None = None,
    services: bool = True,
) -> TradingEngine:
    """An engine ready to ``start()``. ``venue`` limits it to one configured venue.

    ``services=False`` leaves out the strategies and the analysis agents: importing them (numpy,
    pandas) costs more than the rest of the start-up, so the TUI paints its first frame with
    the market first and then calls ``attach_services``."""
    private_dir(home)
    clock = clock or WallClock()
    names = [venue] if venue else list(config.venues)
    unknown = [n for n in names if n not in config.venues]
    if unknown:
        raise ValueError(f"venue '{unknown[0]}' is not configured; configured: {', '.join(config.venues)}")
    if venue:
        config = config.model_copy(update={"default_venue": venue})
    venues = {n: build_venue(n, config.venues[n], config, home, clock, seed) for n in names}
    db = await StorageTarget.of(config, home).open(anchor=home / ANCHOR_NAME)
    _orders_first(venues, db.order_writes)
    try:
        engine = TradingEngine(config, db, venues, clock)
        if services:
            await attach_services(engine)
        return engine
    except BaseException:
        # A bad strategy or agent setting: the open database must not keep the process alive.
        await db.close()
        raise


def _orders_first(venues: dict[str, ExchangeAdapter], order_writes: InFlight) -> None:
    """The paper venues' market steps wait for the orders' durable writes in flight, which
    need the interpreter lock the steps hold (``core.storage.link``)."""
    from exchanges.paper.venue import PaperVenue  # imported already by its factory (runtime.venues)

    for built in venues.values():
        if isinstance(built, PaperVenue):
            built.give_way_to(order_writes)


async def start_engine(engine: TradingEngine) -> None:
    """Start ``engine`` for a process that runs it until it stops (``run --headless``, the
    gateway; the app does the same after its first frame), then settle the garbage collector
    (``core.collector``): what was built so far lives as long as the process."""
    await engine.start()
    collector.settle()


async def attach_services(engine: TradingEngine) -> None:
    """The charts' history, the strategy engine, the configured strategies, the daily review, the analysis team and
    the data service, added to ``engine``: started with it, or at once when it already runs.

    Their modules are imported on a thread first: with numpy, pandas and aiohttp that takes
    about 0.3 s, which on the loop's thread held every key and frame of the running app.
    Every service is built before the first is added, so a bad strategy or agent setting raises
    here with nothing half attached; strategies are added before the agents, so the first
    signals find the strategies listening."""
    config = engine.config
    await asyncio.to_thread(_import_services, config)
    from core.strategies.runner import StrategyEngine

    strategies = StrategyEngine(engine.host, versions=engine.db, store=engine.db, margin_venues=margin_venues(config))
    services: list[Service] = [ChartHistory(engine.venues, engine.instruments, engine.market)]
    if config.strategies:
        from core.strategies.live import LiveStrategies

        services.append(LiveStrategies(strategies, config.strategies))
        if config.strategy_review.enabled:
            from core.strategies.live import DailyReview

            services.append(DailyReview(strategies, engine.db, engine.clock, config.strategy_review))
    if config.agents.enabled:
        services.append(build_scheduler(engine))
    if config.market_data.enabled:
        services.append(build_market_data(engine))
    engine.strategies = strategies
    for service in services:
        await engine.add_service(service)


def _import_services(config: AppConfig) -> None:
    build_schemas()  # deferred at import (core.models): built here, before the first order needs them
    modules = ["core.strategies.runner"]
    if config.strategies:
        modules.append("core.strategies.live")
    if config.agents.enabled:
        modules += ["agents.scheduler", "agents.team"]
    for module in modules:
        importlib.import_module(module)


def build_market_data(engine: TradingEngine) -> Service:
    """The data service over every configured market of every venue."""
    from core.marketdata.service import MarketDataService

    def markets() -> list[Instrument]:
        return [instrument for name in engine.venues for instrument in engine.instruments(name)]

    return MarketDataService(engine.venues, markets, engine.db, engine.bus, engine.clock, engine.config.market_data)


def build_scheduler(engine: TradingEngine) -> Service:
    """The analysis team, publishing its decisions on the engine's bus. Imported here, not at
    the top: the agents bring pandas and aiohttp, which the first frame should not wait for."""
    from agents.scheduler import AnalysisScheduler
    from agents.team import build_coordinator

    coordinator = build_coordinator(engine.config.agents, engine.clock, bus=engine.bus)
    return AnalysisScheduler(engine, coordinator, engine.config.agents)
