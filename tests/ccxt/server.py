"""A local stand-in for an exchange: an aiohttp server on 127.0.0.1 answering recorded
responses in the exchange's real format, recording every request, and misbehaving on demand.

Tests point a venue at it with ``api_urls: {"*": server.url}``; ccxt then signs, sends and
parses exactly as it would against the real exchange.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

FIXTURES = Path(__file__).parent / "fixtures"

Handler = Callable[["Request"], Any]


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    body: str
    headers: dict[str, str]
    ts: int

    @property
    def params(self) -> dict[str, str]:
        """Query and form/JSON body parameters together (exchanges use either)."""
        merged = dict(self.query)
        if self.body:
            if self.body.lstrip().startswith("{"):
                merged.update({k: v for k, v in json.loads(self.body).items()})
            else:
                from urllib.parse import parse_qsl

                merged.update(dict(parse_qsl(self.body)))
        return merged


@dataclass
class Fault:
    """``kind``: "timeout" (never answer), "timeout_after" (do the work, then never answer),
    "drop" (close the connection), "badjson" (200 with a broken body), "status" (answer
    ``status`` with ``body`` and ``headers``)."""

    kind: str
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=dict)


def fixture(exchange: str, name: str) -> Any:
    return json.loads((FIXTURES / exchange / name).read_text(encoding="utf-8"))


class FakeExchange:
    def __init__(self, now_ms: Callable[[], int]) -> None:
        self._now_ms = now_ms
        self.routes: dict[tuple[str, str], Handler] = {}
        self.faults: dict[tuple[str, str], list[Fault]] = {}
        self.requests: list[Request] = []
        self.unknown: list[str] = []
        self.ws_handler: Callable[[web.WebSocketResponse, web.Request], Awaitable[None]] | None = None
        self._hang = asyncio.Event()
        self._runner: web.AppRunner | None = None
        self.url = ""

    def route(self, method: str, path: str, handler: Handler) -> None:
        """``handler`` returns a JSON-able body, or (status, body) for an error answer."""
        self.routes[(method, path)] = handler

    def static(self, method: str, path: str, exchange: str, name: str) -> None:
        body = fixture(exchange, name)
        self.route(method, path, lambda _req: body)

    def fail(self, method: str, path: str, *faults: Fault) -> None:
        self.faults.setdefault((method, path), []).extend(faults)

    def calls(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        self._hang.set()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.headers.get("Upgrade", "").lower() == "websocket" and self.ws_handler is not None:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await self.ws_handler(ws, request)
            return ws
        body = await request.text()
        recorded = Request(
            request.method, request.path, dict(request.query), body, dict(request.headers), self._now_ms()
        )
        self.requests.append(recorded)
        key = (request.method, request.path)
        queue = self.faults.get(key)
        fault = queue.pop(0) if queue else None
        if fault is not None and fault.kind == "timeout":
            await self._hang.wait()
        if fault is not None and fault.kind == "drop":
            assert request.transport is not None
            request.transport.close()
            return web.Response(status=500)
        if fault is not None and fault.kind == "status":
            return web.Response(status=fault.status, text=fault.body, headers=fault.headers,
                                content_type="application/json")
        handler = self.routes.get(key)
        if handler is None:
            self.unknown.append(f"{request.method} {request.path}")
            return web.json_response({"error": f"no fixture for {request.method} {request.path}"}, status=404)
        result = handler(recorded)
        status, payload = result if isinstance(result, tuple) else (200, result)
        if fault is not None and fault.kind == "timeout_after":
            await self._hang.wait()
        if fault is not None and fault.kind == "badjson":
            return web.Response(status=200, text='{"symbol": "BTCUSDT", "bids": [["1.0", ', content_type="application/json")
        return web.json_response(payload, status=status)


async def send_json(ws: web.WebSocketResponse, payload: Any) -> None:
    await ws.send_str(json.dumps(payload))


async def next_json(ws: web.WebSocketResponse) -> Any | None:
    message = await ws.receive()
    if message.type != WSMsgType.TEXT:
        return None
    return json.loads(message.data)
