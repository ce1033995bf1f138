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
from dataclasses import dataclass
from pathlib import Path

from core.config import AppConfig, ConfigError, default_config_path, load_config, resolve_home

COMMAND_MODULES = (
    "run",
    "trade",
    "config",
    "init",
    "doctor",
    "audit",
    "venues",
    "backtest",
    "strategy",
    "agents",
)

log = logging.getLogger("opentrade")


@dataclass
class CommandContext:
    """What every subcommand needs: where the config came from, the home directory."""

    config_path: Path | None
    home: Path

    def load_config(self) -> AppConfig:
        return load_config(self.config_path)


def _available_commands() -> list[str]:
    names = []
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"tui.commands.{name}") is not None:
            names.append(name)
    return names


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="opentrade",
        description="A keyboard-driven terminal for trading crypto. Without a command: the trading app on the paper venue.",
    )
    parser.add_argument("--config", type=Path, help="configuration file (default: the one 'opentrade init' wrote, else built-in defaults)")
    parser.add_argument("--home", type=Path, help="directory for the database, logs and state (or $OPENTRADE_HOME)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _available_commands():
        importlib.import_module(f"tui.commands.{name}").register(sub)
    return parser


def _config_path(given: Path | None) -> Path | None:
    if given is not None:
        return given
    default = default_config_path()
    return default if default.exists() else None


def default_to_trade(args: list[str], commands: Sequence[str]) -> list[str]:
    """`opentrade --venue x --seed 3` means `opentrade trade --venue x --seed 3`: when what
    follows the global options is not a command, the trade command goes there."""
    index = 0
    while index < len(args):
        name = args[index].split("=", 1)[0]
        if name not in ("--config", "--home"):
            break
        index += 1 if "=" in args[index] else 2
    if index < len(args) and args[index] not in commands and args[index] not in ("-h", "--help"):
        return [*args[:index], "trade", *args[index:]]
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args_list = default_to_trade(list(sys.argv[1:] if argv is None else argv), _available_commands())
    parser = build_parser()
    args = parser.parse_args(args_list)
    if args.command is None:
        args = parser.parse_args([*args_list, "trade"])
    context = CommandContext(config_path=_config_path(args.config), home=resolve_home(args.home))
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
