"""`opentrade report [--strategy S] [--period day|week|month|all] [--json]`: each strategy's and
the account's performance (core/reports.py says how each figure is worked out), from the home's
database. It only reads, so it runs beside an engine or a gateway, live or paper alike.

The marks for open positions are the last ones the engine stored for its positions. A contract
size comes from the paper venue's markets in the config; a perpetual of another venue counts at
one contract per base unit, and the output says so.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from decimal import Decimal
from typing import TYPE_CHECKING

from cli.main import CommandContext
from core.clock import WallClock
from core.config import AppConfig, PaperVenueConfig

if TYPE_CHECKING:
    from core.ports import Clock
    from core.reports import Report
    from core.storage.target import StorageTarget

PERIODS = ("day", "week", "month", "all")  # core.reports.PERIODS, without importing numpy for --help
clock: Clock = WallClock()  # the tests put a simulated clock here


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("report", help="performance per strategy and in total: return, win rate, profit factor, "
                                           "Sharpe, max drawdown, fees, funding, exposure")
    parser.add_argument("--strategy", help="only this strategy ('manual': the orders placed by hand)")
    parser.add_argument("--period", choices=PERIODS, default="all",
                        help="the UTC day, the week since Monday, the month, or all the history (default) up to now")
    parser.add_argument("--json", action="store_true", help="the figures as JSON (money as exact decimal strings)")
    parser.set_defaults(handler=handle)


class ContractSizes:
    """What a contract is worth, as the config knows it; the perpetuals it does not know are
    kept to be named in the output."""

    def __init__(self, config: AppConfig) -> None:
        self.known = {(name, market.symbol): market.contract_size for name, venue in config.venues.items()
                      if isinstance(venue, PaperVenueConfig) for market in venue.markets}
        self.unknown: set[str] = set()

    def __call__(self, venue: str, symbol: str) -> Decimal:
        size = self.known.get((venue, symbol))
        if size is None:
            if ":" in symbol:
                self.unknown.add(f"{symbol}@{venue}")
            return Decimal(1)
        return size


async def load(storage: StorageTarget, config: AppConfig, period: str, strategy: str | None,
               sizes: ContractSizes) -> Report:
    from core.reports import build_report

    async with await storage.open() as db:
        fills = await db.load_fills()
        funding = await db.load_funding()
        positions = await db.load_positions()
    marks = {(p.venue, p.symbol): p.mark_price for p in positions if p.mark_price is not None}
    return build_report(fills, period, clock.now_ms(), mark=lambda venue, symbol: marks.get((venue, symbol)),
                        contract_size=sizes, strategies=list(config.strategies), strategy=strategy, funding=funding)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    from cli.remote import table
    from core.reports import FIGURES, ReportError, notes, span_text

    config = ctx.load_config()
    storage = ctx.storage(config)
    if not storage.exists():
        raise SystemExit(f"no database at {storage}: nothing has traded with this home yet")
    sizes = ContractSizes(config)
    try:
        report = asyncio.run(load(storage, config, args.period, args.strategy, sizes))
    except ReportError as exc:
        print(f"opentrade report: {exc}", file=sys.stderr)
        return 2
    counted_as_one = sorted(sizes.unknown)
    if args.json:
        print(json.dumps({**report.to_dict(), "contract_size_unknown": counted_as_one}, indent=2))
        return 0
    rows = [*report.strategies, *([report.total] if report.total is not None else [])]
    print(f"Performance, {report.period}: {span_text(report)}")
    table(("Strategy", *(label for label, _ in FIGURES)), [(row.name, *(show(row) for _, show in FIGURES)) for row in rows],
          "no strategies and no fills")
    for line in notes(report):
        print(line)
    if counted_as_one:
        print(f"Contract size unknown to the config, counted as 1: {', '.join(counted_as_one)}.")
    return 0
