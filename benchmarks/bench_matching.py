"""Throughput of the matching engine on one book: ~60% limit adds, ~30% cancels, ~10% market.

The operation stream is generated (seeded) before timing, so the figure is the engine's alone;
each run starts from an empty book and the best of three runs is reported.
Run: ``python benchmarks/bench_matching.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.matching import BUY, SELL, EngineOrder, Kind, MatchingEngine  # noqa: E402
from core.models import Instrument  # noqa: E402

TARGET_OPS_PER_S = 300_000


def make_ops(count: int, seed: int) -> list[tuple[int, int, int, int]]:
    """(op, side, price, lots) with op 0 = limit add, 1 = cancel (price = index of the add to
    cancel, -1 when nothing is left), 2 = market. Limits sit around a slowly drifting mid."""
    rng = random.Random(seed)
    ops: list[tuple[int, int, int, int]] = []
    mid = 6_000_000
    live: list[int] = []
    adds = 0
    for _ in range(count):
        r = rng.random()
        mid += rng.choice((-1, 0, 1))
        if r < 0.6:
            side = BUY if rng.random() < 0.5 else SELL
            offset = int(rng.expovariate(1 / 20)) + 1
            price = mid - offset if side == BUY else mid + offset
            ops.append((0, side, price, rng.randint(1, 100)))
            live.append(adds)
            adds += 1
        elif r < 0.9:
            if live:
                i = rng.randrange(len(live))
                live[i], live[-1] = live[-1], live[i]
                ops.append((1, 0, live.pop(), 0))
            else:
                ops.append((1, 0, -1, 0))
        else:
            ops.append((2, BUY if rng.random() < 0.5 else SELL, 0, rng.randint(1, 300)))
    return ops


def run(ops: list[tuple[int, int, int, int]]) -> tuple[float, int]:
    instrument = Instrument(venue="bench", symbol="BTC/USDT", base="BTC", quote="USDT",
                            tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))
    engine = MatchingEngine(instrument)
    submit, cancel = engine.submit, engine.cancel
    limit, market = Kind.LIMIT, Kind.MARKET
    fills = 0
    add_index = 0
    start = time.perf_counter()
    for op, side, price, lots in ops:
        if op == 0:
            fills += len(submit(EngineOrder(add_index, None, side, limit, lots, price)).fills)
            add_index += 1
        elif op == 1:
            cancel(price)
        else:
            fills += len(submit(EngineOrder(None, None, side, market, lots)).fills)
    return time.perf_counter() - start, fills


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="200,000 operations instead of 1,000,000")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    count = 200_000 if args.quick else 1_000_000
    ops = make_ops(count, args.seed)
    # Best of three: the machine is shared, and the slowest runs measure the neighbours.
    elapsed, fills = min(run(ops) for _ in range(3))
    print(json.dumps({"bench": "matching", "metric": "ops_per_s", "value": round(count / elapsed),
                      "unit": "ops/s", "target": TARGET_OPS_PER_S, "ops": count, "fills": fills}))


if __name__ == "__main__":
    main()
