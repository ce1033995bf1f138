"""Metrics on hand-checkable equity curves and trades."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.backtest.metrics import TradeRecord, compute_metrics

DAY = 86_400_000


def _trade(pnl: float) -> TradeRecord:
    return TradeRecord("BTC/USDT", "long", 1.0, 0, 1, 0, DAY, 100.0, 100.0 + pnl, pnl, 0.0)


def test_drawdown_returns_and_trade_statistics() -> None:
    equity = np.array([100.0, 120.0, 90.0, 95.0, 130.0, 117.0])
    ts = np.arange(6) * DAY
    m = compute_metrics(equity, ts, [_trade(30.0), _trade(-10.0), _trade(-5.0)], step_ms=DAY,
                        start_equity=100.0, exposed_bars=3, fees=1.5)
    assert m.total_return == pytest.approx(0.17)
    assert m.max_drawdown == pytest.approx(90 / 120 - 1)
    assert m.max_drawdown_duration_bars == 2  # under water at bars 2 and 3, new high at 4
    assert m.max_drawdown_duration_ms == 3 * DAY  # from the peak at bar 1 to recovery at bar 4
    assert m.trades == 3 and m.win_rate == pytest.approx(1 / 3)
    assert m.profit_factor == pytest.approx(2.0)
    assert m.avg_trade_pnl == pytest.approx(5.0)
    assert m.exposure == pytest.approx(0.5) and m.fees == 1.5
    assert m.cagr == pytest.approx(1.17 ** (365 / 6) - 1)
    assert m.calmar == pytest.approx(m.cagr / 0.25)
    returns = np.diff(np.concatenate(([100.0], equity))) / np.concatenate(([100.0], equity))[:-1]
    assert m.sharpe == pytest.approx(returns.mean() / returns.std(ddof=1) * math.sqrt(365))


def test_flat_curve_has_no_ratios_and_no_trades() -> None:
    m = compute_metrics(np.full(4, 50.0), np.arange(4) * DAY, [], step_ms=DAY, start_equity=50.0,
                        exposed_bars=0, fees=0.0)
    assert m.sharpe is None and m.sortino is None and m.calmar is None
    assert m.win_rate is None and m.profit_factor is None and m.max_drawdown == 0.0
    assert m.to_dict()["trades"] == 0


def test_only_winners_leave_profit_factor_undefined() -> None:
    m = compute_metrics(np.array([1.0, 2.0]), np.arange(2) * DAY, [_trade(1.0)], step_ms=DAY, start_equity=1.0,
                        exposed_bars=1, fees=0.0)
    assert m.profit_factor is None and m.win_rate == 1.0
