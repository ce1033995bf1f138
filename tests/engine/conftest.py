"""An engine on the real paper venue with a simulated clock: deterministic for a seed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import AppConfig, PaperVenueConfig, RiskConfig
from core.engine import TradingEngine
from runtime.wiring import build_engine


def engine_config(**risk: object) -> AppConfig:
    limits = dict(max_position_pct=0.5, max_symbol_exposure_pct=0.5, max_total_exposure_pct=2,
                  max_order_loss=Decimal(100_000), max_open_positions=5)
    limits.update(risk)
    return AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(50_000), max_daily_loss=Decimal(5_000), **limits),  # type: ignore[arg-type]
        venues={"paper": PaperVenueConfig(markets=[{"symbol": "BTC/USDT"}, {"symbol": "BTC/USDT:USDT"}], seed=3)},  # type: ignore[list-item]
        strategies={},
    )


async def started(home: Path, clock: SimClock, config: AppConfig | None = None) -> TradingEngine:
    engine = await build_engine(config or engine_config(), home, clock=clock)
    await engine.start()
    engine.venues["paper"].step()  # type: ignore[attr-defined]
    return engine


@pytest.fixture
async def engine(isolated_home: Path, clock: SimClock) -> AsyncIterator[TradingEngine]:
    engine = await started(isolated_home, clock)
    yield engine
    await engine.close()


async def until(condition: Callable[[], bool]) -> None:
    """Wait (bounded) for the engine's tasks, whose database writes run on the writer's thread."""
    for _ in range(400):
        if condition():
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the engine did not get there")
