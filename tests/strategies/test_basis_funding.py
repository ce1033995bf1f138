"""Basis arbitrage counts funding: the rate its short perpetual expects to receive is part of
the edge it enters and leaves on, and the backtest pays the funding it holds through (in the
equity and the result's funding figure). Each case beside the same run without funding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.backtest.data import DataError
from core.backtest.engine import Backtester, backtest_async
from core.backtest.result import BacktestSettings
from core.models import FundingRate
from core.strategies.arbitrage import BasisArbitrage
from tests.strategies.helpers import H, bars_from_closes, run_strategy

SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
SETTINGS = BacktestSettings(cash=10_000.0, fee=0.001)
PARAMS = {"entry_bps": 20.0, "exit_bps": 2.0, "position_size_pct": 0.4, "funding_periods": 3.0}


def legs(perp: list[float]) -> list:
    return [bars_from_closes([100.0] * len(perp), SPOT, spread=0.0), bars_from_closes(perp, PERP, spread=0.0)]


async def test_funding_paid_to_shorts_makes_a_basis_below_the_fees_worth_entering() -> None:
    """35 bps of basis does not pay 40 bps of fees plus 20 to enter; 0.1% a payment over three does."""
    perp = [100.35] * 6
    without = await backtest_async(BasisArbitrage, legs(perp), PARAMS, SETTINGS)
    rates = [FundingRate(ts=0, rate=0.001), FundingRate(ts=4 * H, rate=0.001)]
    paid = await backtest_async(BasisArbitrage, legs(perp), PARAMS, SETTINGS, funding={PERP: rates})
    assert without.trades == [] and without.funding == 0.0 and without.final_position == 0.0
    assert paid.final_position > 0  # both legs open at the end
    short = paid.final_position / 2
    # the payment at 4h, received by the short leg at that candle's close (100.35)
    assert paid.funding == pytest.approx(0.001 * 100.35 * short)
    assert paid.summary()["funding"] == paid.funding


async def test_the_funding_paid_is_in_the_equity() -> None:
    perp = [100.0, 100.8, 100.8, 100.8, 100.8, 100.8]
    rates = [FundingRate(ts=3 * H, rate=0.0004), FundingRate(ts=4 * H, rate=-0.0002)]
    plain = await backtest_async(BasisArbitrage, legs(perp), {**PARAMS, "funding_periods": 0.0}, SETTINGS)
    funded = await backtest_async(BasisArbitrage, legs(perp), {**PARAMS, "funding_periods": 0.0}, SETTINGS,
                                  funding={PERP: rates})
    assert [t.entry_bar for t in plain.trades] == [t.entry_bar for t in funded.trades]  # same trades: periods 0
    assert funded.funding == pytest.approx((0.0004 - 0.0002) * 100.8 * plain.final_position / 2)
    assert funded.equity[-1] - plain.equity[-1] == pytest.approx(funded.funding)
    assert list(funded.equity[:2]) == list(plain.equity[:2])  # the first payment is at the close of the third


async def test_funding_turning_against_the_shorts_closes_before_the_basis_converges() -> None:
    perp = [100.0, 101.0, 101.0, 101.0, 101.0, 101.0]  # 100 bps, never converging
    strategy, against = BasisArbitrage(PARAMS), BasisArbitrage(PARAMS)
    await run_strategy(strategy, legs(perp), SETTINGS)
    tester = Backtester(legs(perp), SETTINGS, funding={PERP: [FundingRate(ts=3 * H, rate=-0.004)]})
    tester.strategies.add(against, venue="backtest", symbols=[SPOT, PERP], timeframe="1h")
    await tester.run()
    assert strategy.side == 1  # held to the end on the basis alone
    # at the 3h close (the third candle's) the shorts expect to pay 3 x 0.4%: 100 - 120 bps, below exit_bps
    assert against.side == 0 and {t.exit_bar for t in tester.trades} == {2}
    assert against.ctx.position(PERP) == Decimal(0)


async def test_funding_for_a_market_that_is_not_a_perpetual_is_refused() -> None:
    with pytest.raises(DataError, match="funding rates given for BTC/USDT, which is not a perpetual"):
        Backtester(legs([100.0, 100.0]), SETTINGS, funding={SPOT: [FundingRate(ts=0, rate=0.0001)]})
