"""Optional Kronos backend: the candlestick foundation model of the first design document.

Used only when three things are configured: the Kronos code importable as a module (the
upstream repository's ``model`` package, put on the Python path), PyTorch, and local paths to
the tokenizer and model weights (downloaded beforehand: OpenTrade never fetches weights). Every
import happens here, lazily, so the rest of the application never needs torch. When anything is
missing, ``load_kronos`` raises ``ForecastUnavailable`` with "unavailable: <what is missing>"
and the caller falls back to the built-in model.

Kronos is pretrained, so ``fit`` trains nothing and its skill on this history is not measured;
its interval is the recent realised volatility scaled to the horizon, not a model output.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from agents.base import Candles
from agents.forecast_model import Forecast, ForecastReport, ForecastUnavailable
from core import indicators as ta

Z10 = 1.2815515655446004  # the 10% / 90% quantiles of a normal distribution


@dataclass(frozen=True, slots=True)
class KronosSettings:
    model_path: Path | None = None
    tokenizer_path: Path | None = None
    module: str = "model"
    device: str = "cpu"
    max_context: int = 512
    sample_count: int = 1


def unavailable_reason(settings: KronosSettings) -> str | None:
    """Why Kronos cannot run with these settings, or None when it can be loaded."""
    if importlib.util.find_spec("torch") is None:
        return "unavailable: PyTorch (torch) is not installed"
    try:
        found = importlib.util.find_spec(settings.module) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        return f"unavailable: the Kronos code (module '{settings.module}') is not importable"
    for label, path in (("model", settings.model_path), ("tokenizer", settings.tokenizer_path)):
        if path is None:
            return f"unavailable: no local Kronos {label} weights path configured"
        if not Path(path).exists():
            return f"unavailable: Kronos {label} weights not found at {path}"
    return None


def load_kronos(settings: KronosSettings) -> KronosForecaster:
    reason = unavailable_reason(settings)
    if reason:
        raise ForecastUnavailable(reason)
    module = importlib.import_module(settings.module)
    tokenizer = module.KronosTokenizer.from_pretrained(str(settings.tokenizer_path))
    model = module.Kronos.from_pretrained(str(settings.model_path))
    predictor = module.KronosPredictor(model, tokenizer, device=settings.device, max_context=settings.max_context)
    return KronosForecaster(predictor, settings)


class KronosForecaster:
    """Adapts a ``KronosPredictor`` to the forecasting port."""

    name = "kronos"

    def __init__(self, predictor: Any, settings: KronosSettings) -> None:
        self._predictor = predictor
        self.settings = settings

    @property
    def is_fitted(self) -> bool:
        return True

    def fit(self, candles: Candles) -> ForecastReport:
        return ForecastReport(
            model=self.name, horizon=0, n_train=0, n_test=0, directional_accuracy=None,
            baseline_accuracy=None, interval_coverage=None, nominal_coverage=0.8, mae=None,
            baseline_mae=None, note="pretrained foundation model, not evaluated on this history",
        )

    def predict(self, candles: Candles, horizon: int) -> Forecast:
        recent = candles.tail(self.settings.max_context)
        if len(recent) < 2:
            raise ForecastUnavailable("Kronos needs at least two candles")
        step = int(np.median(np.diff(recent.ts)))
        frame = recent.to_frame()
        x_time = pd.Series(pd.to_datetime(frame["ts"], unit="ms"))
        y_time = pd.Series(pd.to_datetime(recent.ts[-1] + step * np.arange(1, horizon + 1), unit="ms"))
        predicted = self._predictor.predict(
            df=frame[["open", "high", "low", "close", "volume"]],
            x_timestamp=x_time,
            y_timestamp=y_time,
            pred_len=horizon,
            T=1.0,
            top_p=0.9,
            sample_count=self.settings.sample_count,
            verbose=False,
        )
        path = np.asarray(predicted["close"], dtype=np.float64)[:horizon]
        if len(path) != horizon or not np.all(np.isfinite(path)) or np.any(path <= 0):
            raise ForecastUnavailable("Kronos returned an unusable forecast")
        vol = float(np.nanstd(ta.log_returns(recent.close)[-100:]))
        std = vol * np.sqrt(np.arange(1, horizon + 1))
        log_path = np.log(path)
        return Forecast(
            model=self.name,
            horizon=horizon,
            last_close=recent.last_close,
            path=path,
            std=std,
            lower=np.exp(log_path - Z10 * std),
            upper=np.exp(log_path + Z10 * std),
        )
