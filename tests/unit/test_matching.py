"""The matching engine's rules, one order kind and one time in force at a time."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.matching import BUY, SELL, EngineOrder, Kind, MatchingEngine, Status, Tif
from core.models import Instrument, Liquidity, OrderType, Side, TimeInForce


@pytest.fixture
def engine() -> MatchingEngine:
    instrument = Instrument(venue="t", symbol="BTC/USDT", base="BTC", quote="USDT",
                            tick_size=Decimal("0.5"), lot_size=Decimal("0.01"),
                            maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0005"))
    return MatchingEngine(instrument)


def limit(engine: MatchingEngine, oid: str, side: int, price: int, lots: int, **kw: object) -> EngineOrder:
    order = EngineOrder(oid, "maker", side, Kind.LIMIT, lots, price, **kw)  # type: ignore[arg-type]
    engine.submit(order)
    return order


def ladder(engine: MatchingEngine) -> None:
    """Asks 101 x 5, 102 x 5, 103 x 5; bids 99 x 5, 98 x 5."""
    for i, price in enumerate((101, 102, 103)):
        limit(engine, f"a{i}", SELL, price, 5)
    for i, price in enumerate((99, 98)):
        limit(engine, f"b{i}", BUY, price, 5)


def test_limit_rests_and_depth_aggregates(engine: MatchingEngine) -> None:
    ladder(engine)
    limit(engine, "a3", SELL, 101, 2)
    assert engine.best_bid() == 99 and engine.best_ask() == 101
    bids, asks = engine.depth(2)
    assert bids == [(99, 5), (98, 5)]
    assert asks == [(101, 7), (102, 5)]
    assert engine.depth_decimal(1) == ([(Decimal("49.5"), Decimal("0.05"))], [(Decimal("50.5"), Decimal("0.07"))])


def test_market_order_walks_the_book_and_cancels_what_it_cannot_fill(engine: MatchingEngine) -> None:
    ladder(engine)
    order = EngineOrder("m", "user", BUY, Kind.MARKET, 18)
    result = engine.submit(order, ts=5)
    assert [(f.price_ticks, f.lots) for f in result.fills] == [(101, 5), (102, 5), (103, 5)]
    assert order.status == Status.CANCELED and order.filled == 15 and order.remaining == 3
    assert order.avg_price_ticks == 102
    assert engine.best_ask() is None
    assert all(f.ts == 5 and f.taker is order and f.liquidity_of(order) is Liquidity.TAKER for f in result.fills)
    assert result.updated[-1] is order and {o.oid for o in result.updated[:-1]} == {"a0", "a1", "a2"}


def test_partial_fill_then_rest_of_a_crossing_limit(engine: MatchingEngine) -> None:
    ladder(engine)
    order = limit(engine, "x", BUY, 102, 12)
    assert order.status == Status.OPEN and order.filled == 10 and order.remaining == 2
    assert engine.best_bid() == 102 and engine.best_ask() == 103


def test_time_priority_within_a_level(engine: MatchingEngine) -> None:
    first = limit(engine, "first", SELL, 101, 3)
    second = limit(engine, "second", SELL, 101, 3)
    result = engine.submit(EngineOrder("t", "u", BUY, Kind.MARKET, 4))
    assert [(f.maker.oid, f.lots) for f in result.fills] == [("first", 3), ("second", 1)]
    assert first.status == Status.FILLED and second.status == Status.OPEN and second.remaining == 2


def test_cancel_removes_from_queue_and_unknown_returns_none(engine: MatchingEngine) -> None:
    a = limit(engine, "a", SELL, 101, 3)
    limit(engine, "b", SELL, 101, 3)
    assert engine.cancel("a") is a and a.status == Status.CANCELED
    assert engine.cancel("a") is None and engine.cancel("nope") is None
    assert engine.depth(1)[1] == [(101, 3)]
    result = engine.submit(EngineOrder("t", "u", BUY, Kind.MARKET, 3))
    assert [f.maker.oid for f in result.fills] == ["b"]
    assert engine.best_ask() is None


def test_ioc_cancels_its_remainder(engine: MatchingEngine) -> None:
    ladder(engine)
    order = limit(engine, "ioc", BUY, 101, 8, tif=Tif.IOC)
    assert order.status == Status.CANCELED and order.filled == 5
    assert engine.best_bid() == 99


def test_fok_fills_completely_or_leaves_the_book_untouched(engine: MatchingEngine) -> None:
    ladder(engine)
    before = engine.depth(10)
    rejected = limit(engine, "fok1", BUY, 102, 11, tif=Tif.FOK)
    assert rejected.status == Status.REJECTED and rejected.filled == 0 and "fill-or-kill" in (rejected.reason or "")
    assert engine.depth(10) == before
    filled = limit(engine, "fok2", BUY, 102, 10, tif=Tif.FOK)
    assert filled.status == Status.FILLED and filled.filled == 10


def test_post_only_rejected_when_crossing_rests_otherwise(engine: MatchingEngine) -> None:
    ladder(engine)
    crossing = limit(engine, "po1", BUY, 101, 1, post_only=True)
    assert crossing.status == Status.REJECTED and "post-only" in (crossing.reason or "")
    resting = limit(engine, "po2", BUY, 100, 1, post_only=True)
    assert resting.status == Status.OPEN and engine.best_bid() == 100


def test_stop_market_triggers_on_last_trade(engine: MatchingEngine) -> None:
    ladder(engine)
    stop = EngineOrder("stop", "user", BUY, Kind.STOP_MARKET, 2, trigger=102)
    assert engine.submit(stop).updated == [stop] and stop.status == Status.PENDING
    engine.submit(EngineOrder("t1", "x", BUY, Kind.MARKET, 5))  # prints 101: below the trigger
    assert stop.status == Status.PENDING
    result = engine.submit(EngineOrder("t2", "x", BUY, Kind.MARKET, 1))  # prints 102: triggers
    assert stop.status == Status.FILLED and stop.avg_price_ticks == 102
    assert [f.taker.oid for f in result.fills] == ["t2", "stop"]
    assert stop in result.updated


def test_sell_stop_limit_rests_at_its_limit_after_triggering(engine: MatchingEngine) -> None:
    ladder(engine)
    stop = EngineOrder("sl", "user", SELL, Kind.STOP_LIMIT, 3, 100, trigger=99)
    engine.submit(stop)
    engine.submit(EngineOrder("t", "x", SELL, Kind.MARKET, 1))  # prints 99
    assert stop.status == Status.OPEN and engine.best_ask() == 100 and engine.get("sl") is stop


def test_take_profit_sell_triggers_when_price_rises(engine: MatchingEngine) -> None:
    ladder(engine)
    tp = EngineOrder("tp", "user", SELL, Kind.TAKE_PROFIT, 2, trigger=101)
    engine.submit(tp)
    assert tp.status == Status.PENDING  # no trade yet: no last price
    engine.submit(EngineOrder("t", "x", BUY, Kind.MARKET, 1))  # prints 101
    assert tp.status == Status.FILLED and tp.avg_price_ticks == 99


def test_trailing_stop_follows_the_best_price(engine: MatchingEngine) -> None:
    trail = EngineOrder("tr", "user", SELL, Kind.TRAILING_STOP, 1, trail=5)
    engine.update_last_price(100)
    engine.submit(trail)
    assert trail.trigger == 95
    engine.update_last_price(110)
    assert trail.trigger == 105 and trail.status == Status.PENDING
    engine.update_last_price(106)
    assert trail.trigger == 105 and trail.status == Status.PENDING
    limit(engine, "bid", BUY, 104, 5)
    engine.update_last_price(105)
    assert trail.status == Status.FILLED and trail.avg_price_ticks == 104


def test_buy_trailing_stop_follows_the_low(engine: MatchingEngine) -> None:
    trail = EngineOrder("tr", "user", BUY, Kind.TRAILING_STOP, 1, trail=3)
    engine.update_last_price(100)
    engine.submit(trail)
    engine.update_last_price(90)
    assert trail.trigger == 93
    limit(engine, "ask", SELL, 94, 5)
    engine.update_last_price(93)
    assert trail.status == Status.FILLED


def test_stops_cascade(engine: MatchingEngine) -> None:
    for i, price in enumerate((99, 98, 97)):
        limit(engine, f"b{i}", BUY, price, 1)
    first = EngineOrder("s1", "u", SELL, Kind.STOP_MARKET, 1, trigger=99)
    second = EngineOrder("s2", "u", SELL, Kind.STOP_MARKET, 1, trigger=98)
    engine.submit(first)
    engine.submit(second)
    result = engine.submit(EngineOrder("t", "x", SELL, Kind.MARKET, 1))  # 99 -> s1 at 98 -> s2 at 97
    assert [(f.taker.oid, f.price_ticks) for f in result.fills] == [("t", 99), ("s1", 98), ("s2", 97)]
    assert engine.last_price == 97


def test_stop_already_reached_triggers_at_once(engine: MatchingEngine) -> None:
    ladder(engine)
    engine.update_last_price(100)
    stop = EngineOrder("s", "u", BUY, Kind.STOP_MARKET, 1, trigger=99)
    result = engine.submit(stop)
    assert stop.status == Status.FILLED and len(result.fills) == 1


def test_cancel_pending_stop(engine: MatchingEngine) -> None:
    stop = EngineOrder("s", "u", BUY, Kind.STOP_MARKET, 1, trigger=99)
    engine.submit(stop)
    assert engine.cancel("s") is stop and stop.status == Status.CANCELED
    engine.update_last_price(120)
    assert engine.get("s") is None


def test_fees_and_decimal_views(engine: MatchingEngine) -> None:
    limit(engine, "a", SELL, 201, 3)  # 100.5 x 0.03
    fill = engine.submit(EngineOrder("t", "u", BUY, Kind.MARKET, 3)).fills[0]
    assert fill.price == Decimal("100.5") and fill.size == Decimal("0.03")
    assert fill.notional == Decimal("3.015")
    assert fill.maker_fee == Decimal("3.015") * Decimal("0.0002")
    assert fill.taker_fee == Decimal("3.015") * Decimal("0.0005")
    assert fill.fee_of(fill.taker) == fill.taker_fee and fill.fee_of(fill.maker) == fill.maker_fee


def test_new_order_converts_at_the_edge_and_refuses_off_grid(engine: MatchingEngine) -> None:
    order = engine.new_order(Side.SELL, OrderType.STOP_LIMIT, Decimal("0.25"), price=Decimal("100"),
                             trigger_price=Decimal("100.5"), time_in_force=TimeInForce.IOC, oid="x")
    assert (order.side, order.kind, order.size, order.price, order.trigger, order.tif) == (
        SELL, Kind.STOP_LIMIT, 25, 200, 201, Tif.IOC)
    with pytest.raises(ValueError, match="tick size"):
        engine.new_order(Side.BUY, OrderType.LIMIT, Decimal("1"), price=Decimal("100.2"))
    with pytest.raises(ValueError, match="lot size"):
        engine.new_order(Side.BUY, OrderType.LIMIT, Decimal("0.001"), price=Decimal("100"))
    assert engine.price_of(201) == Decimal("100.5") and engine.size_of(3) == Decimal("0.03")


def test_malformed_orders_and_duplicate_ids_raise(engine: MatchingEngine) -> None:
    limit(engine, "a", SELL, 101, 1)
    with pytest.raises(ValueError, match="already live"):
        engine.submit(EngineOrder("a", "u", SELL, Kind.LIMIT, 1, 101))
    with pytest.raises(ValueError, match="trigger"):
        engine.submit(EngineOrder("s", "u", SELL, Kind.STOP_MARKET, 1))
    with pytest.raises(ValueError, match="post-only"):
        engine.submit(EngineOrder("p", "u", SELL, Kind.LIMIT, 1, 101, tif=Tif.IOC, post_only=True))
    with pytest.raises(ValueError, match="at least one lot"):
        engine.submit(EngineOrder("z", "u", SELL, Kind.LIMIT, 0, 101))


def test_available_and_sweep_price_a_market_order_without_touching_the_book(engine: MatchingEngine) -> None:
    ladder(engine)
    assert engine.available(BUY) == 15 and engine.available(BUY, 102) == 10 and engine.available(SELL, 99) == 5
    assert engine.sweep(BUY, 7) == (7, 5 * 101 + 2 * 102)
    assert engine.sweep(BUY, 100, limit=101) == (5, 505)
    assert engine.depth(5)[1] == [(101, 5), (102, 5), (103, 5)]


def test_auto_ids_never_clash_with_caller_ids(engine: MatchingEngine) -> None:
    limit(engine, 1, SELL, 101, 1)  # type: ignore[arg-type]
    taker = EngineOrder(None, "u", BUY, Kind.LIMIT, 2, 101)
    engine.submit(taker)
    assert isinstance(taker.oid, int) and taker.oid < 0 and engine.get(taker.oid) is taker


def test_many_cancels_behind_a_resting_order_are_compacted(engine: MatchingEngine) -> None:
    front = limit(engine, "front", SELL, 101, 1)
    for i in range(100):
        limit(engine, i, SELL, 101, 1)  # type: ignore[arg-type]
        engine.cancel(i)
    level = front.level
    assert level is not None and level.live == 1 and len(level.queue) <= 2 * level.live + 16
    result = engine.submit(EngineOrder("t", "u", BUY, Kind.MARKET, 5))
    assert [f.maker.oid for f in result.fills] == ["front"] and engine.best_ask() is None
