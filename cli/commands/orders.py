"""`opentrade order buy|sell SYMBOL SIZE ... | modify ID ... | cancel ID|--all | close SYMBOL|--all`:
orders through a running gateway, on the same path and with the same refusals as the app."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING

from cli.remote import EXIT_INPUT, add_options, fail, invalid, remote, show_json
from core.models import Order, OrderRequest, OrderType, Side, TimeInForce

if TYPE_CHECKING:
    from client.http import GatewayClient

TYPES = {**{t.value: t for t in OrderType}, "stop": OrderType.STOP_MARKET}


def decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"'{text}' is not a finite number")
    return value


def register(sub: argparse._SubParsersAction) -> None:
    order = sub.add_parser("order", help="place an order through the running gateway")
    order.add_argument("side", choices=[s.value for s in Side])
    order.add_argument("symbol")
    order.add_argument("size", type=decimal)
    order.add_argument("--price", type=decimal, help="limit price (a limit order unless --type says otherwise)")
    order.add_argument("--type", choices=sorted(TYPES), help="default: limit with --price, market without")
    order.add_argument("--trigger", type=decimal, help="trigger price of a stop or take-profit order")
    order.add_argument("--trailing-offset", type=decimal, help="distance of a trailing stop")
    order.add_argument("--sl", type=decimal, help="stop-loss level of the position it opens")
    order.add_argument("--tp", type=decimal, help="take-profit level of the position it opens")
    order.add_argument("--venue", help="default: the engine's default venue")
    order.add_argument("--tif", choices=[t.value for t in TimeInForce], default="GTC")
    order.add_argument("--post-only", action="store_true")
    order.add_argument("--reduce-only", action="store_true")
    order.add_argument("--leverage", type=int)
    order.add_argument("--id", dest="client_order_id", help="client order id (default: a new one); "
                       "sending it again never places a second order")
    add_options(order)
    order.set_defaults(handler=handle_order)

    modify = sub.add_parser("modify", help="change an open order's price or size (cancel-replace)")
    modify.add_argument("id", help="client order id")
    modify.add_argument("--price", type=decimal)
    modify.add_argument("--size", type=decimal)
    add_options(modify)
    modify.set_defaults(handler=handle_modify)

    cancel = sub.add_parser("cancel", help="cancel an open order, or all of them")
    cancel.add_argument("id", nargs="?", help="client order id")
    cancel.add_argument("--all", action="store_true", help="every open order (of --venue, of --symbol)")
    cancel.add_argument("--venue")
    cancel.add_argument("--symbol")
    add_options(cancel)
    cancel.set_defaults(handler=handle_cancel)

    close = sub.add_parser("close", help="close a position with a market order, or all of them")
    close.add_argument("symbol", nargs="?")
    close.add_argument("--all", action="store_true", help="every open position")
    close.add_argument("--venue", help="default: the engine's default venue")
    close.add_argument("--size", type=decimal, help="close only this much")
    add_options(close)
    close.set_defaults(handler=handle_close)


def describe(order: Order) -> str:
    price = f" @ {order.price}" if order.price is not None else ""
    trigger = f" trigger {order.trigger_price}" if order.trigger_price is not None else ""
    filled = f" {order.filled_size} @ {order.avg_price.normalize():f}" if order.filled_size and order.avg_price else ""
    reason = f" ({order.reason})" if order.reason else ""
    return (f"{order.client_order_id}: {order.side.value} {order.size} {order.symbol} {order.type.value}{price}{trigger} "
            f"on {order.venue}: {order.status.value}{filled}{reason}")


def _shown(args: argparse.Namespace, order: Order, verb: str) -> int:
    if args.json:
        show_json(order, Order)
    else:
        print(f"{verb} {describe(order)}")
    return 0


@remote
async def handle_order(args: argparse.Namespace, gateway: GatewayClient) -> int:
    kind = TYPES[args.type] if args.type else (OrderType.LIMIT if args.price is not None else OrderType.MARKET)
    fields = {"symbol": args.symbol, "side": args.side, "type": kind, "size": args.size, "price": args.price,
              "trigger_price": args.trigger, "trailing_offset": args.trailing_offset, "stop_loss": args.sl,
              "take_profit": args.tp, "time_in_force": args.tif, "post_only": args.post_only,
              "reduce_only": args.reduce_only, "leverage": args.leverage, "client_order_id": args.client_order_id}
    from pydantic import ValidationError

    venue = args.venue or (await gateway.status()).default_venue
    try:
        request = OrderRequest.model_validate({"venue": venue, **{k: v for k, v in fields.items() if v is not None}})
    except ValidationError as exc:
        return invalid(exc)
    return _shown(args, await gateway.place_order(request), "placed")


@remote
async def handle_modify(args: argparse.Namespace, gateway: GatewayClient) -> int:
    if args.price is None and args.size is None:
        return fail("invalid: give --price, --size or both", EXIT_INPUT)
    return _shown(args, await gateway.modify_order(args.id, price=args.price, size=args.size), "replaced by")


@remote
async def handle_cancel(args: argparse.Namespace, gateway: GatewayClient) -> int:
    if args.all == (args.id is not None):
        return fail("invalid: give an order id or --all", EXIT_INPUT)
    if args.id is not None:
        return _shown(args, await gateway.cancel_order(args.id), "canceled")
    count = await gateway.cancel_all(args.venue, args.symbol)
    return _counted(args, count, f"canceled {count} order(s)")


@remote
async def handle_close(args: argparse.Namespace, gateway: GatewayClient) -> int:
    if args.all == (args.symbol is not None):
        return fail("invalid: give a symbol or --all", EXIT_INPUT)
    if args.symbol is not None:
        return _shown(args, await gateway.close_position(args.symbol, args.venue, args.size), "closing with")
    count = await gateway.close_all()
    return _counted(args, count, f"sent {count} closing order(s)")


def _counted(args: argparse.Namespace, count: int, text: str) -> int:
    from core.api import Count

    if args.json:
        show_json(Count(count=count), Count)
    else:
        print(text)
    return 0

