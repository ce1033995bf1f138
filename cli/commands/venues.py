"""`opentrade venues [--json]`: the venues this app can trade on and what each supports."""

from __future__ import annotations

import argparse
import json
from typing import Any

from cli.main import CommandContext

COLUMNS = [("websocket", "ws"), ("perpetuals", "perp"), ("stop_orders", "stop"),
           ("trailing_orders", "trail"), ("post_only", "post"), ("testnet", "testnet")]

PAPER = {
    "id": "paper", "name": "OpenTrade paper (simulated market, embedded)", "websocket": True, "perpetuals": True,
    "stop_orders": True, "trailing_orders": True, "post_only": True, "testnet": False,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser("venues", help="list the venues (paper and every ccxt exchange) and their features")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.set_defaults(handler=handle)


def venues() -> list[dict[str, Any]]:
    from exchanges.ccxt.capabilities import all_capabilities  # noqa: PLC0415 - imports ccxt (~1 s)

    return [PAPER, *(c.as_dict() for c in all_capabilities())]


def handle(args: argparse.Namespace, ctx: CommandContext) -> int:
    rows = venues()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(r["id"]) for r in rows)
    print(f"{'venue':<{width}}  " + "  ".join(short.ljust(3) for _, short in COLUMNS) + "  name")
    for row in rows:
        marks = "  ".join(("yes" if row[key] else "-").ljust(max(3, len(short))) for key, short in COLUMNS)
        print(f"{row['id']:<{width}}  {marks}  {row['name']}")
    print(f"\n{len(rows) - 1} ccxt exchanges; configure one under 'venues:' with 'exchange: <venue>' "
          "(mode: paper uses its live data with simulated fills)")
    return 0
