"""`opentrade config show|validate`: the effective configuration, or a check of a file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from cli.main import CommandContext
from core.config import AppConfig, CcxtVenueConfig, load_config
from core.secrets import load_credentials


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("config", help="show the effective configuration or validate a file")
    actions = parser.add_subparsers(dest="config_action", metavar="ACTION", required=True)
    show = actions.add_parser("show", help="print the effective configuration (secrets redacted)")
    show.add_argument("--json", action="store_true", help="JSON instead of YAML")
    show.set_defaults(handler=handle_show)
    validate = actions.add_parser("validate", help="check a configuration file")
    validate.add_argument("path", nargs="?", type=Path, help="file to check (default: --config or the user's config)")
    validate.set_defaults(handler=handle_validate)


def effective(config: AppConfig) -> dict[str, object]:
    data = config.model_dump(mode="json")
    data["credentials"] = {
        name: _credential_status(name, config) for name, venue in config.venues.items() if isinstance(venue, CcxtVenueConfig)
    }
    return data


def _credential_status(venue: str, config: AppConfig) -> str:
    creds = load_credentials(venue, config.secrets_file)
    if not creds.complete:
        return "not set"
    return f"set (from {creds.source}; values hidden)"


def handle_show(args: argparse.Namespace, ctx: CommandContext) -> int:
    data = effective(ctx.load_config())
    source = str(ctx.config_path) if ctx.config_path else "built-in defaults"
    if args.json:
        print(json.dumps({"source": source, "config": data}, indent=2))
    else:
        print(f"# effective configuration from {source}")
        print(yaml.safe_dump(data, sort_keys=False), end="")
    return 0


def handle_validate(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.strategies.registry import check_configs, short_warnings  # the strategies bring numpy

    path = args.path or ctx.config_path
    if path is None:
        print("nothing to validate: give a file, --config PATH, or run 'opentrade init'", file=sys.stderr)
        return 2
    config = load_config(path)
    problems = check_configs(config.strategies)
    if problems:
        print(f"{path}: invalid strategy parameters:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    for warning in short_warnings(config):
        print(f"{path}: warning: {warning}", file=sys.stderr)
    print(f"{path}: valid")
    return 0
