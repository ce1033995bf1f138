"""Fault injection against the paper venue: lost answers, timeouts, rate limits, partial fills,
duplicate and out-of-order reports, a clock jump. The engine keeps running, the database and
the venue agree, nothing is lost and nothing is sent twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import CircuitBreakerConfig, SurveillanceConfig
from core.engine import TradingEngine
from core.events import ExecutionReported
from core.models import ExecutionReport, Fill, OrderStatus, Side
from core.ports import VenueError
from runtime.wiring import build_engine
from tests.safety.conftest import SPOT, limit, market, safety_config, settle, until
from tests.safety.faulty import FaultyVenue

D = Decimal
LOST = VenueError("connection reset by peer", retryable=True)
TIMEOUT = VenueError("request timed out after 10000 ms", retryable=True)
RATE_LIMITED = VenueError("429 Too Many Requests", retryable=True)


@pytest.fixture
async def engine(isolated_home: Path, clock: SimClock) -> AsyncIterator[TradingEngine]:
    config = safety_config(
        surveillance=SurveillanceConfig(duplicate_window=0),
        circuit_breakers=CircuitBreakerConfig(venue_error_min_calls=1000, rejection_burst=1000),
    )
    engine = await build_engine(config, isolated_home, clock=clock)
    engine.venues["paper"] = FaultyVenue(engine.venues["paper"])
    engine.executor._venues = engine.venues  # type: ignore[attr-defined]  # the executor holds the same mapping
    await engine.start()
    engine.venues["paper"].step()  # type: ignore[attr-defined]
    yield engine
    await engine.close()


def faulty(engine: TradingEngine) -> FaultyVenue:
    venue = engine.venues["paper"]
    assert isinstance(venue, FaultyVenue)
    return venue


async def assert_consistent(engine: TradingEngine) -> None:
    """Database and venue agree on every order; the venue accepted each client id once."""
    venue = faulty(engine).inner
    orders = await engine.order_history()
    found = 0
    for order in orders:
        report = await venue.fetch_order(order.client_order_id, order.symbol)
        if report is None:
            assert order.status is OrderStatus.REJECTED, f"{order.client_order_id} is {order.status} but unknown to the venue"
            continue
        found += 1
        assert (order.status, order.filled_size) == (report.status, report.filled_size), order.client_order_id
        fills = await engine.fills(client_order_id=order.client_order_id)
        assert sum((f.size for f in fills), D(0)) == order.filled_size
    assert venue.exchange.order_seq == found, "an order reached the venue twice"
    assert sorted(o.client_order_id for o in engine.open_orders()) == sorted(
        r.client_order_id for r in await venue.fetch_open_orders()
    )
    assert (await engine.db.verify_audit()).ok
    assert engine.running and all(not task.done() for task in engine._tasks)  # type: ignore[attr-defined]


async def test_an_answer_lost_after_the_venue_acted_is_looked_up_not_resent(engine: TradingEngine) -> None:
    faulty(engine).fail("create_order", "after", LOST)
    order = await engine.place_order(market())
    await settle()
    assert order.status is OrderStatus.FILLED and faulty(engine).calls["fetch_order"] == 1
    faulty(engine).fail("create_order", "after", TIMEOUT)
    resting = await engine.place_order(limit(engine))
    assert resting.status is OrderStatus.OPEN
    await assert_consistent(engine)


async def test_a_timeout_before_the_venue_saw_the_order_rejects_it_once(engine: TradingEngine) -> None:
    faulty(engine).fail("create_order", "before", TIMEOUT)
    order = await engine.place_order(limit(engine))
    assert order.status is OrderStatus.REJECTED and "timed out" in (order.reason or "")
    faulty(engine).fail("create_order", "before", RATE_LIMITED)
    limited = await engine.place_order(limit(engine, offset="0.97"))
    assert limited.status is OrderStatus.REJECTED and "429" in (limited.reason or "")
    assert (await engine.place_order(limit(engine, offset="0.96"))).status is OrderStatus.OPEN
    await assert_consistent(engine)


async def test_a_disconnect_during_the_lookup_is_settled_by_the_venue_stream_not_a_resend(engine: TradingEngine) -> None:
    venue = faulty(engine)
    venue.fail("create_order", "after", LOST)
    venue.fail("fetch_order", "before", LOST)
    order = await engine.place_order(limit(engine))
    unresolved = await engine.db.audit_entries(kind="order_unresolved")
    assert unresolved[-1].payload["client_order_id"] == order.client_order_id
    await settle()
    assert order.status is OrderStatus.OPEN, "the venue's own report settled what the lookup could not"
    assert venue.calls["create_order"] == 1
    assert await engine.reconcile("paper") == {"updated": 0, "missing": 0, "unknown_at_venue": 0}
    await assert_consistent(engine)


async def test_a_lost_cancel_answer_is_settled_by_the_next_report(engine: TradingEngine) -> None:
    order = await engine.place_order(limit(engine))
    faulty(engine).fail("cancel_order", "after", LOST)
    with pytest.raises(Exception, match="cancel failed: connection reset"):
        await engine.cancel_order(order.client_order_id)
    await engine.reconcile("paper")
    assert (await engine.orders.get(order.client_order_id)).status is OrderStatus.CANCELED  # type: ignore[union-attr]
    await assert_consistent(engine)


async def test_partial_duplicate_and_out_of_order_reports_end_in_one_state(engine: TradingEngine, clock: SimClock) -> None:
    order = await engine.place_order(limit(engine, offset="0.96", size="0.03"))
    coid, now = order.client_order_id, clock.now_ms()

    def report(status: OrderStatus, filled: str, fill_id: str | None, size: str = "0.01") -> ExecutionReported:
        fill = None if fill_id is None else Fill(
            fill_id=fill_id, client_order_id=coid, venue="paper", symbol=SPOT, side=Side.BUY,
            price=order.price, size=D(size), ts=now,  # type: ignore[arg-type]
        )
        return ExecutionReported(ExecutionReport(client_order_id=coid, venue="paper", symbol=SPOT, status=status,
                                                 filled_size=D(filled), avg_price=order.price, fill=fill, ts=now))

    first = report(OrderStatus.PARTIALLY_FILLED, "0.01", "x-1")
    second = report(OrderStatus.PARTIALLY_FILLED, "0.02", "x-2")
    last = report(OrderStatus.FILLED, "0.03", "x-3")
    marker = await engine.place_order(limit(engine, offset="0.97"))
    for event in (first, last, first, second, second, report(OrderStatus.OPEN, "0", None), last):
        engine.bus.publish(event)
    # Reports are applied in order: once the marker's cancel is in, every report above is too.
    engine.bus.publish(ExecutionReported(ExecutionReport(client_order_id=marker.client_order_id, venue="paper",
                                                         symbol=SPOT, status=OrderStatus.CANCELED, ts=now)))
    await until(lambda: marker.status is OrderStatus.CANCELED, "the marker report")
    final = await engine.orders.get(coid)
    assert final is not None and final.status is OrderStatus.FILLED and final.filled_size == D("0.03")
    fills = await engine.fills(client_order_id=coid)
    assert sorted(f.fill_id for f in fills) == ["x-1", "x-2", "x-3"]
    history = [e["event"] for e in await engine.db.order_events(coid)]
    assert history.count("filled") == 1 and "open" not in history[history.index("filled"):]
    assert engine.running


async def test_a_clock_jump_keeps_the_engine_trading(engine: TradingEngine, clock: SimClock) -> None:
    await engine.place_order(market())
    clock.advance(6 * 3_600_000)  # six hours in one step: a laptop waking up
    faulty(engine).inner.step()
    await engine.check_risk()
    await engine.check_risk()
    assert engine.guard.breakers.tripped == {}
    assert (await engine.place_order(market(side=Side.SELL, size="0.005"))).status is OrderStatus.FILLED
    clock.advance(24 * 3_600_000)  # and over a day boundary
    faulty(engine).inner.step()
    assert (await engine.place_order(limit(engine))).status is OrderStatus.OPEN
    await settle()
    await assert_consistent(engine)
