"""`opentrade run --headless [--duration SECONDS] [--confirm-live VENUE]`: the engine without
the full-screen app.

The way to run on a server: logs to the console, stops cleanly on SIGINT/SIGTERM or after the
given duration, and prints a status line at an interval. A live venue trades only when its name
is given to ``--confirm-live`` (what the app asks to be typed), and never without credentials.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging

from cli.live import confirm_live, start_headless
from cli.main import CommandContext
from core.config import AppConfig
from core.engine import TradingEngine

log = logging.getLogger("opentrade.run")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="run the engine; with --headless, without the full-screen app")
    parser.add_argument("--headless", action="store_true", help="no full-screen interface, log to the console")
    parser.add_argument("--duration", type=float, help="stop after this many seconds")
    parser.add_argument("--venue", help="run only this configured venue")
    parser.add_argument("--seed", type=int, help="seed for the paper venue's simulator")
    parser.add_argument("--confirm-live", action="append", default=[], metavar="VENUE",
                        help="with --headless: the name of a live venue, to let it trade real money")
    parser.add_argument("--status-every", type=float, default=10.0, help="seconds between status lines")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    if not args.headless:
        from cli.commands import trade

        # Without --headless: the full-screen app, as `opentrade trade` runs it by default.
        return trade.run(argparse.Namespace(**vars(args), theme=None, mode=None), ctx)
    config = ctx.load_config()
    return start_headless(args, ctx, config, lambda: _run(args, ctx, config))


async def _run(args: argparse.Namespace, ctx: CommandContext, config: AppConfig) -> int:
    from runtime.signals import stop_on_signals
    from runtime.wiring import build_engine, start_engine

    try:
        engine = await build_engine(config, ctx.home, seed=args.seed, venue=args.venue)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    stop = stop_on_signals()
    try:
        await confirm_live(engine, args.confirm_live, actor="run --headless")
        await start_engine(engine)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(args.duration):
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), args.status_every)
                    _status(engine)
    finally:
        await engine.close()
    if engine.storage.fault is not None:
        log.error("ended on a storage failure: %s", engine.storage.fault)
        return 1
    return 0


def _status(engine: TradingEngine) -> None:
    portfolio = engine.portfolio
    log.info(
        "equity %.2f  daily pnl %+.2f  positions %d  open orders %d  risk %s",
        portfolio.equity(), portfolio.daily_pnl(), len(portfolio.positions()),
        len(engine.open_orders()), engine.risk.state.value,
    )
