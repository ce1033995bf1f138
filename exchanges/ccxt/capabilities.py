"""What each ccxt exchange can do, from ccxt's own ``has`` flags and test URLs, for
`opentrade venues`: websocket streams, perpetuals, stop / trailing / post-only orders, testnet."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from exchanges.ccxt.client import exchange_class, exchange_ids


@dataclass(frozen=True)
class Capabilities:
    id: str
    name: str
    websocket: bool
    perpetuals: bool
    stop_orders: bool
    trailing_orders: bool
    post_only: bool
    testnet: bool

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def capabilities_of(exchange: Any) -> Capabilities:
    has = exchange.has
    return Capabilities(
        id=exchange.id,
        name=str(exchange.name),
        websocket=bool(has.get("ws") or has.get("watchOrderBook") or has.get("watchTrades")),
        perpetuals=bool(has.get("swap")),
        stop_orders=bool(has.get("createStopOrder") or has.get("createStopLossOrder") or has.get("createTriggerOrder")),
        trailing_orders=bool(has.get("createTrailingAmountOrder") or has.get("createTrailingPercentOrder")),
        post_only=bool(has.get("createPostOnlyOrder")),
        testnet=bool(exchange.urls.get("test")),
    )


#: Exchanges whose ccxt stop and take-profit orders keep our client order id through trigger and
#: fill, and are listed, fetched and canceled like any other order (checked against their
#: recorded formats in tests/ccxt). Binance's and OKX's go to a separate algo service with
#: their own ids and lists, and the fill lands on a new order: levels there stay engine-side.
PROTECTIVE_ORDER_EXCHANGES = frozenset({"bybit"})


def holds_protective_orders(exchange_id: str, has: dict[str, Any]) -> bool:
    """Whether reduce-only stop-market and take-profit orders can protect a position at this
    exchange, by ccxt's ``has`` flags and the exchanges checked above."""
    return (
        exchange_id in PROTECTIVE_ORDER_EXCHANGES
        and bool(has.get("createStopLossOrder") or has.get("createStopOrder"))
        and bool(has.get("createTakeProfitOrder"))
        and bool(has.get("createReduceOnlyOrder"))
    )


def all_capabilities() -> list[Capabilities]:
    """Every exchange ccxt ships, each instantiated once (no network)."""
    return [capabilities_of(exchange_class(exchange_id)()) for exchange_id in exchange_ids()]
