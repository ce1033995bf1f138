"""The app attached to a real gateway, for the Pilot tests that run against both sessions: the
session starts an engine like ``make_app``'s (the seeded paper venue on the test's SimClock) and a
gateway over it on 127.0.0.1 (a free port), in the test's own event loop, and stops both when
the app closes. ``engine`` is the gateway's engine, which the tests act on and check, as they
check ``app.engine`` in-process."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from client.discovery import Target
from client.session import RemoteSession
from core.clock import SimClock
from core.config import GatewayConfig
from core.engine import TradingEngine
from core.permissions import Level
from gateway.server import Gateway
from gateway.tokens import TokenStore

CATCH_UP_POLLS = 500


class GatewaySession(RemoteSession):
    def __init__(self, factory: Callable[[], Awaitable[TradingEngine]], home: Path, clock: SimClock) -> None:
        super().__init__(Target(url="http://127.0.0.1:9", token="not yet"), clock=clock, retry_initial=0.02,
                         retry_max=0.1)
        self._factory = factory
        self._home = home
        self._sim = clock
        self.engine: TradingEngine | None = None
        self.gateway: Gateway | None = None

    async def start(self) -> None:
        self.engine = await self._factory()
        await self.engine.start()
        self.gateway = Gateway(self.engine, self._home, GatewayConfig(port=0))
        await self.gateway.start()
        token = TokenStore(self._home).create("tui", Level.ADMIN, self._sim.now_ms())
        await self._client.retarget(Target(url=self.gateway.url, token=token))
        self.where = self.gateway.url
        await super().start()

    async def close(self) -> None:
        await super().close()
        if self.gateway is not None:
            await self.gateway.stop()
        if self.engine is not None:
            await self.engine.close()

    async def caught_up(self) -> None:
        """Wait (bounded) until what the app shows of the account is the engine's: the same open
        orders, positions and risk state, and nothing left in the gateway's outboxes."""
        for _ in range(CATCH_UP_POLLS):
            if self._agrees():
                return
            await asyncio.sleep(0.005)
        raise AssertionError("the attached app did not catch up with the gateway's engine")

    def _agrees(self) -> bool:
        engine = self.engine
        assert engine is not None
        orders = {(o.client_order_id, o.status, o.filled_size, o.price) for o in engine.open_orders()}
        shown = {(o.client_order_id, o.status, o.filled_size, o.price) for o in self.open_orders()}
        positions = {(p.venue, p.symbol, p.size) for p in engine.portfolio.positions()}
        shown_positions = {(p.venue, p.symbol, p.size) for p in self.positions()}
        return orders == shown and positions == shown_positions and engine.risk.state is self.risk_state
