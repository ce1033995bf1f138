"""Genetic search speed: a 100-individual, 10-generation run of the SMA crossover on 100,000
candles, with 1 and 2 worker processes (``evals_per_s_1``, ``evals_per_s_2``). Evaluations are
backtests actually run (repeats are cached and not counted). Both runs must find the same best
parameters: the search is deterministic for a seed whatever the number of workers.

Candles are a seeded GBM. Run: ``python benchmarks/bench_optimize.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backtest.optimizer import SearchSettings, optimize  # noqa: E402
from core.backtest.result import BacktestSettings  # noqa: E402
from core.backtest.synthetic import gbm_bars  # noqa: E402
from core.strategies.sma_cross import SmaCross  # noqa: E402


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    print(json.dumps({"bench": "optimize", "metric": metric, "value": round(value, 3), "unit": unit,
                      "target": None, **extra}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="30 individuals, 4 generations, 20,000 candles")
    args = parser.parse_args()
    n, population, generations = (20_000, 30, 4) if args.quick else (100_000, 100, 10)
    bars = gbm_bars(n, seed=3)
    best = []
    for workers in (1, 2):
        search = SearchSettings(population=population, generations=generations, seed=5, workers=workers)
        started = time.perf_counter()
        result = optimize(SmaCross, bars, search, BacktestSettings(fee=0.001))
        elapsed = time.perf_counter() - started
        best.append(result.best.params)
        emit(f"evals_per_s_{workers}", result.evaluations / elapsed, "evals/s", evaluations=result.evaluations,
             elapsed_s=round(elapsed, 3), candles=n, population=population, generations=generations)
    emit("same_best_with_1_and_2_workers", float(best[0] == best[1]), "bool")
    return 0 if best[0] == best[1] else 1


if __name__ == "__main__":
    sys.exit(main())
