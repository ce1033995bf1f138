"""Endpoints declared once, with everything both the server and the OpenAPI document need:
method, path, the level it takes, the body, the query and the answer's type.

A handler gets a ``Call`` (the engine, the caller, the parsed body and query) and returns a
value of its declared answer type; the wrapper parses, authorizes and serialises. Commands are
authorized by ``engine.authorize`` (audited when refused) before they reach the engine, which
then checks again on its own path exactly as for a key press; placing an order skips the first
step, so a refused order is audited and announced (``OrderRejected``) the way the app's are.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

from aiohttp import web
from pydantic import BaseModel, TypeAdapter

from core.permissions import Actor, Level
from gateway.auth import ACTOR
from gateway.errors import ApiProblem

if TYPE_CHECKING:
    from core.engine import TradingEngine
    from gateway.stream import StreamHub

ENGINE: web.AppKey[TradingEngine] = web.AppKey("engine")
HUB: web.AppKey[StreamHub] = web.AppKey("hub")


@dataclass
class Call:
    engine: TradingEngine
    hub: StreamHub
    actor: Actor
    body: Any
    query: Any
    params: dict[str, str]

    @property
    def venue(self) -> str:
        """The venue the query or body names, else the engine's default venue."""
        given = getattr(self.query, "venue", None) or getattr(self.body, "venue", None)
        return given or self.engine.default_venue


HandlerFn = Callable[[Call], Awaitable[Any]]


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: HandlerFn
    summary: str
    tag: str
    response: Any
    level: Level = Level.READ_ONLY
    action: str = ""  # what a refusal says the caller may not do; empty: the engine authorizes
    body: Any = None
    query: type[BaseModel] | None = None
    status: int = 200
    description: str = ""

    @cached_property
    def body_adapter(self) -> TypeAdapter[Any] | None:
        return TypeAdapter(self.body) if self.body is not None else None

    @cached_property
    def response_adapter(self) -> TypeAdapter[Any]:
        return TypeAdapter(self.response)

    async def handle(self, request: web.Request) -> web.Response:
        result = await self.invoke(request.app[ENGINE], request.app[HUB], request[ACTOR], await self._body(request),
                                   self._query(request), dict(request.match_info))
        return web.Response(status=self.status, body=self.response_adapter.dump_json(result, fallback=str),
                            content_type="application/json")

    async def invoke(self, engine: TradingEngine, hub: StreamHub, actor: Actor, body: Any = None, query: Any = None,
                     params: dict[str, str] | None = None) -> Any:
        """The endpoint's work for ``actor``, whoever asked: an HTTP request or a Telegram chat."""
        await self.authorize(engine, actor)
        return await self.handler(Call(engine, hub, actor, body, query, params or {}))

    async def authorize(self, engine: TradingEngine, actor: Actor) -> None:
        """PermissionDenied (audited) when ``actor`` may not call this endpoint; a front end that
        asks for a confirmation checks this first, so a refusal comes before the question."""
        if self.action:
            await engine.authorize(self.action, actor, self.level)

    async def _body(self, request: web.Request) -> Any:
        if self.body_adapter is None:
            return None
        raw = await request.read()
        return self.body_adapter.validate_json(raw if raw.strip() else b"{}")

    def _query(self, request: web.Request) -> Any:
        keys = list(request.query.keys())
        twice = sorted({key for key in keys if keys.count(key) > 1})
        if twice:
            raise ApiProblem(400, "invalid_request", f"query parameter {twice[0]} is given more than once")
        if self.query is None:
            if keys:
                raise ApiProblem(400, "invalid_request", f"{self.method} {self.path} takes no query parameters (got {keys[0]})")
            return None
        return self.query.model_validate(dict(request.query))


@dataclass
class Routes:
    """A group of endpoints, filled by the ``route`` decorator in each routes module."""

    tag: str
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(self, method: str, path: str, *, summary: str, response: Any, **options: Any) -> Callable[[HandlerFn], HandlerFn]:
        def add(handler: HandlerFn) -> HandlerFn:
            self.endpoints.append(Endpoint(method, path, handler, summary, self.tag, response,
                                           description=(handler.__doc__ or "").strip(), **options))
            return handler

        return add


def not_found(reason: str) -> ApiProblem:
    return ApiProblem(404, "not_found", reason)
