"""Honest evaluation: the AI trend-following strategy against buy-and-hold and the SMA crossover.

On real Binance BTC/USDT hourly candles (../shared/data). The forecast model is trained only on
the candles before the evaluation window; then, for every candle of the window, the full agent
team decides with the candles known at that close, and its Signals go to the event-driven
backtester running ``AiTrendFollowing`` (filled from the next candle on, fees 0.1% per side).
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
INVEST = 0.9999


async def signals_for(bars: Bars, start: int) -> tuple[list[Signal], dict[str, Any]]:
    """One decision per candle from ``start``; the forecast model fitted on the candles before it."""
    clock = SimClock(int(bars.ts[start]))
    coordinator = build_coordinator(AgentsConfig(), clock)
    forecast = next(a for a in coordinator.analysts if isinstance(a, ForecastAgent))
    candles = Candles.coerce(bars)
    report = forecast.retrain(SYMBOL, bars.timeframe, _span(candles, 0, start))
    signals: list[Signal] = []
    confidences: list[float] = []
    for i in range(start, len(bars) - 1):
        lo = max(0, i + 1 - LOOKBACK)
        window = _span(candles, lo, i + 1)
        now = int(bars.ts[i]) + bars.step_ms
        clock.set(now)
        context = AnalysisContext(symbol=SYMBOL, now_ms=now, candles={bars.timeframe: window}, equity=Decimal(10000))
        decision = await coordinator.decide(context)
        if decision.signal.direction is not Direction.HOLD:
            signals.append(decision.signal)
            confidences.append(decision.signal.confidence)
    stats = {
        "decisions": len(bars) - 1 - start,
        "trade_signals": len(signals),
        "median_confidence": float(np.median(confidences)) if confidences else None,
        "forecast_report": report.to_dict(),
    }
    return signals, stats


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
    parser.add_argument("--train", type=int, default=8760, help="candles before the window the forecast learns from")
    args = parser.parse_args()
    window = 1500 if args.quick else args.window
    train = 3000 if args.quick else args.train
    bars = load_bars(args.data, symbol=SYMBOL, allow_gaps=True)
    begin = len(bars) - window - LOOKBACK
    if begin - train < 0:
        raise SystemExit(f"{args.data}: {len(bars)} candles are too few for a {window}-candle window")
    history = bars.slice(begin - train, len(bars))
    start = train + LOOKBACK  # first evaluated candle within ``history``
    started = time.perf_counter()
    signals, stats = asyncio.run(signals_for(history, start))
    decide_s = time.perf_counter() - started
    evaluated = history.slice(start, len(history))
    settings = BacktestSettings(cash=10_000.0, fee=0.001)
    results = {
        "buy_and_hold": buy_and_hold(evaluated, settings),
        "sma_cross": run_fast(SmaCross, evaluated, {"fast": 20, "slow": 100, "invest": INVEST}, settings),
    }
    ai_runs = {
        threshold: backtest(AiTrendFollowing, evaluated, {"confidence_threshold": threshold, "position_size_pct": INVEST},
                            settings, signals=signals)
        for threshold in (0.7, 0.3)
    }
    first, last = (evaluated.ts[0], evaluated.ts[-1])
    print(json.dumps({"bench": "eval_ai_trend", "metric": "setup", "value": len(evaluated), "unit": "candles",
                      "target": None, "from_ms": int(first), "to_ms": int(last), "decide_s": round(decide_s, 1),
                      **{k: v for k, v in stats.items() if k != "forecast_report"}}))
    print(json.dumps({"bench": "eval_ai_trend", "metric": "forecast_out_of_sample", "value":
                      stats["forecast_report"]["directional_accuracy"], "unit": "accuracy", "target": None,
                      **stats["forecast_report"]}))
    for threshold, ai in ai_runs.items():
        name = f"ai_trend(confidence>={threshold})"
        for peer, result in results.items():
            emit("total_return_pct", ai.metrics.total_return * 100, "%", peer, result.metrics.total_return * 100,
                 strategy=name, trades=ai.metrics.trades, peer_trades=result.metrics.trades,
                 fees=round(ai.metrics.fees, 2), peer_fees=round(result.metrics.fees, 2))
            emit("max_drawdown_pct", ai.metrics.max_drawdown * 100, "%", peer, result.metrics.max_drawdown * 100,
                 strategy=name)
            emit("sharpe", ai.metrics.sharpe, "ratio", peer, result.metrics.sharpe, strategy=name)


if __name__ == "__main__":
    main()
