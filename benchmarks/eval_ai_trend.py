"""Honest evaluation: the AI trend-following strategy against buy-and-hold and the SMA crossover.

On real Binance BTC/USDT hourly candles (../shared/data), in three consecutive spans: the
forecast model trains on the first; on the second the team's opinions are compared with the
next 12 candles to calibrate each agent's confidence; the third is the evaluation window. For
every candle of the window the full agent team decides with the candles known at that close,
uncalibrated and calibrated, and its Signals go to the event-driven backtester running
``AiTrendFollowing`` (filled from the next candle on, fees 0.1% per side).
Buy-and-hold and the SMA(20/100) crossover trade the same window with the same fees. All three
invest (almost) all equity per position, so their returns compare directly. Whatever the
result, it is printed: one JSON object per line, the AI strategy's value with each baseline as
its peer.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.base import AnalysisContext, Candles
from agents.calibration import fit_calibrations
from agents.coordinator import Decision
from agents.forecast import ForecastAgent
from agents.team import build_coordinator
from core.backtest.data import Bars, load_bars
from core.backtest.engine import backtest
from core.backtest.fast import run_fast, simulate_targets
from core.backtest.metrics import compute_metrics
from core.backtest.result import BacktestResult, BacktestSettings
from core.clock import SimClock
from core.config import AgentsConfig
from core.models import Direction, Signal
from core.strategies.ai_trend import AiTrendFollowing
from core.strategies.sma_cross import SmaCross

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "ohlcv" / "binance_BTC_USDT-1h.csv"
SYMBOL = "BTC/USDT"
LOOKBACK = 500  # candles each decision sees
HORIZON = 12  # candles after an opinion over which it is judged right or wrong (the forecast's)
INVEST = 0.9999


class Walk:
    """The agent team replayed over history: one decision per candle, with the candles known then."""

    def __init__(self, bars: Bars) -> None:
        self.bars = bars
        self.candles = Candles.coerce(bars)
        self.clock = SimClock(int(bars.ts[0]))
        self.coordinator = build_coordinator(AgentsConfig(), self.clock)

    def train_forecast(self, stop: int) -> dict[str, Any]:
        forecast = next(a for a in self.coordinator.analysts if isinstance(a, ForecastAgent))
        return forecast.retrain(SYMBOL, self.bars.timeframe, _span(self.candles, 0, stop)).to_dict()

    async def decisions(self, first: int, stop: int) -> list[Decision]:
        made = []
        for i in range(first, stop):
            now = int(self.bars.ts[i]) + self.bars.step_ms
            self.clock.set(now)
            window = _span(self.candles, max(0, i + 1 - LOOKBACK), i + 1)
            context = AnalysisContext(symbol=SYMBOL, now_ms=now, candles={self.bars.timeframe: window},
                                      equity=Decimal(10000))
            made.append(await self.coordinator.decide(context))
        return made

    async def calibrate(self, first: int, stop: int) -> dict[str, Any]:
        """Fit each agent's calibration on what followed its opinions in [first, stop)."""
        log_close = np.log(self.candles.close)
        history = [
            (opinion, float(log_close[i + HORIZON] - log_close[i]))
            for i, decision in zip(range(first, stop - HORIZON), await self.decisions(first, stop - HORIZON),
                                   strict=True)
            for opinion in decision.opinions
        ]
        fitted, skipped = fit_calibrations(history)
        self.coordinator.calibrations = fitted
        return {"fitted": {a: c.points for a, c in fitted.items()}, "skipped": skipped}


def trade_signals(decisions: list[Decision]) -> tuple[list[Signal], float | None]:
    signals = [d.signal for d in decisions if d.signal.direction is not Direction.HOLD]
    median = float(np.median([s.confidence for s in signals])) if signals else None
    return signals, median


def _span(candles: Candles, lo: int, hi: int) -> Candles:
    return Candles(*(getattr(candles, f)[lo:hi] for f in ("ts", "open", "high", "low", "close", "volume")))


def buy_and_hold(bars: Bars, settings: BacktestSettings) -> BacktestResult:
    targets = np.full(len(bars), INVEST)
    run = simulate_targets(bars, targets, settings, strategy_id="buy_and_hold")
    metrics = compute_metrics(run.equity, bars.ts, run.trades, step_ms=bars.step_ms, start_equity=settings.cash,
                              exposed_bars=run.exposed_bars, fees=run.fees)
    return BacktestResult(strategy="buy_and_hold", params={}, symbol=bars.symbol, timeframe=bars.timeframe,
                          engine="fast", metrics=metrics, ts=bars.ts, equity=run.equity, trades=run.trades,
                          final_position=run.final_position)


def emit(metric: str, value: float | None, unit: str, peer: str | None = None, peer_value: float | None = None,
         **extra: Any) -> None:
    line: dict[str, Any] = {"bench": "eval_ai_trend", "metric": metric,
                            "value": None if value is None else round(value, 4), "unit": unit, "target": None}
    if peer is not None:
        line |= {"peer": peer, "peer_value": None if peer_value is None else round(peer_value, 4),
                 "ratio": round(value / peer_value, 4) if value is not None and peer_value else None}
    print(json.dumps(line | extra))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a 1,500-candle window (well under 30 s)")
    parser.add_argument("--data", type=Path, default=DATA, help="OHLCV CSV (default: BTC/USDT 1h from ../shared/data)")
    parser.add_argument("--window", type=int, default=8760, help="candles evaluated (default: the last year)")
    parser.add_argument("--train", type=int, default=8760, help="candles the forecast model learns from")
    parser.add_argument("--calibrate", type=int, default=2000, help="candles after those on which confidences are calibrated")
    args = parser.parse_args()
    window, train, calibrate = (1500, 3000, 1000) if args.quick else (args.window, args.train, args.calibrate)
    bars = load_bars(args.data, symbol=SYMBOL, allow_gaps=True)
    begin = len(bars) - window - calibrate - train
    if begin < 0:
        raise SystemExit(f"{args.data}: {len(bars)} candles are too few for these spans")
    history = bars.slice(begin, len(bars))
    start = train + calibrate  # first evaluated candle within ``history``
    started = time.perf_counter()
    walk = Walk(history)
    forecast_report = walk.train_forecast(train)
    plain, plain_median = trade_signals(asyncio.run(walk.decisions(start, len(history) - 1)))
    calibration = asyncio.run(walk.calibrate(train, start))
    calibrated, calibrated_median = trade_signals(asyncio.run(walk.decisions(start, len(history) - 1)))
    decide_s = time.perf_counter() - started
    evaluated = history.slice(start, len(history))
    settings = BacktestSettings(cash=10_000.0, fee=0.001)
    baselines = {
        "buy_and_hold": buy_and_hold(evaluated, settings),
        "sma_cross": run_fast(SmaCross, evaluated, {"fast": 20, "slow": 100, "invest": INVEST}, settings),
    }
    variants = {
        f"ai_trend(confidence>={threshold}{', calibrated' if tuned else ''})":
            backtest(AiTrendFollowing, evaluated, {"confidence_threshold": threshold, "position_size_pct": INVEST},
                     settings, signals=calibrated if tuned else plain)
        for tuned in (False, True)
        for threshold in (0.7, 0.3)
    }
    print(json.dumps({"bench": "eval_ai_trend", "metric": "setup", "value": len(evaluated), "unit": "candles",
                      "target": None, "from_ms": int(evaluated.ts[0]), "to_ms": int(evaluated.ts[-1]),
                      "decide_s": round(decide_s, 1), "trade_signals": len(plain),
                      "median_signal_confidence": plain_median, "trade_signals_calibrated": len(calibrated),
                      "median_signal_confidence_calibrated": calibrated_median}))
    print(json.dumps({"bench": "eval_ai_trend", "metric": "forecast_out_of_sample",
                      "value": forecast_report["directional_accuracy"], "unit": "accuracy", "target": None,
                      **forecast_report}))
    print(json.dumps({"bench": "eval_ai_trend", "metric": "calibration", "value": len(calibration["fitted"]),
                      "unit": "agents", "target": None, **calibration}))
    for name, ai in variants.items():
        for peer, result in baselines.items():
            emit("total_return_pct", ai.metrics.total_return * 100, "%", peer, result.metrics.total_return * 100,
                 strategy=name, trades=ai.metrics.trades, peer_trades=result.metrics.trades,
                 fees=round(ai.metrics.fees, 2), peer_fees=round(result.metrics.fees, 2))
            emit("max_drawdown_pct", ai.metrics.max_drawdown * 100, "%", peer, result.metrics.max_drawdown * 100,
                 strategy=name)
            emit("sharpe", ai.metrics.sharpe, "ratio", peer, result.metrics.sharpe, strategy=name)


if __name__ == "__main__":
    main()
