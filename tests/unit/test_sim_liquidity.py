"""The simulated exchange's liquidity: replacing it level by level (only the levels a book
update changed) fills our orders exactly as canceling and placing every level did."""

from __future__ import annotations

import random
from decimal import Decimal as D

from core.matching import BUY, SELL
from core.models import Instrument, Order, OrderStatus, OrderType, Side
from core.sim import Account, SimExchange
from core.sim.exchange import Change

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
