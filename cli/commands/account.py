"""`opentrade status | balances | positions | orders`: what a running gateway's engine holds;
`opentrade health`: whether it answers, for a service manager's or a container's health check."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from cli.remote import add_options, remote, show_json, table

if TYPE_CHECKING:
    from client.http import GatewayClient


def register(sub: argparse._SubParsersAction) -> None:
    health = sub.add_parser("health", help="exit 0 when the gateway answers /api/v1/health with its engine running, else 1")
    add_options(health)
    health.set_defaults(handler=handle_health)
    for name, helptext, handler in (
        ("status", "the engine's state, equity, daily PnL and risk state (from the running gateway)", handle_status),
        ("balances", "balances per venue", handle_balances),
        ("positions", "open positions with their stop-loss and take-profit levels", handle_positions),
        ("orders", "open orders", handle_orders),
    ):
        parser = sub.add_parser(name, help=helptext)
        if name != "status":
            parser.add_argument("--venue", help="only this venue")
        add_options(parser)
        parser.set_defaults(handler=handler)


@remote
async def handle_health(args: argparse.Namespace, gateway: GatewayClient) -> int:
    """A gateway whose engine has stopped still answers, but is not healthy: exit 1."""
    from core.api import Health

    health = await gateway.health()
    if args.json:
        show_json(health, Health)
    else:
        print(f"gateway {health.status}, engine {health.engine} (epoch {health.epoch}, as {health.actor})")
    return 0 if health.engine == "running" else 1


@remote
async def handle_status(args: argparse.Namespace, gateway: GatewayClient) -> int:
    from core.views import StatusView

    status = await gateway.status()
    if args.json:
        show_json(status, StatusView)
        return 0
    q = status.quote_currency
    print(f"engine      {status.engine} (default venue {status.default_venue})")
    for venue in status.venues:
        latency = f", {venue.latency_ms:.0f} ms" if venue.latency_ms is not None else ""
        account = f", {venue.account}" if venue.account else ""
        print(f"venue       {venue.name}: {venue.mode}, {venue.connection}{latency}, {venue.markets} markets{account}")
    print(f"equity      {status.equity:,.2f} {q}  (today {status.daily_pnl:+,.2f} {q})")
    print(f"risk        {status.risk_state.value.upper()}: {status.risk_reason}")
    print(f"open        {status.open_orders} order(s), {status.positions} position(s)")
    return 0


def _listing(args: argparse.Namespace, value: Any, kind: Any, headers: tuple[str, ...], rows: list[tuple[Any, ...]],
             empty: str) -> int:
    if args.json:
        show_json(value, kind)
    else:
        table(headers, rows, empty)
    return 0


@remote
async def handle_balances(args: argparse.Namespace, gateway: GatewayClient) -> int:
    from core.views import VenueBalances

    venues = await gateway.balances(args.venue)
    rows = [(v.venue, b.asset, b.free, b.used, b.total) for v in venues for b in v.balances]
    return _listing(args, venues, list[VenueBalances], ("venue", "asset", "free", "used", "total"), rows, "no balances")


@remote
async def handle_positions(args: argparse.Namespace, gateway: GatewayClient) -> int:
    from core.views import PositionView

    positions = await gateway.positions(args.venue)
    rows = [(p.venue, p.symbol, p.side.value, p.size, p.entry_price, p.mark_price, f"{p.unrealized_pnl:+,.2f}",
             p.stop_loss, p.take_profit, p.liquidation_price, f"{p.leverage}x") for p in positions]
    headers = ("venue", "symbol", "side", "size", "entry", "mark", "upnl", "stop", "take", "liq", "lev")
    return _listing(args, positions, list[PositionView], headers, rows, "no open positions")


@remote
async def handle_orders(args: argparse.Namespace, gateway: GatewayClient) -> int:
    from core.models import Order

    orders = await gateway.open_orders(args.venue)
    rows = [(o.client_order_id, o.venue, o.symbol, o.side.value, o.type.value, o.size, o.filled_size, o.price,
             o.trigger_price, o.status.value) for o in orders]
    headers = ("id", "venue", "symbol", "side", "type", "size", "filled", "price", "trigger", "status")
    return _listing(args, orders, list[Order], headers, rows, "no open orders")
