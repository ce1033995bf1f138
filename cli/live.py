"""What a command that starts the engine without the app checks before a live venue may trade,
and how it starts.

The app asks for a live venue's name to be typed; `run --headless` and `gateway` take the same
confirmation as ``--confirm-live VENUE``. Both refuse before anything connects: a live venue
without credentials (naming the variables to set) and a live venue nobody confirmed.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from core.config import AppConfig, CcxtVenueConfig
from core.secrets import how_to_set, load_credentials

if TYPE_CHECKING:
    from cli.main import CommandContext
    from core.engine import TradingEngine


def live_venues(config: AppConfig, only: str | None) -> list[str]:
    running = [only] if only else list(config.venues)
    return [n for n in running if isinstance(venue := config.venues.get(n), CcxtVenueConfig) and venue.mode == "live"]


def missing_credentials(config: AppConfig, venue: str | None) -> list[str]:
    """Every live venue about to connect without an API key and secret, with the variables to
    set: said before connecting, instead of the exchange's refusal of an unsigned request."""
    return [
        f"venue '{name}' trades live but has no API key and secret: {how_to_set(name)}"
        for name in live_venues(config, venue)
        if not load_credentials(name, config.secrets_file).complete
    ]


def live_problem(config: AppConfig, confirmed: list[str], only: str | None) -> str | None:
    """Why the engine may not start headless as asked: a live venue without credentials, a live
    venue nobody confirmed, or a confirmation naming a venue that is not live."""
    live = live_venues(config, only)
    for name in confirmed:
        if name not in live:
            return f"--confirm-live {name}: there is no live venue of that name (live venues: {', '.join(live) or 'none'})"
    missing = missing_credentials(config, only)
    if missing:
        return "cannot trade live:\n  " + "\n  ".join(missing)
    unconfirmed = [name for name in live if name not in confirmed]
    if unconfirmed:
        return (f"venue {unconfirmed[0]} trades real money: start with --confirm-live {unconfirmed[0]} to confirm, "
                "as the app asks its name to be typed")
    return None


async def confirm_live(engine: TradingEngine, names: list[str], actor: str) -> None:
    """Lets each named live venue send orders, with an audit entry saying who confirmed and how."""
    for name in names:
        engine.venues[name].confirm_live()
        await engine.db.audit("live_confirmed", {"venue": name, "how": "--confirm-live"}, actor=actor,
                              ts=engine.clock.now_ms())


def start_headless(args: argparse.Namespace, ctx: CommandContext, config: AppConfig,
                   serve: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """`run --headless` and `gateway`: refuse what may not start (exit 2), then run ``serve``
    holding the home's engine lock, logging to the console and the home's log."""
    problem = live_problem(config, args.confirm_live, args.venue)
    if problem is None and args.duration is not None and not args.duration > 0:
        problem = f"--duration must be a number of seconds greater than 0 (got {args.duration})"
    if problem is not None:
        print(problem, file=sys.stderr)
        return 2
    with ctx.lock_engine(config):
        from runtime.logsetup import setup_logging

        setup_logging(config.logging.level, console=True, logfile=ctx.home / "logs" / "opentrade.log")
        return asyncio.run(serve())
