"""Grid: levels, round trips in a ranging market, and leaving the range."""

from __future__ import annotations

import pytest

from core.backtest.result import BacktestSettings
from core.strategies.base import ParameterError
from core.strategies.grid import Grid, grid_levels
from tests.strategies.helpers import bars_from_closes, run_strategy

PARAMS = {"lower": 90.0, "upper": 110.0, "levels": 5, "order_size": 1.0}
SETTINGS = BacktestSettings(cash=10_000.0, fee=0.0005)


def test_level_spacing() -> None:
    assert grid_levels(90, 110, 5, "arithmetic") == [90, 95, 100, 105, 110]
    geometric = grid_levels(100, 400, 3, "geometric")
    assert geometric == pytest.approx([100, 200, 400])
    with pytest.raises(ParameterError, match="lower \\(110\\) must be below upper \\(90\\)"):
        Grid({**PARAMS, "lower": 110.0, "upper": 90.0})


async def test_ranging_market_makes_round_trips() -> None:
    closes = [100, 97, 94, 97, 101, 97, 94, 98, 101, 99]
    strategy = Grid(PARAMS)
    tester = await run_strategy(strategy, bars_from_closes(closes), SETTINGS)
    assert strategy.round_trips == 2
    assert [(t.entry_price, t.exit_price) for t in tester.trades] == [(95.0, 100.0), (95.0, 100.0)]
    assert all(t.pnl == pytest.approx(5 - 0.0005 * 195) for t in tester.trades)
    assert strategy.mode == "active" and len(tester.open_orders()) == 2  # buys at 90 and 95 again


async def test_leaving_the_range_with_close_sells_the_inventory_and_stops() -> None:
    closes = [100, 94, 92, 85, 80, 100, 94]
    strategy = Grid({**PARAMS, "out_of_range": "close"})
    tester = await run_strategy(strategy, bars_from_closes(closes), SETTINGS)
    assert strategy.mode == "closed" and tester.open_orders() == []
    assert strategy.ctx.position("BTC/USDT") == 0
    (trade,) = tester.trades  # the levels bought at 95 and 90, sold together below the range
    assert trade.size == 2 and trade.entry_price == 92.5 and trade.exit_price < 90


async def test_pause_cancels_and_rebuilds_when_the_price_returns() -> None:
    strategy = Grid({**PARAMS, "out_of_range": "pause"})
    modes = []
    original = strategy.on_tick

    async def spy(trade):  # record the mode after every print
        await original(trade)
        modes.append((float(trade.price), strategy.mode, len(strategy.ctx.host.open_orders())))

    strategy.on_tick = spy
    await run_strategy(strategy, bars_from_closes([100, 104, 115, 120, 104, 102]), SETTINGS)
    outside = [m for m in modes if m[0] > 110]
    assert outside and all(mode == "paused" and orders == 0 for _, mode, orders in outside)
    assert modes[-1][1] == "active" and modes[-1][2] > 0
