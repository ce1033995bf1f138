"""`opentrade doctor [--json] [--venue NAME]`: what is wrong with this setup, and how to fix it."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from cli.main import CommandContext
from core.config import AppConfig, CcxtVenueConfig, ConfigError, PaperVenueConfig, PerpVenueConfig, PluginVenueConfig
from core.filemodes import private_dir
from core.perpetuals import AccountModes
from core.secrets import load_credentials, read_secrets_file


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="check configuration, database and venues")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--venue", help="also check this venue's connectivity, clock skew and credentials")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    checks = asyncio.run(run_checks(ctx, args.venue))
    if args.json:
        print(json.dumps({"ok": all(c.ok for c in checks), "checks": [asdict(c) for c in checks]}, indent=2))
    else:
        for check in checks:
            mark = "ok  " if check.ok else "FAIL"
            print(f"[{mark}] {check.name}: {check.detail}")
            if not check.ok and check.fix:
                print(f"       fix: {check.fix}")
    return 0 if all(c.ok for c in checks) else 1


async def run_checks(ctx: CommandContext, venue: str | None) -> list[Check]:
    checks = [Check("python", sys.version_info >= (3, 11), sys.version.split()[0], "install Python 3.11 or newer")]
    try:
        config = ctx.load_config()
    except ConfigError as exc:
        checks.append(Check("config", False, "; ".join(exc.problems), "edit the file at the line named above"))
        return checks
    checks.append(Check("config", True, str(ctx.config_path) if ctx.config_path
                        else "built-in defaults (run 'opentrade init' to write a file)"))
    checks.append(_home_check(ctx.home))
    checks.append(await _database_check(config, ctx.home))
    if checks[-1].ok:
        checks.extend(await _strategy_order_checks(config, ctx.home))
    if config.secrets_file:
        checks.append(_secrets_check(config.secrets_file))
    checks.extend(_plugin_checks(config))
    for name, venue_config in config.venues.items():
        if venue is not None and name != venue:
            continue
        checks.extend(await _venue_checks(name, venue_config, config, ctx.home, deep=venue == name))
    if venue is not None and venue not in config.venues:
        checks.append(Check(f"venue {venue}", False, "not configured",
                            f"add it under 'venues:' in the config ({', '.join(config.venues)} are configured)"))
    return checks


def _home_check(home: Path) -> Check:
    try:
        private_dir(home)
        with tempfile.NamedTemporaryFile(dir=home):
            pass
    except OSError as exc:
        return Check("home", False, f"{home}: {exc.strerror}", "choose a writable directory with --home or OPENTRADE_HOME")
    return Check("home", True, str(home))


async def _database_check(config: AppConfig, home: Path) -> Check:
    from core.storage.target import StorageTarget

    storage = StorageTarget.of(config, home)
    try:
        db = await storage.open()
    except Exception as exc:
        return Check("database", False, f"{storage}: {exc}", "move the file aside and restart, or restore a backup")
    try:
        verification = await db.verify_audit()
    finally:
        await db.close()
    if not verification.ok:
        return Check("database", False, f"{storage}: audit chain broken at entry {verification.first_broken}: {verification.message}",
                     "the database was altered outside OpenTrade; keep a copy for investigation")
    return Check("database", True, f"{storage} (schema {db.schema_version}, {verification.checked} audit entries verified)")


async def _strategy_order_checks(config: AppConfig, home: Path) -> list[Check]:
    """Working orders of strategies that nothing manages or that are duplicated (as recorded)."""
    from core.storage.target import StorageTarget
    from core.strategies.anomalies import order_anomalies
    from core.strategies.registry import effective_params

    async with await StorageTarget.of(config, home).open() as db:
        orders = [o for o in await db.load_orders(open_only=True) if o.strategy_id]
        params = {sid: effective_params(s.params, await db.strategy_versions(sid)) for sid, s in config.strategies.items()}
    anomalies = order_anomalies(orders, config.strategies, params)
    if not anomalies:
        return [Check("strategy orders", True, f"{len(orders)} open, none duplicated or unmanaged (as last recorded)")]
    return [Check(f"strategy orders of {a.strategy_id}", False, a.problem, a.fix) for a in anomalies]


def _secrets_check(path: Path) -> Check:
    if not path.exists():
        return Check("secrets file", False, f"{path} does not exist", "create it with mode 600 or remove secrets_file from the config")
    try:
        read_secrets_file(path)
    except ConfigError as exc:
        return Check("secrets file", False, exc.problems[0], f"chmod 600 {path}")
    return Check("secrets file", True, f"{path} (mode {oct(os.stat(path).st_mode & 0o777)})")


def _plugin_checks(config: AppConfig) -> list[Check]:
    """Broken plugins, and disabled ones the configuration uses (it would be refused at start)."""
    from cli.commands.plugin import rows, uses
    from core.plugins import registry

    checks = []
    listed = rows()
    for row in listed:
        plugin = registry().get(row["kind"], row["name"])
        used = uses(config, plugin) if plugin is not None else []
        what = f"plugin {row['kind'].replace('_', ' ')} {row['name']}"
        if row["status"] == "broken":
            checks.append(Check(what, False, f"{row['package']} {row['version']}: {row['error']}",
                                f"fix or uninstall {row['package']} (pip uninstall {row['package']})"))
        elif row["status"] == "disabled" and used:
            checks.append(Check(what, False, f"disabled, but the configuration uses it ({', '.join(used)})",
                                f"opentrade plugin enable {row['name']}, or remove it from the configuration"))
    if not checks:
        others = sorted({f"{row['package']} {row['version']}" for row in listed if not row["builtin"]})
        checks.append(Check("plugins", True, f"none broken; from other packages: {', '.join(others) or 'none'}"))
    return checks


async def _venue_checks(
    name: str, venue_config: PaperVenueConfig | CcxtVenueConfig | PluginVenueConfig, config: AppConfig, home: Path,
    *, deep: bool,
) -> list[Check]:
    if isinstance(venue_config, PluginVenueConfig):
        return [Check(f"venue {name}", True, f"{venue_config.type} plugin, {venue_config.mode} mode, markets: "
                                              f"{', '.join(venue_config.markets)} (built when the engine starts)")]
    if isinstance(venue_config, PaperVenueConfig):
        from core.clock import SimClock
        from exchanges.paper.venue import PaperVenue

        with tempfile.TemporaryDirectory() as scratch:
            venue = PaperVenue(name, venue_config, SimClock(), Path(scratch) / "doctor.sqlite")
            instruments = await venue.load_instruments()
            await venue.stop()
        return [Check(f"venue {name}", True, f"paper, {len(instruments)} markets: {', '.join(i.symbol for i in instruments)}")]
    credentials = load_credentials(name, config.secrets_file)
    if not deep:
        detail = f"ccxt {venue_config.exchange}, {venue_config.mode} mode, credentials {'set' if credentials.complete else 'not set'}"
        if isinstance(venue_config, PerpVenueConfig):
            modes = AccountModes(position_mode=venue_config.position_mode, margin_mode=venue_config.margin_mode)
            detail += f"; {modes.describe()}" + (" (set when it starts)" if venue_config.mode == "live" else "")
        fix = "" if venue_config.mode == "paper" or credentials.complete else f"set OPENTRADE_{name.upper()}_API_KEY and _SECRET"
        return [Check(f"venue {name}", venue_config.mode == "paper" or credentials.complete, detail, fix)]
    from exchanges.ccxt.doctor import check_venue

    results = await check_venue(name, venue_config, credentials, home / "cache")
    return [Check(f"venue {name}: {r['name']}", bool(r["ok"]), str(r["detail"]), str(r.get("fix", ""))) for r in results]
