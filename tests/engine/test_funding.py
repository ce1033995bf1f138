"""Funding on the paper venue reaches the engine's books: a perpetual held across a funding time
pays once, as a FundingPaid event and a row in funding_payments, and a restart that reads the
venue's history again records nothing twice."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from core.clock import SimClock
from core.engine import TradingEngine
from core.events import FundingPaid
from core.models import OrderRequest, OrderType, PositionSide, Side
from tests.engine.conftest import started

PERP = "BTC/USDT:USDT"
EIGHT_HOURS = 8 * 3_600_000


async def _settled(engine: TradingEngine) -> None:
    """The engine records a payment beside the listener that heard it: let it finish."""
    for _ in range(5):
        await asyncio.sleep(0)
    await asyncio.gather(*engine._background)


async def test_a_perpetual_held_across_a_funding_time_pays_once_as_a_row_and_an_event(
    isolated_home: Path, clock: SimClock,
) -> None:
    engine = await started(isolated_home, clock)
    try:
        venue = engine.venues["paper"]
        paid = engine.bus.subscribe(FundingPaid)
        await engine.place_order(OrderRequest(venue="paper", symbol=PERP, side=Side.BUY, type=OrderType.MARKET,
                                              size=Decimal("0.2"), strategy_id="carry"))
        funding_time = (clock.now_ms() // EIGHT_HOURS + 1) * EIGHT_HOURS
        clock.set(funding_time - 100)
        venue.step()  # type: ignore[attr-defined]
        [before] = await venue.fetch_positions()
        clock.set(funding_time + 100)
        venue.step()  # type: ignore[attr-defined]
        [after] = await venue.fetch_positions()
        await _settled(engine)
        [event] = paid.drain()
        payment = event.payment
        assert (payment.venue, payment.symbol, payment.ts) == ("paper", PERP, funding_time)
        assert (payment.side, payment.size, payment.currency) == (PositionSide.LONG, Decimal("0.2"), "USDT")
        assert payment.amount == after.realized_pnl - before.realized_pnl != 0
        assert payment.amount == -payment.rate * payment.price * payment.size  # type: ignore[operator]
        assert await engine.db.load_funding() == [payment]
    finally:
        await engine.close()
    again = await started(isolated_home, clock)  # reconciles: the venue's history holds the payment again
    try:
        assert await again.db.load_funding() == [payment]
        assert len(await again.db.audit_entries(kind="funding")) == 1
    finally:
        await again.close()


async def test_a_payment_the_engine_did_not_hear_is_read_from_the_venues_history(
    isolated_home: Path, clock: SimClock,
) -> None:
    """Paid while nobody listened (a crash between the venue's save and the engine's write):
    the venue keeps it, and the engine's next read of the venue's history (its monitoring
    round's poll, or a reconciliation) records it, once."""
    engine = await started(isolated_home, clock)
    try:
        venue = engine.venues["paper"]
        await engine.place_order(OrderRequest(venue="paper", symbol=PERP, side=Side.SELL, type=OrderType.MARKET,
                                              size=Decimal("0.1")))
        paid = engine.bus.subscribe(FundingPaid)
        venue._bus = None  # type: ignore[attr-defined]  # the settlement is not heard
        clock.set((clock.now_ms() // EIGHT_HOURS + 1) * EIGHT_HOURS + 100)
        venue.step()  # type: ignore[attr-defined]
        venue._bus = engine.bus  # type: ignore[attr-defined]
        await engine.reconcile("paper")
        await _settled(engine)
        [payment] = await engine.db.load_funding()
        assert payment.side is PositionSide.SHORT and payment.size == Decimal("0.1")
        assert [event.payment for event in paid.drain()] == [payment]
    finally:
        await engine.close()
