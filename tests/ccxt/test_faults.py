"""The venue against a misbehaving exchange: timeouts, rate limits, server errors, unreadable
answers, a circuit breaker, and the one rule of order entry: a timeout never sends twice."""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from itertools import pairwise

import pytest

from core.models import Order, OrderStatus, OrderType, Side
from core.ports import VenueError
from tests.ccxt.conftest import API_KEY, API_PASSWORD, API_SECRET
from tests.ccxt.fakes import INSTALLERS, install_binance
from tests.ccxt.server import Fault
from tests.ccxt.test_rest import CREATE

DEPTH = ("GET", "/api/v3/depth")


def order(exchange: str = "binance") -> Order:
    return Order(client_order_id="ot-0123456789abcdef01234567", venue=exchange, symbol="BTC/USDT", side=Side.BUY,
                 type=OrderType.LIMIT, size=Decimal("0.01"), price=Decimal("41000"))


@pytest.fixture
async def binance(server, make_venue):
    install_binance(server)
    venue = make_venue("binance")
    await venue.load_instruments()
    return venue


async def test_a_timed_out_read_is_retried(binance, server) -> None:
    server.fail(*DEPTH, Fault("timeout"))
    book = await binance.fetch_order_book("BTC/USDT", 5)
    assert book.best_bid == Decimal("42000")
    assert len(server.calls(*DEPTH)) == 2


async def test_rate_limit_waits_for_retry_after(binance, server) -> None:
    body = json.dumps({"code": -1003, "msg": "Too many requests; current limit of IP is 6000 requests per minute."})
    server.fail(*DEPTH, Fault("status", 429, body, {"Retry-After": "7"}))
    await binance.fetch_order_book("BTC/USDT", 5)
    first, second = server.calls(*DEPTH)
    assert second.ts - first.ts == 7000


async def test_server_errors_back_off_exponentially_then_give_up(binance, server) -> None:
    server.fail(*DEPTH, *[Fault("status", 503, "Service Unavailable")] * 4)
    with pytest.raises(VenueError) as caught:
        await binance.fetch_order_book("BTC/USDT", 5)
    assert caught.value.retryable
    stamps = [r.ts for r in server.calls(*DEPTH)]
    assert [b - a for a, b in pairwise(stamps)] == [500, 1000, 2000]


async def test_malformed_json_is_retried_and_then_reported_plainly(binance, server) -> None:
    server.fail(*DEPTH, Fault("badjson"))
    assert (await binance.fetch_order_book("BTC/USDT", 5)).best_ask == Decimal("42000.01")
    server.fail(*DEPTH, *[Fault("badjson")] * 4)
    with pytest.raises(VenueError, match="unreadable answer from the exchange.*malformed JSON") as caught:
        await binance.fetch_order_book("BTC/USDT", 5)
    assert caught.value.retryable


async def test_circuit_breaker_stops_calling_a_failing_exchange(binance, server, clock) -> None:
    server.fail(*DEPTH, *[Fault("status", 502, "Bad Gateway")] * 10)
    for _ in range(2):
        with pytest.raises(VenueError) as caught:
            await binance.fetch_order_book("BTC/USDT", 5)
        assert "not calling" not in str(caught.value)
    with pytest.raises(VenueError, match="5 failures in a row, not calling the exchange for another 60 s"):
        await binance.fetch_order_book("BTC/USDT", 5)
    assert len(server.calls(*DEPTH)) == binance.caller.policy.breaker_threshold
    clock.advance(61_000)
    server.faults.clear()
    assert (await binance.fetch_order_book("BTC/USDT", 5)).best_bid == Decimal("42000")


async def test_insufficient_funds_is_not_retried(binance, server) -> None:
    server.fail("POST", "/api/v3/order", Fault("status", 400, json.dumps(
        {"code": -2010, "msg": "Account has insufficient balance for requested action."})))
    report = await binance.create_order(order())
    assert report.status is OrderStatus.REJECTED and report.reason.startswith("binance: insufficient funds")
    assert len(server.calls("POST", "/api/v3/order")) == 1


@pytest.mark.parametrize("exchange", ["binance", "okx", "bybit"])
async def test_create_timeout_after_the_exchange_took_the_order_sends_once(exchange, server, make_venue) -> None:
    INSTALLERS[exchange](server)
    venue = make_venue(exchange)
    await venue.load_instruments()
    method, path, _field, _wire = CREATE[exchange]
    server.fail(method, path, Fault("timeout_after"))
    report = await venue.create_order(order(exchange))
    assert report.status is OrderStatus.OPEN and report.venue_order_id
    assert len(server.calls(method, path)) == 1
    assert len(await venue.fetch_open_orders()) == 1


async def test_create_timeout_before_the_exchange_saw_it_is_looked_up_then_sent_again(binance, server) -> None:
    server.fail("POST", "/api/v3/order", Fault("timeout"))
    report = await binance.create_order(order())
    assert report.status is OrderStatus.OPEN
    lookups = server.calls("GET", "/api/v3/order")
    creates = server.calls("POST", "/api/v3/order")
    assert len(creates) == 2 and lookups[0].ts >= creates[0].ts
    assert lookups[0].params["origClientOrderId"] == creates[1].params["newClientOrderId"]


async def test_create_never_sent_a_third_time(binance, server) -> None:
    server.fail("POST", "/api/v3/order", Fault("timeout"), Fault("timeout"))
    report = await binance.create_order(order())
    assert report.status is OrderStatus.PENDING_NEW and "state unknown" in report.reason
    assert len(server.calls("POST", "/api/v3/order")) == 2


async def test_secrets_never_appear_in_errors_or_logs(binance, server, caplog) -> None:
    echo = json.dumps({"code": -2015,
                       "msg": f"Invalid API-key {API_KEY}, IP, or permissions for action; secret={API_SECRET} pass={API_PASSWORD}"})
    server.fail("GET", "/api/v3/account", *[Fault("status", 401, echo)] * 2)
    server.fail("POST", "/api/v3/order", Fault("status", 401, echo))
    caplog.set_level(logging.DEBUG)
    with pytest.raises(VenueError) as caught:
        await binance.fetch_balances()
    report = await binance.create_order(order())
    texts = [str(caught.value), report.reason or "", caplog.text]
    assert "authentication failed" in str(caught.value)
    for secret in (API_KEY, API_SECRET, API_PASSWORD):
        assert all(secret not in text for text in texts)
