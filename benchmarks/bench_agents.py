"""One full analysis cycle: every agent (no network) for 10 symbols, fused and checked by Risk.

Each symbol has 500 one-hour and 500 four-hour seeded candles, a book, funding and open
interest, so every local agent has real work. The forecast models are fitted once beforehand,
as in the app; a cycle is what the engine does per bar: ``decide`` for every symbol, concurrently.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agents.base import AnalysisContext, Candles
from agents.coordinator import Coordinator
from agents.team import build_coordinator
from core.clock import SimClock
from core.config import AgentsConfig
from core.models import OrderBook

SYMBOLS = [f"COIN{i}/USDT" for i in range(10)]
HOUR = 3_600_000
START = 1_704_067_200_000


def emit(metric: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"bench": "agents", "metric": metric, "value": round(value, 3), "unit": unit, "target": target}))


def candles(seed: int, n: int, step: int) -> Candles:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(0.0005 + 0.006 * rng.standard_normal(n)))
    open_ = np.concatenate(([100.0], close[:-1]))
    wick = np.abs(rng.normal(0, 0.002, n)) * close
    ts = START + step * np.arange(n, dtype=np.int64)
    return Candles(ts, open_, np.maximum(open_, close) + wick, np.minimum(open_, close) - wick, close,
                   rng.uniform(10, 100, n))


def contexts(data: dict[str, dict[str, Candles]]) -> list[AnalysisContext]:
    result = []
    for symbol, frames in data.items():
        last = frames["1h"].last_close
        book = OrderBook(venue="paper", symbol=symbol, ts=0,
                         bids=[(Decimal(str(round(last * (1 - 0.0001 * i), 4))), Decimal(1)) for i in range(1, 21)],
                         asks=[(Decimal(str(round(last * (1 + 0.0001 * i), 4))), Decimal(1)) for i in range(1, 21)])
        result.append(AnalysisContext(
            symbol=symbol, now_ms=int(frames["1h"].ts[-1]) + HOUR, candles=frames, order_book=book,
            funding_rate=0.0001, open_interest=[100.0, 101.0, 103.0], long_short_ratio=1.2,
            equity=Decimal(100000),
        ))
    return result


async def cycle(coordinator: Coordinator, data: dict[str, dict[str, Candles]]) -> float:
    batch = contexts(data)  # a fresh snapshot per cycle, as the engine would build
    started = time.perf_counter()
    await asyncio.gather(*(coordinator.decide(c) for c in batch))
    return (time.perf_counter() - started) * 1000


async def main(quick: bool) -> None:
    data = {s: {"1h": candles(i, 500, HOUR), "4h": candles(100 + i, 500, 4 * HOUR)} for i, s in enumerate(SYMBOLS)}
    coordinator = build_coordinator(AgentsConfig(timeframes=["1h", "4h"]), SimClock(START))
    started = time.perf_counter()
    await cycle(coordinator, data)  # the first cycle fits each symbol's forecast model
    emit("first_cycle_with_fit_ms", (time.perf_counter() - started) * 1000, "ms", None)
    runs = [await cycle(coordinator, data) for _ in range(10 if quick else 100)]
    emit("cycle_ms", statistics.median(runs), "ms", 100)
    emit("cycle_p95_ms", sorted(runs)[int(len(runs) * 0.95) - 1], "ms", None)
    emit("per_symbol_ms", statistics.median(runs) / len(SYMBOLS), "ms", None)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer cycles (well under 30 s)")
    asyncio.run(main(parser.parse_args().quick))
