"""The web server: textual-serve's aiohttp application, with a login in front of it, TLS, page
addresses taken from each request, and one app process per browser session.

textual-serve because it is Textualize's own way to serve a Textual app: each websocket starts
the app with Textual's web driver and relays its output to xterm.js in the page, so the browser
shows the very screens the terminal does. We run its aiohttp application on our own runner (to
add TLS, learn the port and stop on our schedule) and replace two of its handlers: the page,
whose addresses upstream builds from the listening host (``0.0.0.0`` is no address a browser
can use), and the websocket, to give each session its environment and end it with its login.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import ssl
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp_jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from core.clock import WallClock
from core.ports import Clock
from core.secrets import WEB_PASSWORD_ENV
from gateway.server import client_host, is_loopback, server_tls
from web.access import Login, add_login, session_of

log = logging.getLogger(__name__)


class WebError(Exception):
    """`opentrade web` cannot start as asked; worded for the person starting it."""


OPENTRADE = str(Path(sys.executable).with_name("opentrade"))  # the console script of this install
EXIT_GRACE_S = 10


def session_command(home: Path, config: Path | None, gateway_url: str | None) -> list[str]:
    """The command line each browser session runs: the app attached to the gateway at
    ``gateway_url`` (without one, the gateway running on the home when the session starts,
    followed across its restarts), so any number of tabs share one engine."""
    command = [OPENTRADE, "--home", str(home), *(["--config", str(config)] if config else []), "trade"]
    return [*command, "--attach", *([gateway_url] if gateway_url else [])]


@dataclass(frozen=True)
class Exposure:
    """How the server may be reached, checked before anything listens."""

    host: str
    tls_cert: Path | None = None
    tls_key: Path | None = None
    insecure: bool = False
    login: bool = False  # asked for on a loopback address too

    @property
    def needs_login(self) -> bool:
        return self.login or not is_loopback(self.host)

    def check(self) -> ssl.SSLContext | None:
        """The TLS context (None for plain HTTP), or WebError saying what is wrong."""
        if (self.tls_cert is None) != (self.tls_key is None):
            raise WebError("give both --tls-cert and --tls-key, or neither")
        if self.insecure and self.tls_cert is not None:
            raise WebError("--insecure and --tls-cert: choose one (--insecure serves plain HTTP)")
        if self.insecure and is_loopback(self.host):
            raise WebError(f"--insecure: {self.host} is reachable from this machine only and needs no TLS; "
                           "give --insecure only with another --host")
        if self.tls_cert is not None and self.tls_key is not None:
            try:
                return server_tls(self.tls_cert, self.tls_key)
            except (OSError, ssl.SSLError) as exc:
                raise WebError(f"--tls-cert/--tls-key: cannot load {self.tls_cert} with {self.tls_key}: {exc}") from None
        if not is_loopback(self.host) and not self.insecure:
            raise WebError(
                f"listening on {self.host} needs TLS: give --tls-cert and --tls-key, or --insecure (the password, "
                "the session and every key press would cross the network in clear text); an SSH tunnel to "
                "127.0.0.1 needs neither")
        return None


class AppSession(AppService):
    """One browser session's app process: its environment without the web password (the app
    has no use for it) and with the API token the browser logged in with, if any (an attached
    app acts with that token's level); the page is told when the process ends, whatever ended it."""

    def __init__(self, command: str, token: str | None, **kwargs: Any) -> None:
        super().__init__(command, **kwargs)
        self._token = token

    def _build_environment(self, width: int = 80, height: int = 24) -> dict[str, str]:
        environment = super()._build_environment(width, height)
        environment.pop(WEB_PASSWORD_ENV, None)
        if self._token is not None:
            environment["OPENTRADE_TOKEN"] = self._token
        return environment

    async def run(self) -> None:
        await super().run()
        process = self._process
        if process is not None:  # upstream leaves the ended process unreaped; one that lingers is killed
            try:
                await asyncio.wait_for(process.wait(), EXIT_GRACE_S)
            except TimeoutError:
                log.warning("an app session did not exit %s s after its output ended: killed", EXIT_GRACE_S)
                process.kill()
                await process.wait()
        await self.remote_close()


class WebServer(Server):
    def __init__(self, command: list[str], host: str, port: int, *, login: Login | None = None,
                 tls: ssl.SSLContext | None = None, clock: Clock | None = None) -> None:
        super().__init__(shlex.join(command), host=host, port=port, title="OpenTrade")
        self.login = login
        self.tls = tls
        self.clock = clock or WallClock()
        self.url = ""
        self._runner: web.AppRunner | None = None

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        if self.login is not None:
            add_login(app, self.login, secure=self.tls is not None)
        return app

    async def on_startup(self, app: web.Application) -> None:
        """Upstream prints its banner here; ``start`` logs the address instead."""

    async def handle_index(self, request: web.Request) -> web.Response:
        """The page, its addresses those the browser used to reach it."""
        origin = f"{request.scheme}://{request.host}"
        context = {
            "font_size": to_int(request.query.get("fontsize", "16"), 16),
            "app_websocket_url": f"{'wss' if request.scheme == 'https' else 'ws'}://{request.host}/ws",
            "config": {"static": {"url": f"{origin}/static/"}},
            "application": {"name": self.title},
        }
        page = aiohttp_jinja2.render_template("app_index.html", request, context)
        page.headers["Cache-Control"] = "no-store"  # nor kept in the back-forward cache, app session and all
        return page

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """One app process for as long as the page is open, the process runs and the login lasts."""
        session = session_of(request, self.login)
        websocket = web.WebSocketResponse(heartbeat=15)
        await websocket.prepare(request)
        service = AppSession(self.command, None if session is None else session.token,
                             write_bytes=websocket.send_bytes, write_str=websocket.send_str, close=websocket.close,
                             download_manager=self.download_manager)
        await service.start(to_int(request.query.get("width", "80"), 80), to_int(request.query.get("height", "24"), 24))
        messages = asyncio.ensure_future(self._process_messages(websocket, service))
        expiry = None
        if session is not None and self.login is not None:
            expiry = asyncio.ensure_future(self.clock.sleep(self.login.remaining_s(session)))
        tasks = {messages} if expiry is None else {messages, expiry}
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if expiry in done and session is not None:
                log.info("web session of the %s ended: its login expired", session.who)
            if messages in done and (error := messages.exception()) is not None:
                log.warning("a browser sent what textual-serve cannot read (%r): its session is closed", error)
        finally:
            for task in tasks:
                task.cancel()
            await service.stop()
            await websocket.close()
        return websocket

    async def start(self) -> str:
        runner = web.AppRunner(await self._make_app(), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self.port, ssl_context=self.tls).start()
        except OSError as exc:
            await runner.cleanup()
            raise WebError(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        self._runner = runner
        self.url = f"{'https' if self.tls else 'http'}://{client_host(self.host)}:{runner.addresses[0][1]}/"
        log.info("serving the app on %s (%s; each session runs: %s)", self.url,
                 "login required" if self.login else "no login: this machine only", self.command)
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
