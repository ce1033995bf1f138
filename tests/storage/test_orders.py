"""Orders, their history and fills: exact round trips, filters and idempotency."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import core.storage.sqlite  # noqa: F401 - the adapters it registers are tested here
from core.models import Liquidity, Order, OrderStatus, OrderType, Side, TimeInForce
from core.storage import Database, DuplicateOrderError, StorageError
from core.storage.ops import ORDER_FIXED_COLUMNS
from tests.backends import Store
from tests.storage.conftest import T0, make_fill, make_order


async def test_order_round_trips_every_field(db: Database) -> None:
    order = make_order(
        type=OrderType.STOP_LIMIT, side=Side.SELL, size=Decimal("1.2300"), price=Decimal("0.000012340"),
        trigger_price=Decimal("1E+2"), trailing_offset=Decimal("0.5"), time_in_force=TimeInForce.IOC,
        post_only=True, reduce_only=True, leverage=5, take_profit=Decimal("99.99"), stop_loss=Decimal("88.8"),
        strategy_id="grid-1", venue_order_id="V-77", status=OrderStatus.PARTIALLY_FILLED,
        filled_size=Decimal("0.61"), avg_price=Decimal("0.0000123"), fee=Decimal("-0.0001"), reason="partial",
    )
    await db.record_order(order, "partially_filled")
    loaded = await db.get_order(order.client_order_id)
    assert loaded == order
    assert loaded is not None and str(loaded.size) == "1.2300" and str(loaded.trigger_price) == "1E+2"


async def test_unknown_order_is_none(db: Database) -> None:
    assert await db.get_order("ot-nope") is None


async def test_every_state_change_is_an_event_and_an_audit_entry(db: Database) -> None:
    order = make_order()
    await db.record_order(order, "created")
    order.transition(OrderStatus.OPEN, T0 + 10)
    order.venue_order_id = "V-1"
    await db.record_order(order, "acknowledged", detail="venue accepted")
    order.filled_size = Decimal("0.010")
    order.transition(OrderStatus.FILLED, T0 + 20)
    await db.record_order(order, "filled", actor="venue")

    events = await db.order_events(order.client_order_id)
    assert [(e["event"], e["status"], e["ts"], e["actor"]) for e in events] == [
        ("created", "pending_new", T0 + 1, "engine"),
        ("acknowledged", "open", T0 + 10, "engine"),
        ("filled", "filled", T0 + 20, "venue"),
    ]
    assert events[1]["detail"] == "venue accepted"
    assert events[2]["filled_size"] == "0.010"
    stored = await db.get_order(order.client_order_id)
    assert stored is not None and stored.status is OrderStatus.FILLED and stored.venue_order_id == "V-1"

    entries = await db.audit_entries(kind="order")
    assert [e.seq for e in entries] == [e["audit_seq"] for e in events]
    assert [e.payload["event"] for e in entries] == ["created", "acknowledged", "filled"]
    assert entries[2].payload["status"] == "filled" and entries[2].actor == "venue"
    assert entries[1].ts == T0 + 10


async def test_a_new_order_cannot_reuse_a_stored_id(db: Database) -> None:
    order = make_order()
    await db.record_order(order, "created", new=True)
    with pytest.raises(DuplicateOrderError, match="ot-test-0001 is already in use"):
        await db.record_order(make_order(price=Decimal("1")), "created", new=True)
    assert await db.get_order(order.client_order_id) == order
    assert len(await db.order_events(order.client_order_id)) == 1
    assert (await db.verify_audit()).checked == 1


async def test_concurrent_claims_of_one_id_let_exactly_one_through(db: Database) -> None:
    claims = [db.record_order(make_order(price=Decimal(n + 1)), "created", new=True) for n in range(5)]
    results = await asyncio.gather(*claims, return_exceptions=True)
    assert sum(r is None for r in results) == 1
    assert sum(isinstance(r, DuplicateOrderError) for r in results) == 4
    assert len(await db.order_events("ot-test-0001")) == 1



async def test_later_writes_change_the_state_and_keep_what_the_order_is(db: Database, store: Store) -> None:
    """Status, fills, the venue's id and an amendment's price and size follow each write; what
    the order is (venue, market, side, type, terms, strategy, creation time) stays as first
    written, even when a later write carries other values for it."""
    order = make_order(strategy_id="grid-1", leverage=3, stop_loss=Decimal("41000"))
    await db.record_order(order, "created", new=True)
    changed = order.copy_with(
        venue="other", symbol="ETH/USDT", side=Side.SELL, type=OrderType.MARKET, trigger_price=Decimal("1"),
        trailing_offset=Decimal("2"), time_in_force=TimeInForce.IOC, post_only=True, reduce_only=True, leverage=9,
        take_profit=Decimal("3"), stop_loss=Decimal("4"), strategy_id="other-1", created_ts=T0 + 999,
        price=Decimal("42100.5"), size=Decimal("0.020"), venue_order_id="V-9", filled_size=Decimal("0.020"),
        avg_price=Decimal("42100.5"), fee=Decimal("0.08"),
    )
    changed.transition(OrderStatus.FILLED, T0 + 50, "done")
    await db.record_order(changed, "filled")

    stored = await db.get_order(order.client_order_id)
    assert stored is not None
    fixed = sorted(ORDER_FIXED_COLUMNS)
    assert {c: getattr(stored, c) for c in fixed} == {c: getattr(order, c) for c in fixed}
    state = [c for c in Order.model_fields if c not in ORDER_FIXED_COLUMNS]
    assert state and {c: getattr(stored, c) for c in state} == {c: getattr(changed, c) for c in state}
    assert store.rows("SELECT COUNT(*) FROM orders WHERE is_open") == [(0,)]
    assert (await db.audit_entries(kind="order"))[-1].payload["symbol"] == "ETH/USDT"  # what was written, audited


def test_every_fixed_column_is_a_field_of_an_order() -> None:
    assert set(ORDER_FIXED_COLUMNS) < set(Order.model_fields)

async def test_an_order_event_needs_a_name(db: Database) -> None:
    with pytest.raises(StorageError, match="needs a name"):
        await db.record_order(make_order(), "")


async def test_order_filters(db: Database) -> None:
    specs: list[dict[str, Any]] = [
        dict(venue="paper", symbol="BTC/USDT", strategy_id="trend", status=OrderStatus.OPEN),
        dict(venue="paper", symbol="ETH/USDT", strategy_id="grid", status=OrderStatus.FILLED),
        dict(venue="binance", symbol="BTC/USDT", strategy_id=None, status=OrderStatus.CANCELED),
        dict(venue="binance", symbol="ETH/USDT", strategy_id="trend", status=OrderStatus.PENDING_NEW),
        dict(venue="paper", symbol="BTC/USDT", strategy_id="grid", status=OrderStatus.PARTIALLY_FILLED),
    ]
    for n, spec in enumerate(specs, start=1):
        await db.record_order(make_order(n, **spec), "seen")

    async def ids(**filters: object) -> list[int]:
        return [int(o.client_order_id[-4:]) for o in await db.load_orders(**filters)]  # type: ignore[arg-type]

    assert await ids() == [1, 2, 3, 4, 5]
    assert await ids(open_only=True) == [1, 4, 5]
    assert await ids(venue="paper") == [1, 2, 5]
    assert await ids(venue="paper", symbol="BTC/USDT") == [1, 5]
    assert await ids(strategy_id="trend") == [1, 4]
    assert await ids(status=["filled", "canceled"]) == [2, 3]
    assert await ids(status=[]) == []
    assert await ids(since_ms=T0 + 2, until_ms=T0 + 4) == [2, 3]
    assert await ids(limit=2) == [4, 5]
    assert await ids(open_only=True, venue="binance") == [4]


async def test_order_filters_reject_bad_values(db: Database) -> None:
    with pytest.raises(StorageError, match="unknown order status 'done'"):
        await db.load_orders(status=["done"])
    with pytest.raises(StorageError, match="limit must be a positive"):
        await db.load_orders(limit=0)


async def test_fill_round_trip_and_idempotency(db: Database) -> None:
    fill = make_fill(venue_order_id="V-9", liquidity=Liquidity.MAKER, strategy_id="grid")
    assert await db.record_fill(fill) is True
    assert await db.record_fill(fill) is False
    assert await db.record_fill(fill.model_copy(update={"size": Decimal("9")})) is False
    assert await db.load_fills() == [fill]
    assert len(await db.audit_entries(kind="fill")) == 1


async def test_fill_filters(db: Database) -> None:
    fills = [
        make_fill(1, venue="paper", symbol="BTC/USDT", strategy_id="a", client_order_id="o1"),
        make_fill(2, venue="paper", symbol="ETH/USDT", strategy_id="b", client_order_id="o1"),
        make_fill(3, venue="binance", symbol="BTC/USDT", strategy_id="a", client_order_id="o2"),
    ]
    for fill in fills:
        await db.record_fill(fill)
    assert await db.load_fills(venue="paper") == fills[:2]
    assert await db.load_fills(symbol="BTC/USDT") == [fills[0], fills[2]]
    assert await db.load_fills(strategy_id="b") == [fills[1]]
    assert await db.load_fills(client_order_id="o2") == [fills[2]]
    assert await db.load_fills(since_ms=fills[1].ts) == fills[1:]
    assert await db.load_fills(until_ms=fills[1].ts) == fills[:1]
    assert await db.load_fills(limit=1) == fills[2:]


@settings(max_examples=40, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e12"), allow_nan=False, places=12),
    price=st.decimals(allow_nan=False, allow_infinity=False).filter(lambda d: d > 0),
)
async def test_any_decimal_comes_back_exactly(db: Database, size: Decimal, price: Decimal) -> None:
    order = make_order(size=size, price=price, filled_size=size)
    await db.record_order(order, "created")
    loaded = await db.get_order(order.client_order_id)
    assert loaded is not None
    assert (str(loaded.size), str(loaded.price), str(loaded.filled_size)) == (str(size), str(price), str(size))


def test_sqlite_binds_none_and_bools_through_the_registered_adapters_as_before() -> None:
    """core.storage.sqlite registers adapters for None and bool (speed only): NULL and 0/1 still."""
    assert {(type(None), sqlite3.PrepareProtocol), (bool, sqlite3.PrepareProtocol)} <= set(sqlite3.adapters)
    raw = sqlite3.connect(":memory:")
    try:
        assert raw.execute("SELECT typeof(?), ?, typeof(?), ?, ?", (None, None, True, True, False)).fetchone() == (
            "null", None, "integer", 1, 0)
    finally:
        raw.close()
