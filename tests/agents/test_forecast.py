"""The built-in forecasting model, its honest report, the Forecast agent and the Kronos backend."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from agents.base import Candles
from agents.forecast import ForecastAgent
from agents.forecast_model import ForecastReport, ForecastUnavailable, RidgeForecaster, features
from agents.kronos import KronosSettings, load_kronos, unavailable_reason
from core.backtest.data import load_bars
from core.models import Direction
from tests.agents.conftest import context_for, make_candles
from tests.conftest import DATA


@pytest.fixture(scope="module")
def btc() -> Candles:
    return Candles.coerce(load_bars(DATA / "binance_BTC_USDT-1h-5000.csv", allow_gaps=True))


def test_report_on_real_candles_is_out_of_sample_and_honest(btc: Candles) -> None:
    model = RidgeForecaster(horizon=12)
    report = model.fit(btc)
    assert model.is_fitted
    assert report.n_test > 900
    assert report.n_train + report.n_test + 12 <= len(btc)
    # hourly BTC is close to a random walk: nothing here should look like a money machine
    assert 0.4 < report.directional_accuracy < 0.65
    assert 0.4 < report.baseline_accuracy < 0.65
    # the interval is the 10%-90% band of training residuals, scaled by current volatility
    assert abs(report.interval_coverage - 0.8) < 0.1
    assert report.mae > 0 and report.baseline_mae > 0
    assert 0.0 <= report.skill <= 1.0
    assert set(report.to_dict()) >= {"directional_accuracy", "baseline_accuracy", "interval_coverage", "skill"}


def test_prediction_is_a_path_with_a_band(btc: Candles) -> None:
    model = RidgeForecaster(horizon=6)
    model.fit(btc)
    forecast = model.predict(btc, 6)
    assert len(forecast.path) == len(forecast.lower) == len(forecast.upper) == 6
    assert np.all(forecast.lower < forecast.path) and np.all(forecast.path < forecast.upper)
    assert forecast.std[-1] > forecast.std[0]  # uncertainty grows with the horizon
    assert forecast.last_close == btc.last_close
    with pytest.raises(ForecastUnavailable, match="trained for 6"):
        model.predict(btc, 7)


def test_features_use_only_the_past(btc: Candles) -> None:
    full = features(btc)
    cut = features(Candles(*(getattr(btc, f)[:3000] for f in ("ts", "open", "high", "low", "close", "volume"))))
    np.testing.assert_allclose(full[2999], cut[-1])


def test_unfitted_or_short_history_is_unavailable() -> None:
    with pytest.raises(ForecastUnavailable, match="not fitted"):
        RidgeForecaster().predict(make_candles(n=300), 12)
    with pytest.raises(ForecastUnavailable, match="too few"):
        RidgeForecaster().fit(make_candles(n=100))


async def test_forecast_agent_follows_a_persistent_trend() -> None:
    up = make_candles(n=800, drift=0.003, vol=0.004, seed=8)
    down = make_candles(n=800, drift=-0.003, vol=0.004, seed=9)
    assert (await ForecastAgent().analyze(context_for(up))).direction is Direction.BUY
    opinion = await ForecastAgent().analyze(context_for(down))
    assert opinion.direction is Direction.SELL
    assert opinion.inputs["target_price"] < down.last_close
    assert "held-out accuracy" in opinion.rationale and "naive" in opinion.rationale


async def test_forecast_agent_fits_once_and_retrains_on_demand(btc: Candles) -> None:
    fits: list[int] = []

    class Counting(RidgeForecaster):
        def fit(self, candles: Candles) -> ForecastReport:
            fits.append(len(candles))
            return super().fit(candles)

    agent = ForecastAgent(model_factory=lambda: Counting(horizon=12))
    context = context_for(btc)
    first = await agent.analyze(context)
    await agent.analyze(context)
    assert fits == [len(btc)]
    assert first.confidence == pytest.approx(agent.reports[("BTC/USDT", "1h")].skill, abs=1e-4)
    agent.retrain("BTC/USDT", "1h", btc.tail(2000))
    assert fits == [len(btc), 2000]
    other = context_for(btc.tail(1000), timeframe="4h")
    await agent.analyze(other)  # another timeframe is another model
    assert fits == [len(btc), 2000, 1000]


async def test_forecast_agent_without_enough_history_says_no_data() -> None:
    opinion = await ForecastAgent().analyze(context_for(make_candles(n=150)))
    assert not opinion.has_data and "too few" in opinion.rationale


def test_kronos_reports_clearly_why_it_is_unavailable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name, *a: None)
    reason = unavailable_reason(KronosSettings(model_path=tmp_path, tokenizer_path=tmp_path))
    assert reason == "unavailable: PyTorch (torch) is not installed"
    with pytest.raises(ForecastUnavailable, match=r"^unavailable: PyTorch"):
        load_kronos(KronosSettings())


def _fake_kronos(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    """A stand-in for torch and the Kronos code with the upstream call signatures."""
    calls: list[dict] = []

    class Predictor:
        def __init__(self, model, tokenizer, device, max_context):
            self.device = device

        def predict(self, df, x_timestamp, y_timestamp, pred_len, T, top_p, sample_count, verbose):
            calls.append({"rows": len(df), "pred_len": pred_len, "first_future": y_timestamp.iloc[0]})
            last = float(df["close"].iloc[-1])
            return pd.DataFrame({"close": last * (1 + 0.01 * np.arange(1, pred_len + 1))}, index=y_timestamp)

    class Pretrained:
        @classmethod
        def from_pretrained(cls, path: str) -> Pretrained:
            return cls()

    module = types.ModuleType("fake_kronos")
    module.Kronos = module.KronosTokenizer = Pretrained  # type: ignore[attr-defined]
    module.KronosPredictor = Predictor  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "fake_kronos", module)
    monkeypatch.setitem(sys.modules, "torch", types.ModuleType("torch"))
    real_find_spec = __import__("importlib").util.find_spec
    monkeypatch.setattr(
        "importlib.util.find_spec",
        lambda name, *a: object() if name in ("torch", "fake_kronos") else real_find_spec(name, *a),
    )
    return calls


async def test_kronos_backend_adapts_the_predictor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _fake_kronos(monkeypatch)
    missing = KronosSettings(module="fake_kronos", model_path=tmp_path / "absent", tokenizer_path=tmp_path)
    assert unavailable_reason(missing) == f"unavailable: Kronos model weights not found at {tmp_path / 'absent'}"
    kronos = load_kronos(KronosSettings(module="fake_kronos", model_path=tmp_path, tokenizer_path=tmp_path))
    candles = make_candles(n=600)
    agent = ForecastAgent(horizon=4, model_factory=lambda: kronos)
    opinion = await agent.analyze(context_for(candles))
    assert calls[0]["rows"] == 512 and calls[0]["pred_len"] == 4
    assert calls[0]["first_future"] == pd.Timestamp(int(candles.ts[-1]) + 3_600_000, unit="ms")
    assert opinion.direction is Direction.BUY
    assert opinion.inputs["target_price"] == pytest.approx(candles.last_close * 1.04)
    assert opinion.confidence == 0.2 and "skill not measured" in opinion.rationale


def test_fewer_candles_than_the_horizon_say_no_data_instead_of_failing() -> None:
    from agents.forecast_model import targets

    out = targets(np.linspace(100.0, 110.0, 5), horizon=12)
    assert out.shape == (5, 12)
    assert np.isnan(out[:, 4:]).all() and not np.isnan(out[0, :4]).any()
