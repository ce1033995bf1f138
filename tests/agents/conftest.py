"""Synthetic candles with a known character, a context builder, and a local HTTP source."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from aiohttp import web

from agents.base import AnalysisContext, Candles

HOUR = 3_600_000
START = 1_704_067_200_000


def make_candles(
    n: int = 300,
    drift: float = 0.0,
    vol: float = 0.005,
    seed: int = 1,
    shock_from: int | None = None,
    shock_vol: float = 0.05,
    start: float = 100.0,
    step_ms: int = HOUR,
) -> Candles:
    """Geometric random walk per candle; after ``shock_from`` volatility jumps to ``shock_vol``."""
    rng = np.random.default_rng(seed)
    sigma = np.full(n, vol)
    if shock_from is not None:
        sigma[shock_from:] = shock_vol
    returns = drift + sigma * rng.standard_normal(n)
    close = start * np.exp(np.cumsum(returns))
    open_ = np.concatenate(([start], close[:-1]))
    spread = np.abs(rng.normal(0, sigma / 2, n)) * close
    high = np.maximum(open_, close) + spread
    low = np.minimum(open_, close) - spread
    volume = rng.uniform(50, 150, n)
    ts = START + step_ms * np.arange(n, dtype=np.int64)
    return Candles(ts, open_, high, low, close, volume)


def make_range(n: int = 300, width: float = 0.003, seed: int = 4, start: float = 100.0) -> Candles:
    """A market that goes nowhere: closes scatter independently around one level."""
    rng = np.random.default_rng(seed)
    close = start * np.exp(width * rng.standard_normal(n))
    open_ = np.concatenate(([start], close[:-1]))
    spread = np.abs(rng.normal(0, width / 2, n)) * close
    ts = START + HOUR * np.arange(n, dtype=np.int64)
    return Candles(ts, open_, np.maximum(open_, close) + spread, np.minimum(open_, close) - spread, close,
                   rng.uniform(50, 150, n))


def context_for(candles: Candles, timeframe: str = "1h", **kwargs: Any) -> AnalysisContext:
    step = int(candles.ts[1] - candles.ts[0]) if len(candles) > 1 else HOUR
    kwargs.setdefault("equity", Decimal(10000))
    return AnalysisContext(
        symbol=kwargs.pop("symbol", "BTC/USDT"),
        now_ms=int(candles.ts[-1]) + step if len(candles) else START,
        candles={timeframe: candles},
        **kwargs,
    )


@pytest.fixture
def uptrend() -> Candles:
    return make_candles(drift=0.004, vol=0.004, seed=2)


@pytest.fixture
def downtrend() -> Candles:
    return make_candles(drift=-0.004, vol=0.004, seed=3)


@pytest.fixture
def flat() -> Candles:
    return make_range()


@asynccontextmanager
async def local_source(handle: Callable[[web.Request], Awaitable[web.Response]]) -> AsyncIterator[str]:
    """An HTTP server on 127.0.0.1 answering every GET with ``handle``; yields its base URL."""
    app = web.Application()
    app.router.add_get("/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()
