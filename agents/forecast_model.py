"""The forecasting port and the built-in model: ridge regression on engineered candle features.

The model predicts the cumulative log return to each of the next ``horizon`` candles, in units
of the current volatility (so its intervals widen and narrow with the market), from
returns at several lags, volatility, RSI, the price's z-score, the EMA spread, the candle range
and volume. It is fitted in closed form with numpy on the user's own history, so it trains in
milliseconds and needs nothing installed.

Before it is trusted it is tested: ``fit`` holds out the most recent part of the history
(after an embargo as long as the horizon, so no target overlaps the training data), measures
directional accuracy against the naive "always the training majority" guess and the coverage of
its 80% interval (the 10%-90% quantiles of the training residuals), then refits on everything.
A model that cannot beat the naive guess reports it, and the Forecast agent turns that into
near-zero confidence.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from agents.base import Candles
from core import indicators as ta

LAGS = (1, 2, 4, 8, 16, 32)
VOL_COLUMN = len(LAGS)  # the 20-candle volatility of one-candle log returns
WARMUP = 40  # candles before the first complete feature row
PREDICT_WINDOW = 200  # enough history that the EMAs have forgotten their start


class ForecastUnavailable(Exception):
    """The model cannot forecast: too little history, not fitted, or a backend missing."""


@dataclass(frozen=True, slots=True)
class Forecast:
    model: str
    horizon: int
    last_close: float
    path: npt.NDArray[np.float64]  # expected price after 1..horizon candles
    std: npt.NDArray[np.float64]  # standard deviation of the cumulative log return at each step
    lower: npt.NDArray[np.float64]  # 10% quantile of the price at each step
    upper: npt.NDArray[np.float64]  # 90% quantile

    @property
    def expected_return(self) -> float:
        return float(np.log(self.path[-1] / self.last_close))

    @property
    def target_price(self) -> float:
        return float(self.path[-1])


@dataclass(frozen=True, slots=True)
class ForecastReport:
    """Out-of-sample quality on the held-out tail; None where the backend cannot measure it."""

    model: str
    horizon: int
    n_train: int
    n_test: int
    directional_accuracy: float | None
    baseline_accuracy: float | None
    interval_coverage: float | None
    nominal_coverage: float
    mae: float | None  # mean absolute error of the horizon's log return
    baseline_mae: float | None  # same for always predicting no change
    note: str = ""

    @property
    def skill(self) -> float:
        """Accuracy above the better of a coin flip and the naive guess, in [0, 1]."""
        if self.directional_accuracy is None:
            return 0.0
        bar = max(0.5, self.baseline_accuracy or 0.5)
        if bar >= 1.0:
            return 0.0
        return float(np.clip((self.directional_accuracy - bar) / (1.0 - bar), 0.0, 1.0))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self) | {"skill": round(self.skill, 4)}


class Forecaster(Protocol):
    """A model that learns from candles and predicts the next ones."""

    name: str

    @property
    def is_fitted(self) -> bool: ...

    def fit(self, candles: Candles) -> ForecastReport: ...

    def predict(self, candles: Candles, horizon: int) -> Forecast: ...


def features(candles: Candles) -> npt.NDArray[np.float64]:
    """One row of features per candle (NaN during the warm-up), all computed from the past only."""
    close = candles.close
    log_close = np.log(close)
    n = len(close)
    columns = []
    for lag in LAGS:
        shifted = np.full(n, np.nan)
        shifted[lag:] = log_close[lag:] - log_close[:-lag]
        columns.append(shifted)
    returns = ta.log_returns(close)
    columns.append(ta.rolling_std(returns, 20))
    columns.append((ta.rsi(close, 14) - 50.0) / 50.0)
    columns.append(ta.zscore(close, 20))
    columns.append((ta.ema(close, 12) - ta.ema(close, 26)) / close)
    columns.append((candles.high - candles.low) / close)
    columns.append(np.tanh(ta.zscore(candles.volume, 20) / 3.0))
    return np.column_stack(columns)


def targets(close: npt.NDArray[np.float64], horizon: int) -> npt.NDArray[np.float64]:
    """Cumulative log return to each of the next 1..horizon candles (NaN past the end)."""
    log_close = np.log(close)
    n = len(close)
    out = np.full((n, horizon), np.nan)
    for h in range(1, min(horizon, n - 1) + 1):
        out[: n - h, h - 1] = log_close[h:] - log_close[: n - h]
    return out


class RidgeForecaster:
    """Closed-form ridge regression, one output per horizon step, on standardised features."""

    name = "ridge"

    def __init__(self, horizon: int = 12, alpha: float = 10.0, test_fraction: float = 0.2, min_train: int = 200) -> None:
        if horizon < 1:
            raise ValueError("forecast horizon must be at least 1 candle")
        self.horizon = horizon
        self.alpha = alpha
        self.test_fraction = test_fraction
        self.min_train = min_train
        self._mean: npt.NDArray[np.float64] | None = None
        self._scale: npt.NDArray[np.float64] | None = None
        self._weights: npt.NDArray[np.float64] | None = None
        self._residual_std: npt.NDArray[np.float64] | None = None
        self._residual_band: npt.NDArray[np.float64] | None = None  # 10% and 90% residual quantiles
        self.report: ForecastReport | None = None

    @property
    def is_fitted(self) -> bool:
        return self._weights is not None

    @property
    def min_candles(self) -> int:
        return WARMUP + self.horizon + int(self.min_train / (1.0 - self.test_fraction)) + self.horizon

    def fit(self, candles: Candles) -> ForecastReport:
        x_all = features(candles)
        y_all = targets(candles.close, self.horizon)
        usable = ~np.isnan(x_all).any(axis=1) & ~np.isnan(y_all).any(axis=1) & (x_all[:, VOL_COLUMN] > 0)
        x, y = x_all[usable], y_all[usable] / x_all[usable, VOL_COLUMN : VOL_COLUMN + 1]
        n_test = int(len(x) * self.test_fraction)
        n_train = len(x) - n_test - self.horizon  # embargo: no training target overlaps a test one
        if n_train < self.min_train or n_test < 1:
            raise ForecastUnavailable(
                f"{len(candles)} candles are too few to train and test the model (need {self.min_candles})"
            )
        self._solve(x[:n_train], y[:n_train])
        predicted = self._predict_rows(x[-n_test:])
        report = self._evaluate(predicted, y[-n_test:], y[:n_train], x[-n_test:, VOL_COLUMN], n_train, n_test)
        self._solve(x, y)
        self.report = report
        return report

    def predict(self, candles: Candles, horizon: int) -> Forecast:
        if self._weights is None or self._residual_std is None or self._residual_band is None:
            raise ForecastUnavailable("the model is not fitted yet")
        if horizon > self.horizon:
            raise ForecastUnavailable(f"the model was trained for {self.horizon} candles ahead, not {horizon}")
        if len(candles) <= WARMUP:
            raise ForecastUnavailable(f"{len(candles)} candles are too few to forecast (need more than {WARMUP})")
        row = features(candles.tail(PREDICT_WINDOW))[-1:]
        if np.isnan(row).any():
            raise ForecastUnavailable("the latest candles do not give complete features")
        vol = row[0, VOL_COLUMN]
        mean = self._predict_rows(row)[0, :horizon] * vol
        std = self._residual_std[:horizon] * vol
        last = candles.last_close
        return Forecast(
            model=self.name,
            horizon=horizon,
            last_close=last,
            path=last * np.exp(mean),
            std=std.copy(),
            lower=last * np.exp(mean + self._residual_band[0, :horizon] * vol),
            upper=last * np.exp(mean + self._residual_band[1, :horizon] * vol),
        )

    def _solve(self, x: npt.NDArray[np.float64], y: npt.NDArray[np.float64]) -> None:
        self._mean = x.mean(axis=0)
        scale = x.std(axis=0)
        self._scale = np.where(scale > 0, scale, 1.0)
        z = np.column_stack([np.ones(len(x)), (x - self._mean) / self._scale])
        penalty = self.alpha * np.eye(z.shape[1])
        penalty[0, 0] = 0.0  # the intercept (the drift) is not shrunk
        self._weights = np.asarray(np.linalg.solve(z.T @ z + penalty, z.T @ y), dtype=np.float64)
        residuals = y - z @ self._weights
        self._residual_std = residuals.std(axis=0)
        self._residual_band = np.quantile(residuals, [0.1, 0.9], axis=0)

    def _predict_rows(self, x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        assert self._weights is not None and self._mean is not None and self._scale is not None
        z = np.column_stack([np.ones(len(x)), (x - self._mean) / self._scale])
        result: npt.NDArray[np.float64] = z @ self._weights
        return result

    def _evaluate(
        self,
        predicted: npt.NDArray[np.float64],
        actual: npt.NDArray[np.float64],
        train_actual: npt.NDArray[np.float64],
        vol: npt.NDArray[np.float64],
        n_train: int,
        n_test: int,
    ) -> ForecastReport:
        assert self._residual_band is not None
        p, a = predicted[:, -1], actual[:, -1]
        moved = a != 0
        accuracy = float(np.mean(np.sign(p[moved]) == np.sign(a[moved]))) if moved.any() else None
        majority = 1.0 if np.mean(train_actual[:, -1] > 0) >= 0.5 else -1.0
        baseline = float(np.mean(np.sign(a[moved]) == majority)) if moved.any() else None
        low, high = self._residual_band[:, -1]
        coverage = float(np.mean((a - p >= low) & (a - p <= high)))
        return ForecastReport(
            model=self.name,
            horizon=self.horizon,
            n_train=n_train,
            n_test=n_test,
            directional_accuracy=accuracy,
            baseline_accuracy=baseline,
            interval_coverage=coverage,
            nominal_coverage=0.8,
            mae=float(np.mean(np.abs(a - p) * vol)),
            baseline_mae=float(np.mean(np.abs(a) * vol)),
        )
