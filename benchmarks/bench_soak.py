"""Soak: the whole engine headless for a long while at 10x simulated speed.

The paper simulator, the configured strategies (AI trend following and a grid), the analysis
agents and a steady manual order flow (limit orders near the touch, canceled when stale) all run
on one ScaledClock at ten times real time, with every safety check in the order path. Measured
after a warm-up: resident memory growth, event-loop lag (a 50 ms ticker's lateness), errors
logged, and how much trading happened.

    python benchmarks/bench_soak.py            # 30 minutes (5 simulated hours)
    python benchmarks/bench_soak.py --quick    # 2 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.clock import ScaledClock  # noqa: E402
from core.config import (  # noqa: E402
    AppConfig,
    CircuitBreakerConfig,
    PaperVenueConfig,
    StrategyConfig,
    SurveillanceConfig,
)
from core.engine import OrderRefused, TradingEngine  # noqa: E402
from core.models import OrderRequest, OrderType, Side  # noqa: E402
from runtime.wiring import build_engine  # noqa: E402

SPEED = 10.0
LAG_TICK_S = 0.05
FLOW_EVERY_SIM_S = 5.0
SYMBOL = "BTC/USDT"


def emit(metric: str, value: Any, unit: str, target: Any) -> None:
    shown = round(value, 3) if isinstance(value, float) else value
    print(json.dumps({"bench": "soak", "metric": metric, "value": shown, "unit": unit, "target": target}), flush=True)


class ErrorCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}"[:300])


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE") / 1e6


def config(mark: float) -> AppConfig:
    grid = StrategyConfig(enabled=True, kind="grid", symbols=[SYMBOL], lower=mark * 0.97, upper=mark * 1.03,  # type: ignore[call-arg]
                          levels=13, order_size=0.001)
    trend = StrategyConfig(enabled=True, symbols=[SYMBOL], confidence_threshold=0.6, position_size_pct=0.05)  # type: ignore[call-arg]
    return AppConfig(
        venues={"paper": PaperVenueConfig(seed=5, tick_interval=1.0)},
        strategies={"ai_trend_following": trend, "grid": grid},
        # A soak trades far more than a person would in a day: the daily cap would end it early.
        circuit_breakers=CircuitBreakerConfig(max_trades_per_day=1_000_000),
        surveillance=SurveillanceConfig(runaway_orders=100_000),
    )


async def manual_flow(engine: TradingEngine, clock: ScaledClock, counts: dict[str, int]) -> None:
    """A person's steady trickle: market buys sold back later, and limit buys just under the touch
    canceled when a newer one comes."""
    previous: str | None = None
    step = 0
    while True:
        await clock.sleep(FLOW_EVERY_SIM_S)
        step += 1
        mark = engine.market.mark("paper", SYMBOL)
        if mark is None:
            continue
        try:
            if previous is not None and engine.orders.track_order(previous) is not None:
                await engine.cancel_order(previous)
            if step % 4 in (1, 3):  # a market buy, later sold back: fills and positions move
                side = Side.BUY if step % 4 == 1 else Side.SELL
                await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=side, type=OrderType.MARKET,
                                                      size=Decimal("0.001")))
            else:
                price = (mark * Decimal("0.999") - step % 7).quantize(Decimal(1))
                order = await engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY,
                                                              size=Decimal("0.001"), price=price))
                previous = order.client_order_id
            counts["manual_orders"] += 1
        except OrderRefused as exc:
            counts["refused"] += 1
            logging.getLogger("soak").debug("refused: %s", exc.reason)


async def lag_probe(lags: list[float], recording: list[bool]) -> None:
    while True:
        start = time.perf_counter()
        await asyncio.sleep(LAG_TICK_S)
        late = (time.perf_counter() - start - LAG_TICK_S) * 1000
        if recording[0]:
            lags.append(late)


async def soak(seconds: float) -> int:
    errors = ErrorCounter()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger().addHandler(errors)
    clock = ScaledClock(SPEED)
    counts = {"manual_orders": 0, "refused": 0}
    lags: list[float] = []
    recording = [False]
    with tempfile.TemporaryDirectory() as tmp:
        probe_engine = await build_engine(config(60_000.0).model_copy(update={"strategies": {}}), Path(tmp) / "probe", clock=clock)
        await probe_engine.start()
        mark = float(probe_engine.market.mark("paper", SYMBOL) or 60_000)
        await probe_engine.close()
        engine = await build_engine(config(mark), Path(tmp) / "home", clock=clock)
        await engine.start()
        tasks = [asyncio.create_task(manual_flow(engine, clock, counts)), asyncio.create_task(lag_probe(lags, recording))]
        warm_up = min(max(seconds * 0.15, 15.0), 120.0)
        started = time.perf_counter()
        await asyncio.sleep(warm_up)
        gc.collect()
        rss_warm = rss_mb()
        published_warm = engine.bus.published
        recording[0] = True
        await asyncio.sleep(max(seconds - warm_up, 1.0))
        recording[0] = False
        gc.collect()
        rss_end = rss_mb()
        elapsed = time.perf_counter() - started
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        orders = await engine.order_history()
        fills = await engine.fills()
        audit_ok = (await engine.db.verify_audit()).ok
        published = engine.bus.published - published_warm
        trips = list(engine.guard.breakers.tripped)
        await engine.close()
    lags.sort()
    p99 = lags[int(len(lags) * 0.99)] if lags else float("nan")
    emit("errors", len(errors.messages), "count", 0)
    emit("mem_growth_mb", rss_end - rss_warm, "MB", 20)
    emit("loop_lag_p99_ms", p99, "ms", None)
    emit("loop_lag_max_ms", lags[-1] if lags else float("nan"), "ms", None)
    emit("rss_mb", rss_end, "MB", None)
    emit("simulated_hours", elapsed * SPEED / 3600, "h", None)
    emit("orders", len(orders), "count", None)
    emit("strategy_orders", sum(1 for o in orders if o.strategy_id), "count", None)
    emit("fills", len(fills), "count", None)
    emit("refused", counts["refused"], "count", None)
    emit("events_per_s", published / max(elapsed - warm_up, 1e-9), "1/s", None)
    emit("breaker_trips", len(trips), "count", None)
    emit("audit_chain_ok", audit_ok, "bool", True)
    for message in errors.messages[:5]:
        print(json.dumps({"bench": "soak", "error": message}), file=sys.stderr)
    return 0 if not errors.messages and audit_ok else 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="2 minutes instead of 30")
    parser.add_argument("--seconds", type=float, help="run for this many real seconds")
    args = parser.parse_args()
    seconds = args.seconds or (120.0 if args.quick else 1800.0)
    sys.exit(asyncio.run(soak(seconds)))


if __name__ == "__main__":
    main()
