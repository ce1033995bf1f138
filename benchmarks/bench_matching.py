"""Throughput of the matching engine on one book: ~60% limit adds, ~30% cancels, ~10% market,
beside a bare heap-and-deque price-time book (the peer) on the identical operation stream.

The operation stream is generated (seeded) before timing, so each figure is the book's alone.
Both books first run the stream once untimed and must print the same fills (maker, taker,
price, lots, in order); then each is timed from an empty book, alternately, each timed loop
making only its book's calls. The figures are from the process's CPU time (the loops are
single-threaded and never wait, and on a machine shared at load 5-10 the wall clock measures
the neighbours): the best run and the median of each book, with ``ratio`` = ours / peer, the
figure that holds when the machine is busy; the wall-clock best is printed beside them.
The peer keeps every fill it prints in one list, so the cyclic collector walks a growing heap
under it; the engine's results are dropped after each call, as a venue drops them once read.
``collector_off_ratio`` is the same comparison with the collector off: the books' own work.
Run: ``python benchmarks/bench_matching.py [--quick]``.
"""

from __future__ import annotations

import argparse
import gc
import heapq
import json
import random
import statistics
import sys
import time
from collections import deque
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import load_average  # noqa: E402
from core.matching import BUY, SELL, EngineOrder, Kind, MatchingEngine  # noqa: E402
from core.models import Instrument  # noqa: E402

TARGET_OPS_PER_S = 650_000
TARGET_RATIO = 0.8
ADD, CANCEL, MARKET = 0, 1, 2

Op = tuple[int, int, int, int]
FillRecord = tuple[int, int, int, int]


def make_ops(count: int, seed: int) -> list[Op]:
    """(op, side, price, lots) with op ADD (a GTC limit), CANCEL (price = index of the add to
    cancel, -1 when nothing is left) or MARKET. Every add and market order is known by its
    index in the stream. Limits sit around a slowly drifting mid."""
    rng = random.Random(seed)
    ops: list[Op] = []
    mid = 6_000_000
    live: list[int] = []
    for index in range(count):
        r = rng.random()
        mid += rng.choice((-1, 0, 1))
        if r < 0.6:
            side = BUY if rng.random() < 0.5 else SELL
            offset = int(rng.expovariate(1 / 20)) + 1
            price = mid - offset if side == BUY else mid + offset
            ops.append((ADD, side, price, rng.randint(1, 100)))
            live.append(index)
        elif r < 0.9:
            if live:
                i = rng.randrange(len(live))
                live[i], live[-1] = live[-1], live[i]
                ops.append((CANCEL, 0, live.pop(), 0))
            else:
                ops.append((CANCEL, 0, -1, 0))
        else:
            ops.append((MARKET, BUY if rng.random() < 0.5 else SELL, 0, rng.randint(1, 300)))
    return ops


class BareBook:
    """The peer: the smallest price-time book that does this job. A heap of prices per side, a
    deque of ``[oid, lots]`` per price, a dict of resting orders; a cancel zeroes the entry and
    matching skips it. Fills are ``(maker, taker, price, lots)`` tuples."""

    def __init__(self) -> None:
        self.bid_heap: list[int] = []  # negated prices
        self.ask_heap: list[int] = []
        self.bids: dict[int, deque[list[int]]] = {}
        self.asks: dict[int, deque[list[int]]] = {}
        self.orders: dict[int, list[int]] = {}
        self.fills: list[FillRecord] = []

    def limit(self, oid: int, side: int, price: int, lots: int) -> None:
        if side == BUY:
            if self.ask_heap and self.ask_heap[0] <= price:
                lots = self._take(oid, lots, self.ask_heap, self.asks, 1, price)
            if lots:
                self._rest(oid, lots, price, -price, self.bid_heap, self.bids)
        else:
            if self.bid_heap and -self.bid_heap[0] >= price:
                lots = self._take(oid, lots, self.bid_heap, self.bids, -1, -price)
            if lots:
                self._rest(oid, lots, price, price, self.ask_heap, self.asks)

    def market(self, oid: int, side: int, lots: int) -> None:
        if side == BUY:
            self._take(oid, lots, self.ask_heap, self.asks, 1, None)
        else:
            self._take(oid, lots, self.bid_heap, self.bids, -1, None)

    def cancel(self, oid: int) -> None:
        entry = self.orders.pop(oid, None)
        if entry is not None:
            entry[1] = 0

    def _rest(self, oid: int, lots: int, price: int, key: int, heap: list[int],
              levels: dict[int, deque[list[int]]]) -> None:
        entry = [oid, lots]
        queue = levels.get(price)
        if queue is None:
            levels[price] = queue = deque()
            heapq.heappush(heap, key)
        queue.append(entry)
        self.orders[oid] = entry

    def _take(self, oid: int, lots: int, heap: list[int], levels: dict[int, deque[list[int]]],
              sign: int, bound: int | None) -> int:
        """Fill ``lots`` from the best levels (heap keys up to ``bound``); returns what is left."""
        fills, orders = self.fills, self.orders
        while lots and heap:
            key = heap[0]
            if bound is not None and key > bound:
                break
            price = key * sign
            queue = levels[price]
            while lots and queue:
                entry = queue[0]
                left = entry[1]
                if not left:
                    queue.popleft()
                    continue
                n = left if left < lots else lots
                lots -= n
                entry[1] = left - n
                fills.append((entry[0], oid, price, n))
                if left == n:
                    queue.popleft()
                    del orders[entry[0]]
            if not queue:
                del levels[price]
                heapq.heappop(heap)
        return lots


def instrument() -> Instrument:
    return Instrument(venue="bench", symbol="BTC/USDT", base="BTC", quote="USDT",
                      tick_size=Decimal("0.01"), lot_size=Decimal("0.001"))


def run_engine(ops: list[Op]) -> tuple[float, float]:
    """Wall and CPU seconds for the stream through ``MatchingEngine``: the loop does only the
    engine's calls, as ``run_bare`` does only the peer's (``engine_fills`` reads the fills, untimed)."""
    engine = MatchingEngine(instrument())
    submit, cancel = engine.submit, engine.cancel
    limit, market = int(Kind.LIMIT), int(Kind.MARKET)  # plain ints, as the engine keeps them
    start, cpu = time.perf_counter(), time.process_time()
    for index, (op, side, price, lots) in enumerate(ops):
        if op == ADD:
            submit(EngineOrder(index, None, side, limit, lots, price))
        elif op == CANCEL:
            cancel(price)
        else:
            submit(EngineOrder(index, None, side, market, lots))
    return time.perf_counter() - start, time.process_time() - cpu


def engine_fills(ops: list[Op]) -> list[FillRecord]:
    """The engine's fills on the stream, as ``(maker, taker, price, lots)`` like the peer's."""
    engine = MatchingEngine(instrument())
    fills: list[FillRecord] = []
    for index, (op, side, price, lots) in enumerate(ops):
        if op == CANCEL:
            engine.cancel(price)
            continue
        kind, limit = (Kind.LIMIT, price) if op == ADD else (Kind.MARKET, 0)
        order = EngineOrder(index, None, side, kind, lots, limit)
        fills.extend((f.maker.oid, f.taker.oid, f.price_ticks, f.lots) for f in engine.submit(order).fills)  # type: ignore[misc]
    return fills


def run_bare(ops: list[Op]) -> tuple[float, float]:
    """Wall and CPU seconds for the stream through ``BareBook``."""
    book = BareBook()
    limit, market, cancel = book.limit, book.market, book.cancel
    start, cpu = time.perf_counter(), time.process_time()
    for index, (op, side, price, lots) in enumerate(ops):
        if op == ADD:
            limit(index, side, price, lots)
        elif op == CANCEL:
            cancel(price)
        else:
            market(index, side, lots)
    return time.perf_counter() - start, time.process_time() - cpu


def bare_fills(ops: list[Op]) -> list[FillRecord]:
    book = BareBook()
    for index, (op, side, price, lots) in enumerate(ops):
        if op == ADD:
            book.limit(index, side, price, lots)
        elif op == CANCEL:
            book.cancel(price)
        else:
            book.market(index, side, lots)
    return book.fills


def same_fills(ops: list[Op]) -> int:
    """Run both books once untimed; they must print identical fills. Returns their count."""
    ours, peer = engine_fills(ops), bare_fills(ops)
    if ours != peer:
        first = next(i for i, (a, b) in enumerate(zip(ours, peer, strict=True)) if a != b) if len(ours) == len(peer) else None
        raise SystemExit(f"the engine and the bare book disagree: {len(ours)} vs {len(peer)} fills, first difference at {first}")
    return len(ours)


def timings(runs: int, ops: list[Op], books: dict[str, Callable[[list[Op]], tuple[float, float]]], *,
            collector: bool = True) -> dict[str, list[tuple[float, float]]]:
    """(wall, CPU) seconds of each book over ``runs``, the books interleaved so both see the
    same load; with ``collector=False`` the cyclic garbage collector is off while they run."""
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in books}
    if not collector:
        gc.disable()
    try:
        for _ in range(runs):
            for name, run in books.items():
                times[name].append(run(ops))
    finally:
        gc.enable()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="200,000 operations, 3 runs (instead of 1,000,000 and 5)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    count, runs = (200_000, 3) if args.quick else (1_000_000, 5)
    ops = make_ops(count, args.seed)
    fills = same_fills(ops)
    load_before = load_average()
    books = {"ours": run_engine, "peer": run_bare}
    times = timings(runs, ops, books)
    # the same without the collector: the peer's retained fills cost it collections the engine,
    # whose results are dropped, does not pay; this ratio compares the books' own work
    quiet = timings(runs, ops, books, collector=False)

    def rate(name: str, clock: int, pick: Callable[[list[float]], float], runs: dict[str, list[tuple[float, float]]]
             ) -> float:
        return count / pick([run[clock] for run in runs[name]])

    cpu, wall = 1, 0
    best, median = {n: rate(n, cpu, min, times) for n in books}, {n: rate(n, cpu, statistics.median, times) for n in books}
    wall_best = {n: rate(n, wall, min, times) for n in books}
    off = {n: rate(n, cpu, min, quiet) for n in books}
    print(json.dumps({"bench": "matching", "metric": "ops_per_s", "value": round(best["ours"]), "unit": "ops/s",
                      "target": TARGET_OPS_PER_S, "peer_value": round(best["peer"]),
                      "ratio": round(best["ours"] / best["peer"], 3), "target_ratio": TARGET_RATIO,
                      "median": round(median["ours"]), "peer_median": round(median["peer"]),
                      "median_ratio": round(median["ours"] / median["peer"], 3),
                      "wall_value": round(wall_best["ours"]), "wall_peer_value": round(wall_best["peer"]),
                      "wall_ratio": round(wall_best["ours"] / wall_best["peer"], 3),
                      "collector_off_value": round(off["ours"]), "collector_off_peer_value": round(off["peer"]),
                      "collector_off_ratio": round(off["ours"] / off["peer"], 3), "runs": runs, "ops": count,
                      "fills": fills, "load": f"{load_before} -> {load_average()}"}))


if __name__ == "__main__":
    main()
