"""Arbitrage: basis entry over the fees, exit on convergence, legs unwound when one fails; a
cointegrated pair traded on its spread."""

from __future__ import annotations

from decimal import Decimal

import numpy as np

from core.backtest.engine import Backtester
from core.backtest.result import BacktestSettings
from core.executor import OrderRefused
from core.models import OrderRequest
from core.strategies.arbitrage import BasisArbitrage, PairArbitrage
from tests.strategies.helpers import bars_from_closes, run_strategy

SPOT, PERP = "BTC/USDT", "BTC/USDT:USDT"
SETTINGS = BacktestSettings(cash=10_000.0, fee=0.001)


def basis_bars(perp: list[float]) -> list:
    return [bars_from_closes([100.0] * len(perp), SPOT, spread=0.0), bars_from_closes(perp, PERP, spread=0.0)]


async def test_enters_when_the_basis_pays_the_fees_and_exits_on_convergence() -> None:
    strategy = BasisArbitrage({"entry_bps": 20.0, "exit_bps": 2.0, "position_size_pct": 0.4})
    perp = [100.0, 100.5, 101.0, 101.0, 100.5, 100.02, 100.0, 101.0]  # 50 bps < 40 fees + 20: no entry yet
    tester = await run_strategy(strategy, basis_bars(perp), SETTINGS)
    spot_trade, perp_trade = sorted(tester.trades[:2], key=lambda t: t.symbol != SPOT)
    assert (spot_trade.side, perp_trade.side) == ("long", "short")
    assert spot_trade.entry_bar == perp_trade.entry_bar == 2 and spot_trade.exit_bar == perp_trade.exit_bar == 5
    assert spot_trade.size == perp_trade.size and spot_trade.size * 100 <= 4000
    assert perp_trade.entry_price == 101.0 and perp_trade.exit_price == 100.02
    assert spot_trade.pnl + perp_trade.pnl > 0
    assert strategy.side == 1  # the last candle's basis opened the trade again


async def test_a_refused_leg_unwinds_the_other() -> None:
    tester = Backtester(basis_bars([100.0, 101.0, 101.0, 100.0]), SETTINGS)
    strategy = BasisArbitrage()
    tester.strategies.add(strategy, venue="backtest", symbols=[SPOT, PERP], timeframe="1h")
    submit = tester.submit

    async def perp_venue_down(request: OrderRequest):
        if request.symbol == PERP:
            raise OrderRefused("perpetual venue unavailable")
        return await submit(request)

    tester.submit = perp_venue_down  # type: ignore[method-assign]
    await tester.run()
    assert strategy.unwinds == 2 and strategy.side == 0
    assert strategy.ctx.position(SPOT) == Decimal(0) and strategy.ctx.position(PERP) == Decimal(0)
    assert all(t.symbol == SPOT and t.side == "long" for t in tester.trades) and len(tester.trades) == 2


async def test_pair_trades_the_hedged_spread() -> None:
    rng = np.random.default_rng(7)
    n, beta = 600, 1.5
    log_b = np.log(100.0) + np.cumsum(rng.normal(0, 0.004, n))
    spread = np.zeros(n)
    for i in range(1, n):
        spread[i] = 0.85 * spread[i - 1] + rng.normal(0, 0.01)
    log_a = beta * log_b + spread - beta * np.log(100.0) + np.log(50.0)
    bars = [bars_from_closes(np.round(np.exp(log_a), 2).tolist(), "ETH/USDT", spread=0.0),
            bars_from_closes(np.round(np.exp(log_b), 2).tolist(), "BTC/USDT", spread=0.0)]
    strategy = PairArbitrage({"lookback": 120, "entry_z": 2.0, "exit_z": 0.3, "stop_z": 5.0})
    tester = await run_strategy(strategy, bars, BacktestSettings(cash=10_000.0, fee=0.0002))
    assert abs(strategy.beta - beta) < 0.3
    by_entry: dict[int, set[tuple[str, str]]] = {}
    for trade in tester.trades:
        by_entry.setdefault(trade.entry_bar, set()).add((trade.symbol, trade.side))
    assert len(by_entry) >= 5
    assert all(len({side for _, side in legs}) == 2 for legs in by_entry.values())  # always one long, one short
    assert sum(t.pnl for t in tester.trades) > 0
