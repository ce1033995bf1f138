"""How fast orders become durable: ``Database.record_order`` latency and throughput, on a
SQLite file and on PostgreSQL, in one run.

Each call returns only after the COMMIT holding its write (SQLite: WAL, synchronous=FULL by
default; PostgreSQL: synchronous_commit=on), so the figures include the fsync. Three loads:
concurrency 1 (every order pays one fsync), concurrency 50 (closed loop: 50 callers always
waiting, the group commit shares each fsync among them; its orders_per_s is the concurrent
writes per second) and paced arrivals at the 2,000 orders/s target (open loop, like a busy
venue: latency is what an order sees when orders keep coming whether or not the last one is
done). PostgreSQL is a throwaway local server (tests/postgres_server.py: initdb in a
temporary directory, fsync on, reached over TCP on 127.0.0.1), started for the run; without
PostgreSQL installed, or with --sqlite-only, its rows are left out. The load average is
printed first and last: other jobs share the machine's 2 cores.

    python benchmarks/bench_storage.py [--quick] [--synchronous NORMAL] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.models import Order, OrderStatus, OrderType, Side  # noqa: E402
from core.storage import Database  # noqa: E402
from tests.postgres_server import PASSWORD, PostgresServer, PostgresUnavailable  # noqa: E402

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


async def _run(open_db: Callable[[], Awaitable[Database]], count: int, load: str) -> dict[str, float]:
    db = await open_db()
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


def _print(bench: str, result: dict[str, float]) -> None:
    targets = {"p50_ms": None, "p99_ms": P99_TARGET_MS, "orders_per_s": THROUGHPUT_TARGET, "writes_per_commit": None}
    units = {"p50_ms": "ms", "p99_ms": "ms", "orders_per_s": "orders/s", "writes_per_commit": "writes"}
    for metric, value in result.items():
        print(json.dumps({"bench": bench, "metric": metric, "value": round(value, 3),
                          "unit": units[metric], "target": targets[metric]}), flush=True)


def _loadavg(when: str) -> None:
    with open("/proc/loadavg", encoding="ascii") as file:
        load = [float(value) for value in file.read().split()[:3]]
    print(json.dumps({"bench": "storage", "metric": f"loadavg_{when}", "value": load, "unit": "1/5/15 min"}))


LOADS = {"1": "c1", "50": "c50", "paced": "paced2000"}


def _sqlite(count: int, synchronous: str) -> None:
    for load, name in LOADS.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "bench.db"
            result = asyncio.run(_run(functools.partial(Database.open, path, synchronous=synchronous), count, load))
        _print(f"storage.record_order.{name}.{synchronous.lower()}", result)


def _postgresql(count: int, synchronous: str) -> None:
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        print(f"PostgreSQL rows left out: {exc}", file=sys.stderr)
        return
    try:
        for load, name in LOADS.items():
            url = server.url(server.new_database())
            result = asyncio.run(_run(functools.partial(Database.connect, url, PASSWORD, synchronous=synchronous), count, load))
            _print(f"storage.postgresql.record_order.{name}.{synchronous.lower()}", result)
    finally:
        server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 orders instead of 10,000")
    parser.add_argument("--synchronous", default="FULL", choices=["FULL", "NORMAL"])
    parser.add_argument("--sqlite-only", action="store_true", help="leave out the PostgreSQL rows")
    args = parser.parse_args()
    count = 2_000 if args.quick else 10_000
    _loadavg("start")
    _sqlite(count, args.synchronous)
    if not args.sqlite_only:
        _postgresql(count, args.synchronous)
    _loadavg("end")


if __name__ == "__main__":
    main()
