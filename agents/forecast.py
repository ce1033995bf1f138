"""Forecast agent: the AI price-prediction model as one voice among the agents.

One model per symbol and timeframe, fitted on that history the first time it is seen and again
only when asked (``retrain``), never per cycle. Its confidence is its measured out-of-sample skill:
a model that does not beat the naive guess on held-out data speaks with (near) zero confidence,
whatever its forecast says.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

from agents.base import Agent, AnalysisContext, Candles, scored_opinion
from agents.forecast_model import Forecast, Forecaster, ForecastReport, ForecastUnavailable, RidgeForecaster
from core.models import AgentOpinion

log = logging.getLogger(__name__)


class ForecastAgent(Agent):
    name = "forecast"

    def __init__(
        self,
        horizon: int = 12,
        model_factory: Callable[[], Forecaster] | None = None,
        unmeasured_confidence: float = 0.2,
        note: str = "",
    ) -> None:
        """``model_factory`` builds a model for a new symbol (the built-in ridge model by default).
        ``unmeasured_confidence`` is used for backends whose skill was not measured (Kronos);
        ``note`` is shown in every rationale (for example why a configured backend fell back)."""
        self.horizon = horizon
        self.model_factory = model_factory or (lambda: RidgeForecaster(horizon=horizon))
        self.unmeasured_confidence = unmeasured_confidence
        self.note = note
        self._models: dict[tuple[str, str], Forecaster] = {}
        self.reports: dict[tuple[str, str], ForecastReport] = {}

    @property
    def min_candles(self) -> int:  # type: ignore[override]
        """What the model needs to be fitted and tested (314 for the built-in one at horizon 12)."""
        return int(getattr(self.model_factory(), "min_candles", 0))

    def retrain(self, symbol: str, timeframe: str, candles: Candles) -> ForecastReport:
        """Fit (or refit) the model of a symbol and timeframe on this history; keep its evaluation."""
        key = (symbol, timeframe)
        model = self._models.get(key) or self.model_factory()
        report = model.fit(candles)
        self._models[key] = model
        self.reports[key] = report
        log.info(
            "forecast model %s for %s %s: accuracy %s vs naive %s, coverage %s", report.model, symbol, timeframe,
            report.directional_accuracy, report.baseline_accuracy, report.interval_coverage,
        )
        return report

    def predict(self, symbol: str, timeframe: str, candles: Candles) -> Forecast:
        """The next ``horizon`` candles, fitting the model first if this history is new to it."""
        key = (symbol, timeframe)
        model = self._models.get(key)
        if model is None or not model.is_fitted:
            self.retrain(symbol, timeframe, candles)
            model = self._models[key]
        return model.predict(candles, self.horizon)

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        candles = context.series()
        timeframe = context.primary_timeframe
        age = context.data_age_ms()
        if candles is None or timeframe is None:
            return self.no_data("no candles", age)
        try:
            forecast = self.predict(context.symbol, timeframe, candles)
        except ForecastUnavailable as exc:
            return self.no_data(self._with_note(str(exc)), age)
        report = self.reports[(context.symbol, timeframe)]
        measured = report.directional_accuracy is not None
        confidence = report.skill if measured else self.unmeasured_confidence
        std = float(forecast.std[-1])
        z = forecast.expected_return / std if std > 0 else 0.0
        score = math.tanh(2.0 * z)
        rationale = (
            f"{forecast.model}: {forecast.horizon} candles ahead {forecast.expected_return:+.2%} "
            f"(80% range {forecast.lower[-1]:.6g}..{forecast.upper[-1]:.6g}); {_quality(report)}"
        )
        inputs = {
            "model": forecast.model,
            "horizon": forecast.horizon,
            "target_price": forecast.target_price,
            "expected_return": forecast.expected_return,
            "std": std,
            "lower": float(forecast.lower[-1]),
            "upper": float(forecast.upper[-1]),
            "report": report.to_dict(),
        }
        return scored_opinion(self.name, score, confidence, self._with_note(rationale), inputs, age)

    def _with_note(self, text: str) -> str:
        return f"{text}; {self.note}" if self.note else text


def _quality(report: ForecastReport) -> str:
    if report.directional_accuracy is None:
        return f"skill not measured{': ' + report.note if report.note else ''}"
    coverage = f"{report.interval_coverage:.0%}" if report.interval_coverage is not None else "n/a"
    return (
        f"held-out accuracy {report.directional_accuracy:.1%} vs naive {report.baseline_accuracy or 0:.1%} "
        f"on {report.n_test} candles, interval coverage {coverage} (nominal {report.nominal_coverage:.0%})"
    )
