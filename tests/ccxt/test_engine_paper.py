"""The whole path on a ccxt venue in paper mode: the engine wires it from the configuration,
starts its streams from the local Binance-format server, and an order placed through the
engine fills against the streamed live book."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from core.clock import SimClock
from core.config import parse_config
from core.models import OrderRequest, OrderStatus, OrderType, Side
from tests.ccxt.fakes import install_binance
from tests.ccxt.ws_binance import BinanceStream
from tui.wiring import build_engine


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
