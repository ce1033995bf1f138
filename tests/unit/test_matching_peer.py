"""The matching engine and the benchmark's peer, a bare heap-and-deque price-time book, print
the same fills on random streams of limit orders, market orders and cancels: the speed ratio
``bench_matching.py`` reports compares two books doing the same work."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from benchmarks.bench_matching import ADD, CANCEL, MARKET, BareBook, FillRecord, Op, instrument
from core.matching import EngineOrder, Kind, MatchingEngine

side_st = st.sampled_from([1, -1])
op_st = st.one_of(
    st.tuples(st.just(ADD), side_st, st.integers(95, 105), st.integers(1, 8)),
    st.tuples(st.just(CANCEL), st.just(0), st.integers(0, 300), st.just(0)),
    st.tuples(st.just(MARKET), side_st, st.just(0), st.integers(1, 25)),
)


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(op_st, min_size=1, max_size=150))
def test_engine_and_bare_book_print_the_same_fills(ops: list[Op]) -> None:
    engine = MatchingEngine(instrument())
    peer = BareBook()
    ours: list[FillRecord] = []
    for index, (op, side, price, lots) in enumerate(ops):
        if op == ADD:
            result = engine.submit(EngineOrder(index, None, side, Kind.LIMIT, lots, price))
            peer.limit(index, side, price, lots)
        elif op == MARKET:
            result = engine.submit(EngineOrder(index, None, side, Kind.MARKET, lots))
            peer.market(index, side, lots)
        else:
            target = price % (index + 1)  # any earlier op: resting, filled, canceled or not an add
            engine.cancel(target)
            peer.cancel(target)
            continue
        ours.extend((f.maker.oid, f.taker.oid, f.price_ticks, f.lots) for f in result.fills)  # type: ignore[misc]
        assert ours == peer.fills
    resting = sorted((o.oid, o.remaining) for o in engine.live_orders())
    assert resting == sorted((oid, entry[1]) for oid, entry in peer.orders.items())
