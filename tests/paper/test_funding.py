"""The paper venue's funding from its own basis: the interval's time-weighted premium of the
perpetual over its spot market, plus the interest rate clamped to 0.05% around it; no longer
a fixed 0.01% whatever the perpetual trades at."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from core.events import TickerUpdated
from core.models import FundingRate, OrderType, Side
from core.ports import DerivativesFeed
from exchanges.paper.funding import PremiumIndex, funding_rate
from tests.paper.conftest import Harness, make_order

PERP, SPOT = "BTC/USDT:USDT", "BTC/USDT"
START = 1_704_067_200_000
EIGHT_HOURS = 8 * 3_600_000


@pytest.mark.parametrize(("premium", "rate"), [
    (0.0, "0.0001"), (0.0004, "0.0001"), (-0.0003, "0.0001"),  # within 0.05% of the interest: the interest
    (0.002, "0.0015"), (-0.002, "-0.0015"),  # beyond it: the excess
    (0.02, "0.0075"), (-0.02, "-0.0075"),  # capped
])
def test_the_rate_is_the_premium_plus_the_clamped_interest(premium: float, rate: str) -> None:
    assert funding_rate(premium) == Decimal(rate)


def test_the_premium_is_weighted_by_time() -> None:
    index = PremiumIndex()
    index.add(0.003, 3600)
    index.add(0.0, 3 * 3600)
    assert index.average == pytest.approx(0.00075) and index.rate() == Decimal("0.00025")
    index.reset()
    assert index.rate() == Decimal("0.0001")


async def test_a_perpetual_held_at_a_premium_pays_its_basis_and_tells_the_data_service(
    make_venue: Callable[..., Harness],
) -> None:
    h = make_venue(markets=[SPOT, PERP])
    assert isinstance(h.venue, DerivativesFeed) and await h.venue.fetch_funding(SPOT) is None
    await h.venue.create_order(make_order(PERP, Side.BUY, "0.5", OrderType.MARKET, leverage=2))
    h.venue._markets[PERP].premium.add(0.002, EIGHT_HOURS / 1000)  # the interval so far at 0.2% over spot
    funding = await h.venue.fetch_funding(PERP)
    assert funding is not None and funding.next_ts == START + EIGHT_HOURS
    assert funding.rate == pytest.approx(0.0015, abs=1e-6)
    h.clock.set(START + EIGHT_HOURS - 200)
    h.step()
    [before] = await h.venue.fetch_positions()
    h.step()  # the boundary
    [paid] = await h.venue.fetch_funding_history(PERP)
    [after] = await h.venue.fetch_positions()
    assert paid.ts == START + EIGHT_HOURS and paid.rate == pytest.approx(0.0015, abs=1e-6)
    # a long pays: 0.15% of its notional at the mark, ten times the old fixed rate's 0.01%
    assert after.realized_pnl - before.realized_pnl == -(after.mark_price * Decimal("0.5") * Decimal(str(paid.rate)))
    assert await h.venue.fetch_funding_history(PERP, since=paid.ts + 1) == []
    assert (await h.venue.fetch_funding(PERP)).rate == pytest.approx(0.0001, abs=1e-5)  # a new interval


async def test_over_a_whole_interval_the_rate_follows_the_marks(make_venue: Callable[..., Harness]) -> None:
    """Eight simulated hours, a step a minute: what is paid is the formula on the mean premium
    of the perpetual's marks over the spot's, as a trader watching both would compute it."""
    h = make_venue(markets=[SPOT, PERP], tick_interval=60, seed=11)
    for _ in range(EIGHT_HOURS // 60_000):
        h.step(ms=60_000)
    marks: dict[int, dict[str, Decimal]] = {}
    for event in h.of(TickerUpdated):
        assert event.ticker.mark is not None
        marks.setdefault(event.ticker.ts, {})[event.ticker.symbol] = event.ticker.mark
    premiums = [float(m[PERP] / m[SPOT] - 1) for ts, m in sorted(marks.items()) if ts <= START + EIGHT_HOURS]
    [paid] = await h.venue.fetch_funding_history(PERP)
    assert paid == FundingRate(ts=START + EIGHT_HOURS, rate=paid.rate)
    assert paid.rate == pytest.approx(float(funding_rate(sum(premiums) / len(premiums))), abs=2e-6)
