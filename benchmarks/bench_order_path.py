"""Order path: submit -> risk check -> persisted (durable) -> paper acknowledgement.

Latency is measured one order at a time (what a trader pressing a key sees); throughput with
many submitters at once, where group commit shares each fsync among concurrent orders. The
orders are IOC limits below the market, so each one is written twice (pending_new, then
canceled) and open orders do not pile up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.clock import SimClock  # noqa: E402
from core.config import (  # noqa: E402
    AgentsConfig,
    AppConfig,
    CircuitBreakerConfig,
    PaperVenueConfig,
    RiskConfig,
    SurveillanceConfig,
)
from core.models import OrderRequest, OrderStatus, Side, TimeInForce  # noqa: E402
from runtime.wiring import build_engine  # noqa: E402

SYMBOL = "BTC/USDT"


def emit(metric: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"bench": "order_path", "metric": metric, "value": round(value, 3), "unit": unit, "target": target}))


def config() -> AppConfig:
    return AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(10**9), max_daily_loss=Decimal(10**9),
                                   max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10,
                                   max_order_loss=Decimal(10**9), max_open_positions=10),
        venues={"paper": PaperVenueConfig(markets=[{"symbol": SYMBOL}], seed=1)},  # type: ignore[list-item]
        strategies={},
        agents=AgentsConfig(enabled=False),
        # The guards stay in the path (their cost is part of the figure) with room for 10,000 orders.
        circuit_breakers=CircuitBreakerConfig(max_trades_per_day=1_000_000, rejection_burst=10_000),
        surveillance=SurveillanceConfig(max_orders_per_minute=100_000, duplicate_window=0),
    )


async def bench(orders: int, concurrency: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        engine = await build_engine(config(), Path(home), clock=SimClock())
        await engine.start()
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        mark = engine.market.mark("paper", SYMBOL)
        assert mark is not None
        price = (mark * Decimal("0.99")).quantize(Decimal(1))

        async def one() -> float:
            request = OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.001"),
                                   price=price, time_in_force=TimeInForce.IOC)
            started = time.perf_counter()
            order = await engine.place_order(request)
            elapsed = time.perf_counter() - started
            assert order.status is OrderStatus.CANCELED, order
            return elapsed * 1000

        latencies = [await one() for _ in range(orders // 2)]
        latencies.sort()
        emit("p50_ms", statistics.median(latencies), "ms", None)
        emit("p99_ms", latencies[int(len(latencies) * 0.99) - 1], "ms", 5.0)

        remaining = orders - orders // 2
        queue = iter(range(remaining))

        async def worker() -> None:
            for _ in queue:
                await one()

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
        emit("orders_per_s", remaining / elapsed, "orders/s", 2000.0)
        await engine.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="2,000 orders instead of 10,000")
    parser.add_argument("--concurrency", type=int, default=32)
    args = parser.parse_args()
    asyncio.run(bench(2_000 if args.quick else 10_000, args.concurrency))


if __name__ == "__main__":
    main()
