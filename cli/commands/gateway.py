"""`opentrade gateway [--host H] [--port P] [--insecure] [--confirm-live VENUE]`: the engine as
`run --headless` runs it, with the HTTP/WebSocket API in the same event loop.

It holds the home's engine lock, logs to the console and the home's log, and stops cleanly on
SIGINT or SIGTERM: the API first (its clients are told it is going away), then the engine. A
live venue trades only when its name is given to ``--confirm-live``, the headless form of the
name the app asks to be typed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
from pathlib import Path

from cli.live import confirm_live, start_headless
from cli.main import CommandContext
from core.config import AppConfig

log = logging.getLogger("opentrade.gateway")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("gateway", help="run the engine with its HTTP/WebSocket API (for scripts and attached apps)")
    parser.add_argument("--host", help="address to listen on (default: gateway.host, 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: gateway.port, 18790; 0 picks a free one)")
    parser.add_argument("--insecure", action="store_true",
                        help="allow listening on a non-loopback address without TLS (warned at every start)")
    parser.add_argument("--confirm-live", action="append", default=[], metavar="VENUE",
                        help="the name of a live venue, to let it trade real money (once per live venue)")
    parser.add_argument("--venue", help="run only this configured venue")
    parser.add_argument("--seed", type=int, help="seed for the paper venue's simulator")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.load_config()
    changes = {key: value for key, value in (("host", args.host), ("port", args.port)) if value is not None}
    if changes:
        from core.config import GatewayConfig

        config = config.model_copy(update={"gateway": GatewayConfig.model_validate({**config.gateway.model_dump(), **changes})})
    return start_headless(args, ctx, config, lambda: serve(args, ctx.home, config))


async def serve(args: argparse.Namespace, home: Path, config: AppConfig) -> int:
    from gateway.server import Gateway, GatewayError
    from runtime.signals import stop_on_signals
    from runtime.wiring import build_engine, start_engine

    try:
        engine = await build_engine(config, home, seed=args.seed, venue=args.venue)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    stop = stop_on_signals()
    gateway = Gateway(engine, home, config.gateway, insecure=args.insecure)
    try:
        gateway.check()
        await confirm_live(engine, args.confirm_live, actor="gateway")
        await start_engine(engine)
        await gateway.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), args.duration)
    except GatewayError as exc:
        log.error("%s", exc)
        return 2
    finally:
        await gateway.stop()
        await engine.close()
    return 0
