"""The backtester against backtesting.py on real BTC/USDT candles: same trades, same equity."""

from __future__ import annotations

import pytest

from core.backtest.data import load_bars
from core.backtest.engine import backtest
from core.backtest.fast import run_fast
from core.backtest.result import BacktestSettings
from core.strategies.sma_cross import SmaCross
from tests.backtest.bt_reference import backtesting_py_sma_cross, reference_trades
from tests.conftest import DATA

SETTINGS = BacktestSettings(cash=100_000.0, fee=0.001)


@pytest.fixture(scope="module")
def bars():
    return load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT")


@pytest.mark.parametrize("engine", ["fast", "event"])
@pytest.mark.parametrize(("fast", "slow"), [(10, 30), (20, 100)])
def test_both_paths_match_backtesting_py(bars, fast: int, slow: int, engine: str) -> None:
    run = run_fast if engine == "fast" else backtest
    ours = run(SmaCross, bars, {"fast": fast, "slow": slow}, SETTINGS)
    theirs = backtesting_py_sma_cross(bars, fast, slow, cash=SETTINGS.cash, fee=SETTINGS.fee)

    assert [(t.entry_bar, t.exit_bar, t.side) for t in ours.trades] == reference_trades(theirs)
    assert len(ours.trades) > 20
    final = theirs["Equity Final [$]"]
    assert ours.metrics.final_equity == pytest.approx(final, rel=1e-4)
    assert ours.final_position != 0
