"""Faults on the way to a (fake) real exchange, through the whole engine: a ccxt venue in live
mode against the local Binance-format server. A create that times out after the exchange took
the order is found, not sent again; a rate limit and a server error end in a rejected order
with the exchange's reason; the database and the exchange agree afterwards."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import AppConfig, CcxtVenueConfig, CircuitBreakerConfig, RiskConfig, SurveillanceConfig
from core.engine import TradingEngine
from core.models import OrderRequest, OrderStatus, Side
from core.storage.database import Database
from exchanges.ccxt import CcxtVenue
from tests.ccxt.conftest import clock, credentials, make_venue, server  # noqa: F401  (fixtures)
from tests.ccxt.fakes import install_binance
from tests.ccxt.server import FakeExchange, Fault

CREATE = ("POST", "/api/v3/order")


@pytest.fixture
async def engine(server: FakeExchange, make_venue: Callable[..., CcxtVenue], clock: SimClock,  # noqa: F811
                 tmp_path: Path) -> AsyncIterator[TradingEngine]:
    install_binance(server)
    venue = make_venue("binance")
    config = AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(10**7), max_daily_loss=Decimal(10**7),
                                   max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10,
                                   max_order_loss=Decimal(10**7), max_open_positions=10, fat_finger_pct=0.5),
        venues={"binance": CcxtVenueConfig(exchange="binance", mode="live", markets=["BTC/USDT"])},
        default_venue="binance",
        strategies={},
        surveillance=SurveillanceConfig(duplicate_window=0),
        circuit_breakers=CircuitBreakerConfig(venue_error_min_calls=1000),
    )
    db = await Database.open(tmp_path / "engine.sqlite")
    engine = TradingEngine(config, db, {"binance": venue}, clock)
    await engine.start()
    yield engine
    await engine.close()


def buy(price: str = "41000") -> OrderRequest:
    return OrderRequest(venue="binance", symbol="BTC/USDT", side=Side.BUY, size=Decimal("0.01"), price=Decimal(price))


async def agree(engine: TradingEngine) -> None:
    venue = engine.venues["binance"]
    at_exchange = {r.client_order_id: r.status for r in await venue.fetch_open_orders()}
    ours = {o.client_order_id: o.status for o in engine.open_orders()}
    assert ours == at_exchange
    assert (await engine.db.verify_audit()).ok


async def test_a_create_answer_lost_after_the_exchange_took_it_is_not_sent_twice(engine: TradingEngine, server: FakeExchange) -> None:  # noqa: F811
    server.fail(*CREATE, Fault("timeout_after"))
    order = await engine.place_order(buy())
    assert order.status is OrderStatus.OPEN
    assert len(server.calls(*CREATE)) == 1
    await agree(engine)


async def test_rate_limit_and_server_errors_end_rejected_or_placed_once(engine: TradingEngine, server: FakeExchange) -> None:  # noqa: F811
    """The venue may wait out a 429 or look a 503 up and send again; either way the order ends
    placed exactly once or rejected with the exchange's words, never twice."""
    limited = Fault("status", status=429, body='{"code":-1003,"msg":"Too many requests."}', headers={"Retry-After": "1"})
    server.fail(*CREATE, limited)
    first = await engine.place_order(buy("40900"))
    server.fail(*CREATE, Fault("status", status=503, body="Service Unavailable"))
    second = await engine.place_order(buy("40800"))
    open_at_exchange = [r.client_order_id for r in await engine.venues["binance"].fetch_open_orders()]
    for order, words in ((first, "429 Too Many Requests"), (second, "503")):
        if order.status is OrderStatus.REJECTED:
            assert words in (order.reason or "") and order.client_order_id not in open_at_exchange
        else:
            assert order.status is OrderStatus.OPEN and open_at_exchange.count(order.client_order_id) == 1
    third = await engine.place_order(buy("40700"))
    assert third.status is OrderStatus.OPEN and engine.running
    assert await engine.reconcile("binance") == {"updated": 0, "missing": 0, "unknown_at_venue": 0}
    await agree(engine)
