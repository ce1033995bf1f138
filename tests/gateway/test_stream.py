"""The event stream: numbered messages, a snapshot then live events, resume after a reconnect
(replay, or a snapshot when too far behind or after a restart), a slow client coalesced
without slowing the engine, a stuck one dropped and resumed, revoked tokens closed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from client.discovery import Target
from client.http import GatewayClient
from client.mirror import Mirror
from client.stream import EventStream, StreamClosed
from core.config import GatewayConfig
from core.engine import TradingEngine
from core.events import OrderBookUpdated, OrderUpdated, ProtectionChanged
from core.models import Order, OrderRequest, OrderStatus, OrderType, Side
from core.stream import Message, StreamHello, StreamSnapshot, decode_frame
from gateway.tokens import TokenStore
from tests.gateway.conftest import Api
from tests.safety.conftest import SPOT, limit, until


class Raw:
    """A plain WebSocket client reading whole frames, to look at the protocol itself."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[Message] = []

    async def send(self, **request: Any) -> None:
        await self.ws.send_str(json.dumps(request))

    async def read_until(self, done: Any, what: str, timeout: float = 10) -> list[Message]:
        async with asyncio.timeout(timeout):
            while not done(self.messages):
                frame = await self.ws.receive()
                assert frame.type is aiohttp.WSMsgType.TEXT, (what, frame)
                self.messages.extend(decode_frame(frame.data))
        return self.messages


@contextlib.asynccontextmanager
async def connect(api: Api, who: str = "reader") -> AsyncIterator[Raw]:
    async with api.session.ws_connect(api.url + "/stream", headers=api.headers(who)) as ws:
        yield Raw(ws)


async def flood(engine: TradingEngine, books: int, order_every: int, yield_every: int,
                between: Callable[[list[Order]], None] = lambda placed: None) -> tuple[list[Order], int]:
    """Publish ``books`` order books on the engine's bus, each newer than the last, placing an
    order every ``order_every`` and yielding to the loop every ``yield_every`` (``between`` runs
    then); the orders placed, and the newest book's ts."""
    base = engine.market.book("paper", SPOT)
    assert base is not None
    placed: list[Order] = []
    for i in range(books):
        engine.bus.publish(OrderBookUpdated(base.model_copy(update={"ts": base.ts + i})))
        if i % order_every == 0:
            placed.append(await engine.place_order(limit(engine), actor="user"))
        if i % yield_every == 0:
            await asyncio.sleep(0)
            between(placed)
    return placed, base.ts + books - 1


def orders_of(messages: list[Message]) -> list[tuple[str, str]]:
    return [(m.event.order.client_order_id, m.event.order.status.value) for m in messages if isinstance(m.event, OrderUpdated)]


async def test_hello_snapshot_then_live_events_with_rising_sequence_numbers(api: Api, engine: TradingEngine) -> None:
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders", "fills", f"book:paper:{SPOT}"])
        await raw.read_until(lambda ms: any(isinstance(m.event, StreamSnapshot) for m in ms), "the snapshot")
        hello, snapshot = raw.messages[0].event, raw.messages[1].event
        assert isinstance(hello, StreamHello) and not hello.resumed and hello.epoch == api.gateway.epoch
        assert isinstance(snapshot, StreamSnapshot) and snapshot.snapshot.orders == []
        order = await engine.place_order(limit(engine), actor="user")
        await engine.cancel_order(order.client_order_id, actor="user")
        messages = await raw.read_until(lambda ms: ("canceled" in {s for _, s in orders_of(ms)}), "the cancel")
        assert orders_of(messages) == [(order.client_order_id, s) for s in ("pending_new", "open", "canceled")]
        seqs = [m.seq for m in messages]
        assert seqs == sorted(set(seqs)), "every message numbered, rising"
        assert any(m.topic == f"book:paper:{SPOT}" for m in messages), "the current book comes on subscribing"
        assert not any(m.topic in ("positions", "status") for m in messages), "only what was asked for"


async def test_a_reconnect_with_the_last_sequence_number_gets_what_it_missed(api: Api, engine: TradingEngine) -> None:
    mirror = Mirror()
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"])
        for message in await raw.read_until(lambda ms: len(ms) >= 2, "hello and snapshot"):
            mirror.apply(message.event)
        last = raw.messages[-1].seq
    kept = await engine.place_order(limit(engine), actor="user")
    gone = await engine.place_order(limit(engine, offset="0.97"), actor="user")
    await engine.cancel_order(gone.client_order_id, actor="user")
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"], since=last, epoch=api.gateway.epoch)
        messages = await raw.read_until(lambda ms: len(orders_of(ms)) >= 5, "the missed order events")
        hello = messages[0].event
        assert isinstance(hello, StreamHello) and hello.resumed and hello.replayed == 5
        assert not any(isinstance(m.event, StreamSnapshot) for m in messages)
        assert orders_of(messages) == [(kept.client_order_id, "pending_new"), (kept.client_order_id, "open"),
                                       (gone.client_order_id, "pending_new"), (gone.client_order_id, "open"),
                                       (gone.client_order_id, "canceled")]
        assert all(m.seq > last for m in messages)
        for message in messages:
            mirror.apply(message.event)
    assert mirror.orders == {o.client_order_id: o for o in engine.open_orders()}
    assert mirror.snapshots == 1, "resumed, not reloaded"


async def test_protective_levels_reach_a_mirror_on_the_positions_topic(api: Api, engine: TradingEngine) -> None:
    mirror = Mirror()
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["positions"])
        for message in await raw.read_until(lambda ms: len(ms) >= 2, "hello and snapshot"):
            mirror.apply(message.event)
        await engine.place_order(market_buy(), actor="user")
        await until(lambda: engine.portfolio.position("paper", SPOT) is not None, "the position")
        held = engine.portfolio.position("paper", SPOT)
        assert held is not None and held.mark_price is not None
        stop = engine.instrument("paper", SPOT).round_price(held.mark_price * Decimal("0.9"))
        await engine.protection.set_levels("paper", SPOT, stop, None)
        messages = await raw.read_until(
            lambda ms: any(isinstance(m.event, ProtectionChanged) for m in ms), "the levels on the stream")
        for message in messages:
            mirror.apply(message.event)
    levels = mirror.positions[("paper", SPOT)].levels
    assert levels is not None and (levels.stop_loss, levels.stop_loss_source) == (stop, "manual")


def market_buy() -> OrderRequest:
    return OrderRequest(venue="paper", symbol=SPOT, side=Side.BUY, type=OrderType.MARKET, size=Decimal("0.01"))


@pytest.fixture
def gateway_settings() -> GatewayConfig:
    return GatewayConfig(port=0, replay_messages=300, client_backlog=150)


async def test_too_far_behind_or_another_epoch_gets_a_snapshot(api: Api, engine: TradingEngine) -> None:
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"])
        last = (await raw.read_until(lambda ms: len(ms) >= 2, "hello"))[-1].seq
    for _ in range(110):  # 330 order messages: more than the 300 kept for resumes
        order = await engine.place_order(limit(engine), actor="user")
        await engine.cancel_order(order.client_order_id, actor="user")
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"], since=last, epoch=api.gateway.epoch)
        hello = (await raw.read_until(lambda ms: len(ms) >= 2, "hello"))[0].event
        assert isinstance(hello, StreamHello) and not hello.resumed
        assert isinstance(raw.messages[1].event, StreamSnapshot)
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"], since=api.gateway.hub.seq, epoch="a-gateway-before-a-restart")
        await raw.read_until(lambda ms: len(ms) >= 2, "hello")
        assert isinstance(raw.messages[1].event, StreamSnapshot)


async def test_a_slow_client_gets_the_latest_book_and_every_order_while_the_engine_runs_on(
    api: Api, engine: TradingEngine
) -> None:
    topic = f"book:paper:{SPOT}"
    lags: list[float] = []

    async def probe() -> None:
        while True:
            started = time.perf_counter()
            await asyncio.sleep(0.005)
            lags.append((time.perf_counter() - started - 0.005) * 1000)

    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=[topic, "orders"])
        await raw.read_until(lambda ms: any(m.topic == topic for m in ms), "the first book")
        raw.messages.clear()
        [client] = api.gateway.hub._clients  # noqa: SLF001 - the test looks at its outbox
        watcher = asyncio.create_task(probe())

        def bounded(placed: list[Order]) -> None:
            assert len(client.outbox) <= 1 + 2 * len(placed), "one book at most, and the order events"

        placed, last_ts = await flood(engine, 20_000, 2000, 100, bounded)  # the client reads nothing meanwhile
        watcher.cancel()
        assert client.outbox.coalesced > 0, "the books it could not take were replaced by newer ones"
        await raw.read_until(lambda ms: any(isinstance(m.event, OrderBookUpdated) and m.event.book.ts == last_ts for m in ms)
                             and len(orders_of(ms)) >= 2 * len(placed), "the latest book")
    books = [m for m in raw.messages if isinstance(m.event, OrderBookUpdated)]
    assert len(books) < 20_000 and books[-1].event.book.ts == last_ts
    assert sorted(orders_of(raw.messages)) == sorted((o.client_order_id, s) for o in placed for s in ("pending_new", "open"))
    seqs = [m.seq for m in raw.messages]
    assert seqs == sorted(set(seqs))
    lags.sort()
    assert lags and lags[int(len(lags) * 0.99) - 1] < 100, f"loop lag p99 {lags[int(len(lags) * 0.99) - 1]:.1f} ms"


async def test_a_stuck_client_is_dropped_past_its_backlog_and_resumes(api: Api, engine: TradingEngine) -> None:
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"])
        last = (await raw.read_until(lambda ms: len(ms) >= 2, "hello"))[-1].seq
        [client] = api.gateway.hub._clients  # noqa: SLF001
        client._writer.cancel()  # noqa: SLF001 - as if the peer took nothing: the outbox only grows
        for _ in range(80):
            await engine.place_order(limit(engine), actor="user")
        await until(lambda: raw.ws.closed or client.closed, "the drop")
        frame = await raw.ws.receive()
        assert frame.type is aiohttp.WSMsgType.CLOSE and frame.data == 4008
        assert api.gateway.hub.clients == 0
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"], since=last, epoch=api.gateway.epoch)
        messages = await raw.read_until(lambda ms: len(orders_of(ms)) >= 160, "the replay")
        assert messages[0].event.resumed  # type: ignore[union-attr]
        assert len(orders_of(messages)) == 160


async def test_a_revoked_token_closes_its_stream(api: Api, isolated_home: Path) -> None:
    async with connect(api, "trader") as raw:
        await raw.send(op="subscribe", topics=["orders"])
        await raw.read_until(lambda ms: len(ms) >= 2, "hello")
        TokenStore(isolated_home).revoke("trader")
        api.gateway.hub.poll()
        frame = await raw.ws.receive()
        assert (frame.type, frame.data, frame.extra) == (aiohttp.WSMsgType.CLOSE, 4001, "the token was revoked")


async def test_bad_requests_on_the_stream(api: Api) -> None:
    async with connect(api) as raw:
        await raw.send(op="unsubscribe", topics=["orders"])
        frame = await raw.ws.receive()
        assert (frame.data, frame.extra) == (4400, "the first request must subscribe")
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders"])
        await raw.read_until(lambda ms: len(ms) >= 2, "hello")
        await raw.send(op="subscribe", topics=["weather"])
        await raw.ws.send_str("{not json")
        errors = await raw.read_until(lambda ms: sum(m.name == "StreamError" for m in ms) >= 2, "two errors")
        reasons = [m.event.reason for m in errors if m.name == "StreamError"]  # type: ignore[union-attr]
        assert reasons[0].startswith("unknown topic 'weather'") and reasons[1].startswith("invalid JSON")
    reply = await api.call("GET", "/stream", None)
    assert reply.status == 401


async def test_event_stream_reconnects_and_loses_no_order_event(api: Api, engine: TradingEngine, isolated_home: Path) -> None:
    states: list[str] = []
    target = Target(url=api.gateway.url, token=api.tokens["reader"])
    async with GatewayClient(target) as client:
        stream = EventStream(client, ["orders"], retry_initial=0, on_state=lambda state, detail: states.append(state))
        mirror = Mirror()
        seen: list[tuple[str, str]] = []
        placed: list[str] = []

        async def consume() -> None:
            async for message in stream.messages():
                mirror.apply(message.event)
                seen.extend(orders_of([message]))

        task = asyncio.create_task(consume())
        await until(lambda: mirror.snapshots == 1, "the first snapshot")
        for round_ in range(3):
            placed.append((await engine.place_order(limit(engine), actor="user")).client_order_id)
            [server_side] = api.gateway.hub._clients  # noqa: SLF001
            server_side.close(1011, "dropped for the test")
            placed.append((await engine.place_order(limit(engine, offset="0.97"), actor="user")).client_order_id)
            connects = round_ + 2
            await until(lambda n=connects: states.count("connected") == n and api.gateway.hub.clients == 1, "the reconnect")
        await until(lambda: len(seen) == 2 * len(placed), "every order event")
        await stream.close()
        await task
    assert sorted(seen) == sorted((i, s) for i in placed for s in ("pending_new", "open")), "each once, none lost"
    assert mirror.snapshots == 1 and set(mirror.orders) == set(placed)
    assert states[:2] == ["connecting", "connected"] and "reconnecting" in states


async def test_a_restarted_gateway_sends_a_snapshot_and_a_revoked_token_ends_the_stream(
    api: Api, engine: TradingEngine, isolated_home: Path
) -> None:
    target = Target(url=api.gateway.url, token=api.tokens["trader"])
    async with GatewayClient(target) as client:
        stream = EventStream(client, ["orders"], retry_initial=0)
        mirror = Mirror()

        async def consume() -> None:
            async for message in stream.messages():
                mirror.apply(message.event)

        task = asyncio.create_task(consume())
        await until(lambda: mirror.snapshots == 1, "the first snapshot")
        first_epoch = stream.epoch
        hub = api.gateway.hub
        hub.epoch = "restarted"  # what a new gateway process has: another epoch, other numbers
        [server_side] = hub._clients  # noqa: SLF001
        server_side.close(1001, "the gateway is stopping")
        order = await engine.place_order(limit(engine), actor="user")
        await until(lambda: mirror.snapshots == 2, "a fresh snapshot")
        assert stream.epoch == "restarted" != first_epoch and order.client_order_id in mirror.orders
        TokenStore(isolated_home).revoke("trader")
        hub.poll()
        with pytest.raises(StreamClosed, match="the token was revoked"):
            await task


async def test_mirror_follows_fills_positions_and_the_risk_state(api: Api, engine: TradingEngine) -> None:
    from core.events import RiskStateChanged
    from tests.safety.conftest import market

    mirror = Mirror()
    async with connect(api) as raw:
        await raw.send(op="subscribe", topics=["orders", "fills", "positions", "risk", "alerts", "balances", "status"])
        for message in await raw.read_until(lambda ms: len(ms) >= 2, "hello"):
            mirror.apply(message.event)
        order = await engine.place_order(market(), actor="user")
        await until(lambda: engine.portfolio.position("paper", SPOT) is not None, "the position")
        await engine.emergency_stop("drill", actor="user")
        await raw.read_until(lambda ms: any(isinstance(m.event, RiskStateChanged) for m in ms), "the halt")
        await until(lambda: engine.portfolio.position("paper", SPOT) is None, "the flattening")
        api.gateway.hub.poll()
        await raw.read_until(lambda ms: sum(m.name == "PositionChanged" for m in ms) >= 2
                             and any(m.name == "BalancesChanged" for m in ms[2:]), "the close")
        for message in raw.messages[2:]:
            mirror.apply(message.event)
    assert [f.client_order_id for f in mirror.fills][0] == order.client_order_id
    assert mirror.positions == {} and mirror.risk is not None and mirror.risk.state.value == "halted"
    assert mirror.balances["paper"] == engine.portfolio.balances("paper")
    assert mirror.status is not None and mirror.status.risk_state.value == "halted"
    assert OrderStatus.FILLED.value in {s for _, s in orders_of(raw.messages)}


async def test_feed_drains_the_stream_into_a_local_bus_that_coalesces_for_a_slow_reader(
    api: Api, engine: TradingEngine
) -> None:
    from core.events import EventBus

    local = EventBus()
    inbox = local.subscribe(OrderBookUpdated, OrderUpdated, maxsize=100, name="slow screen")
    async with GatewayClient(Target(url=api.gateway.url, token=api.tokens["reader"])) as client:
        stream = EventStream(client, [f"book:paper:{SPOT}", "orders"], retry_initial=0)
        feeding = asyncio.create_task(stream.feed(local))
        await until(lambda: len(inbox) > 0, "the first book")
        placed, last = await flood(engine, 3000, 1000, 50)  # the screen reads nothing meanwhile
        await until(lambda: inbox.coalesced > 0 and any(isinstance(e, OrderBookUpdated) and e.book.ts == last
                                                         for e in list(inbox._market.values())), "the last book")  # noqa: SLF001
        events = inbox.drain()
        await stream.close()
        await feeding
    books = [e for e in events if isinstance(e, OrderBookUpdated)]
    assert [b.book.ts for b in books] == [last], "one book, the newest"
    assert sorted((e.order.client_order_id, e.order.status.value) for e in events if isinstance(e, OrderUpdated)) == sorted(
        (o.client_order_id, s) for o in placed for s in ("pending_new", "open"))
