"""How fast orders become durable: ``Database.record_order`` latency and throughput.

Each call returns only after the COMMIT holding its write (WAL, synchronous=FULL by default),
so the figures include the fsync. Three loads: concurrency 1 (every order pays one fsync),
concurrency 50 (closed loop: 50 callers always waiting, the group commit shares each fsync
among them) and paced arrivals at the 2,000 orders/s target (open loop, like a busy venue:
latency is what an order sees when orders keep coming whether or not the last one is done).

    python benchmarks/bench_storage.py [--quick] [--synchronous NORMAL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from core.models import Order, OrderStatus, OrderType, Side
from core.storage import Database

P99_TARGET_MS = 5.0
THROUGHPUT_TARGET = 2000.0


def _orders(count: int) -> list[Order]:
    return [
        Order(
            client_order_id=f"ot-bench-{i:08d}", venue="paper", symbol="BTC/USDT",
            side=Side.BUY if i % 2 else Side.SELL, type=OrderType.LIMIT,
            size=Decimal("0.010"), price=Decimal("42000.10") + i, status=OrderStatus.PENDING_NEW,
            created_ts=1_704_067_200_000 + i, updated_ts=1_704_067_200_000 + i,
        )
        for i in range(count)
    ]


async def _run(path: Path, count: int, load: str, synchronous: str) -> dict[str, float]:
    db = await Database.open(path, synchronous=synchronous)
    orders = iter(_orders(count))
    latencies: list[float] = []

    async def record(order: Order) -> None:
        start = time.perf_counter()
        await db.record_order(order, "created")
        latencies.append(time.perf_counter() - start)

    async def worker() -> None:
        for order in orders:
            await record(order)

    async def paced(rate: float) -> None:
        pending = []
        for i, order in enumerate(orders):
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            pending.append(asyncio.create_task(record(order)))
        await asyncio.gather(*pending)

    start = time.perf_counter()
    if load == "paced":
        await paced(THROUGHPUT_TARGET)
    else:
        await asyncio.gather(*(worker() for _ in range(int(load))))
    elapsed = time.perf_counter() - start
    batches, writes = db.commit_stats
    await db.close()
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "orders_per_s": count / elapsed,
        "writes_per_commit": writes / max(batches, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 orders instead of 10,000")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    args = parser.parse_args()
    count = 2_000 if args.quick else 10_000
    for load in ("1", "50", "paced"):
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(_run(Path(tmp) / "bench.db", count, load, args.synchronous))
        name = "paced2000" if load == "paced" else f"c{load}"
        bench = f"storage.record_order.{name}.{args.synchronous.lower()}"
        targets = {"p50_ms": None, "p99_ms": P99_TARGET_MS, "orders_per_s": THROUGHPUT_TARGET, "writes_per_commit": None}
        units = {"p50_ms": "ms", "p99_ms": "ms", "orders_per_s": "orders/s", "writes_per_commit": "writes"}
        for metric, value in result.items():
            print(json.dumps({"bench": bench, "metric": metric, "value": round(value, 3),
                              "unit": units[metric], "target": targets[metric]}))


if __name__ == "__main__":
    main()
