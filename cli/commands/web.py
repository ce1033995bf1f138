"""`opentrade web [--host 127.0.0.1] [--port 3000]`: the trading app in a browser.

Each browser session runs the app as its own process (``web.server.session_command``). On
127.0.0.1 anyone who can open the page is already on this machine; any other address needs a
login (``--login`` asks for one on 127.0.0.1 too) and TLS, or ``--insecure``, which is warned at
every start. Everything is checked before the server listens: a bad flag or combination ends
with one line and exit 2.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.main import CommandContext

if TYPE_CHECKING:
    from web.server import WebServer

log = logging.getLogger("opentrade.web")

DEFAULT_PORT = 3000
DEFAULT_TTL_S = 8 * 3600
MAX_TTL_S = 30 * 86400


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("web", help="serve the trading app in a browser (textual-serve)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default {DEFAULT_PORT}; 0 picks a free one)")
    parser.add_argument("--login", action="store_true",
                        help="ask for the password or a token on 127.0.0.1 too (always asked on other addresses)")
    parser.add_argument("--tls-cert", type=Path, help="PEM certificate (chain) served over HTTPS")
    parser.add_argument("--tls-key", type=Path, help="PEM private key of --tls-cert")
    parser.add_argument("--insecure", action="store_true",
                        help="serve plain HTTP on an address other than 127.0.0.1 (warned at every start)")
    parser.add_argument("--session-ttl", type=float, default=DEFAULT_TTL_S, metavar="SECONDS",
                        help=f"a login lasts this long, its open app included (default {DEFAULT_TTL_S})")
    parser.add_argument("--gateway", metavar="URL", help="the gateway the sessions attach to (default: the one running on the home)")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    from client.discovery import announced
    from client.errors import GatewayError
    from core.clock import WallClock
    from core.secrets import web_password
    from gateway.tokens import TokenStore
    from web.access import Login
    from web.server import Exposure, WebError, WebServer, session_command

    config = ctx.load_config()
    exposure = Exposure(args.host, args.tls_cert, args.tls_key, args.insecure, args.login)
    try:
        if not 0 <= args.port <= 65535:
            raise WebError(f"--port must be from 0 to 65535 (got {args.port})")
        if not 0 < args.session_ttl <= MAX_TTL_S:
            raise WebError(f"--session-ttl must be a number of seconds greater than 0, at most {MAX_TTL_S} "
                           f"(30 days; got {args.session_ttl})")
        tls = exposure.check()
        command = session_command(ctx.home, ctx.config_path, args.gateway)
        login = None
        if exposure.needs_login:
            login = Login(web_password(config.secrets_file), TokenStore(ctx.home), WallClock(), args.session_ttl)
            if not login.can_log_in():
                raise WebError(
                    f"{'--login asks for' if args.login else f'listening on {args.host} needs'} a login, and nothing could log in: "
                    "set OPENTRADE_WEB_PASSWORD (or 'web: {password: ...}' in the secrets file), or create a token "
                    "with 'opentrade token create NAME --level LEVEL'")
    except WebError as exc:
        print(f"opentrade web: {exc}", file=sys.stderr)
        return 2
    from runtime.logsetup import setup_logging

    setup_logging(config.logging.level, console=True, logfile=ctx.home / "logs" / "opentrade.log")
    if args.insecure:
        log.warning("SERVING THE APP ON %s WITHOUT TLS (--insecure): the password, the session cookie and every key "
                    "press cross the network in clear text; use --tls-cert/--tls-key or an SSH tunnel", args.host)
    if args.gateway is None:
        try:
            running = announced(ctx.home) is not None
        except GatewayError as exc:
            log.warning("%s", exc)
            running = True  # what is wrong with it, each session's app says too
        if not running:
            log.warning("no gateway runs on %s yet: each session's app says so and ends until 'opentrade gateway' runs",
                        ctx.home)
    server = WebServer(command, args.host, args.port, login=login, tls=tls)
    return asyncio.run(_serve(server))


async def _serve(server: WebServer) -> int:
    from runtime.signals import stop_on_signals
    from web.server import WebError

    stop = stop_on_signals()
    try:
        await server.start()
    except WebError as exc:
        log.error("%s", exc)
        return 2
    try:
        await stop.wait()
    finally:
        await server.stop()
    return 0
