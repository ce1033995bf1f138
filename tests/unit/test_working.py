"""The working orders' totals kept by the order manager equal the ones walked from its open
orders, after random sequences of new orders, acknowledgements, partial fills, fills,
amendments, cancels and refusals (seeded, so a failure replays)."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.events import EventBus
from core.models import ZERO, ExecutionReport, Instrument, Order, OrderStatus, OrderType, Side
from core.orders import OrderManager
from core.portfolio import Portfolio
from core.risk.exposure import projected_exposure
from core.storage import Database
from core.working import WorkingOrders

MARKETS = [("paper", "BTC/USDT"), ("paper", "ETH/USDT"), ("other", "BTC/USDT")]
SIZES = [Decimal(s) for s in ("0.1", "0.15", "1", "0.010", "2.5", "0.0003")]
PRICES = {"BTC/USDT": Decimal(50_000), "ETH/USDT": Decimal(3_000)}


def walked_on_side(orders: list[Order], venue: str, symbol: str, side: Side) -> Decimal:
    """What the gate walked every open order for before the totals were kept."""
    return sum((o.remaining for o in orders if o.is_open and not o.reduce_only and o.side is side
                and (o.venue, o.symbol) == (venue, symbol)), ZERO)


def portfolio(clock: SimClock) -> Portfolio:
    book = Portfolio(clock)
    for venue, symbol in MARKETS:
        base, quote = symbol.split("/")
        book.register_instrument(Instrument(venue=venue, symbol=symbol, base=base, quote=quote,
                                            tick_size=Decimal("0.01"),
                                            lot_size=Decimal("0.0001")))
    return book


def check_totals(manager: OrderManager, book: Portfolio) -> None:
    kept, listed = manager.working(), manager.open_orders()
    assert sorted(o.client_order_id for o in kept.orders()) == sorted(o.client_order_id for o in listed)
    for venue, symbol in MARKETS:
        market = kept.market(venue, symbol)
        for side in Side:
            assert kept.on_side(venue, symbol, side) == walked_on_side(listed, venue, symbol, side)
            assert (market is not None and market.has_side(side)) == any(
                o.side is side and (o.venue, o.symbol) == (venue, symbol) for o in listed)
    assert kept.adding_markets() == {(o.venue, o.symbol) for o in listed if not o.reduce_only}
    assert projected_exposure(book, kept) == projected_exposure(book, WorkingOrders.of(listed))


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_kept_totals_equal_the_walked_ones(tmp_path: Path, clock: SimClock, seed: int) -> None:
    rng = random.Random(seed)
    db = await Database.open(tmp_path / "orders.sqlite", synchronous="NORMAL", clock=clock)
    book = portfolio(clock)
    manager = OrderManager(db, EventBus(), book)
    peak = 0
    try:
        for step in range(150):
            clock.advance(1)
            now, live = clock.now_ms(), manager.open_orders()
            peak = max(peak, len(live))
            action = rng.choice(["new", "new", "ack", "part", "fill", "cancel", "amend", "refuse"]) if live else "new"
            if action == "new":
                venue, symbol = rng.choice(MARKETS)
                await manager.record_new(Order(
                    client_order_id=f"o{seed}-{step}", venue=venue, symbol=symbol, side=rng.choice(list(Side)),
                    type=OrderType.LIMIT, size=rng.choice(SIZES), price=PRICES[symbol],
                    reduce_only=rng.random() < 0.2, created_ts=now, updated_ts=now,
                ))
                check_totals(manager, book)
                continue
            order = rng.choice(live)
            if action == "amend":
                size = max(order.filled_size + rng.choice(SIZES), order.filled_size)
                await manager.amended(order, order.price, size, now, "test")
            elif action == "refuse":
                await manager.mark(order, OrderStatus.CANCELED, now, "reconciled away", "reconcile")
            else:
                filled = order.filled_size
                if action == "part":
                    filled = min(order.size, filled + (order.remaining / 3).quantize(Decimal("0.0001")))
                status = {"ack": OrderStatus.OPEN, "cancel": OrderStatus.CANCELED, "fill": OrderStatus.FILLED,
                          "part": OrderStatus.PARTIALLY_FILLED}[action]
                if action == "fill":
                    filled = order.size
                await manager.apply(ExecutionReport(
                    client_order_id=order.client_order_id, venue=order.venue, symbol=order.symbol, status=status,
                    filled_size=filled, avg_price=order.price if filled else None, ts=now,
                ), durable=rng.random() < 0.5)
            check_totals(manager, book)
        assert peak >= 5, "the sequence should have kept several orders working at once"
    finally:
        await manager.flush()
        await db.close()


def test_an_order_taken_out_leaves_exact_zeros() -> None:
    """Totals of a market emptied by its orders going are zero, not the residue of sums."""
    working = WorkingOrders()
    orders = [Order(client_order_id=f"o{i}", venue="paper", symbol="BTC/USDT", side=Side.BUY, type=OrderType.LIMIT,
                    size=size, price=Decimal(100)) for i, size in enumerate(SIZES)]
    for order in orders:
        working.update(order)
    assert working.on_side("paper", "BTC/USDT", Side.BUY) == sum(SIZES, ZERO)
    for order in orders[:-1]:
        working.discard(order.client_order_id)
    assert working.on_side("paper", "BTC/USDT", Side.BUY) == SIZES[-1]
    working.discard(orders[-1].client_order_id)
    assert working.on_side("paper", "BTC/USDT", Side.BUY) == ZERO
    assert working.market("paper", "BTC/USDT") is None and not working.adding_markets()
