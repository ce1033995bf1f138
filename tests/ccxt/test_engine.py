"""The whole path on a ccxt venue: the engine wires it from the configuration and starts its
streams from the local Binance-format server. In paper mode an order placed through the engine
fills against the streamed live book; in live mode the engine starts and reconciles (reads
only) before anyone has confirmed live trading."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.clock import SimClock
from core.config import parse_config
from core.models import OrderRequest, OrderStatus, OrderType, Side
from runtime.wiring import build_engine
from tests.ccxt.fakes import install_binance
from tests.ccxt.ws_binance import BinanceStream


async def test_engine_places_an_order_on_a_paper_ccxt_venue(server, tmp_path) -> None:
    install_binance(server)
    BinanceStream(server)
    ws = server.url.replace("http://", "ws://") + "/stream/ws"
    config = parse_config(f"""
default_venue: binance
strategies: {{}}
venues:
  binance:
    exchange: binance
    mode: paper
    markets: [BTC/USDT]
    api_urls: {{"*": "{server.url}", "ws.spot": "{ws}"}}
    timeout_ms: 300
    options: {{rateLimit: 1}}
    balances: {{USDT: 50000}}
""")
    engine = await build_engine(config, tmp_path / "home", clock=SimClock())
    await engine.start()
    try:
        venue = engine.venues["binance"]
        async with asyncio.timeout(10):
            while venue.reference_price("BTC/USDT") != (Decimal("42000") + Decimal("42000.5")) / 2:
                await asyncio.sleep(0.01)
        order = await engine.place_order(OrderRequest(
            venue="binance", symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT,
            size=Decimal("0.01"), price=Decimal("42000.50")))
        assert order.status is OrderStatus.FILLED and order.avg_price == Decimal("42000.50")
        fills = await engine.fills(client_order_id=order.client_order_id)
        assert [f.size for f in fills] == [Decimal("0.01")]
        assert [r.path for r in server.requests if "signature" in r.query] == []
    finally:
        await engine.stop()
        await engine.close()


async def test_live_venue_starts_and_reconciles_before_any_confirmation(server, tmp_path, credentials) -> None:
    orders = install_binance(server)
    BinanceStream(server)
    credentials("binance")
    orders.orders["web_7f3a"] = {
        "symbol": "BTCUSDT", "orderId": 27999990, "orderListId": -1, "clientOrderId": "web_7f3a", "price": "40000.00000000",
        "origQty": "0.01000000", "executedQty": "0.00000000", "cummulativeQuoteQty": "0.00000000", "status": "NEW",
        "timeInForce": "GTC", "type": "LIMIT", "side": "BUY", "stopPrice": "0.00000000", "icebergQty": "0.00000000",
        "time": 1704060000000, "updateTime": 1704060000000, "isWorking": True, "workingTime": 1704060000000,
        "origQuoteOrderQty": "0.00000000", "selfTradePreventionMode": "EXPIRE_MAKER"}
    ws = server.url.replace("http://", "ws://") + "/stream/ws"
    config = parse_config(f"""
default_venue: binance
strategies: {{}}
venues:
  binance:
    exchange: binance
    mode: live
    markets: [BTC/USDT]
    api_urls: {{"*": "{server.url}", "ws.spot": "{ws}"}}
    timeout_ms: 300
    options: {{rateLimit: 1}}
""")
    engine = await build_engine(config, tmp_path / "home", clock=SimClock())
    await engine.start()
    try:
        assert (await engine.reconcile("binance"))["unknown_at_venue"] == 1
        balances = {b.asset: b.total for b in engine.portfolio.balances("binance")}
        assert balances["USDT"] == Decimal("10920.12")
        assert server.calls("POST", "/api/v3/order") == []
    finally:
        await engine.stop()
        await engine.close()
