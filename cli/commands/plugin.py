"""`opentrade plugin list|enable|disable`: the installed venues, strategies, agents and data
providers (built in, or added by other packages through entry points, core.plugins), and
turning one off or on again in this home.

``list`` loads every enabled plugin, so a broken one shows its error; the app itself loads only
what the configuration uses. ``enable``/``disable`` write the home's ``plugins.json``; a running
engine keeps what it loaded until it starts again.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from cli.main import CommandContext
from core.config import AppConfig, ConfigError
from core.plugins import GROUPS, BrokenPlugin, Check, Plugin, factory_problem, registry

KINDS = list(GROUPS)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("plugin", help="list the installed plugins, enable or disable one")
    actions = parser.add_subparsers(dest="plugin_action", metavar="ACTION", required=True)
    listing = actions.add_parser("list", help="every venue, strategy, agent and data provider: package, version, enabled, errors")
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(handler=handle_list)
    for action, helptext in (("enable", "use it again"), ("disable", "stop using it in this home")):
        toggle = actions.add_parser(action, help=helptext)
        toggle.add_argument("name", help="the plugin's name, as plugin list shows it")
        toggle.add_argument("--kind", choices=KINDS, help="when several kinds of plugin have the name")
        toggle.set_defaults(handler=handle_toggle, enable=action == "enable")


def status(plugin: Plugin, disabled: set[str]) -> tuple[str, str | None]:
    """ok, disabled or broken, with the error: the plugin is loaded here (once per process),
    with the check the app applies to its kind."""
    if plugin.conflict is not None:
        return "broken", plugin.conflict
    if plugin.name in disabled:
        return "disabled", None
    try:
        registry().load(plugin.kind, plugin.name, _check(plugin.kind))
    except BrokenPlugin:
        return "broken", registry().error(plugin.kind, plugin.name)
    return "ok", None


def _check(kind: str) -> Check:
    if kind == "strategy":
        from core.strategies.registry import class_problem

        return class_problem
    return factory_problem


def rows() -> list[dict[str, Any]]:
    plugins = registry()
    disabled = plugins.disabled()
    listed = []
    for kind in KINDS:
        for plugin in plugins.found(kind):
            state, error = status(plugin, disabled.get(kind, set()))
            listed.append({
                "name": plugin.name, "kind": kind, "package": plugin.package, "version": plugin.version,
                "builtin": plugin.builtin, "enabled": plugin.name not in disabled.get(kind, set()), "status": state,
                "error": error, "target": plugin.target,
            })
    return listed


def handle_list(args: argparse.Namespace, ctx: CommandContext) -> int:
    listed = rows()
    if args.json:
        print(json.dumps({"state_file": str(registry().state_path()), "plugins": listed}, indent=2))
        return 0
    columns = ("kind", "name", "package", "version", "enabled")
    cells = [[row["kind"].replace("_", " "), row["name"], row["package"], row["version"], "yes" if row["enabled"] else "no"]
             for row in listed]
    widths = [max(len(column), *(len(line[i]) for line in cells)) for i, column in enumerate(columns)]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)) + "  status")
    for row, line in zip(listed, cells, strict=True):
        shown = f"BROKEN: {row['error']}" if row["status"] == "broken" else row["status"]
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + f"  {shown}")
    print(f"\ndisabled plugins are listed in {registry().state_path()} (opentrade plugin enable|disable NAME)")
    return 0


def handle_toggle(args: argparse.Namespace, ctx: CommandContext) -> int:
    plugins = registry()
    kinds = [args.kind] if args.kind else KINDS
    matches = [p for kind in kinds for p in plugins.found(kind) if p.name == args.name and not p.conflict]
    if not matches:
        known = sorted({p.name for kind in kinds for p in plugins.found(kind)})
        print(f"no plugin is named '{args.name}' (installed: {', '.join(known)}; see opentrade plugin list)", file=sys.stderr)
        return 2
    if len(matches) > 1:
        choices = " or ".join(f"--kind {p.kind}" for p in matches)
        kinds_named = " and ".join(f"{'an' if p.kind[0] in 'aeiou' else 'a'} {p.kind.replace('_', ' ')}" for p in matches)
        print(f"'{args.name}' names {kinds_named}: add {choices}", file=sys.stderr)
        return 2
    plugin = matches[0]
    word = "enabled" if args.enable else "disabled"
    if not plugins.set_enabled(plugin, args.enable):
        print(f"the {plugin.describe()} is already {word}")
        return 0
    print(f"{word} the {plugin.describe()} in {plugins.state_path()} (a running engine keeps what it loaded until it starts again)")
    if not args.enable:
        for line in _consequences(plugin, ctx):
            print(line)
        print(f"enable it again with: opentrade plugin enable {plugin.name}")
    return 0


def _consequences(plugin: Plugin, ctx: CommandContext) -> list[str]:
    """What the configuration in use loses: the entries naming the plugin are refused at start."""
    if plugin.kind == "agent":
        return ["the analysis team leaves it out (its weight with it)"]
    try:
        config = ctx.load_config()
    except ConfigError:
        return []
    users = uses(config, plugin)
    if not users:
        return []
    source = ctx.config_path or "the built-in defaults"
    return [f"{source} uses it ({', '.join(users)}): OpenTrade refuses to start with them until it is enabled again"]


def uses(config: AppConfig, plugin: Plugin) -> list[str]:
    """The configuration's entries that name the plugin."""
    if plugin.kind == "venue":
        return [f"venues.{name}" for name, venue in config.venues.items() if venue.type == plugin.name]
    if plugin.kind == "strategy":
        from core.strategies.registry import kind_of

        return [f"strategies.{sid}" for sid, entry in config.strategies.items() if kind_of(sid, entry) == plugin.name]
    sources = {"onchain": config.agents.onchain, "sentiment": config.agents.sentiment, "macro": config.agents.macro}
    return [f"agents.{name}" for name, source in sources.items() if source is not None and source.provider_name == plugin.name]
