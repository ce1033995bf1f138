"""ccxt's unified structures <-> the domain models.

ccxt hands out floats (and strings for precision-formatted values); everything that enters the
order path becomes a ``Decimal`` built from the shortest float text, so 0.1 stays 0.1.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.models import (
    ZERO,
    Balance,
    Candle,
    ContractType,
    ExecutionReport,
    Instrument,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Ticker,
    TimeInForce,
    Trade,
)

DECIMAL_PLACES = 2  # ccxt.base.decimal_to_precision.DECIMAL_PLACES, without importing ccxt
DAY_MS = 86_400_000
SIGNIFICANT_DIGITS = 3
# Some exchanges publish leverage limits only on private endpoints (Binance's leverage brackets),
# so ccxt's market leaves them empty. Perpetuals then get this; the risk manager's max_leverage
# is the cap that matters, and the exchange refuses more than it allows.
UNKNOWN_PERP_LEVERAGE = 20


class UnsupportedOrder(ValueError):
    """The exchange cannot take this kind of order; the message says which feature is missing."""


def dec(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def dec0(value: Any) -> Decimal:
    result = dec(value)
    return ZERO if result is None else result


def precision_step(value: Any, precision_mode: int) -> Decimal | None:
    """ccxt expresses precision as a step (TICK_SIZE) or as a number of decimals."""
    if value is None:
        return None
    if precision_mode == DECIMAL_PLACES:
        return Decimal(1).scaleb(-int(value))
    if precision_mode == SIGNIFICANT_DIGITS:
        return None
    return dec(value)


def is_supported_market(market: dict[str, Any]) -> bool:
    return bool(market.get("spot")) or bool(market.get("swap") and market.get("linear"))


def instrument_from_market(venue: str, market: dict[str, Any], precision_mode: int) -> Instrument | None:
    """Spot markets and linear perpetual swaps; anything else is not tradable here (None)."""
    if not is_supported_market(market):
        return None
    precision = market.get("precision") or {}
    tick = precision_step(precision.get("price"), precision_mode)
    lot = precision_step(precision.get("amount"), precision_mode)
    if tick is None or lot is None or tick <= 0 or lot <= 0:
        return None
    limits = market.get("limits") or {}
    leverage = (limits.get("leverage") or {}).get("max")
    return Instrument(
        venue=venue,
        symbol=market["symbol"],
        base=market["base"],
        quote=market["quote"],
        contract_type=ContractType.SPOT if market.get("spot") else ContractType.LINEAR_PERPETUAL,
        tick_size=tick,
        lot_size=lot,
        min_size=dec0((limits.get("amount") or {}).get("min")),
        min_notional=dec0((limits.get("cost") or {}).get("min")),
        maker_fee=dec(market.get("maker")) or Decimal("0.001"),
        taker_fee=dec(market.get("taker")) or Decimal("0.001"),
        contract_size=dec(market.get("contractSize")) or Decimal(1),
        max_leverage=1 if market.get("spot") else int(leverage or UNKNOWN_PERP_LEVERAGE),
    )


_STATUS = {
    "open": OrderStatus.OPEN,
    "closed": OrderStatus.FILLED,
    "canceled": OrderStatus.CANCELED,
    "cancelled": OrderStatus.CANCELED,
    "expired": OrderStatus.EXPIRED,
    "rejected": OrderStatus.REJECTED,
}


def order_status(order: dict[str, Any]) -> OrderStatus:
    status = _STATUS.get(order.get("status") or "open", OrderStatus.OPEN)
    if status is OrderStatus.OPEN and dec0(order.get("filled")) > 0:
        return OrderStatus.PARTIALLY_FILLED
    return status


def report_from_order(
    venue: str, order: dict[str, Any], client_order_id: str, ts: int
) -> ExecutionReport:
    fee = order.get("fee") or {}
    return ExecutionReport(
        client_order_id=client_order_id,
        venue=venue,
        symbol=order["symbol"],
        status=order_status(order),
        venue_order_id=str(order["id"]) if order.get("id") is not None else None,
        filled_size=dec0(order.get("filled")),
        avg_price=dec(order.get("average")),
        fee=dec0(fee.get("cost")),
        ts=order.get("lastUpdateTimestamp") or order.get("timestamp") or ts,
    )


def balances_from_ccxt(balance: dict[str, Any]) -> list[Balance]:
    free, used = balance.get("free") or {}, balance.get("used") or {}
    assets = sorted(set(free) | set(used))
    result = [Balance(asset=a, free=dec0(free.get(a)), used=dec0(used.get(a))) for a in assets]
    return [b for b in result if b.total != 0]


def position_from_ccxt(venue: str, position: dict[str, Any], ts: int) -> Position | None:
    """Open positions only; sizes are in contracts, like order sizes."""
    contracts = dec0(position.get("contracts"))
    if contracts == 0:
        return None
    side = position.get("side")
    if side not in ("long", "short"):
        side = "long" if contracts > 0 else "short"
    leverage = position.get("leverage")
    return Position(
        venue=venue,
        symbol=position["symbol"],
        side=PositionSide(side),
        size=abs(contracts),
        entry_price=dec0(position.get("entryPrice")),
        leverage=int(leverage) if leverage else 1,
        margin=dec0(position.get("initialMargin") or position.get("collateral")),
        mark_price=dec(position.get("markPrice")),
        unrealized_pnl=dec0(position.get("unrealizedPnl")),
        realized_pnl=dec0(position.get("realizedPnl")),
        liquidation_price=dec(position.get("liquidationPrice")),
        created_ts=position.get("timestamp") or ts,
        updated_ts=position.get("timestamp") or ts,
    )


def levels(raw: list[list[Any]], depth: int) -> list[tuple[Decimal, Decimal]]:
    return [(dec0(level[0]), dec0(level[1])) for level in raw[:depth]]


def book_from_ccxt(venue: str, symbol: str, book: dict[str, Any], depth: int, ts: int) -> OrderBook:
    return OrderBook(
        venue=venue,
        symbol=symbol,
        ts=book.get("timestamp") or ts,
        bids=levels(book.get("bids") or [], depth),
        asks=levels(book.get("asks") or [], depth),
    )


def trade_from_ccxt(venue: str, trade: dict[str, Any]) -> Trade:
    return Trade(
        venue=venue,
        symbol=trade["symbol"],
        ts=trade.get("timestamp") or 0,
        price=dec0(trade["price"]),
        size=dec0(trade["amount"]),
        side=Side(trade.get("side") or "buy"),
        trade_id=str(trade.get("id") or ""),
    )


def ticker_from_ccxt(venue: str, ticker: dict[str, Any], ts: int) -> Ticker:
    """ccxt's ``open`` is the price 24 hours ago; an exchange that gives only the change in
    percent (``percentage``) gets it back from the last price."""
    stamp = ticker.get("timestamp") or ts
    last = dec(ticker.get("last"))
    opened = dec(ticker.get("open"))
    percentage = dec(ticker.get("percentage"))
    if opened is None and percentage is not None and last is not None and percentage != -100:
        opened = last / (1 + percentage / 100)
    return Ticker(
        venue=venue,
        symbol=ticker["symbol"],
        ts=stamp,
        bid=dec(ticker.get("bid")),
        ask=dec(ticker.get("ask")),
        last=last,
        mark=dec(ticker.get("markPrice")),
        volume_24h=dec(ticker.get("baseVolume")),
        reference_price=opened,
        reference_ts=stamp - DAY_MS if opened is not None else None,
    )


def candle_from_ccxt(row: list[Any]) -> Candle:
    ts, o, h, low, c, v = row[:6]
    return Candle(ts=int(ts), open=float(o), high=float(h), low=float(low), close=float(c), volume=float(v or 0))


def _require(has: dict[str, Any], feature: str, exchange: str, what: str) -> None:
    if not has.get(feature):
        raise UnsupportedOrder(f"{exchange} does not support {what} orders through ccxt")


def _trailing_params(
    order: Order, has: dict[str, Any], exchange: str, reference: Decimal | None
) -> dict[str, Any]:
    offset = order.trailing_offset
    assert offset is not None  # guaranteed by OrderRequest validation
    if has.get("createTrailingAmountOrder"):
        return {"trailingAmount": str(offset)}
    if has.get("createTrailingPercentOrder"):
        if reference is None or reference <= 0:
            raise UnsupportedOrder(
                f"{exchange} takes trailing stops as a percentage; no current price to convert "
                f"the offset {offset} (subscribe to {order.symbol} first)"
            )
        percent = (offset / reference * 100).quantize(Decimal("0.1"))
        return {"trailingPercent": str(max(percent, Decimal("0.1")))}
    raise UnsupportedOrder(f"{exchange} does not support trailing stop orders through ccxt")


def ccxt_order_args(
    order: Order,
    has: dict[str, Any],
    exchange: str,
    wire_client_id: str,
    reference_price: Decimal | None = None,
) -> tuple[str, str, float, float | None, dict[str, Any]]:
    """(type, side, amount, price, params) for ``exchange.create_order``. An order's own
    stop_loss / take_profit are not attached: the engine protects the position it opens with
    separate reduce-only orders it tracks (``core.risk.protector``).

    Raises UnsupportedOrder naming the missing feature, before anything is sent.
    """
    params: dict[str, Any] = {"clientOrderId": wire_client_id}
    price: Decimal | None = None
    kind = order.type
    if kind is OrderType.MARKET:
        ccxt_type = "market"
    elif kind is OrderType.LIMIT:
        ccxt_type, price = "limit", order.price
    elif kind is OrderType.STOP_MARKET:
        _require(has, "createStopOrder", exchange, "stop-market")
        ccxt_type = "market"
        params["stopLossPrice"] = str(order.trigger_price)
    elif kind is OrderType.STOP_LIMIT:
        _require(has, "createStopLimitOrder", exchange, "stop-limit")
        ccxt_type, price = "limit", order.price
        params["stopLossPrice"] = str(order.trigger_price)
    elif kind is OrderType.TAKE_PROFIT:
        _require(has, "createTakeProfitOrder", exchange, "take-profit")
        ccxt_type = "market"
        params["takeProfitPrice"] = str(order.trigger_price)
    else:
        ccxt_type = "market"
        params.update(_trailing_params(order, has, exchange, reference_price))
    if order.post_only:
        _require(has, "createPostOnlyOrder", exchange, "post-only")
        params["postOnly"] = True
    if order.reduce_only:
        _require(has, "createReduceOnlyOrder", exchange, "reduce-only")
        params["reduceOnly"] = True
    if order.time_in_force is not TimeInForce.GTC:
        params["timeInForce"] = order.time_in_force.value
    return (
        ccxt_type,
        order.side.value,
        float(order.size),
        float(price) if price is not None else None,
        params,
    )
