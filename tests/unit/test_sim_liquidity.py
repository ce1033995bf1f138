"""The simulated exchange's liquidity: replacing it level by level (only the levels a book
update changed) fills our orders exactly as canceling and placing every level did, for a live
book and for the paper venue's seeded market."""

from __future__ import annotations

import random
from decimal import Decimal as D

import pytest

from core.config import PaperMarketConfig
from core.matching import BUY, SELL, EngineOrder, Kind
from core.models import Instrument, Order, OrderStatus, OrderType, Side
from core.sim import Account, SimExchange
from core.sim.exchange import MARKET, Change
from exchanges.paper.markets import market_spec
from exchanges.paper.simulator import MarketSimulator

SPOT = Instrument(venue="sim", symbol="ETH/USDT", base="ETH", quote="USDT", tick_size=D("1"), lot_size=D("1"),
                  maker_fee=D("0.001"), taker_fee=D("0.002"))


def _books(rng: random.Random, steps: int) -> list[list[tuple[int, int, int]]]:
    """A live book of 8 levels a side drifting around 1,000 ticks: each update moves the mid now
    and then and changes a few sizes, the rest of the levels stay as they were."""
    mid, sizes = 1000, {(side, i): rng.randint(1, 9) for side in (BUY, SELL) for i in range(8)}
    books = []
    for _ in range(steps):
        if rng.random() < 0.3:
            mid += rng.choice((-2, -1, 1, 2))
        for _ in range(rng.randint(0, 3)):
            sizes[(rng.choice((BUY, SELL)), rng.randrange(8))] = rng.randint(1, 9)
        books.append([(side, mid - 1 - i if side == BUY else mid + 1 + i, sizes[(side, i)])
                      for side in (BUY, SELL) for i in range(8)])
    return books


def _seen(changes: list[Change]) -> list[tuple[object, ...]]:
    return [(c.sim.order.client_order_id, c.status, c.filled_size, c.fee, c.position_size,
             None if c.fill is None else (c.fill.fill_id, c.fill.price, c.fill.size, c.fill.liquidity))
            for c in changes]


def test_level_by_level_replacement_fills_as_the_whole_refill_did() -> None:
    """Our limit orders rest at and inside the live prices, market orders take from them and
    from the levels, the live book moves through them; the exchange that refills every level
    on every update (the old way) is the reference, fill for fill and level for level."""
    rng = random.Random(11)
    incremental, whole = (SimExchange("sim", Account({"USDT": (D(10**9), D(0)), "ETH": (D(10**6), D(0))}),
                                      fill_prefix="sim") for _ in range(2))
    for exchange in (incremental, whole):
        exchange.add_market(SPOT)
    fills = 0
    for step, book in enumerate(_books(rng, 400)):
        seen = []
        for exchange in (incremental, whole):
            if exchange is incremental:
                changes = exchange.replace_liquidity(SPOT.symbol, book, step)
            else:
                changes = exchange.refill(SPOT.symbol, book, step)
            seen.append(_seen(changes))
        assert seen[0] == seen[1], step
        if rng.random() < 0.5:
            side = rng.choice((Side.BUY, Side.SELL))
            market = rng.random() < 0.25
            price = None if market else D(book[0][1] + rng.randint(-3, 3))
            request = {"client_order_id": f"o-{step}", "venue": "sim", "symbol": SPOT.symbol, "side": side,
                       "type": OrderType.MARKET if market else OrderType.LIMIT, "size": D(rng.randint(1, 12)),
                       "price": price}
            placed = [exchange.submit(Order(**request), step, D(1000)) for exchange in (incremental, whole)]
            assert _seen(placed[0][1]) == _seen(placed[1][1]), step
        elif rng.random() < 0.3 and incremental.open:
            coid = rng.choice(sorted(incremental.open))
            for exchange in (incremental, whole):
                exchange.cancel(coid, step, "canceled")
        engines = [exchange.engine(SPOT.symbol) for exchange in (incremental, whole)]
        assert engines[0].depth(20) == engines[1].depth(20), step
        fills = incremental.fill_seq
    assert fills > 200 and whole.fill_seq == fills
    assert sum(1 for o in (s.order for s in whole.open.values()) if o.status is OrderStatus.OPEN) > 0


@pytest.mark.parametrize("symbol", ["SOL/USDT", "BTC/USDT"])
def test_the_seeded_market_fills_as_the_whole_refill_did(symbol: str) -> None:
    """The paper venue's market: its ladder keeps most levels from one step to the next (on a
    grid of prices, a few moved or redrawn) and its flow eats into them, among our limit orders
    (at the ladder's prices, between them, across the spread) and market orders. Replacing the
    ladder level by level, and by the levels the simulator says it changed, fills as refilling
    it whole, fill for fill and level for level. SOL's levels are a tick apart, BTC's hundreds
    of ticks."""
    spec = market_spec("paper", PaperMarketConfig(symbol=symbol))
    instrument = spec.instrument
    sim = MarketSimulator(spec, 3)
    rng = random.Random(5)
    by_changes, incremental, whole = exchanges = tuple(
        SimExchange("sim", Account({"USDT": (D(10**12), D(0)), instrument.base: (D(10**9), D(0))}), fill_prefix="sim")
        for _ in range(3))
    for exchange in exchanges:
        exchange.add_market(instrument)
    top = round(sim._top_lots())
    for step in range(600):
        sim.advance(0.2)
        update = sim.requote(0.2)
        ladder = update.levels()
        seen = [_seen(by_changes.update_liquidity(symbol, update, step)),
                _seen(incremental.replace_liquidity(symbol, ladder, step)), _seen(whole.refill(symbol, ladder, step))]
        assert seen[0] == seen[1] == seen[2], step
        for side, lots in sim.flow(0.2):
            flow = [_seen(exchange.settle(symbol, exchange.engine(symbol).submit(
                EngineOrder(None, MARKET, side, Kind.MARKET, lots), step), step)) for exchange in exchanges]
            assert flow[0] == flow[1] == flow[2], step
        if rng.random() < 0.4:
            side = rng.choice((Side.BUY, Side.SELL))
            market = rng.random() < 0.2
            ticks = rng.choice(ladder)[1] if rng.random() < 0.5 else sim.mid_ticks + rng.randint(-4, 4) * sim.gap
            request = {"client_order_id": f"o-{step}", "venue": "sim", "symbol": symbol, "side": side,
                       "type": OrderType.MARKET if market else OrderType.LIMIT,
                       "size": rng.randint(1, 2 * top) * instrument.lot_size,
                       "price": None if market else ticks * instrument.tick_size}
            placed = [_seen(exchange.submit(Order(**request), step, D(sim.mid_ticks) * instrument.tick_size)[1])
                      for exchange in exchanges]
            assert placed[0] == placed[1] == placed[2], step
        elif rng.random() < 0.2 and incremental.open:
            coid = rng.choice(sorted(incremental.open))
            for exchange in exchanges:
                exchange.cancel(coid, step, "canceled")
        depths = [exchange.engine(symbol).depth(40) for exchange in exchanges]
        assert depths[0] == depths[1] == depths[2], step
    assert incremental.fill_seq > 100 and whole.fill_seq == incremental.fill_seq == by_changes.fill_seq
    assert any(s.order.status is OrderStatus.OPEN for s in whole.open.values())


def test_changes_that_do_not_start_from_the_book_replace_it_whole() -> None:
    """Changes apply to the ladder the book holds: after the book was replaced another way, or
    after a fill the exchange did not see (a level taken without ``settle``), the next update
    lays the whole ladder, and the book is the ladder's again."""
    spec = market_spec("paper", PaperMarketConfig(symbol="SOL/USDT"))
    sim = MarketSimulator(spec, 8)
    exchange = SimExchange("sim", Account({"USDT": (D(10**9), D(0))}), fill_prefix="sim")
    engine = exchange.add_market(spec.instrument)

    def step() -> list[tuple[int, int, int]]:
        sim.advance(0.2)
        update = sim.requote(0.2)
        exchange.update_liquidity(spec.instrument.symbol, update, 0)
        return update.levels()

    def book_of(levels: list[tuple[int, int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return (sorted(((t, q) for s, t, q in levels if s == BUY), reverse=True),
                sorted((t, q) for s, t, q in levels if s == SELL))

    for _ in range(5):
        step()
    exchange.replace_liquidity(spec.instrument.symbol, [(BUY, sim.mid_ticks - 500, 7)], 0)
    levels = step()
    assert engine.depth(40) == book_of(levels)
    engine.submit(EngineOrder(None, MARKET, BUY, Kind.MARKET, 12 * round(sim._top_lots())), 0)
    for _ in range(2):
        levels = step()
        assert engine.depth(40) == book_of(levels)

