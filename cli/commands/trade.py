"""`opentrade trade`: the full-screen trading terminal (also what plain `opentrade` runs).

With ``--attach [URL]`` the same screens show a gateway's engine (``opentrade gateway``) over its
API: the URL defaults to ``$OPENTRADE_URL``, else the gateway running on the home; the token
comes from ``$OPENTRADE_TOKEN``, else the home's announcement. Started while a gateway holds the
home's engine, the app says so and attaches to it instead of refusing. Quitting an attached app
leaves the engine trading."""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cli.live import missing_credentials
from core.config import AppConfig, ConfigError, PaperVenueConfig
from core.home_lock import EngineLocked

if TYPE_CHECKING:
    from client.discovery import Target
    from tui.shutdown import StopSignals


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("trade", help="the full-screen trading terminal (default)")
    parser.add_argument("--mode", choices=("paper", "live"), help="paper (simulated fills) or live trading on --venue")
    parser.add_argument("--venue", help="venue to trade on (a name under 'venues:' in the config)")
    parser.add_argument("--theme", help="colour theme: opentrade-dark, opentrade-light, opentrade-high-contrast, opentrade-colorblind")
    parser.add_argument("--seed", type=int, help="seed of the paper venue's simulated market")
    parser.add_argument("--attach", nargs="?", const="", metavar="URL",
                        help="show a running gateway's engine instead of starting one (URL default: $OPENTRADE_URL, "
                             "else the gateway on the home; token: $OPENTRADE_TOKEN, else the home's)")
    # run() keeps the garbage collector off until the app has started; cli.main leaves it off for it
    parser.set_defaults(handler=run, keeps_collector_off=True)


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


def run(args: argparse.Namespace, context: Any) -> int:
    """The app, with the garbage collector off until it has started (``cli.main`` turned it off
    already for `opentrade trade`; `opentrade run` comes here with it on): the start-up creates
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
    if args.attach is not None:
        given = [option for option, value in (("--mode", args.mode), ("--venue", args.venue), ("--seed", args.seed))
                 if value is not None]
        if given:
            print(f"{given[0]}: not with --attach (the gateway's engine trades as it was started)", file=sys.stderr)
            return 2
        return _attached(args, context.home, args.attach or None, signals)
    config, venue = apply_mode(context.load_config(), args.venue, args.mode)
    missing = missing_credentials(config, venue)
    if missing:
        print("cannot trade live:", *missing, sep="\n  ", file=sys.stderr)
        return 2
    if signals.received is not None:  # stopped before anything was opened: no need to load the app
        return exit_code(signals.received)
    # Taken before the screen takes over the terminal, so a refusal is a plain message.
    try:
        lock = context.lock_engine(config)
    except EngineLocked as exc:
        url = _gateway_holding(context.home, exc)
        if url is None:
            raise
        print(f"The engine of {context.home} runs in a gateway (PID {exc.holder.pid}, {url}): attaching to it.",
              file=sys.stderr)
        return _attached(args, context.home, None, signals)  # the home's gateway, followed across restarts
    with lock:
        return _app(args, config, venue, context.home, signals)


def _gateway_holding(home: Path, locked: EngineLocked) -> str | None:
    """The URL of the gateway the home announces, when it is the process holding the lock."""
    from client.discovery import announced
    from client.errors import GatewayError

    try:
        endpoint = announced(home)
    except GatewayError:
        return None
    return endpoint.url if endpoint is not None and endpoint.pid == locked.holder.pid else None


async def _answers(target: Target) -> None:
    """GatewayError (why) unless the gateway answers and takes the token."""
    from client.http import GatewayClient

    async with GatewayClient(target, timeout=10) as client:
        await client.health()


def _attached(args: argparse.Namespace, home: Path, url: str | None, signals: StopSignals) -> int:
    from client.discovery import find
    from client.errors import GatewayError
    from client.session import RemoteSession
    from runtime.logsetup import setup_logging
    from tui.app import OpenTradeApp

    try:
        target = find(home, url)
        asyncio.run(_answers(target))
    except GatewayError as exc:  # said before the screen takes over the terminal
        print(f"opentrade trade --attach: {exc.reason}", file=sys.stderr)
        return 1
    setup_logging("INFO", console=False, logfile=home / "logs" / "attach.log")
    rediscover = (lambda: find(home, url)) if target.announced is not None else None
    app = OpenTradeApp(RemoteSession(target, rediscover=rediscover), theme=args.theme, freeze_gc=True,
                       stop_signals=signals)
    app.run()
    return app.return_code or 0


def _app(args: argparse.Namespace, config: AppConfig, venue: str | None, home: Path, signals: StopSignals) -> int:
    from runtime.logsetup import setup_logging
    from runtime.session import LocalSession
    from tui.app import OpenTradeApp

    setup_logging(config.logging.level, console=False, logfile=home / "logs" / "opentrade.log")

    async def factory() -> Any:
        """Runs after the first frame. The engine's modules (storage, venues, risk: about 0.1 s)
        are imported on a thread, so the screen keeps taking keys meanwhile; the strategies and
        agents come after the market shows (attach_services)."""
        wiring = await asyncio.to_thread(importlib.import_module, "runtime.wiring")
        return await wiring.build_engine(config, home, seed=args.seed, venue=venue, services=False)

    async def attach_services(engine: Any) -> None:
        from runtime.wiring import attach_services

        await attach_services(engine)

    app = OpenTradeApp(LocalSession(factory, attach_services), theme=args.theme, freeze_gc=True, stop_signals=signals)
    app.run()
    return app.return_code or 0
