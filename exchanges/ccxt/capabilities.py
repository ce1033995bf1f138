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


def all_capabilities() -> list[Capabilities]:
    """Every exchange ccxt ships, each instantiated once (no network)."""
    return [capabilities_of(exchange_class(exchange_id)()) for exchange_id in exchange_ids()]
