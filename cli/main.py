"""The `opentrade` command line: global options, then a subcommand.

Each subcommand lives in its own module under ``cli/commands/`` and exposes
``register(subparsers)``; the module sets ``handler=`` on its parser, a function taking the
parsed arguments and a ``CommandContext`` and returning an exit code. Heavy imports (Textual,
ccxt) happen inside handlers so that `opentrade --help` stays instant.

A failure ends as one line on standard error, never a traceback. Exit codes: 1 the command
failed (a storage, venue or file problem; no gateway answers; an unreachable package index), 2
bad input or configuration (a plugin it names that is missing, disabled or broken), 3 another
engine holds the home, 4 the engine refused (commands through a gateway), 5 not allowed (a token
missing, revoked or below the level needed), 130 interrupted.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import importlib.util
import logging
import os
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config import AppConfig
    from core.home_lock import EngineLock
    from core.storage.target import StorageTarget

# command name -> the module under cli/commands/ that registers it
COMMAND_MODULES = {
    "run": "run",
    "trade": "trade",
    "config": "config",
    "init": "init",
    "doctor": "doctor",
    "audit": "audit",
    "report": "report",
    "backup": "backup",
    "db": "db",
    "venues": "venues",
    "backtest": "backtest",
    "optimize": "backtest",
    "evolve": "backtest",
    "strategy": "strategy",
    "agents": "agents",
    "gateway": "gateway",
    "web": "web",
    "token": "token",
    "health": "account",
    "status": "account",
    "balances": "account",
    "positions": "account",
    "orders": "account",
    "order": "orders",
    "modify": "orders",
    "cancel": "orders",
    "close": "orders",
    "stop": "control",
    "resume": "control",
    "plugin": "plugin",
    "update": "update",
    "data": "data",
}

log = logging.getLogger("opentrade")
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _default_config_path() -> Path:
    from core.config import default_config_path

    return default_config_path()


@dataclass
class CommandContext:
    """What every subcommand needs: where the config came from, the home directory, where
    `init` writes (the chosen home's config.yaml, else the XDG one), and the command line (a
    refused second engine is told what holds the home)."""

    config_path: Path | None
    home: Path
    init_path: Path = field(default_factory=_default_config_path)
    command: str = "opentrade"

    def load_config(self) -> AppConfig:
        from core.config import load_config

        return load_config(self.config_path)

    def lock_engine(self, config: AppConfig) -> EngineLock:
        """Taken by every command that runs the engine or writes the home, for as long as it
        runs; read-only commands never take it and work beside a running engine. For a SQLite
        file (``StorageTarget.lock``: a lock file beside it) the storage modules are not
        imported: the app takes this lock before its first frame, and opens the file after."""
        from core.config import database_path
        from core.home_lock import lock_engine

        database = database_path(config, self.home) if config.storage.url is None else self.storage(config).lock()
        return lock_engine(self.home, database, self.command)

    def storage(self, config: AppConfig) -> StorageTarget:
        """The database ``config`` names for this home: a SQLite file, or PostgreSQL. Imported
        here, when a command needs it, so that `opentrade --help` stays instant."""
        from core.storage.target import StorageTarget

        return StorageTarget.of(config, self.home)


Handler = Callable[[argparse.Namespace, CommandContext], int]


def writes_home(when: Callable[[argparse.Namespace], bool]) -> Callable[[Handler], Handler]:
    """For a command that writes the home's database when ``when(args)`` (``backtest --save``,
    ``strategy set``): it holds the engine lock for its whole run, so it refuses at once, before
    any work, when an engine runs on the home."""

    def wrap(run: Handler) -> Handler:
        def handler(args: argparse.Namespace, ctx: CommandContext) -> int:
            if not when(args):
                return run(args, ctx)
            with ctx.lock_engine(ctx.load_config()):
                return run(args, ctx)

        return handler

    return wrap


def _available_commands() -> list[str]:
    return [name for name, module in COMMAND_MODULES.items() if importlib.util.find_spec(f"cli.commands.{module}")]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with ``only`` one: a command's module may import
    pandas, aiohttp or ccxt, and starting the app should not pay for the others."""
    parser = argparse.ArgumentParser(
        prog="opentrade",
        description="A keyboard-driven terminal for trading crypto. Without a command: the trading app on the paper venue.",
    )
    parser.add_argument("--config", type=Path,
                        help="configuration file (default: the one 'opentrade init' wrote, in --home when given, else built-in defaults)")
    parser.add_argument("--home", type=Path, help="directory for the database, logs and state (or $OPENTRADE_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = _available_commands() if only is None else [only]
    for module in dict.fromkeys(COMMAND_MODULES[name] for name in names):
        importlib.import_module(f"cli.commands.{module}").register(sub)
    return parser


def _config_path(given: Path | None, home: Path | None) -> Path | None:
    """--config; else the chosen home's config.yaml; else the XDG one; the first that exists."""
    from core.config import default_config_path, home_config_path

    if given is not None:
        return given
    candidates = [home_config_path(home)] if home is not None else []
    return next((path for path in [*candidates, default_config_path()] if path.exists()), None)


def _command_index(args: list[str]) -> int:
    """Where the command stands: after the global options and their values."""
    index = 0
    while index < len(args):
        name = args[index].split("=", 1)[0]
        if name not in ("--config", "--home"):
            break
        index += 1 if "=" in args[index] else 2
    return index


def default_to_trade(args: list[str], commands: Sequence[str]) -> list[str]:
    """`opentrade --venue x --seed 3` means `opentrade trade --venue x --seed 3`: when what
    follows the global options is not a command, the trade command goes there."""
    index = _command_index(args)
    if index < len(args) and args[index] not in commands and args[index] not in ("-h", "--help"):
        return [*args[:index], "trade", *args[index:]]
    if index >= len(args):
        return [*args, "trade"]
    return args


class _StoppedEarly(BaseException):
    """SIGINT or SIGTERM before the command took over their handling."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _stop_early(signum: int, frame: FrameType | None) -> None:
    raise _StoppedEarly(signum)


@contextmanager
def _signals(handler: Any) -> Iterator[None]:
    """SIGINT and SIGTERM go to ``handler`` inside, and back to what they were after. Only the
    main thread may set them (tests run ``main`` on other threads too): elsewhere, nothing."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, handler) for sig in STOP_SIGNALS}
    try:
        yield
    finally:
        for sig, was in previous.items():
            signal.signal(sig, was)


def main(argv: Sequence[str] | None = None) -> int:
    """The command. Until it runs, during the imports (a third of a second for the app, which
    is when an impatient ctrl+c comes), SIGINT and SIGTERM end the process quietly with 130
    and 143; from there the command handles them (``tui.shutdown`` for the app, a
    KeyboardInterrupt ending in 130 for the others).

    The garbage collector is off meanwhile: what the imports and the configuration's models
    create lives as long as the process, and the collector's passes over it took 12 ms of the
    app's start-up. It is on again before the command runs, unless the command keeps it off
    itself from there (``keeps_collector_off``: the app, until it has frozen what its start-up
    built); turned on in between, it would pass over all of it at once."""
    collecting = gc.isenabled()
    gc.disable()
    args: argparse.Namespace | None = None
    try:
        with _signals(_stop_early):
            args, context = _prepare(argv)
    except _StoppedEarly as stopped:
        return 128 + stopped.signum
    finally:
        if collecting and not getattr(args, "keeps_collector_off", False):
            gc.enable()
    return _run(args, context)


def _prepare(argv: Sequence[str] | None) -> tuple[argparse.Namespace, CommandContext]:
    """The parsed command line (its command's module imported) and the context it runs in."""
    from core.config import chosen_home, default_config_path, home_config_path, resolve_home

    commands = _available_commands()
    args_list = default_to_trade(list(sys.argv[1:] if argv is None else argv), commands)
    index = _command_index(args_list)
    requested = args_list[index] if index < len(args_list) and args_list[index] in commands else None
    args = build_parser(only=requested).parse_args(args_list)
    home = chosen_home(args.home)
    context = CommandContext(
        config_path=_config_path(args.config, home), home=resolve_home(args.home),
        init_path=home_config_path(home) if home is not None else default_config_path(),
        command=shlex.join(["opentrade", *args_list]),
    )
    return args, context


def _run(args: argparse.Namespace, context: CommandContext) -> int:
    from core.config import ConfigError
    from core.home_lock import EngineLocked
    from core.plugins import PluginError, use_home

    try:
        with use_home(context.home):
            return int(args.handler(args, context) or 0)
    except ConfigError as exc:
        print("configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except EngineLocked as exc:
        return _failed(str(exc), 3)
    except PluginError as exc:
        return _failed(str(exc), 2)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`opentrade venues | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as exc:
        message = _failure(exc)
        if message is None:
            raise  # a bug: its traceback is what a report needs
        return _failed(message)


def _failure(exc: Exception) -> str | None:
    """What went wrong, for the failures a person can act on: the storage, a venue, a file.
    The storage and venue modules are imported only here, when a command has failed."""
    import sqlite3

    from core.ports import VenueError
    from core.storage.errors import StorageError

    if isinstance(exc, StorageError):
        return str(exc)
    if isinstance(exc, sqlite3.DatabaseError):
        return f"database error: {exc} (the file may be damaged: restore a backup, or move it aside to start afresh)"
    if type(exc).__module__.startswith("psycopg"):  # PostgreSQL (storage.url): the server, or the connection to it
        return f"database error: {str(exc).strip() or type(exc).__name__}"
    if isinstance(exc, VenueError):
        return f"venue error: {exc}"
    if isinstance(exc, OSError):
        return f"{exc.filename}: {exc.strerror}" if exc.filename and exc.strerror else str(exc)
    return None


def _failed(message: str, code: int = 1) -> int:
    from core.redact import redact

    print(f"opentrade: {redact(message)}", file=sys.stderr)
    return code


if __name__ == "__main__":
    sys.exit(main())
