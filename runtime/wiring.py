"""The composition root: builds a TradingEngine with concrete venues from the configuration.

The only place that knows which class implements which port. ccxt is imported only when a
ccxt venue is configured (it costs most of a second at start-up).
"""

from __future__ import annotations

import logging
from pathlib import Path

from core.clock import WallClock
from core.config import AppConfig, CcxtVenueConfig, PaperVenueConfig, margin_venues
from core.engine import TradingEngine
from core.filemodes import private_dir
from core.ports import Clock, ExchangeAdapter, Service
from core.secrets import load_credentials
from core.storage.anchor import ANCHOR_NAME
from core.storage.target import StorageTarget

log = logging.getLogger(__name__)


def build_venue(
    name: str, venue_config: PaperVenueConfig | CcxtVenueConfig, config: AppConfig, home: Path, clock: Clock,
    seed: int | None = None,
) -> ExchangeAdapter:
    if isinstance(venue_config, PaperVenueConfig):
        from exchanges.paper.venue import PaperVenue

        if seed is not None:
            venue_config = venue_config.model_copy(update={"seed": seed})
        return PaperVenue(name, venue_config, clock, home / f"paper-{name}.sqlite", seeded_history(config, name))
    from exchanges.ccxt.venue import CcxtVenue

    credentials = load_credentials(name, config.secrets_file)
    return CcxtVenue(name, venue_config, clock, home / "cache", credentials)


def seeded_history(config: AppConfig, venue: str) -> dict[str, int]:
    """Candles per timeframe a paper venue starts with: what the analysis agents read when
    they analyse it, so their first analysis (at start) has all the history it needs."""
    agents = config.agents
    if not agents.enabled or (agents.venue or config.default_venue) != venue:
        return {}
    return dict.fromkeys(agents.timeframes, agents.history)


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
    try:
        engine = TradingEngine(config, db, venues, clock)
        if services:
            await attach_services(engine)
        return engine
    except BaseException:
        # A bad strategy or agent setting: the open database must not keep the process alive.
        await db.close()
        raise


async def attach_services(engine: TradingEngine) -> None:
    """The strategy engine, the configured strategies, the daily review and the analysis team,
    added to ``engine``: started with it, or at once when it already runs.

    Every service is built before the first is added, so a bad strategy or agent setting raises
    here with nothing half attached; strategies are added before the agents, so the first
    signals find the strategies listening."""
    from core.strategies.runner import StrategyEngine

    config = engine.config
    strategies = StrategyEngine(engine, versions=engine.db, store=engine.db, margin_venues=margin_venues(config))
    services: list[Service] = []
    if config.strategies:
        from core.strategies.live import LiveStrategies

        services.append(LiveStrategies(strategies, config.strategies))
        if config.strategy_review.enabled:
            from core.strategies.live import DailyReview

            services.append(DailyReview(strategies, engine.db, engine.clock, config.strategy_review))
    if config.agents.enabled:
        services.append(build_scheduler(engine))
    engine.strategies = strategies
    for service in services:
        await engine.add_service(service)


def build_scheduler(engine: TradingEngine) -> Service:
    """The analysis team, publishing its decisions on the engine's bus. Imported here, not at
    the top: the agents bring pandas and aiohttp, which the first frame should not wait for."""
    from agents.scheduler import AnalysisScheduler
    from agents.team import build_coordinator

    coordinator = build_coordinator(engine.config.agents, engine.clock, bus=engine.bus)
    return AnalysisScheduler(engine, coordinator, engine.config.agents)
