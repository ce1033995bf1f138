"""Binance's public websocket, as ccxt.pro talks to it: ``/ws/<n>`` connections, SUBSCRIBE
requests answered by ``{"result": null, "id": n}`` (ws-api requests such as the user data
stream are refused, as for a key without permission), then raw ``depthUpdate`` (sequenced by
U/u after the REST snapshot's lastUpdateId), ``trade`` and ``24hrMiniTicker`` events."""

from __future__ import annotations

import asyncio
from typing import Any

from aiohttp import web

from tests.ccxt.server import FakeExchange, fixture, next_json, send_json

T0 = 1704067200100


def depth_update(first: int, last: int, bids: list[list[str]], asks: list[list[str]]) -> dict[str, Any]:
    return {"e": "depthUpdate", "E": T0, "s": "BTCUSDT", "U": first, "u": last, "b": bids, "a": asks}


TRADE = {"e": "trade", "E": T0, "s": "BTCUSDT", "t": 3512000200, "p": "42000.01000000", "q": "0.02000000",
         "T": T0, "m": False, "M": True}
MINI_TICKER = {"e": "24hrMiniTicker", "E": T0, "s": "BTCUSDT", "c": "42000.01", "o": "41000.00",
               "h": "42100.00", "l": "40900.00", "v": "18211.1", "q": "755743210.5"}


class BinanceStream:
    """Answers subscriptions; ``drop_first`` closes the first connection once it has been served,
    ``refuse`` closes every connection at once (a websocket that never works)."""

    def __init__(self, server: FakeExchange, *, drop_first: bool = False, refuse: bool = False) -> None:
        self.connections = 0
        self.subscriptions: list[str] = []
        self.refused: list[str] = []  # ws-api requests (the user data stream), refused like a bad key
        self.drop_first = drop_first
        self.refuse = refuse
        self.depth_ws: web.WebSocketResponse | None = None
        self.snapshot_id = fixture("binance", "depth.json")["lastUpdateId"]
        server.ws_handler = self.handle

    async def handle(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.connections += 1
        number = self.connections
        if self.refuse:
            await ws.close()
            return
        served = 0
        while not ws.closed:
            message = await next_json(ws)
            if message is None:
                return
            if message.get("method") != "SUBSCRIBE":
                self.refused.append(message.get("method"))
                await send_json(ws, {"id": message.get("id"), "status": 400, "error": {
                    "code": -2015, "msg": "Invalid API-key, IP, or permissions for action."}})
                continue
            await send_json(ws, {"result": None, "id": message["id"]})
            for stream in message["params"]:
                self.subscriptions.append(stream)
                await self._serve(ws, stream)
                served += 1
            if self.drop_first and number == 1 and served:
                await asyncio.sleep(0)
                await ws.close()
                return

    async def push_gap(self) -> None:
        """A delta that skips update ids, as after a lost message (call once the book is live:
        before the REST snapshot ccxt only buffers deltas)."""
        assert self.depth_ws is not None
        first = self.snapshot_id + 10
        await send_json(self.depth_ws, depth_update(first, first, [["41000.00000000", "9.00000000"]], []))

    async def _serve(self, ws: web.WebSocketResponse, stream: str) -> None:
        if "@depth" in stream:
            first = self.snapshot_id + 1
            await send_json(ws, depth_update(first, first + 1, [["42000.00000000", "0.60000000"]],
                                             [["42000.01000000", "0.00000000"]]))
            await send_json(ws, depth_update(first + 2, first + 2, [["41999.99000000", "0.00000000"]], []))
            self.depth_ws = ws
        elif stream.endswith("@trade"):
            await send_json(ws, TRADE)
        elif stream.endswith("@miniTicker"):
            await send_json(ws, MINI_TICKER)
