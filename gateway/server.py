"""The gateway: an aiohttp server in the engine's event loop, serving the REST endpoints, the
event stream and the OpenAPI document, and announcing itself in ``<home>/gateway.json``.

aiohttp because it is already here (ccxt depends on it), runs HTTP and WebSockets on the
loop the engine already has, with no thread and no second server process, and its low-level
runner lets us bind, learn the port and stop on our own schedule.
"""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import secrets
import ssl
import time
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from core.api import API_PREFIX, GATEWAY_FILE, GatewayEndpoint
from core.config import GatewayConfig, TelegramConfig
from core.engine import TradingEngine
from core.filemodes import write_private_text
from gateway.auth import ACTOR, Authenticator, auth_middleware
from gateway.errors import Handler, error_middleware
from gateway.openapi import document
from gateway.routes import ENDPOINTS
from gateway.routing import ENGINE, HUB
from gateway.stream import StreamHub
from gateway.tokens import TokenStore, new_token

if TYPE_CHECKING:
    from gateway.telegram.bot import TelegramBot

log = logging.getLogger(__name__)

API_VERSION = "1.0.0"
WEBHOOK_PATH = "/telegram/webhook"  # where a proxy forwards Telegram's posts (telegram.mode: webhook)


class GatewayError(Exception):
    """The gateway cannot start as configured; worded for the person starting it."""


def server_tls(cert: Path, key: Path) -> ssl.SSLContext:
    """The context that serves ``cert`` (its chain) with ``key``, for the gateway and the web
    front end alike; a file that cannot be read or used raises OSError or ssl.SSLError."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def client_host(host: str) -> str:
    """Where a client on this machine reaches a gateway bound to ``host``."""
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host


class Gateway:
    def __init__(self, engine: TradingEngine, home: Path, config: GatewayConfig, *, insecure: bool = False) -> None:
        self.engine = engine
        self.home = home
        self.config = config
        self.insecure = insecure
        self.tokens = TokenStore(home)
        self.epoch = secrets.token_hex(8)
        self._local_token = new_token()
        self.auth = Authenticator(self.tokens, self._local_token, engine.guard.permissions.level, engine.clock,
                                  config.auth_failures, config.auth_window, self._audit)
        self.hub = StreamHub(engine, self.epoch, config.replay_messages, config.client_backlog, self.auth.still_valid)
        self.telegram = self._telegram(engine.config.telegram)
        self._runner: web.AppRunner | None = None
        self._announced = False
        self.url = ""

    def _telegram(self, config: TelegramConfig | None) -> TelegramBot | None:
        """The bot, when the config has an enabled telegram section (its library is imported
        only then: it adds half a second to the start)."""
        if config is None or not config.enabled:
            return None
        from gateway.telegram.bot import TelegramBot

        return TelegramBot(self.engine, self.hub, config)

    @property
    def file(self) -> Path:
        return self.home / GATEWAY_FILE

    def check(self) -> None:
        """Refuse, before the engine starts, what could not serve: an address other than
        loopback without TLS (or --insecure), TLS files that do not load, a Telegram bot
        without its token."""
        self.tls  # noqa: B018 - building it is the check
        if self.telegram is not None:
            from gateway.telegram.bot import BotError

            try:
                self.telegram.token()
            except BotError as exc:
                raise GatewayError(str(exc)) from None

    @cached_property
    def tls(self) -> ssl.SSLContext | None:
        """The TLS context, None for plain HTTP; GatewayError when the address needs TLS and the
        config has none, or its files do not load."""
        host, config = self.config.host, self.config
        if config.tls_cert is None or config.tls_key is None:
            if not is_loopback(host) and not self.insecure:
                raise GatewayError(
                    f"listening on {host} needs TLS: set gateway.tls_cert and gateway.tls_key in the config, or pass "
                    "--insecure (tokens and orders would cross the network in clear text); an SSH tunnel to "
                    "127.0.0.1 needs neither")
            return None
        try:
            return server_tls(config.tls_cert, config.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise GatewayError(f"gateway.tls_cert/tls_key: cannot load {config.tls_cert} with {config.tls_key}: {exc}") from None

    def app(self) -> web.Application:
        webhook = self.telegram is not None and self.telegram.webhook
        public = frozenset({WEBHOOK_PATH}) if webhook else frozenset()
        app = web.Application(client_max_size=self.config.max_body_bytes, middlewares=[
            error_middleware(self.config.max_body_bytes), auth_middleware(self.auth, public), _request_log])
        app[ENGINE] = self.engine
        app[HUB] = self.hub
        for endpoint in ENDPOINTS:
            app.router.add_route(endpoint.method, API_PREFIX + endpoint.path, endpoint.handle)
        if webhook:
            assert self.telegram is not None
            app.router.add_post(WEBHOOK_PATH, self.telegram.webhook_update)
        app.router.add_get(API_PREFIX + "/stream", self.hub.handle)
        spec = json.dumps(document(ENDPOINTS, API_VERSION))

        async def openapi(request: web.Request) -> web.Response:
            return web.Response(text=spec, content_type="application/json")

        app.router.add_get(API_PREFIX + "/openapi.json", openapi)
        return app

    async def start(self) -> str:
        """Listen, then announce where: the URL clients on this machine find in the home."""
        tls = self.tls
        if self.insecure and not is_loopback(self.config.host) and tls is None:
            log.warning("the gateway listens on %s WITHOUT TLS (--insecure): tokens and orders cross the network "
                        "in clear text; use TLS or an SSH tunnel", self.config.host)
        self.hub.start()
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port, ssl_context=tls)
        try:
            await site.start()
        except OSError as exc:
            await self.stop()
            raise GatewayError(f"cannot listen on {self.config.host}:{self.config.port}: {exc.strerror or exc}") from None
        port = self._runner.addresses[0][1]
        self.url = f"{'https' if tls else 'http'}://{client_host(self.config.host)}:{port}"
        await self._start_telegram()
        endpoint = GatewayEndpoint(url=self.url, pid=os.getpid(), epoch=self.epoch, started_ms=self.engine.clock.now_ms(),
                                   local_token=self._local_token, cafile=self.config.tls_cert)
        write_private_text(self.file, endpoint.model_dump_json(indent=2) + "\n")
        self._announced = True
        tokens = [{"name": r.name, "level": r.level.label} for r in self.tokens.records().values()]
        await self._audit("gateway_start", {"url": self.url, "host": self.config.host, "tls": tls is not None,
                                            "insecure": self.insecure, "tokens": tokens}, "gateway")
        log.info("gateway listening on %s (API %s%s, file %s)", self.url, self.url, API_PREFIX, self.file)
        return self.url

    async def _start_telegram(self) -> None:
        """After the server listens (a webhook's updates arrive there), before the announcement:
        a token the Bot API refuses stops the start."""
        if self.telegram is None:
            return
        from gateway.telegram.bot import BotError

        try:
            await self.telegram.start()
        except BotError as exc:
            await self.stop()
            raise GatewayError(str(exc)) from None

    async def stop(self) -> None:
        """Remove the announcement first, so no client finds a gateway that is going away."""
        if self._announced:
            self._forget()
        if self.telegram is not None:
            await self.telegram.stop()
        await self.hub.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
            await self._audit("gateway_stop", {"url": self.url}, "gateway")
            log.info("gateway stopped")

    def _forget(self) -> None:
        """Remove gateway.json if it is still ours (another gateway may have replaced it)."""
        self._announced = False
        try:
            current = json.loads(self.file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return
        if isinstance(current, dict) and current.get("epoch") == self.epoch:
            self.file.unlink(missing_ok=True)

    async def _audit(self, kind: str, payload: dict[str, Any], actor: str) -> None:
        await self.engine.db.audit(kind, payload, actor=actor, ts=self.engine.clock.now_ms())


@web.middleware
async def _request_log(request: web.Request, handler: Handler) -> web.StreamResponse:
    started = time.perf_counter()
    response = await handler(request)
    log.debug("%s %s %s %.1f ms %s", request.method, request.path, response.status,
              (time.perf_counter() - started) * 1000, request.get(ACTOR, "-"))
    return response
