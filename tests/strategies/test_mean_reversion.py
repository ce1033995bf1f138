"""Mean reversion: the band state machine, and both backtest paths trading alike."""

from __future__ import annotations

import pytest

from core.backtest.data import load_bars
from core.backtest.engine import backtest
from core.backtest.fast import run_fast
from core.backtest.result import BacktestSettings
from core.strategies.base import ParameterError
from core.strategies.mean_reversion import FLAT, LONG, SHORT, STOPPED_LONG, STOPPED_SHORT, MeanReversion, next_state
from tests.conftest import DATA

P = MeanReversion.validate_params({"entry_z": 2.0, "exit_z": 0.5, "stop_z": 3.5})


def walk(zs: list[float], params: dict = P) -> list[int]:
    state, seen = FLAT, []
    for z in zs:
        state = next_state(state, z, params)
        seen.append(state)
    return seen


def test_enters_beyond_the_entry_band_and_exits_inside_the_exit_band() -> None:
    assert walk([0.0, -1.9, -2.1, -1.0, -0.6, -0.4]) == [FLAT, FLAT, LONG, LONG, LONG, FLAT]
    assert walk([2.5, 1.0, 0.4]) == [SHORT, SHORT, FLAT]


def test_a_stop_closes_the_side_until_the_price_is_back_inside_the_entry_band() -> None:
    assert walk([-2.2, -3.6, -2.5, -2.1, -1.5, -2.2]) == [LONG, STOPPED_LONG, STOPPED_LONG, STOPPED_LONG, FLAT, LONG]
    assert walk([2.2, 3.6, 2.1, 1.9]) == [SHORT, STOPPED_SHORT, STOPPED_SHORT, FLAT]


def test_long_only_ignores_upward_stretches() -> None:
    params = {**P, "allow_short": False}
    assert walk([2.5, 3.0, -2.5], params) == [FLAT, FLAT, LONG]


def test_bands_must_nest() -> None:
    with pytest.raises(ParameterError, match="the bands must nest: exit_z \\(2\\) < entry_z \\(1.5\\)"):
        MeanReversion.validate_params({"entry_z": 1.5, "exit_z": 2.0})


def test_event_and_vectorised_paths_trade_alike() -> None:
    bars = load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT").slice(1000, 3000)
    params = {"period": 30, "entry_z": 2.0, "exit_z": 0.25, "stop_z": 3.0, "position_size_pct": 0.8}
    settings = BacktestSettings(cash=20_000.0, fee=0.001)
    event, fast = backtest(MeanReversion, bars, params, settings), run_fast(MeanReversion, bars, params, settings)
    assert len(fast.trades) > 20
    assert [(t.entry_bar, t.exit_bar, t.side) for t in event.trades] == [(t.entry_bar, t.exit_bar, t.side) for t in fast.trades]
    assert event.metrics.final_equity == pytest.approx(fast.metrics.final_equity, rel=1e-9)
    assert {t.side for t in fast.trades} == {"long", "short"}
