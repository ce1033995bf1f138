"""Genetic search speed: a 100-individual, 10-generation run of the SMA crossover on 100,000
candles with 1 and 2 worker processes (``evals_per_s_1``, ``evals_per_s_2``) and on a local
Dask cluster of 2 workers (``evals_per_s_cluster_2``, its start-up apart as
``cluster_startup_s``: it is paid once per command, not per search). Evaluations are backtests
actually run (repeats are cached and not counted). All runs must find the same best parameters:
the search is deterministic for a seed wherever it runs. Each line carries the machine's load
(/proc/loadavg) at its start: other jobs share the cores.

Candles are a seeded GBM. Run: ``python benchmarks/bench_optimize.py [--quick]`` (the cluster
rows need the 'cluster' extra).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.backtest.executor import Executor  # noqa: E402
from core.backtest.optimizer import SearchSettings, optimize  # noqa: E402
from core.backtest.result import BacktestSettings  # noqa: E402
from core.backtest.synthetic import gbm_bars  # noqa: E402
from core.strategies.sma_cross import SmaCross  # noqa: E402


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def emit(metric: str, value: float, unit: str, **extra: object) -> None:
    print(json.dumps({"bench": "optimize", "metric": metric, "value": round(value, 3), "unit": unit,
                      "target": None, **extra}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="30 individuals, 4 generations, 20,000 candles")
    args = parser.parse_args()
    n, population, generations = (20_000, 30, 4) if args.quick else (100_000, 100, 10)
    bars = gbm_bars(n, seed=3)
    shape = {"candles": n, "population": population, "generations": generations}
    best: list[dict[str, Any]] = []

    def run(metric: str, workers: int, executor: Executor | None = None) -> None:
        search = SearchSettings(population=population, generations=generations, seed=5, workers=workers)
        machine_load = load()
        started = time.perf_counter()
        result = optimize(SmaCross, bars, search, BacktestSettings(fee=0.001), executor=executor)
        elapsed = time.perf_counter() - started
        best.append(result.best.params)
        emit(metric, result.evaluations / elapsed, "evals/s", evaluations=result.evaluations,
             elapsed_s=round(elapsed, 3), load=machine_load, **shape)

    for workers in (1, 2):
        run(f"evals_per_s_{workers}", workers)
    from core.backtest.cluster import DaskCluster, parse_cluster

    machine_load = load()
    with DaskCluster(parse_cluster("local:2")) as cluster:
        emit("cluster_startup_s", cluster.startup_s, "s", workers=2, load=machine_load)
        run("evals_per_s_cluster_2", 1, cluster)
    same = all(params == best[0] for params in best)
    emit("same_best_everywhere", float(same), "bool")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
