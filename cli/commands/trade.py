"""`opentrade trade`: the full-screen trading terminal (also what plain `opentrade` runs)."""

from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.config import AppConfig, CcxtVenueConfig, ConfigError, PaperVenueConfig
from core.secrets import how_to_set, load_credentials

if TYPE_CHECKING:
    from tui.shutdown import StopSignals


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trade", help="the full-screen trading terminal (default)")
    parser.add_argument("--mode", choices=("paper", "live"), help="paper (simulated fills) or live trading on --venue")
    parser.add_argument("--venue", help="venue to trade on (a name under 'venues:' in the config)")
    parser.add_argument("--theme", help="colour theme: opentrade-dark, opentrade-light, opentrade-high-contrast, opentrade-colorblind")
    parser.add_argument("--seed", type=int, help="seed of the paper venue's simulated market")
    parser.set_defaults(handler=run)


def apply_mode(config: AppConfig, venue: str | None, mode: str | None) -> tuple[AppConfig, str | None]:
    """Check --venue and --mode against the configuration; the mode of a ccxt venue (or a
    plugin's) may be overridden."""
    problems = []
    if venue is not None and venue not in config.venues:
        problems.append(f"--venue {venue}: not configured; configured venues: {', '.join(config.venues)}")
    if problems:
        raise ConfigError(problems)
    if mode is None:
        return config, venue
    name = venue or config.default_venue
    venue_config = config.venues[name]
    if isinstance(venue_config, PaperVenueConfig):
        if mode == "live":
            raise ConfigError([f"--mode live: venue '{name}' is the simulated paper venue; choose a ccxt venue with --venue"])
        return config, venue
    venues = dict(config.venues)
    venues[name] = venue_config.model_copy(update={"mode": mode})
    return config.with_venues(venues), name


def missing_credentials(config: AppConfig, venue: str | None) -> list[str]:
    """Every live venue about to connect without an API key and secret, with the variables to
    set: said before connecting, instead of the exchange's refusal of an unsigned request."""
    names = [venue] if venue else list(config.venues)
    return [
        f"venue '{name}' trades live but has no API key and secret: {how_to_set(name)}"
        for name in names
        if isinstance(venue_config := config.venues[name], CcxtVenueConfig) and venue_config.mode == "live"
        and not load_credentials(name, config.secrets_file).complete
    ]


def run(args: argparse.Namespace, context: Any) -> int:
    """The app, with the garbage collector off until it has started: the start-up creates
    objects that live as long as the app, and the collector's passes over them took about a
    sixth of the time to the first frame. The app freezes them and turns the collector back on
    (``freeze_gc``); the ``finally`` covers a start-up that never gets there.

    SIGINT and SIGTERM stop the app cleanly from here on, the start-up included (exit code 130
    and 143, ``tui.shutdown``)."""
    from tui.shutdown import StopSignals

    gc.disable()
    try:
        with StopSignals() as signals:
            return _run(args, context, signals)
    finally:
        gc.enable()


def _run(args: argparse.Namespace, context: Any, signals: StopSignals) -> int:
    from themes.registry import theme_names
    from tui.shutdown import exit_code

    if args.theme is not None and args.theme not in theme_names():
        print(f"--theme {args.theme}: unknown theme; choose one of {', '.join(theme_names())}", file=sys.stderr)
        return 2
    config, venue = apply_mode(context.load_config(), args.venue, args.mode)
    missing = missing_credentials(config, venue)
    if missing:
        print("cannot trade live:", *missing, sep="\n  ", file=sys.stderr)
        return 2
    if signals.received is not None:  # stopped before anything was opened: no need to load the app
        return exit_code(signals.received)
    # Taken before the screen takes over the terminal, so a refusal is a plain message.
    with context.lock_engine(config):
        return _app(args, config, venue, context.home, signals)


def _app(args: argparse.Namespace, config: AppConfig, venue: str | None, home: Path, signals: StopSignals) -> int:
    from runtime.logsetup import setup_logging
    from runtime.wiring import attach_services, build_engine
    from tui.app import OpenTradeApp

    setup_logging(config.logging.level, console=False, logfile=home / "logs" / "opentrade.log")

    async def factory() -> Any:
        # The strategies and agents come after the first frame (attach_services).
        return await build_engine(config, home, seed=args.seed, venue=venue, services=False)

    app = OpenTradeApp(factory, attach_services=attach_services, theme=args.theme, freeze_gc=True, stop_signals=signals)
    app.run()
    return app.return_code or 0
