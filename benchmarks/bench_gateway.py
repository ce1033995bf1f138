"""The gateway: an order over loopback HTTP, and the event stream under load.

``rest_order_p99_ms``: one IOC limit order at a time through POST /api/v1/orders to the paper
venue and back (it is canceled, so orders do not pile up), over a kept-alive connection from a
client in the same process: what a script placing orders waits for.

``ws_*``: 20 subscribers, in a separate process (as real clients are), take the order books of
the paper venue's 4 markets while the engine publishes 500 book updates a second on top of the
simulator's own; ``ws_lag_p99_ms`` is the time from the gateway numbering an update to a client
reading it, and ``loop_lag_p99_ms`` how late the engine's loop wakes up meanwhile (a 10 ms
sleep measured), which is what a slow stream would cost the engine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp  # noqa: E402

from core.clock import SimClock, WallClock  # noqa: E402
from core.config import (  # noqa: E402
    AgentsConfig,
    AppConfig,
    CircuitBreakerConfig,
    GatewayConfig,
    PaperVenueConfig,
    RiskConfig,
    SurveillanceConfig,
)
from core.events import OrderBookUpdated  # noqa: E402
from core.models import OrderRequest, Side, TimeInForce  # noqa: E402
from gateway.server import Gateway  # noqa: E402
from runtime.wiring import build_engine  # noqa: E402

SYMBOLS = ["BTC/USDT", "ETH/USDT", "SOL/USDT", "BTC/USDT:USDT"]


def emit(metric: str, value: float, unit: str, target: float | None) -> None:
    print(json.dumps({"bench": "gateway", "metric": metric, "value": round(value, 3), "unit": unit, "target": target}),
          flush=True)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * share) - 1)] if ordered else float("nan")


def config() -> AppConfig:
    return AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(10**9), max_daily_loss=Decimal(10**9),
                                   max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10,
                                   max_order_loss=Decimal(10**9), max_open_positions=10),
        venues={"paper": PaperVenueConfig(markets=[{"symbol": s} for s in SYMBOLS], seed=1)},  # type: ignore[misc]
        strategies={},
        agents=AgentsConfig(enabled=False),
        circuit_breakers=CircuitBreakerConfig(max_trades_per_day=1_000_000, rejection_burst=10_000),
        surveillance=SurveillanceConfig(max_orders_per_minute=100_000, duplicate_window=0),
    )


async def rest_orders(orders: int) -> None:
    with tempfile.TemporaryDirectory() as home:
        engine = await build_engine(config(), Path(home), clock=SimClock())
        await engine.start()
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        gateway = Gateway(engine, Path(home), GatewayConfig(port=0))
        await gateway.start()
        token = json.loads((Path(home) / "gateway.json").read_text())["local_token"]
        mark = engine.market.mark("paper", "BTC/USDT")
        assert mark is not None
        price = (mark * Decimal("0.99")).quantize(Decimal(1))
        latencies: list[float] = []
        direct: list[float] = []
        async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
            for _ in range(orders):
                request = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=Decimal("0.001"),
                                       price=price, time_in_force=TimeInForce.IOC)
                started = time.perf_counter()
                async with session.post(gateway.url + "/api/v1/orders", data=request.model_dump_json(),
                                        headers={"Content-Type": "application/json"}) as response:
                    answer = await response.json()
                latencies.append((time.perf_counter() - started) * 1000)
                assert response.status == 201 and answer["status"] == "canceled", answer
                # The same order straight into the engine, in turn with the HTTP ones: the
                # durable write's share under the machine's load of the moment.
                started = time.perf_counter()
                await engine.place_order(request.model_copy(update={"client_order_id": request.client_order_id + "-d"}))
                direct.append((time.perf_counter() - started) * 1000)
        await gateway.stop()
        await engine.close()
    emit("rest_order_p50_ms", statistics.median(latencies), "ms", None)
    emit("rest_order_p99_ms", percentile(latencies, 0.99), "ms", 10)
    emit("direct_order_p50_ms", statistics.median(direct), "ms", None)
    emit("direct_order_p99_ms", percentile(direct, 0.99), "ms", None)


async def stream_load(clients: int, rate: int, seconds: float) -> None:
    with tempfile.TemporaryDirectory() as home:
        engine = await build_engine(config(), Path(home), clock=WallClock())
        await engine.start()
        gateway = Gateway(engine, Path(home), GatewayConfig(port=0))
        await gateway.start()
        token = json.loads((Path(home) / "gateway.json").read_text())["local_token"]
        readers = subprocess.Popen(  # the token in the environment: only this user can read it there
            [sys.executable, __file__, "--readers", gateway.url, str(clients), str(seconds + 2)],
            stdout=subprocess.PIPE, text=True, env={**os.environ, "OPENTRADE_TOKEN": token},
        )
        while gateway.hub.clients < clients and readers.poll() is None:
            await asyncio.sleep(0.05)
        lags: list[float] = []
        stop = asyncio.Event()

        async def probe() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                await asyncio.sleep(0.01)
                lags.append((time.perf_counter() - started - 0.01) * 1000)

        async def publish() -> int:
            books = {s: engine.market.book("paper", s) for s in SYMBOLS}
            sent, started = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - started) < seconds:
                for _ in range(int(elapsed * rate) - sent):
                    book = books[SYMBOLS[sent % len(SYMBOLS)]]
                    if book is not None:
                        engine.bus.publish(OrderBookUpdated(book.model_copy(update={"ts": engine.clock.now_ms()})))
                    sent += 1
                await asyncio.sleep(0.002)
            return sent

        watcher = asyncio.create_task(probe())
        sent = await publish()
        stop.set()
        await watcher
        out, _ = await asyncio.to_thread(readers.communicate)
        result = json.loads(out)
        await gateway.stop()
        await engine.close()
    emit("ws_clients", clients, "clients", 20)
    emit("ws_published_per_s", sent / seconds, "updates/s", rate)
    emit("ws_received_per_s", result["received"] / seconds, "messages/s", None)
    emit("ws_lag_p50_ms", result["p50"], "ms", None)
    emit("ws_lag_p99_ms", result["p99"], "ms", 50)
    emit("loop_lag_p99_ms", percentile(lags, 0.99), "ms", 20)


async def readers(url: str, count: int, seconds: float, token: str) -> None:
    """The subscribers' side: ``count`` streams, each taking the 4 books; lag from the numbering."""
    lags: list[float] = []
    received = 0

    async def one(session: aiohttp.ClientSession) -> None:
        nonlocal received
        async with session.ws_connect(url + "/api/v1/stream") as ws:
            await ws.send_json({"op": "subscribe", "topics": [f"book:paper:{s}" for s in SYMBOLS]})
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    frame = await ws.receive(timeout=left)
                except TimeoutError:
                    break
                if frame.type is not aiohttp.WSMsgType.TEXT:
                    break
                now = time.time_ns() / 1e6
                for line in frame.data.split("\n"):  # the envelope only: the readers must not be the bottleneck
                    envelope = json.loads(line)
                    if envelope["event"] == "OrderBookUpdated":
                        lags.append(now - envelope["ts"])
                        received += 1

    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {token}"}) as session:
        await asyncio.gather(*(one(session) for _ in range(count)))
    lags = lags[len(lags) // 20:]  # the first moments are the connections' own start-up
    print(json.dumps({"received": received, "p50": statistics.median(lags), "p99": percentile(lags, 0.99)}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="under 30 seconds")
    parser.add_argument("--readers", nargs=3, metavar=("URL", "COUNT", "SECONDS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.readers:
        url, count, seconds = args.readers
        asyncio.run(readers(url, int(count), float(seconds), os.environ["OPENTRADE_TOKEN"]))
        return
    asyncio.run(rest_orders(300 if args.quick else 2000))
    asyncio.run(stream_load(20, 500, 10 if args.quick else 60))


if __name__ == "__main__":
    main()
