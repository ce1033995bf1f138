"""The WebSocket event stream: every client gets its own outbox and writer, so a slow or stuck
client never slows the engine.

The hub listens on the engine's bus (a synchronous listener: it only numbers the event, keeps
it for resumes if it matters, and drops it into the outboxes of the clients that want it).
Each client's writer task sends what its outbox holds, in sequence order, several messages to
a frame when it has fallen behind. In an outbox, market data is replaced by the newer message
for the same market and topic (the latest book wins), other market data is bounded (the oldest
goes first); order, fill, position, balance, risk and alert messages are all kept. A client
whose kept messages pass ``gateway.client_backlog`` is disconnected (close code 4008) rather
than held in memory forever: it reconnects with its last sequence number and gets the missed
messages from the replay buffer, or a snapshot when they are no longer there. What has already
been written to the connection sits in the kernel's buffers, out of reach: a client that reads
slowly gets old books from there, so a client should read as fast as messages come and coalesce
on its side (``client.stream`` hands them to a local bus whose subscriptions do).

Once a second the hub also compares the status line, the positions' marks, the balances and
the strategies with what it last sent, and sends what changed: the engine publishes no event
for those.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any

from aiohttp import WSMsgType, web
from pydantic import ValidationError

from core.api import validation_text
from core.events import BalancesChanged, Event, OrderBookUpdated, TickerUpdated
from core.strategies.info import StrategyInfo
from core.stream import (
    CONTROL,
    PositionsMarked,
    StatusChanged,
    StrategyChanged,
    StreamError,
    StreamHello,
    StreamRequest,
    StreamSnapshot,
    encode,
    matches,
    topic_of,
    topic_problem,
)
from core.views import account_snapshot, positions_view, status_view, strategies_view
from gateway.auth import ACTOR, CREDENTIAL

if TYPE_CHECKING:
    from core.engine import TradingEngine
    from core.permissions import Actor

log = logging.getLogger(__name__)

MARKET_BACKLOG = 1000
FRAME_MESSAGES = 256
HELLO_TIMEOUT_S = 10.0
CLOSE_TIMEOUT_S = 2.0
GOING_AWAY, REVOKED, BAD_REQUEST, TOO_SLOW = 1001, 4001, 4400, 4008


class Outgoing:
    """One message, shared by every client it goes to and encoded at most once."""

    __slots__ = ("seq", "ts", "topic", "event", "key", "_text")

    def __init__(self, seq: int, ts: int, topic: str, event: Event) -> None:
        self.seq = seq
        self.ts = ts
        self.topic = topic
        self.event = event
        coalesce = event.coalesce_key
        self.key: Hashable = ("m", coalesce) if coalesce is not None and not event.critical else ("s", seq)
        self._text: str | None = None

    @property
    def critical(self) -> bool:
        return self.event.critical

    def text(self) -> str:
        if self._text is None:
            self._text = encode(self.seq, self.ts, self.topic, self.event)
        return self._text


class Outbox:
    """A client's unsent messages in sequence order."""

    def __init__(self, backlog: int, market_backlog: int = MARKET_BACKLOG) -> None:
        self.backlog = backlog
        self.market_backlog = market_backlog
        self._items: OrderedDict[Hashable, Outgoing] = OrderedDict()
        self._market: OrderedDict[Hashable, None] = OrderedDict()
        self.kept = 0
        self.coalesced = 0
        self.dropped = 0
        self.ready = asyncio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Outgoing) -> bool:
        """False when the kept messages pass the backlog: the client must go."""
        key = item.key
        if item.critical:
            self.kept += 1
        elif key in self._items:
            del self._items[key]
            self._market.move_to_end(key)
            self.coalesced += 1
        else:
            if len(self._market) >= self.market_backlog:
                oldest, _ = self._market.popitem(last=False)
                del self._items[oldest]
                self.dropped += 1
            self._market[key] = None
        self._items[key] = item
        self.ready.set()
        return self.kept <= self.backlog

    def take(self, limit: int) -> list[Outgoing]:
        taken: list[Outgoing] = []
        while self._items and len(taken) < limit:
            key, item = self._items.popitem(last=False)
            if item.critical:
                self.kept -= 1
            else:
                del self._market[key]
            taken.append(item)
        if not self._items:
            self.ready.clear()
        return taken


class StreamClient:
    def __init__(self, ws: web.WebSocketResponse, transport: asyncio.Transport | None, actor: Actor,
                 credential: str, backlog: int, on_gone: Callable[[StreamClient], None]) -> None:
        self.ws = ws
        self._transport = transport
        self.actor = actor
        self.credential = credential
        self.patterns: set[str] = set()
        self.outbox = Outbox(backlog)
        self.closed = False
        self._on_gone = on_gone
        self._writer: asyncio.Task[None] | None = None

    def wants(self, topic: str) -> bool:
        return any(matches(pattern, topic) for pattern in self.patterns)

    def offer(self, item: Outgoing) -> None:
        if self.closed:
            return
        if not self.outbox.put(item):
            log.warning("stream client %s is %d messages behind: disconnected, it may resume", self.actor,
                        self.outbox.kept)
            self.close(TOO_SLOW, "too far behind: reconnect with your last seq to resume")

    def start_writer(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write(), name=f"stream-writer-{self.actor}")

    async def _write(self) -> None:
        outbox = self.outbox
        try:
            while not self.closed:
                await outbox.ready.wait()
                items = outbox.take(FRAME_MESSAGES)
                if items:
                    await self.ws.send_str("\n".join(item.text() for item in items))
        except (ConnectionError, RuntimeError) as exc:  # the peer went away; the reader sees it too
            log.info("stream client %s gone: %s", self.actor, exc)

    def close(self, code: int, reason: str) -> None:
        """Stop sending and close the connection in the background: called from the bus's path."""
        if self.closed:
            return
        self.closed = True
        self._on_gone(self)
        asyncio.get_running_loop().create_task(self._close(code, reason))

    async def _close(self, code: int, reason: str) -> None:
        await self.stop_writer()
        try:
            await asyncio.wait_for(self.ws.close(code=code, message=reason.encode()[:120]), CLOSE_TIMEOUT_S)
        except (TimeoutError, ConnectionError, RuntimeError):
            if self._transport is not None:  # a peer that reads nothing does not read a close either
                self._transport.abort()

    async def stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, RuntimeError):
                await self._writer


class StreamHub:
    def __init__(self, engine: TradingEngine, epoch: str, replay: int, backlog: int,
                 still_valid: Callable[[str], bool]) -> None:
        self.engine = engine
        self.epoch = epoch
        self.seq = 0
        self.backlog = backlog
        self._still_valid = still_valid
        self._ring: deque[Outgoing] = deque(maxlen=replay)
        self._evicted = 0  # the newest kept message that has left the ring
        self._clients: set[StreamClient] = set()
        self._targets: dict[str, tuple[StreamClient, ...]] = {}
        self._sent: dict[Hashable, Any] = {}
        self._poller: asyncio.Task[None] | None = None

    # -- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.engine.bus.add_listener((Event,), self.publish)
        self.poll()
        self._poller = asyncio.get_running_loop().create_task(self._poll_every_second(), name="stream-poller")

    async def close(self) -> None:
        self.engine.bus.remove_listener(self.publish)
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
        clients = list(self._clients)
        for client in clients:
            client.close(GOING_AWAY, "the gateway is stopping")
        for client in clients:
            await client.stop_writer()

    @property
    def clients(self) -> int:
        return len(self._clients)

    # -- the bus's path: synchronous, never waits on a client -----------------------------------

    def publish(self, event: Event) -> None:
        topic = topic_of(event)
        if topic is None or topic == CONTROL:
            return
        targets = self._targets.get(topic)
        if targets is None:
            targets = self._targets[topic] = tuple(c for c in self._clients if c.wants(topic))
        if not targets and not event.critical:
            return
        item = self._next(topic, event)
        if event.critical:
            if len(self._ring) == self._ring.maxlen:
                self._evicted = self._ring[0].seq
            self._ring.append(item)
            item.text()  # encoded now: what it refers to may change later
        for client in targets:
            client.offer(item)

    def _next(self, topic: str, event: Event) -> Outgoing:
        self.seq += 1
        return Outgoing(self.seq, self.engine.clock.now_ms(), topic, event)

    # -- clients --------------------------------------------------------------------------------

    def attach(self, client: StreamClient, request: StreamRequest) -> None:
        """Hello, then the missed messages or a snapshot, then the current market state; all in
        one step with no await, so no event falls between them and live delivery."""
        client.patterns = set(request.topics)
        since = request.since if request.epoch == self.epoch else None
        resumed = since is not None and self._evicted <= since <= self.seq
        missed = [item for item in self._ring if item.seq > since and client.wants(item.topic)] if resumed and since is not None else []
        client.offer(self._next(CONTROL, StreamHello(self.epoch, self.seq, resumed, len(missed), tuple(sorted(client.patterns)))))
        client.outbox.backlog += len(missed)  # the replay is owed to it, not a sign it is stuck
        for item in missed:
            client.offer(item)
        if not resumed:
            client.offer(self._next(CONTROL, StreamSnapshot(account_snapshot(self.engine))))
        self._clients.add(client)
        self._targets.clear()
        self._send_state(client, client.patterns)

    def detach(self, client: StreamClient) -> None:
        self._clients.discard(client)
        self._targets.clear()

    def change(self, client: StreamClient, request: StreamRequest) -> None:
        problem = next((p for p in map(topic_problem, request.topics) if p), None)
        if problem is not None:
            client.offer(self._next(CONTROL, StreamError(problem)))
            return
        if request.op == "subscribe":
            added = set(request.topics) - client.patterns
            client.patterns |= added
            self._send_state(client, added)
        else:
            client.patterns -= set(request.topics)
        self._targets.clear()

    def _send_state(self, client: StreamClient, patterns: Iterable[str]) -> None:
        """What a new subscriber needs before the next change: current books and tickers, the
        status line, the marked positions, the strategies."""
        patterns = set(patterns)
        if not patterns:
            return
        market = self.engine.market
        events: list[Event] = []
        for venue in self.engine.venue_names:
            for instrument in self.engine.instruments(venue):
                book = market.book(venue, instrument.symbol)
                if book is not None:
                    events.append(OrderBookUpdated(book))
                ticker = market.ticker(venue, instrument.symbol)
                if ticker is not None:
                    events.append(TickerUpdated(ticker))
        events.append(StatusChanged(status_view(self.engine)))
        events.append(PositionsMarked(tuple(positions_view(self.engine))))
        events.extend(StrategyChanged(info) for info in strategies_view(self.engine))
        for event in events:
            topic = topic_of(event)
            assert topic is not None
            if any(matches(pattern, topic) for pattern in patterns):
                client.offer(self._next(topic, event))

    # -- what the engine does not publish ---------------------------------------------------------

    async def _poll_every_second(self) -> None:
        while True:
            await self.engine.clock.sleep(1.0)
            try:
                self.poll()
            except Exception:
                log.exception("the stream's state poll failed")

    def poll(self) -> None:
        """Send the status line, marked positions, balances and strategies that changed, and
        close the streams of revoked tokens."""
        engine = self.engine
        status = status_view(engine)
        self._send_if_changed("status", status.model_copy(update={"now_ms": 0}), StatusChanged(status))
        positions = tuple(positions_view(engine))
        self._send_if_changed("positions", positions, PositionsMarked(positions))
        for venue in engine.venue_names:
            balances = tuple(engine.portfolio.balances(venue))
            self._send_if_changed(("balances", venue), balances, BalancesChanged(venue, balances))
        for info in strategies_view(engine):
            self.strategy_changed(info)
        for client in [c for c in self._clients if not self._still_valid(c.credential)]:
            client.close(REVOKED, "the token was revoked")

    def strategy_changed(self, info: StrategyInfo) -> None:
        self._send_if_changed(("strategy", info.strategy_id), info, StrategyChanged(info))

    def _send_if_changed(self, key: Hashable, value: Any, event: Event) -> None:
        if self._sent.get(key) != value:
            self._sent[key] = value
            self.publish(event)

    # -- the WebSocket endpoint --------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20, compress=False, max_msg_size=64 * 1024)
        await ws.prepare(request)
        first = await self._first_request(ws)
        if first is None:
            return ws
        client = StreamClient(ws, request.transport, request[ACTOR], request[CREDENTIAL], self.backlog, self.detach)
        self.attach(client, first)
        client.start_writer()
        try:
            async for message in ws:
                if message.type is not WSMsgType.TEXT:
                    client.offer(self._next(CONTROL, StreamError("send requests as JSON text")))
                    continue
                try:
                    self.change(client, StreamRequest.model_validate_json(message.data))
                except ValidationError as exc:
                    client.offer(self._next(CONTROL, StreamError(validation_text(exc))))
        finally:
            if not client.closed:
                client.closed = True
                self.detach(client)
                await client.stop_writer()
        return ws

    async def _first_request(self, ws: web.WebSocketResponse) -> StreamRequest | None:
        """The subscribe that opens a stream, or None after closing the connection with why."""
        try:
            message = await ws.receive(timeout=HELLO_TIMEOUT_S)
        except TimeoutError:
            await ws.close(code=BAD_REQUEST, message=b"send a subscribe request first")
            return None
        if message.type is not WSMsgType.TEXT:
            await ws.close(code=BAD_REQUEST, message=b"send a subscribe request first")
            return None
        try:
            request = StreamRequest.model_validate_json(message.data)
        except ValidationError as exc:
            await ws.close(code=BAD_REQUEST, message=validation_text(exc).encode()[:120])
            return None
        problem = "the first request must subscribe" if request.op != "subscribe" else next(
            (p for p in map(topic_problem, request.topics) if p), None)
        if problem is not None:
            await ws.close(code=BAD_REQUEST, message=problem.encode()[:120])
            return None
        return request
