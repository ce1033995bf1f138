"""Grid search, the genetic algorithm and walk-forward validation."""

from __future__ import annotations

import pytest

from core.backtest.data import load_bars
from core.backtest.fast import run_fast
from core.backtest.optimizer import SearchSettings, optimize
from core.backtest.result import BacktestSettings
from core.strategies.base import ParameterError
from core.strategies.grid import Grid
from core.strategies.mean_reversion import MeanReversion
from core.strategies.sma_cross import SmaCross
from tests.conftest import DATA

SETTINGS = BacktestSettings(cash=10_000.0, fee=0.001)


@pytest.fixture(scope="module")
def bars():
    return load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", symbol="BTC/USDT")


def test_grid_search_tries_every_valid_combination(bars) -> None:
    search = SearchSettings(method="grid", grid_points=3, objective="total_return", only=("fast", "slow"))
    result = optimize(SmaCross, bars, search, SETTINGS, base={"fast": 5, "slow": 300})
    fasts, slows = SmaCross.param("fast").grid(3), SmaCross.param("slow").grid(3)
    assert (fasts, slows) == ([2, 251, 500], [3, 1002, 2000])
    assert result.evaluations == 7  # the pairs with fast < slow
    brute = max(
        run_fast(SmaCross, bars, {"fast": f, "slow": s}, SETTINGS).metrics.total_return
        for f in fasts for s in slows if f < s
    )
    assert result.best.score == pytest.approx(brute)
    assert result.top[0] == result.best and result.top[0].score >= result.top[-1].score


def test_genetic_search_is_deterministic_and_beats_its_seed(bars) -> None:
    search = SearchSettings(population=12, generations=4, seed=3, objective="sharpe")
    first = optimize(MeanReversion, bars, search, SETTINGS)
    again = optimize(MeanReversion, bars, search, SETTINGS)
    assert first.best.params == again.best.params and first.history == again.history
    default = run_fast(MeanReversion, bars, {}, SETTINGS).metrics.sharpe
    assert first.best.score >= default and first.best.params != MeanReversion.validate_params({})
    assert [h["generation"] for h in first.history] == [1, 2, 3, 4]
    assert all(MeanReversion.check(c.params) == [] for c in first.top)
    other_seed = optimize(MeanReversion, bars, SearchSettings(population=12, generations=4, seed=4), SETTINGS)
    assert other_seed.history != first.history


def test_parallel_workers_give_the_same_answer(bars) -> None:
    search = SearchSettings(population=8, generations=2, seed=11, folds=2)
    one = optimize(SmaCross, bars, search, SETTINGS)
    two = optimize(SmaCross, bars, SearchSettings(population=8, generations=2, seed=11, folds=2, workers=2), SETTINGS)
    assert one.summary() | {"elapsed_s": 0} == two.summary() | {"elapsed_s": 0}


def test_walk_forward_reports_out_of_sample(bars) -> None:
    result = optimize(SmaCross, bars, SearchSettings(population=6, generations=2, folds=3, train_fraction=0.6), SETTINGS)
    assert len(result.folds) == 3
    for fold in result.folds:
        assert fold.train[1] < fold.test[0]
        assert fold.out_of_sample.params == fold.best.params
        assert "sharpe" in fold.out_of_sample.metrics
    assert result.folds[0].test[1] < result.folds[1].train[0]
    assert "out_of_sample_mean" in result.summary()


def test_bad_searches_are_explained(bars) -> None:
    with pytest.raises(ValueError, match="objective must be one of"):
        optimize(SmaCross, bars, SearchSettings(objective="luck"))
    with pytest.raises(ValueError, match="too few for 400 walk-forward folds"):
        optimize(SmaCross, bars, SearchSettings(folds=400))
    with pytest.raises(ParameterError, match="lower cannot be searched"):
        optimize(Grid, bars, SearchSettings(only=("lower",)))


def test_progress_counts_each_evaluation_up_to_a_total_known_at_the_start(bars) -> None:
    calls: list[tuple[int, int]] = []
    search = SearchSettings(population=8, generations=3, seed=2, folds=2)
    result = optimize(SmaCross, bars, search, SETTINGS, progress=lambda done, total: calls.append((done, total)))
    total = 8 * 3 * 2 + 2  # every candidate of every generation in both folds, and each fold's out-of-sample check
    assert calls[0] == (0, total) and calls[-1] == (total, total)
    assert all(t == total for _, t in calls) and [d for d, _ in calls] == sorted(d for d, _ in calls)
    assert len(calls) > result.evaluations // 2  # per evaluation, not per generation
    grid: list[tuple[int, int]] = []
    optimize(SmaCross, bars, SearchSettings(method="grid", grid_points=3, only=("fast", "slow")), SETTINGS,
             base={"fast": 5, "slow": 300}, progress=lambda done, total: grid.append((done, total)))
    assert grid[0] == (0, 7) and grid[-1] == (7, 7)
