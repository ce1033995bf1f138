"""The app attached to a real gateway, for the Pilot tests that run against both sessions: the
session starts an engine like ``make_app``'s (the seeded paper venue on the test's SimClock) and a
gateway over it on 127.0.0.1 (a free port), in the test's own event loop, and stops both when
the app closes. ``engine`` is the gateway's engine, which the tests act on and check, as they
check ``app.engine`` in-process. The app reaches the gateway through ``proxy``, a TCP relay the
test can cut (the network dropping) and restore."""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web_app

from client.discovery import Target
from client.session import RemoteSession
from core.clock import SimClock
from core.config import GatewayConfig
from core.engine import TradingEngine
from core.permissions import Level
from gateway.server import Gateway
from gateway.tokens import TokenStore

CATCH_UP_POLLS = 500
_NAMES = itertools.count(1)


class GatewaySession(RemoteSession):
    def __init__(self, factory: Callable[[], Awaitable[TradingEngine]], home: Path, clock: SimClock) -> None:
        super().__init__(Target(url="http://127.0.0.1:9", token="not yet"), clock=clock, retry_initial=0.02,
                         retry_max=0.1)
        self._factory = factory
        self._home = home
        self._sim = clock
        self.engine: TradingEngine | None = None
        self.gateway: Gateway | None = None
        self.proxy = Relay()

    async def start(self) -> None:
        # The gateway outlives the app: its tasks must not carry the app's context (Textual's
        # active app) along, or the app's widgets would stay alive until the gateway stops.
        await asyncio.create_task(self._serve(), context=contextvars.Context())
        await super().start()

    async def _serve(self) -> None:
        self.engine = await self._factory()
        await self.engine.start()
        self.gateway = Gateway(self.engine, self._home, GatewayConfig(port=0))
        await self.gateway.start()
        token = TokenStore(self._home).create(f"tui-{next(_NAMES)}", Level.ADMIN, self._sim.now_ms())
        await self.proxy.open(int(self.gateway.url.rsplit(":", 1)[1]))
        self.where = f"http://127.0.0.1:{self.proxy.port}"
        await self._client.retarget(Target(url=self.where, token=token))

    async def close(self) -> None:
        """The app detaches; the gateway and its engine go on (``stop_serving`` ends them)."""
        await super().close()
        await self.proxy.cut()

    async def stop_serving(self) -> None:
        if self.gateway is not None:
            await self.gateway.stop()
        if self.engine is not None:
            await self.engine.close()
        # aiohttp caches each handler's middleware chain (the stream's handler holds the hub, the
        # engine, its database thread, and that thread the stderr it was started with: the app's
        # print capture, so the whole app): let the gateway go with the test.
        web_app._cached_build_middleware.cache_clear()

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


class Relay:
    """TCP from the app to the gateway, byte for byte, until ``cut``: every connection through it
    is aborted and new ones are refused, as when the network drops; ``restore`` listens again on
    the same port."""

    def __init__(self) -> None:
        self.port = 0
        self._upstream = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def open(self, upstream: int) -> None:
        self._upstream = upstream
        await self.restore()

    async def restore(self) -> None:
        """Its connections' tasks carry a context of their own (see ``GatewaySession.start``)."""
        self._server = await asyncio.create_task(asyncio.start_server(self._relay, "127.0.0.1", self.port),
                                                 context=contextvars.Context())
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._upstream)
        except OSError:
            writer.transport.abort()
            return
        self._writers |= {writer, up_writer}
        await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer), return_exceptions=True)
        self._writers -= {writer, up_writer}


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    finally:
        writer.transport.abort()
