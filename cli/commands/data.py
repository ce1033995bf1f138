"""`opentrade data fetch`: a market's candle history from a configured venue into the database.

The download goes on from where an earlier one stopped (core.marketdata.history), draws a
progress bar on standard error when it is a terminal, and with ``--export`` writes the stored
candles to a CSV that ``opentrade backtest --data`` reads. Bad input is one line on standard
error and exit code 2; an exchange that cannot be reached is one line and exit code 1, with
every page stored before it kept for the next run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from cli.commands.backtest import UsageProblem, guarded
from cli.main import CommandContext, writes_home
from core.clock import WallClock
from core.config import AppConfig
from core.ports import Clock, ExchangeAdapter
from core.symbols import symbol_problem


def make_clock() -> Clock:
    """The clock the download runs on: the wall clock (tests give a simulated one)."""
    return WallClock()


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("data", help="download market history into the database")
    actions = parser.add_subparsers(dest="data_action", metavar="ACTION", required=True)
    fetch = actions.add_parser("fetch", help="candles of one market from a configured venue, resumed where it stopped")
    fetch.add_argument("--venue", required=True, help="a venue configured under 'venues:'")
    fetch.add_argument("--symbol", required=True, help="unified symbol, e.g. BTC/USDT or BTC/USDT:USDT")
    fetch.add_argument("--timeframe", default="1h", help="e.g. 1m, 1h, 1d (default 1h)")
    fetch.add_argument("--since", required=True, help="first day or time, UTC: 2024-01-01 or 2024-01-01T12:00")
    fetch.add_argument("--export", type=Path, metavar="CSV", help="also write the stored candles to this CSV file")
    fetch.set_defaults(handler=handle_fetch)


def parse_since(text: str, now_ms: int) -> int:
    from cli.commands.audit import utc_ms

    try:
        since = utc_ms(text)
    except ValueError:
        raise UsageProblem(f"--since: '{text}' is not a date or time such as 2024-01-01 or 2024-01-01T12:00") from None
    if since >= now_ms:
        raise UsageProblem(f"--since: {text} is not in the past")
    return since


def _check(args: argparse.Namespace, config: AppConfig) -> None:
    from core.backtest.data import timeframe_ms

    if args.venue not in config.venues:
        known = ", ".join(config.venues) or "none"
        raise UsageProblem(f"--venue: no venue '{args.venue}' in the configuration (configured: {known})")
    problem = symbol_problem(args.symbol)
    if problem:
        raise UsageProblem(f"--symbol: {problem}")
    timeframe_ms(args.timeframe)


@guarded
@writes_home(lambda args: True)
def handle_fetch(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.load_config()
    _check(args, config)
    clock = make_clock()
    since = parse_since(args.since, clock.now_ms())
    return asyncio.run(_fetch(args, ctx, config, clock, since))


async def _fetch(args: argparse.Namespace, ctx: CommandContext, config: AppConfig, clock: Clock, since: int) -> int:
    from cli.progress import progress_bar, wanted
    from core.backtest.data import format_ts, timeframe_ms
    from core.marketdata.history import Series, candles_csv, download
    from runtime.venues import build_venue

    series = Series(args.venue, args.symbol, args.timeframe, timeframe_ms(args.timeframe))
    venue: ExchangeAdapter = build_venue(args.venue, config.venues[args.venue], config, ctx.home, clock)
    try:
        await venue.load_instruments()
        async with await ctx.storage(config).open(clock=clock, create=True) as db:
            label = f"{args.venue} {args.symbol} {args.timeframe}"
            with progress_bar(label, wanted(False), "candles") as progress:
                result = await download(venue, db, series, since, clock, progress)
            exported = await db.load_candles(args.venue, args.symbol, args.timeframe, since) if args.export else []
    finally:
        await venue.stop()
    went_on = f", going on from {format_ts(result.start)}" if result.resumed else ""
    print(f"{args.venue} {args.symbol} {args.timeframe}: {result.stored} candles stored{went_on}")
    if result.covered is not None:
        print(f"stored: {format_ts(result.covered.first)} to {format_ts(result.covered.last)}")
    if args.export:
        _write(args.export, candles_csv(exported))
        print(f"exported {len(exported)} candles to {args.export}")
    elif result.covered is None:
        print(f"{args.venue} has no {args.timeframe} candles of {args.symbol} since {args.since}", file=sys.stderr)
    return 0


def _write(path: Path, text: str) -> None:
    """Whole or not at all: a backtest never reads half a file."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)
