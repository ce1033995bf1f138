"""Order path: submit -> risk check -> persisted (durable) -> paper acknowledgement, with the
market running on the same event loop as in the app.

The paper venue simulates 5 markets at 20x speed with a 0.2 s step, stepped at 100 Hz on the
loop (>= 500 order-book updates and >= 200 trades a second, as in ``bench_tui.py``), and a
subscriber drains the market events every 100 ms as the screen does: the order path shares the
loop (and the GIL, with the database thread) with them. Latency is measured one order at a time
(what a trader pressing a key sees); throughput with many submitters at once, where group commit
shares each fsync among concurrent orders. The orders are IOC limits 1% below the market, so
each one is written twice (pending_new, then canceled) and open orders do not pile up.

Beside the figures, the floor: one SQLite transaction (an insert, then COMMIT) in WAL mode with
``synchronous=FULL`` on the same disk, one after another with nothing else running, p50 and p99.
Wall-clock figures on a machine shared with busy processes measure the neighbours too: the load
average is printed with them, and the process's CPU use over each phase (the market's share
included), which says whether the process was starved or busy. The one-at-a-time latencies also
come without the time the order path's threads (the event loop's and the database's) waited
for a core during each order (``p50_ms_excl_wait``, ``p99_ms_excl_wait``, from the kernel's
run-queue delay of each thread): what this process made of them. Both threads' waits are taken
off even when one of them was not on the order's path at the time, so these are the low bound. The CPU an order costs is the
process's CPU over a phase less the market's share (its CPU rate measured in the second before
the orders start), divided by the orders: ``cpu_us_per_order``, the figure a loaded machine
changes least.

The market alone, in that second before the orders: what the simulator costs, the loop thread's
CPU inside the venue's market steps (one market's step publishes one book update):
``sim_us_per_step`` (all five markets), ``sim_us_per_update`` (one market) and ``sim_cpu_pct``
(of one core), beside the process's ``market_cpu_pct`` (the bus, the subscriber, the database
thread and the loop around them too).
Where the slowest one-at-a-time orders spent their time (``slowest_orders``, the slowest 1%):
their mean time in the gate (the checks and the order built), the durable pending_new write
(from its queueing to the loop's return from it), the venue's acknowledgement and the rest
(the report applied), and the share of them whose write overlapped a checkpoint of a WAL (the
repository's or the paper venue's file, each on a thread of its own) or a market step on the
loop, beside the same shares over all the orders (what chance alone gives): what to look at
before changing the order path's scheduling. The median order's phases are printed too.
Run: ``python benchmarks/bench_order_path.py [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import load_average, queue_wait_s, step_on_schedule  # noqa: E402
from core.clock import SimClock  # noqa: E402
from core.config import (  # noqa: E402
    AgentsConfig,
    AppConfig,
    CircuitBreakerConfig,
    PaperMarketConfig,
    PaperVenueConfig,
    RiskConfig,
    SurveillanceConfig,
)
from core.events import OrderBookUpdated, TradePrinted  # noqa: E402
from core.models import OrderRequest, OrderStatus, Side, TimeInForce  # noqa: E402
from core.storage.link import DB_THREAD_PREFIX  # noqa: E402
from runtime.wiring import build_engine, start_engine  # noqa: E402

SYMBOL = "BTC/USDT"
MARKETS = [SYMBOL, "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT", "ETH/USDT:USDT"]
STEP_HZ = 100
TARGET_P99_MS = 2.0
TARGET_ORDERS_PER_S = 5000.0


def emit(metric: str, value: float, unit: str, target: float | None, **extra: Any) -> None:
    print(json.dumps({"bench": "order_path", "metric": metric, "value": round(value, 3), "unit": unit,
                      "target": target, **extra}), flush=True)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * 0.99) - 1)]


def config() -> AppConfig:
    return AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(10**9), max_daily_loss=Decimal(10**9),
                                   max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10,
                                   max_order_loss=Decimal(10**9), max_open_positions=10),
        venues={"paper": PaperVenueConfig(markets=[PaperMarketConfig(symbol=s) for s in MARKETS], seed=1, speed=20,
                                          tick_interval=0.2, balances={"USDT": Decimal(10**7)})},
        strategies={},
        agents=AgentsConfig(enabled=False),
        # The guards stay in the path (their cost is part of the figure) with room for 10,000 orders.
        circuit_breakers=CircuitBreakerConfig(max_trades_per_day=1_000_000, rejection_burst=10_000),
        surveillance=SurveillanceConfig(max_orders_per_minute=100_000, duplicate_window=0),
    )


def sqlite_floor(directory: Path, commits: int) -> list[float]:
    """Milliseconds of each of ``commits`` one-row transactions, WAL and synchronous=FULL."""
    db = sqlite3.connect(directory / "floor.sqlite", isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode = WAL")
        db.execute("PRAGMA synchronous = FULL")
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        times = []
        for i in range(commits):
            started = time.perf_counter()
            db.execute("BEGIN")
            db.execute("INSERT INTO t (body) VALUES (?)", (f"order {i}",))
            db.execute("COMMIT")
            times.append((time.perf_counter() - started) * 1000)
        return times
    finally:
        db.close()


class SimMeter:
    """The loop thread's CPU inside the paper venue's market steps (``_step_market``: one
    market's step, one book update), timed by wrapping it on the venue until ``stop``."""

    def __init__(self, venue: Any) -> None:
        self.seconds = 0.0
        self.updates = 0
        self._venue = venue
        step = venue._step_market

        def timed(*args: Any) -> None:
            started = time.thread_time()
            step(*args)
            self.seconds += time.thread_time() - started
            self.updates += 1

        venue._step_market = timed

    def stop(self) -> None:
        del self._venue._step_market  # the class's method again


class PhaseMeter:
    """The phases of each order placed one at a time, and what ran during its durable write:
    timed by wrapping, on the instances, the order manager's ``record_new``, the venue's
    ``create_order``, both files' checkpoints and the venue's market step, until ``stop``."""

    PHASES = ("gate", "write", "ack", "rest")

    def __init__(self, engine: Any, venue: Any) -> None:
        self.orders: list[dict[str, float]] = []
        self.busy: dict[str, list[tuple[float, float]]] = {"checkpoint": [], "market_step": []}
        self._current: dict[str, float] = {}
        self._wrapped: list[tuple[Any, str]] = []
        self._around(engine.orders, "record_new", "write")
        self._around(venue, "create_order", "ack")
        for checkpointer in (engine.db._backend.checkpointer, venue._state._checkpointer):
            self._during(checkpointer, "_checkpoint", "checkpoint")
        self._during(venue, "_step_market", "market_step")

    def _around(self, owner: Any, name: str, phase: str) -> None:
        call = getattr(owner, name)

        async def timed(*args: Any, **kwargs: Any) -> Any:
            self._current[f"{phase}_start"] = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                self._current[f"{phase}_end"] = time.perf_counter()

        setattr(owner, name, timed)
        self._wrapped.append((owner, name))

    def _during(self, owner: Any, name: str, kind: str) -> None:
        call = getattr(owner, name)
        spans = self.busy[kind]

        def timed(*args: Any) -> None:
            started = time.perf_counter()
            try:
                call(*args)
            finally:
                spans.append((started, time.perf_counter()))

        setattr(owner, name, timed)
        self._wrapped.append((owner, name))

    def start(self) -> None:
        self._current = {"start": time.perf_counter()}

    def end(self) -> None:
        current = self._current
        current["end"] = time.perf_counter()
        self.orders.append(current)

    def stop(self) -> None:
        for owner, name in self._wrapped:
            delattr(owner, name)  # the class's method again

    def phases(self, order: dict[str, float]) -> dict[str, float]:
        """Milliseconds in each phase."""
        marks = [order["start"], order["write_start"], order["write_end"], order["ack_start"], order["ack_end"],
                 order["end"]]
        gate, write, between, ack, rest = ((b - a) * 1000 for a, b in zip(marks, marks[1:], strict=False))
        return {"gate": gate, "write": write, "ack": between + ack, "rest": rest}

    def overlapped(self, order: dict[str, float], kind: str) -> bool:
        start, end = order["write_start"], order["write_end"]
        return any(a < end and b > start for a, b in self.busy[kind])

    def report(self) -> None:
        complete = [o for o in self.orders if all(f"{p}_{e}" in o for p in ("write", "ack") for e in ("start", "end"))]
        if not complete:
            return
        complete.sort(key=lambda o: o["end"] - o["start"])
        slowest = complete[-max(1, len(complete) // 100):]
        median = self.phases(complete[len(complete) // 2])
        mean = {p: statistics.mean(self.phases(o)[p] for o in slowest) for p in self.PHASES}
        emit("slowest_orders", len(slowest), "orders", None,
             **{f"{p}_ms": round(mean[p], 3) for p in self.PHASES},
             **{f"write_during_{kind}_pct": self.share(slowest, kind) for kind in self.busy},
             **{f"median_{p}_ms": round(median[p], 3) for p in self.PHASES},
             **{f"all_write_during_{kind}_pct": self.share(complete, kind) for kind in self.busy})

    def share(self, orders: list[dict[str, float]], kind: str) -> int:
        """Percent of ``orders`` whose write overlapped a ``kind`` span."""
        return round(100 * sum(self.overlapped(o, kind) for o in orders) / len(orders))


async def bench(orders: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        floor = sqlite_floor(Path(home), max(200, orders // 10))
        engine = await build_engine(config(), Path(home), clock=SimClock())
        await start_engine(engine)
        venue = engine.venues["paper"]
        venue.step()  # type: ignore[attr-defined]
        screen = engine.bus.subscribe(OrderBookUpdated, TradePrinted, maxsize=1000, name="screen")
        stop = asyncio.Event()
        market = {"events": 0}

        def count(event: Any) -> None:
            market["events"] += 1

        engine.bus.add_listener((OrderBookUpdated, TradePrinted), count)

        async def draw() -> None:
            while not stop.is_set():
                await asyncio.sleep(0.1)
                screen.drain()

        background = [asyncio.create_task(step_on_schedule(venue, stop, STEP_HZ, 0.2)),  # type: ignore[arg-type]
                      asyncio.create_task(draw())]
        await asyncio.sleep(0.5)
        load_before = load_average()
        meter = SimMeter(venue)
        idle_wall, idle_cpu = time.perf_counter(), time.process_time()
        await asyncio.sleep(1.0)
        idle_wall = time.perf_counter() - idle_wall
        market_cpu = (time.process_time() - idle_cpu) / idle_wall
        meter.stop()
        steps = meter.updates / len(MARKETS)
        emit("sim_us_per_step", meter.seconds / max(steps, 1) * 1e6, "us", None, markets=len(MARKETS),
             steps_per_s=round(steps / idle_wall, 1), load=f"{load_before} -> {load_average()}")
        emit("sim_us_per_update", meter.seconds / max(meter.updates, 1) * 1e6, "us", None)
        emit("sim_cpu_pct", meter.seconds / idle_wall * 100, "%", None, market_cpu_pct=round(market_cpu * 100, 1))

        def per_order(cpu: float, wall: float, count: int) -> float:
            """Microseconds of CPU an order cost beyond the market's share over the same wall time."""
            return max(cpu - market_cpu * wall, 0.0) / count * 1e6

        database_threads = [t.native_id for t in threading.enumerate() if t.name.startswith(DB_THREAD_PREFIX)]
        probes = {"cpu": 0.0}

        def waited() -> float:
            """Run-queue delay so far of the loop's thread and the database's. Reading it costs
            CPU (about 10 us a file), counted apart and taken off the phase's CPU figures."""
            started = time.thread_time()
            delay = queue_wait_s() + sum(queue_wait_s(t) for t in database_threads if t is not None)
            probes["cpu"] += time.thread_time() - started
            return delay

        async def one() -> float:
            mark = engine.market.mark("paper", SYMBOL)
            assert mark is not None
            request = OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.001"),
                                   price=(mark * Decimal("0.99")).quantize(Decimal(1)), time_in_force=TimeInForce.IOC)
            started = time.perf_counter()
            order = await engine.place_order(request)
            elapsed = time.perf_counter() - started
            assert order.status is OrderStatus.CANCELED, order
            return elapsed * 1000

        phases = PhaseMeter(engine, venue)

        async def timed() -> tuple[float, float]:
            """One order's latency, and the same without its threads' run-queue delay (ms)."""
            before = waited()
            phases.start()
            latency = await one()
            phases.end()
            return latency, max(latency - (waited() - before) * 1000, 0.0)

        load_before = load_average()
        market["events"] = 0
        wall, cpu = time.perf_counter(), time.process_time()
        measured = [await timed() for _ in range(orders // 2)]
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu - probes["cpu"]
        phases.stop()
        latencies = [latency for latency, _ in measured]
        own = [latency for _, latency in measured]
        market_rate = market["events"] / wall
        emit("p50_ms", statistics.median(latencies), "ms", None, floor_p50_ms=round(statistics.median(floor), 3))
        emit("p99_ms", p99(latencies), "ms", TARGET_P99_MS, floor_p99_ms=round(p99(floor), 3),
             cpu_pct=round(cpu / wall * 100, 1), market_cpu_pct=round(market_cpu * 100, 1),
             cpu_us_per_order=round(per_order(cpu, wall, len(latencies))), market_events_per_s=round(market_rate),
             load=f"{load_before} -> {load_average()}")
        emit("p50_ms_excl_wait", statistics.median(own), "ms", None)
        emit("p99_ms_excl_wait", p99(own), "ms", None)
        phases.report()

        remaining = orders - orders // 2
        queue = iter(range(remaining))

        async def worker() -> None:
            for _ in queue:
                await one()

        load_before = load_average()
        batches, writes = engine.db.commit_stats
        started, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        batches, writes = engine.db.commit_stats[0] - batches, engine.db.commit_stats[1] - writes
        emit("orders_per_s", remaining / elapsed, "orders/s", TARGET_ORDERS_PER_S, concurrency=concurrency,
             cpu_pct=round(cpu / elapsed * 100, 1), cpu_us_per_order=round(per_order(cpu, elapsed, remaining)),
             writes_per_commit=round(writes / max(batches, 1), 1),
             floor_commits_per_s=round(1000 / statistics.median(floor)), load=f"{load_before} -> {load_average()}")
        stop.set()
        await asyncio.gather(*background)
        screen.close()
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2,000 orders instead of 10,000")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(bench(2_000 if args.quick else 10_000, args.concurrency))


if __name__ == "__main__":
    main()
