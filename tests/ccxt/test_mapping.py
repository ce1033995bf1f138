"""ccxt structures to domain models and back, without a server: precision modes, order
statuses, order parameters per order type, and the client-id and URL rules of the client."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from core.config import CcxtVenueConfig
from core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from exchanges.ccxt import client, mapping
from exchanges.ccxt.orders import OrderTracker

D = Decimal
HAS_ALL = {"createStopOrder": True, "createStopLimitOrder": True, "createTakeProfitOrder": True,
           "createTrailingAmountOrder": True, "createPostOnlyOrder": True, "createReduceOnlyOrder": True,
           "createOrderWithTakeProfitAndStopLoss": True}


def order(**kw: object) -> Order:
    fields = {"client_order_id": "ot-1", "venue": "x", "symbol": "BTC/USDT", "side": Side.BUY,
              "type": OrderType.LIMIT, "size": D("0.5"), "price": D("100")}
    fields.update(kw)
    return Order(**fields)


def test_decimal_places_precision_becomes_a_step() -> None:
    market = {"symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "spot": True,
              "precision": {"price": 2, "amount": 5}, "limits": {"amount": {"min": 0.0001}, "cost": {"min": 10}}}
    instrument = mapping.instrument_from_market("x", market, mapping.DECIMAL_PLACES)
    assert instrument is not None and (instrument.tick_size, instrument.lot_size) == (D("0.01"), D("0.00001"))
    assert instrument.min_notional == D("10")
    option = {**market, "spot": False, "option": True}
    assert mapping.instrument_from_market("x", option, mapping.DECIMAL_PLACES) is None


@pytest.mark.parametrize(("status", "filled", "expected"), [
    ("open", 0, OrderStatus.OPEN), ("open", 0.1, OrderStatus.PARTIALLY_FILLED), ("closed", 0.5, OrderStatus.FILLED),
    ("canceled", 0.1, OrderStatus.CANCELED), ("expired", 0, OrderStatus.EXPIRED), ("rejected", 0, OrderStatus.REJECTED),
])
def test_order_status(status: str, filled: float, expected: OrderStatus) -> None:
    assert mapping.order_status({"status": status, "filled": filled}) is expected


def test_order_params_per_type() -> None:
    assert mapping.ccxt_order_args(order(), HAS_ALL, "x", "w1") == ("limit", "buy", 0.5, 100.0, {"clientOrderId": "w1"})
    stop = mapping.ccxt_order_args(order(type=OrderType.STOP_MARKET, price=None, trigger_price=D("90")), HAS_ALL, "x", "w")
    assert stop[0] == "market" and stop[4]["stopLossPrice"] == "90"
    tp = mapping.ccxt_order_args(order(type=OrderType.TAKE_PROFIT, price=None, trigger_price=D("120")), HAS_ALL, "x", "w")
    assert tp[4]["takeProfitPrice"] == "120"
    post = mapping.ccxt_order_args(order(post_only=True, time_in_force=TimeInForce.GTC), HAS_ALL, "x", "w")
    assert post[4]["postOnly"] is True
    ioc = mapping.ccxt_order_args(order(time_in_force=TimeInForce.IOC, reduce_only=True), HAS_ALL, "x", "w")
    assert ioc[4]["timeInForce"] == "IOC" and ioc[4]["reduceOnly"] is True
    with_levels = mapping.ccxt_order_args(order(take_profit=D("130"), stop_loss=D("95")), HAS_ALL, "x", "w")
    assert with_levels[4] == {"clientOrderId": "w"}, "levels are the engine's own orders, never attached"


def test_trailing_offset_becomes_a_percentage_where_the_exchange_wants_one() -> None:
    trailing = order(type=OrderType.TRAILING_STOP, price=None, side=Side.SELL, trailing_offset=D("250"))
    assert mapping.ccxt_order_args(trailing, HAS_ALL, "x", "w")[4]["trailingAmount"] == "250"
    percent_only = {"createTrailingPercentOrder": True}
    assert mapping.ccxt_order_args(trailing, percent_only, "x", "w", D("50000"))[4]["trailingPercent"] == "0.5"
    with pytest.raises(mapping.UnsupportedOrder, match="no current price"):
        mapping.ccxt_order_args(trailing, percent_only, "x", "w")
    with pytest.raises(mapping.UnsupportedOrder, match="kraken does not support trailing stop orders"):
        mapping.ccxt_order_args(trailing, {}, "kraken", "w")


def test_unsupported_features_are_named() -> None:
    with pytest.raises(mapping.UnsupportedOrder, match="x does not support post-only orders"):
        mapping.ccxt_order_args(order(post_only=True), {}, "x", "w")
    with pytest.raises(mapping.UnsupportedOrder, match="x does not support reduce-only orders"):
        mapping.ccxt_order_args(order(reduce_only=True), {}, "x", "w")


def test_client_ids_on_the_wire() -> None:
    assert client.to_wire("okx", "ot-abc123") == "otabc123"
    assert client.from_wire("okx", "otabc123") == "ot-abc123"
    assert client.from_wire("okx", "someoneelse") == "someoneelse"
    assert client.to_wire("binance", "ot-abc123") == "ot-abc123"
    assert client.lookup_params("bybit", "ot-1") == {"orderLinkId": "ot-1", "acknowledged": True}


def test_api_url_overrides() -> None:
    api = {"public": "https://api.binance.com/api/v3", "ws": {"spot": "wss://stream.binance.com:9443/ws"}}
    moved = client.rewrite_urls(api, {"*": "http://127.0.0.1:8080"})
    assert moved == {"public": "http://127.0.0.1:8080/api/v3", "ws": {"spot": "ws://127.0.0.1:8080/ws"}}
    named = client.rewrite_urls(moved, {"ws.spot": "wss://proxy.example/ws"})
    assert named["ws"]["spot"] == "wss://proxy.example/ws"
    with pytest.raises(ValueError, match="'privat' does not name an API URL"):
        client.rewrite_urls(api, {"privat": "https://x"})


def test_sandbox_uses_the_testnet_and_refuses_where_there_is_none() -> None:
    testnet = client.build_exchange(CcxtVenueConfig(exchange="binance", sandbox=True), None)
    assert "testnet" in testnet.urls["api"]["public"]
    with pytest.raises(ValueError, match="kraken has no testnet"):
        client.build_exchange(CcxtVenueConfig(exchange="kraken", sandbox=True), None)
    with pytest.raises(client.UnknownExchange, match="no exchange named 'krakn'"):
        client.build_exchange(CcxtVenueConfig(exchange="krakn"), None)


def test_tracker_turns_cumulative_fills_into_fills() -> None:
    tracker = OrderTracker("x")
    base = {"id": "77", "symbol": "BTC/USDT", "side": "buy", "type": "limit", "status": "open",
            "fee": {"cost": 0.02, "currency": "USDT"}}
    first = tracker.report({**base, "filled": 0.2, "average": 100.0}, "ot-1", 5)
    assert first.status is OrderStatus.PARTIALLY_FILLED and first.fill is not None
    assert (first.fill.size, first.fill.price, first.fill.fee) == (D("0.2"), D("100"), D("0.02"))
    again = tracker.report({**base, "filled": 0.2, "average": 100.0}, "ot-1", 6)
    assert again.fill is None
    done = tracker.report({**base, "status": "closed", "filled": 0.5, "average": 101.2,
                           "fee": {"cost": 0.05, "currency": "USDT"}}, "ot-1", 7)
    assert done.status is OrderStatus.FILLED and done.fill is not None
    assert (done.fill.size, done.fill.price, done.fill.fee) == (D("0.3"), D("102"), D("0.03"))
    assert done.fill.fill_id == "77-0.5" and "ot-1" not in tracker.open


def test_importing_the_package_does_not_import_ccxt() -> None:
    code = "import sys, exchanges.ccxt, exchanges.ccxt.doctor, exchanges.ccxt.capabilities; print('ccxt' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.stdout.strip() == "False"


@pytest.mark.parametrize(("fields", "reference"), [
    ({"open": 100.0, "percentage": 10.0}, D("100.0")),
    ({"percentage": 10.0}, D("100")),
    ({"percentage": None}, None),
], ids=["open", "percentage-only", "neither"])
def test_a_ticker_keeps_what_its_day_change_is_measured_from(fields: dict[str, object], reference: Decimal | None) -> None:
    stamp = 1_700_000_000_000
    ticker = mapping.ticker_from_ccxt("x", {"symbol": "BTC/USDT", "timestamp": stamp, "last": 110.0, **fields}, 0)
    assert ticker.reference_price == reference
    assert ticker.reference_ts == (stamp - 86_400_000 if reference is not None else None)
