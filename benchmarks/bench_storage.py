"""How fast orders become durable: ``Database.record_order`` latency and throughput.

Each call returns only after the COMMIT holding its write (WAL, synchronous=FULL by default),
so the figures include the fsync. With concurrency 1 every order pays one fsync; with more
callers in flight the group commit shares each fsync among the batch.

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


async def _run(path: Path, count: int, concurrency: int, synchronous: str) -> dict[str, float]:
    db = await Database.open(path, synchronous=synchronous)
    orders = _orders(count)
    latencies: list[float] = []
    queue: asyncio.Queue[Order] = asyncio.Queue()
    for order in orders:
        queue.put_nowait(order)

    async def worker() -> None:
        while not queue.empty():
            order = queue.get_nowait()
            start = time.perf_counter()
            await db.record_order(order, "created")
            latencies.append(time.perf_counter() - start)

    start = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
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
    for concurrency in (1, 50):
        with tempfile.TemporaryDirectory() as tmp:
            result = asyncio.run(_run(Path(tmp) / "bench.db", count, concurrency, args.synchronous))
        bench = f"storage.record_order.c{concurrency}.{args.synchronous.lower()}"
        targets = {"p50_ms": None, "p99_ms": P99_TARGET_MS, "orders_per_s": THROUGHPUT_TARGET, "writes_per_commit": None}
        units = {"p50_ms": "ms", "p99_ms": "ms", "orders_per_s": "orders/s", "writes_per_commit": "writes"}
        for metric, value in result.items():
            print(json.dumps({"bench": bench, "metric": metric, "value": round(value, 3),
                              "unit": units[metric], "target": targets[metric]}))


if __name__ == "__main__":
    main()
