"""Bybit's v5 public websocket, as ccxt.pro talks to it, replaying a recorded order book:
``{"op": "subscribe", "args": [topics]}`` answered by ``{"success": true, "op": "subscribe"}``,
then the recording's snapshot and deltas (Bybit linear XRPUSDT, 2024-12-01, from
nautilus_trader's test data, LGPL-3.0: see LICENSE-nautilus_trader beside it) under the topic
ccxt asked for."""

from __future__ import annotations

import json
import zipfile
from typing import Any

from aiohttp import web

from tests.ccxt.server import FIXTURES, FakeExchange, next_json, send_json

RECORDING = FIXTURES / "bybit" / "bybit_xrpusdt-ob500.data.zip"


def recorded_book_messages() -> list[dict[str, Any]]:
    with zipfile.ZipFile(RECORDING) as archive:
        text = archive.read(archive.namelist()[0]).decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]


class BybitStream:
    def __init__(self, server: FakeExchange) -> None:
        self.topics: list[str] = []
        self.messages = recorded_book_messages()
        server.ws_handler = self.handle

    async def handle(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        while not ws.closed:
            message = await next_json(ws)
            if message is None:
                return
            if message.get("op") != "subscribe":
                continue
            await send_json(ws, {"success": True, "ret_msg": "", "conn_id": "d3b2c1a0", "req_id": message.get("req_id", ""),
                                 "op": "subscribe"})
            for topic in message["args"]:
                self.topics.append(topic)
                if topic.startswith("orderbook.") and topic.endswith(".XRPUSDT"):
                    for recorded in self.messages:
                        await send_json(ws, {**recorded, "topic": topic})
