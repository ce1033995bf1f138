"""Invariants of the matching engine over random operation streams, checked against a naive
reference book (a list sorted on every match) that is obviously price-time priority."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from core.matching import BUY, SELL, EngineOrder, Kind, MatchFill, MatchingEngine, Status, Tif
from core.models import Instrument

INSTRUMENT = Instrument(venue="t", symbol="ETH/USDT", base="ETH", quote="USDT",
                        tick_size=Decimal("0.01"), lot_size=Decimal("0.001"),
                        maker_fee=Decimal("0.0002"), taker_fee=Decimal("0.0007"))

side_st = st.sampled_from([BUY, SELL])
op_st = st.one_of(
    st.tuples(st.just("limit"), side_st, st.integers(95, 105), st.integers(1, 8),
              st.sampled_from([Tif.GTC, Tif.GTC, Tif.IOC, Tif.FOK]), st.booleans()),
    st.tuples(st.just("market"), side_st, st.integers(1, 20)),
    st.tuples(st.just("cancel"), st.integers(0, 200)),
)


@dataclass
class RefOrder:
    oid: int
    side: int
    price: int | None
    remaining: int
    seq: int


@dataclass
class ReferenceBook:
    resting: list[RefOrder] = field(default_factory=list)
    seq: int = 0

    def crosses(self, taker: RefOrder, maker: RefOrder) -> bool:
        if maker.side == taker.side:
            return False
        if taker.price is None:
            return True
        assert maker.price is not None
        return maker.price <= taker.price if taker.side == BUY else maker.price >= taker.price

    def queue(self, taker: RefOrder) -> list[RefOrder]:
        makers = [m for m in self.resting if self.crosses(taker, m)]
        return sorted(makers, key=lambda m: ((m.price if taker.side == BUY else -m.price), m.seq))  # type: ignore[operator]

    def submit(self, taker: RefOrder, tif: int, post_only: bool) -> list[tuple[int, int, int, int]]:
        makers = self.queue(taker)
        if post_only and makers:
            return []
        if tif == Tif.FOK and sum(m.remaining for m in makers) < taker.remaining:
            return []
        fills = []
        for maker in makers:
            if taker.remaining == 0:
                break
            n = min(maker.remaining, taker.remaining)
            maker.remaining -= n
            taker.remaining -= n
            assert maker.price is not None
            fills.append((maker.oid, taker.oid, maker.price, n))
        self.resting = [m for m in self.resting if m.remaining]
        if taker.remaining and taker.price is not None and tif == Tif.GTC:
            self.seq += 1
            taker.seq = self.seq
            self.resting.append(taker)
        return fills

    def cancel(self, oid: int) -> None:
        self.resting = [m for m in self.resting if m.oid != oid]


@settings(max_examples=150, deadline=None)
@given(st.lists(op_st, min_size=1, max_size=120))
def test_engine_matches_the_reference_and_keeps_its_invariants(ops: list[tuple]) -> None:
    engine = MatchingEngine(INSTRUMENT)
    reference = ReferenceBook()
    submitted: list[EngineOrder] = []
    all_fills: list[MatchFill] = []
    for op in ops:
        if op[0] == "cancel":
            if submitted:
                target = submitted[op[1] % len(submitted)]
                engine.cancel(target.oid)
                reference.cancel(target.oid)  # type: ignore[arg-type]
            continue
        oid = len(submitted)
        if op[0] == "limit":
            _, side, price, lots, tif, post_only = op
            post_only = post_only and tif == Tif.GTC
            order = EngineOrder(oid, "o", side, Kind.LIMIT, lots, price, tif=tif, post_only=post_only)
            expected = reference.submit(RefOrder(oid, side, price, lots, 0), tif, post_only)
        else:
            _, side, lots = op
            order = EngineOrder(oid, "o", side, Kind.MARKET, lots)
            expected = reference.submit(RefOrder(oid, side, None, lots, 0), Tif.IOC, False)
        submitted.append(order)
        fills = engine.submit(order).fills
        all_fills.extend(fills)
        # price-time priority: the same fills, in the same order, as the naive reference
        assert [(f.maker.oid, f.taker.oid, f.price_ticks, f.lots) for f in fills] == expected
        # the book is never crossed after matching
        bid, ask = engine.best_bid(), engine.best_ask()
        assert bid is None or ask is None or bid < ask

    # quantity is conserved: filled + resting + canceled/rejected == submitted, for every order
    filled_by: dict[int, int] = {}
    for f in all_fills:
        filled_by[f.maker.oid] = filled_by.get(f.maker.oid, 0) + f.lots  # type: ignore[index]
        filled_by[f.taker.oid] = filled_by.get(f.taker.oid, 0) + f.lots  # type: ignore[index]
    resting_total = 0
    for order in submitted:
        assert order.filled == filled_by.get(order.oid, 0)  # type: ignore[arg-type]
        assert order.filled + order.remaining == order.size
        if order.status == Status.OPEN:
            resting_total += order.remaining
            assert engine.get(order.oid) is order
        elif order.status == Status.FILLED:
            assert order.remaining == 0
        else:
            assert order.status in (Status.CANCELED, Status.REJECTED) and engine.get(order.oid) is None
    bids, asks = engine.depth(1000)
    assert sum(q for _, q in bids) + sum(q for _, q in asks) == resting_total
    assert sorted((m.oid, m.remaining) for m in reference.resting) == sorted(
        (o.oid, o.remaining) for o in submitted if o.status == Status.OPEN)

    # fees add up: each fill's fee is its rate times its notional, so the sums agree too
    total_notional = sum((f.notional for f in all_fills), Decimal(0))
    assert sum((f.maker_fee for f in all_fills), Decimal(0)) == total_notional * INSTRUMENT.maker_fee
    assert sum((f.taker_fee for f in all_fills), Decimal(0)) == total_notional * INSTRUMENT.taker_fee
    for f in all_fills:
        assert f.notional == f.price * f.size
        assert f.taker_fee == f.price * f.size * INSTRUMENT.taker_fee


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(side_st, st.integers(90, 110), st.integers(1, 5)), min_size=1, max_size=40),
       st.lists(st.integers(85, 115), min_size=1, max_size=20), st.integers(1, 6), side_st)
def test_stops_fire_exactly_when_the_last_price_reaches_them(
    book: list[tuple[int, int, int]], prices: list[int], trigger_offset: int, side: int
) -> None:
    engine = MatchingEngine(INSTRUMENT)
    engine.update_last_price(100)
    trigger = 100 + trigger_offset if side == BUY else 100 - trigger_offset
    stop = EngineOrder("stop", "u", side, Kind.STOP_MARKET, 1, trigger=trigger)
    engine.submit(stop)
    for i, (s, p, q) in enumerate(book):
        if (s == BUY and p < 100) or (s == SELL and p > 100):
            engine.submit(EngineOrder(i, "m", s, Kind.LIMIT, q, p))
    for price in prices:
        reached = price >= trigger if side == BUY else price <= trigger
        was_pending = stop.status == Status.PENDING
        engine.update_last_price(price)
        if was_pending:
            assert (stop.status != Status.PENDING) == reached


any_order_st = st.tuples(
    st.sampled_from(list(Kind)), side_st, st.integers(95, 105), st.integers(1, 8), st.integers(1, 4),
    st.sampled_from([Tif.GTC, Tif.IOC, Tif.FOK]),
)


def still_waiting(order: EngineOrder, last: int | None) -> bool:
    """A pending stop must not have been reached by the last price."""
    if last is None or order.ref is None and order.kind == Kind.TRAILING_STOP:
        return True
    rises = (order.side == BUY) != (order.kind == Kind.TAKE_PROFIT)
    return last < order.trigger if rises else last > order.trigger


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(any_order_st, st.tuples(st.just("cancel"), st.integers(0, 200))), min_size=1, max_size=80))
def test_every_order_kind_conserves_quantity_and_respects_limits(ops: list[tuple]) -> None:
    engine = MatchingEngine(INSTRUMENT)
    submitted: list[EngineOrder] = []
    for op in ops:
        if op[0] == "cancel":
            if submitted:
                engine.cancel(submitted[op[1] % len(submitted)].oid)
            continue
        kind, side, price, lots, offset, tif = op
        order = EngineOrder(
            len(submitted), "o", side, kind, lots,
            price if kind in (Kind.LIMIT, Kind.STOP_LIMIT) else 0,
            trigger=price + offset * side if kind != Kind.TRAILING_STOP else 0,
            trail=offset if kind == Kind.TRAILING_STOP else 0,
            tif=tif if kind in (Kind.LIMIT, Kind.STOP_LIMIT) else Tif.GTC,
        )
        submitted.append(order)
        result = engine.submit(order)
        for fill in result.fills:
            assert fill.price_ticks == fill.maker.price and fill.maker.side != fill.taker.side
            if fill.taker.kind in (Kind.LIMIT, Kind.STOP_LIMIT):
                limit = fill.taker.price
                assert fill.price_ticks <= limit if fill.taker.side == BUY else fill.price_ticks >= limit
        for taker in {id(f.taker): f.taker for f in result.fills}.values():
            prices = [f.price_ticks for f in result.fills if f.taker is taker]
            assert prices == sorted(prices, reverse=taker.side == SELL), "a taker walks the book outwards"
        bid, ask = engine.best_bid(), engine.best_ask()
        assert bid is None or ask is None or bid < ask
        for live in engine.live_orders():
            if live.status == Status.PENDING:
                assert still_waiting(live, engine.last_price)
    resting = 0
    for order in submitted:
        assert order.filled + order.remaining == order.size and order.remaining >= 0
        if order.status == Status.OPEN:
            resting += order.remaining
        assert (engine.get(order.oid) is order) == (order.status in (Status.OPEN, Status.PENDING))
    bids, asks = engine.depth(1000)
    assert sum(q for _, q in bids) + sum(q for _, q in asks) == resting
