"""The `opentrade` command line: global options, then a subcommand.

Each subcommand lives in its own module under ``tui/commands/`` and exposes
``register(subparsers)``; the module sets ``handler=`` on its parser, a function taking the
parsed arguments and a ``CommandContext`` and returning an exit code. Heavy imports (Textual,
ccxt) happen inside handlers so that `opentrade --help` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.config import AppConfig, ConfigError, chosen_home, default_config_path, home_config_path, load_config, resolve_home

# command name -> the module under tui/commands/ that registers it
COMMAND_MODULES = {
    "run": "run",
    "trade": "trade",
    "config": "config",
    "init": "init",
    "doctor": "doctor",
    "audit": "audit",
    "venues": "venues",
    "backtest": "backtest",
    "optimize": "backtest",
    "evolve": "backtest",
    "strategy": "strategy",
    "agents": "agents",
}

log = logging.getLogger("opentrade")


@dataclass
class CommandContext:
    """What every subcommand needs: where the config came from, the home directory, and
    where `init` writes (the chosen home's config.yaml, else the XDG one)."""

    config_path: Path | None
    home: Path
    init_path: Path = field(default_factory=default_config_path)

    def load_config(self) -> AppConfig:
        return load_config(self.config_path)


def _available_commands() -> list[str]:
    return [name for name, module in COMMAND_MODULES.items() if importlib.util.find_spec(f"tui.commands.{module}")]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or with ``only`` one: a command's module may import
    pandas, aiohttp or ccxt, and starting the app should not pay for the others."""
    parser = argparse.ArgumentParser(
        prog="opentrade",
        description="A keyboard-driven terminal for trading crypto. Without a command: the trading app on the paper venue.",
    )
    parser.add_argument("--config", type=Path, help="configuration file (default: the one 'opentrade init' wrote, in --home when given, else built-in defaults)")
    parser.add_argument("--home", type=Path, help="directory for the database, logs and state (or $OPENTRADE_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    names = _available_commands() if only is None else [only]
    for module in dict.fromkeys(COMMAND_MODULES[name] for name in names):
        importlib.import_module(f"tui.commands.{module}").register(sub)
    return parser


def _config_path(given: Path | None, home: Path | None) -> Path | None:
    """--config; else the chosen home's config.yaml; else the XDG one; the first that exists."""
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


def main(argv: Sequence[str] | None = None) -> int:
    commands = _available_commands()
    args_list = default_to_trade(list(sys.argv[1:] if argv is None else argv), commands)
    index = _command_index(args_list)
    requested = args_list[index] if index < len(args_list) and args_list[index] in commands else None
    args = build_parser(only=requested).parse_args(args_list)
    home = chosen_home(args.home)
    context = CommandContext(
        config_path=_config_path(args.config, home), home=resolve_home(args.home),
        init_path=home_config_path(home) if home is not None else default_config_path(),
    )
    try:
        return int(args.handler(args, context) or 0)
    except ConfigError as exc:
        print("configuration error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader went away (`opentrade venues | head`): not an error worth a traceback.
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":
    sys.exit(main())
