"""`opentrade strategy list|show|enable|disable|set`: the configured strategies and their versions.

``enable``/``disable`` edit the configuration file in place, changing only the ``enabled`` line
(comments and layout are kept). ``set`` checks the values against the strategy's declared
parameters and stores them as a new version in the database; the newest version's parameters
are the ones the strategy runs with.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from pathlib import Path
from typing import Any

import yaml

from cli.commands.backtest import UsageProblem, guarded, params_text, parse_params, strategy_config
from cli.main import CommandContext, writes_home
from core.config import AppConfig, parse_config


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("strategy", help="list, inspect, enable, disable and tune strategies")
    actions = parser.add_subparsers(dest="strategy_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="configured strategies and the available kinds")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(handler=handle_list)
    show = actions.add_parser("show", help="a strategy's parameters (value, default, bounds) and versions")
    show.add_argument("name", help="configured strategy id or strategy kind")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=handle_show)
    for action, helptext in (("enable", "start it with the app"), ("disable", "keep it stopped")):
        toggle = actions.add_parser(action, help=helptext)
        toggle.add_argument("name", help="configured strategy id")
        toggle.set_defaults(handler=handle_toggle, enable=action == "enable")
    change = actions.add_parser("set", help="new parameter values, stored as a new version")
    change.add_argument("name", help="configured strategy id")
    change.add_argument("values", nargs="+", metavar="NAME=VALUE")
    change.add_argument("--note", default="set from the command line")
    change.set_defaults(handler=handle_set)


async def _versions(ctx: CommandContext, config: AppConfig, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    storage = ctx.storage(config)
    if not storage.exists():
        return {name: [] for name in names}
    async with await storage.open() as db:
        return {name: await db.strategy_versions(name) for name in names}


@guarded
def handle_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.strategies.registry import kind_of, strategy_classes  # numpy: in the command, not for --help

    config = ctx.load_config()
    versions = asyncio.run(_versions(ctx, config, list(config.strategies)))
    rows: list[dict[str, Any]] = []
    for strategy_id, entry in config.strategies.items():
        history = versions[strategy_id]
        rows.append({
            "id": strategy_id, "kind": kind_of(strategy_id, entry), "enabled": entry.enabled, "venue": entry.venue,
            "symbols": entry.symbols, "timeframe": entry.timeframe, "allocation_pct": entry.allocation_pct,
            "version": history[-1]["version"] if history else None,
        })
    kinds = strategy_classes()
    if args.json:
        print(json.dumps({"strategies": rows, "kinds": sorted(kinds)}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title="configured strategies")
    for column in ("id", "kind", "enabled", "venue", "symbols", "timeframe", "allocation", "version"):
        table.add_column(column)
    for row in rows:
        table.add_row(row["id"], row["kind"], "yes" if row["enabled"] else "no", row["venue"], ", ".join(row["symbols"]),
                      row["timeframe"], f"{row['allocation_pct']:.0%}", str(row["version"] or "config"))
    console = Console()
    console.print(table)
    console.print("kinds: " + ", ".join(f"{name} ({cls.summary})" for name, cls in sorted(kinds.items())))
    return 0


@guarded
def handle_show(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.strategies.registry import effective_params, resolve

    config = ctx.load_config()
    cls, configured, entry = resolve(args.name, config.strategies)
    history = asyncio.run(_versions(ctx, config, [args.name]))[args.name] if entry else []
    values = cls.validate_params(effective_params(configured, history))
    params = [{"name": p.name, "type": p.kind.__name__, "value": values[p.name], "default": p.default,
               "bounds": p.describe_bounds(), "doc": p.doc} for p in cls.parameters]
    if args.json:
        print(json.dumps({"name": args.name, "kind": cls.name, "summary": cls.summary, "parameters": params,
                          "versions": history}, default=str))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{args.name} ({cls.name}): {cls.summary}")
    for column in ("parameter", "value", "default", "bounds", "meaning"):
        table.add_column(column)
    for p in params:
        table.add_row(p["name"], str(p["value"]), str(p["default"]), p["bounds"], p["doc"])
    console = Console()
    console.print(table)
    for version in history:
        console.print(f"version {version['version']}: {params_text(version['params'])} — {version['note']}")
    return 0


def set_enabled(text: str, strategy_id: str, enabled: bool, source: str) -> str:
    """The configuration text with ``strategies.<id>.enabled`` set, everything else untouched."""
    root = yaml.compose(text, Loader=yaml.SafeLoader)
    strategies = _child(root, "strategies")
    node = _child(strategies, strategy_id)
    if node is None or not isinstance(node, yaml.MappingNode) or node.flow_style:
        raise UsageProblem(f"{source}: strategies.{strategy_id} is not a block mapping this command can edit; edit it by hand")
    lines = text.splitlines(keepends=True)
    word = "true" if enabled else "false"
    current = _child(node, "enabled")
    if current is not None:
        start, end = current.start_mark, current.end_mark
        line = lines[start.line]
        lines[start.line] = line[: start.column] + word + (line[end.column:] if end.line == start.line else "\n")
    else:
        first_key = node.value[0][0] if node.value else None
        if first_key is None:
            raise UsageProblem(f"{source}: strategies.{strategy_id} is empty; edit it by hand")
        lines.insert(first_key.start_mark.line, " " * first_key.start_mark.column + f"enabled: {word}\n")
    return "".join(lines)


def _child(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((value for k, value in node.value if getattr(k, "value", None) == key), None)


@guarded
def handle_toggle(args: argparse.Namespace, ctx: CommandContext) -> int:
    config = ctx.load_config()
    strategy_config(config, args.name)
    path: Path | None = ctx.config_path
    if path is None:
        raise UsageProblem("strategies come from the built-in defaults: write a configuration file first (opentrade init)")
    text = path.read_text(encoding="utf-8")
    if args.name not in (yaml.safe_load(text) or {}).get("strategies", {}):
        raise UsageProblem(f"{path}: '{args.name}' is a built-in default strategy; add it to the file's strategies first")
    edited = set_enabled(text, args.name, args.enable, str(path))
    parse_config(edited, str(path))
    path.write_text(edited, encoding="utf-8")
    print(f"{args.name} {'enabled' if args.enable else 'disabled'} in {path}")
    return 0


@guarded
@writes_home(lambda args: True)
def handle_set(args: argparse.Namespace, ctx: CommandContext) -> int:
    from core.strategies.registry import resolve

    config = ctx.load_config()
    strategy_config(config, args.name)
    cls, configured, _ = resolve(args.name, config.strategies)
    return asyncio.run(_set(args, ctx, config, cls, configured))


async def _set(args: argparse.Namespace, ctx: CommandContext, config: AppConfig, cls: Any,
               configured: dict[str, Any]) -> int:
    from core.clock import WallClock
    from core.strategies.registry import effective_params

    async with await ctx.storage(config).open(clock=WallClock(), create=True) as db:
        history = await db.strategy_versions(args.name)
        params = cls.validate_params({**effective_params(configured, history), **parse_params(args.values)})
        version = await db.save_strategy_version(args.name, params, args.note, WallClock().now_ms())
    print(f"{args.name}: version {version} saved: {params_text(params)}")
    return 0
