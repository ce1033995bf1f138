"""Order book handling: Binance-format diff-depth messages applied to the ccxt venue's local
book by update id, a top-20 snapshot published on the event bus after each message.

The stream is generated, seeded, in Binance's recorded format (``{"U", "u", "b": [[price, qty]
as strings], "a": ...}``): ~2,000 levels around 42,000 USDT, each message changing 1-12
levels (updates, removals, new levels), as a live BTC/USDT feed does. Timing covers what the
venue does per message: parse the strings to Decimal, apply by sequence id, build the snapshot,
publish. ``updates_per_s`` counts level changes (deltas); ``messages_per_s`` the messages.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.events import EventBus, OrderBookUpdated
from exchanges.ccxt.book import LocalBook

TICK = Decimal("0.01")


def emit(metric: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"bench": "orderbook", "metric": metric, "value": round(value, 1), "unit": unit, "target": target}))


def generate(deltas: int, seed: int) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A snapshot and messages carrying at least ``deltas`` level changes."""
    rng = random.Random(seed)
    mid = 4_200_000  # in ticks
    bids = {mid - i: rng.randint(1, 500_000) for i in range(1, 1001)}
    asks = {mid + i: rng.randint(1, 500_000) for i in range(0, 1000)}

    def text(ticks: int, lots: int) -> list[str]:
        return [f"{ticks * TICK:.8f}", f"{lots / 100_000:.8f}"]

    snapshot = {"lastUpdateId": 1000, "bids": [text(p, q) for p, q in bids.items()],
                "asks": [text(p, q) for p, q in asks.items()]}
    messages, total, seq = [], 0, 1000
    while total < deltas:
        changes = {"b": [], "a": []}
        for _ in range(rng.randint(1, 12)):
            side, levels = ("b", bids) if rng.random() < 0.5 else ("a", asks)
            best = max(bids) if side == "b" else min(asks)
            offset = int(rng.expovariate(1 / 15))
            price = best - offset if side == "b" else best + offset
            roll = rng.random()
            if roll < 0.15 and price in levels and len(levels) > 100:
                del levels[price]
                changes[side].append(text(price, 0))
            else:
                levels[price] = rng.randint(1, 500_000)
                changes[side].append(text(price, levels[price]))
        n = len(changes["b"]) + len(changes["a"])
        messages.append({"e": "depthUpdate", "E": 1_704_067_200_000 + seq, "s": "BTCUSDT",
                         "U": seq + 1, "u": seq + n, "b": changes["b"], "a": changes["a"]})
        seq += n
        total += n
    return snapshot, messages


def run(snapshot: dict[str, Any], messages: list[dict[str, Any]]) -> tuple[float, int, LocalBook, EventBus]:
    bus = EventBus()
    sub = bus.subscribe(OrderBookUpdated, maxsize=100, name="screen")
    book = LocalBook("binance", "BTC/USDT")
    book.apply_snapshot(
        [(Decimal(p), Decimal(q)) for p, q in snapshot["bids"]],
        [(Decimal(p), Decimal(q)) for p, q in snapshot["asks"]],
        snapshot["lastUpdateId"], 0,
    )
    applied = 0
    start = time.perf_counter()
    for message in messages:
        bids = [(Decimal(p), Decimal(q)) for p, q in message["b"]]
        asks = [(Decimal(p), Decimal(q)) for p, q in message["a"]]
        book.apply_delta(message["U"], message["u"], bids, asks, message["E"])
        bus.publish(OrderBookUpdated(book.snapshot(20)))
        applied += len(bids) + len(asks)
    elapsed = time.perf_counter() - start
    sub.drain()
    return elapsed, applied, book, bus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100,000 deltas, one run")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    deltas, runs = (100_000, 1) if args.quick else (300_000, 3)
    snapshot, messages = generate(deltas, args.seed)
    best = None
    for _ in range(runs):
        elapsed, applied, book, bus = run(snapshot, messages)
        if best is None or elapsed < best[0]:
            best = (elapsed, applied, book, bus)
    assert best is not None
    elapsed, applied, book, bus = best
    top = book.snapshot(1)
    assert top.best_bid is not None and top.best_ask is not None and top.best_bid < top.best_ask, "book crossed"
    emit("updates_per_s", applied / elapsed, "deltas/s", 100_000)
    emit("messages_per_s", len(messages) / elapsed, "messages/s", None)
    emit("us_per_message", elapsed / len(messages) * 1e6, "us", None)


if __name__ == "__main__":
    main()
