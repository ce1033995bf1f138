"""Engines on the paper venue with a simulated clock, configured for one safety check at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.clock import SimClock
from core.config import AppConfig, PaperVenueConfig, RiskConfig
from core.engine import TradingEngine
from core.models import OrderRequest, OrderType, Side
from runtime.wiring import build_engine
from tests.safety.fakes import FakeHttp

D = Decimal
SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"


def safety_config(**sections: Any) -> AppConfig:
    """Wide risk limits, so only the check under test refuses anything."""
    base: dict[str, Any] = dict(
        risk_management=RiskConfig(max_position_size=D(50_000), max_daily_loss=D(50_000),
            max_position_pct=0.5, max_symbol_exposure_pct=0.5, max_total_exposure_pct=2, max_order_loss=D(100_000),
            max_open_positions=5, emergency_stop_loss=0.5, max_daily_loss_pct=0.5,
        ),
        venues={"paper": PaperVenueConfig(markets=[{"symbol": SPOT}, {"symbol": PERP}], seed=3)},  # type: ignore[list-item]
        strategies={},
    )
    base.update(sections)
    return AppConfig(**base)


async def start_engine(home: Path, clock: SimClock, config: AppConfig | None = None) -> TradingEngine:
    engine = await build_engine(config or safety_config(), home, clock=clock)
    await engine.start()
    engine.venues["paper"].step()  # type: ignore[attr-defined]
    return engine


EngineFactory = Callable[..., Coroutine[Any, Any, TradingEngine]]


@pytest.fixture
async def http() -> AsyncIterator[FakeHttp]:
    """A notification endpoint on 127.0.0.1 (Telegram's sendMessage and a webhook)."""
    server = FakeHttp()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_engine(isolated_home: Path, clock: SimClock) -> AsyncIterator[EngineFactory]:
    """``await make_engine(**config_sections)``; every engine made is closed at the end."""
    made: list[TradingEngine] = []

    async def make(**sections: Any) -> TradingEngine:
        engine = await start_engine(isolated_home, clock, safety_config(**sections))
        made.append(engine)
        return engine

    yield make
    for engine in made:
        await engine.close()


def mark(engine: TradingEngine, symbol: str = SPOT) -> Decimal:
    value = engine.market.mark("paper", symbol)
    assert value is not None
    return value


def limit(engine: TradingEngine, side: Side = Side.BUY, offset: str = "0.98", size: str = "0.01", **kw: Any) -> OrderRequest:
    price = (mark(engine) * D(offset)).quantize(D(1))
    return OrderRequest(venue="paper", symbol=SPOT, side=side, size=D(size), price=price, **kw)


def market(side: Side = Side.BUY, size: str = "0.01", symbol: str = SPOT, **kw: Any) -> OrderRequest:
    return OrderRequest(venue="paper", symbol=symbol, side=side, type=OrderType.MARKET, size=D(size), **kw)


async def settle() -> None:
    """Let the engine's report consumer, account refresher and audit writes run."""
    for _ in range(10):
        await asyncio.sleep(0)


async def until(predicate: Callable[[], bool], what: str, attempts: int = 1000) -> None:
    """Yield to the loop (and to the database writer thread) until ``predicate`` holds."""
    for _ in range(attempts):
        if predicate():
            return
        await asyncio.sleep(0.002)
    raise AssertionError(f"still waiting for {what}")
