"""A real gateway on 127.0.0.1 (a free port) over an engine on the paper venue with a simulated
clock, in the test's own event loop; tokens of each level; a small HTTP helper."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from core.clock import SimClock
from core.config import (
    AgentsConfig,
    AppConfig,
    CircuitBreakerConfig,
    GatewayConfig,
    StrategyConfig,
    StrategyReviewConfig,
    SurveillanceConfig,
)
from core.engine import TradingEngine
from core.permissions import Level
from gateway.server import Gateway
from gateway.tokens import TokenStore
from tests.safety.conftest import safety_config, start_engine

LEVELS = {"reader": Level.READ_ONLY, "trader": Level.TRADE, "boss": Level.ADMIN}


def gateway_config(**sections: Any) -> AppConfig:
    """Wide limits (orders repeat at one price while the simulated clock stands still), one
    strategy, no agents."""
    return safety_config(
        strategies={"sma": StrategyConfig(kind="sma_cross", enabled=False)},
        strategy_review=StrategyReviewConfig(enabled=False), agents=AgentsConfig(enabled=False),
        circuit_breakers=CircuitBreakerConfig(max_trades_per_day=1_000_000, rejection_burst=10_000),
        surveillance=SurveillanceConfig(max_orders_per_minute=100_000, duplicate_window=0), **sections,
    )


@dataclass
class Reply:
    status: int
    body: Any
    text: str


class Api:
    """Requests to the gateway as one of the token holders (or nobody)."""

    def __init__(self, gateway: Gateway, session: aiohttp.ClientSession, tokens: dict[str, str]) -> None:
        self.gateway = gateway
        self.session = session
        self.tokens = tokens

    @property
    def url(self) -> str:
        return self.gateway.url + "/api/v1"

    def headers(self, who: str | None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}

    async def call(self, method: str, path: str, who: str | None = "boss", *, json: Any = None, data: Any = None,
                   headers: dict[str, str] | None = None) -> Reply:
        async with self.session.request(method, self.url + path, json=json, data=data,
                                        headers={**self.headers(who), **(headers or {})}) as response:
            text = await response.text()
            body = await response.json(content_type=None) if text else None
            return Reply(response.status, body, text)


@pytest.fixture
def config() -> AppConfig:
    return gateway_config()


@pytest.fixture
def gateway_settings() -> GatewayConfig:
    return GatewayConfig(port=0)


@pytest.fixture
async def engine(isolated_home: Path, clock: SimClock, config: AppConfig) -> AsyncIterator[TradingEngine]:
    engine = await start_engine(isolated_home, clock, config)
    yield engine
    await engine.close()


@pytest.fixture
async def gateway(engine: TradingEngine, isolated_home: Path, gateway_settings: GatewayConfig) -> AsyncIterator[Gateway]:
    gateway = Gateway(engine, isolated_home, gateway_settings)
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
def tokens(isolated_home: Path, clock: SimClock) -> dict[str, str]:
    store = TokenStore(isolated_home)
    return {name: store.create(name, level, clock.now_ms()) for name, level in LEVELS.items()}


@pytest.fixture
async def api(gateway: Gateway, tokens: dict[str, str]) -> AsyncIterator[Api]:
    async with aiohttp.ClientSession() as session:
        yield Api(gateway, session, tokens)
