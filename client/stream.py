"""The gateway's event stream, across dropped connections.

``EventStream`` keeps the gateway's epoch and the last sequence number it handed out; when the
connection drops it reconnects (waiting a little longer each time, up to ``retry_max``) and asks
for what it missed: the gateway replays every order, fill, position, balance, risk and alert
message since then, or sends a fresh snapshot when it no longer has them (or it restarted, which
changes its epoch). Either way nothing is lost: a ``StreamSnapshot`` means "replace what you
mirror", and ``on_state`` tells the front end when it is connected and when it is reconnecting.

Take the messages as fast as they come and do slow work elsewhere: ``feed`` publishes them on a
local ``EventBus``, whose subscriptions coalesce market data for a slow reader exactly as the
engine's own do. Messages left unread wait in the connection's buffers, where nothing replaces
an old book with a newer one.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Iterable

import aiohttp

from client.errors import GatewayError, NotAllowed
from client.http import GatewayClient
from core.api import API_PREFIX
from core.events import EventBus
from core.stream import Message, StreamHello, StreamRequest, decode_frame

log = logging.getLogger(__name__)

REVOKED, BAD_REQUEST = 4001, 4400


class StreamClosed(GatewayError):
    """The gateway ended the stream for good (a revoked token, a refused request)."""


class EventStream:
    def __init__(self, client: GatewayClient, topics: Iterable[str], *, retry_initial: float = 0.5,
                 retry_max: float = 10.0, on_state: Callable[[str, str], None] | None = None) -> None:
        self._client = client
        self.topics = set(topics)
        self.epoch: str | None = None
        self.last_seq: int | None = None
        self._retry_initial = retry_initial
        self._retry_max = retry_max
        self._on_state = on_state or (lambda state, detail: None)
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._closed = False

    def _request(self, op: str, topics: Iterable[str], resume: bool = False) -> str:
        since, epoch = (self.last_seq, self.epoch) if resume else (None, None)
        return StreamRequest(op=op, topics=sorted(topics), since=since, epoch=epoch).model_dump_json()  # type: ignore[arg-type]

    async def subscribe(self, topics: Iterable[str]) -> None:
        added = set(topics) - self.topics
        self.topics |= added
        if self._ws is not None and added:
            await self._ws.send_str(self._request("subscribe", added))

    async def unsubscribe(self, topics: Iterable[str]) -> None:
        removed = set(topics) & self.topics
        self.topics -= removed
        if self._ws is not None and removed:
            await self._ws.send_str(self._request("unsubscribe", removed))

    async def close(self) -> None:
        self._closed = True
        if self._ws is not None:
            await self._ws.close()

    async def messages(self) -> AsyncIterator[Message]:
        """Every message in order, until ``close``; reconnects on its own."""
        delay = self._retry_initial
        url = self._client.target.url + API_PREFIX + "/stream"
        while not self._closed:
            self._on_state("connecting" if self.epoch is None else "reconnecting", "")
            try:
                async with self._client.session.ws_connect(url, heartbeat=20, autoclose=True) as ws:
                    self._ws = ws
                    await ws.send_str(self._request("subscribe", self.topics, resume=self.epoch is not None))
                    self._on_state("connected", "")
                    delay = self._retry_initial
                    while (frame := await ws.receive()).type is aiohttp.WSMsgType.TEXT:
                        for message in decode_frame(frame.data):
                            self._track(message)
                            yield message
                    reason = _ended(ws, frame)
            except aiohttp.WSServerHandshakeError as exc:
                if exc.status in (401, 403):
                    raise NotAllowed(exc.status, "unauthorized", "the gateway refused the token for the stream") from None
                reason = f"HTTP {exc.status}"
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                reason = str(exc) or type(exc).__name__
            finally:
                self._ws = None
            if self._closed:
                return
            log.info("stream to %s dropped (%s); reconnecting in %.1f s", self._client.target.url, reason, delay)
            self._on_state("reconnecting", reason)
            await asyncio.sleep(delay)
            delay = min(max(delay * 2, 0.05), self._retry_max)

    async def feed(self, bus: EventBus) -> None:
        """Publish every event on ``bus`` until ``close``: the stream drained at once, the
        front end reading its subscription at its own pace."""
        async for message in self.messages():
            if message.event is not None:
                bus.publish(message.event)

    def _track(self, message: Message) -> None:
        if isinstance(message.event, StreamHello):
            self.epoch = message.event.epoch
        self.last_seq = message.seq


def _ended(ws: aiohttp.ClientWebSocketResponse, frame: aiohttp.WSMessage) -> str:
    """Why the connection ended; StreamClosed when reconnecting would not help."""
    said = frame.extra if frame.type is aiohttp.WSMsgType.CLOSE and isinstance(frame.extra, str) else ""
    code = ws.close_code
    if code in (REVOKED, BAD_REQUEST):
        raise StreamClosed(f"the gateway closed the stream: {said or code}")
    if code is None:
        return "connection lost"
    return f"closed by the gateway ({code}{': ' + said if said else ''})"
