"""A scripted trading session run as a real subprocess by the crash tests.

``python trader.py HOME trade N`` places orders ``crash-0 .. crash-{N-1}`` (limit buys that
rest, every third one a market buy that fills), skipping ids the database already has, so a
restarted session continues where the killed one stopped. ``python trader.py HOME grid S``
runs a grid strategy for S simulated seconds, the clock carrying on from the previous run.
``python trader.py HOME state`` starts the engine (which reconciles), then prints the state of
the database and of the venue as JSON. The paper venue runs on a simulated clock. With
``OPENTRADE_TEST_STORAGE_URL`` set, the history is kept in that PostgreSQL database (its
password in ``OPENTRADE_DB_PASSWORD``) instead of the home's SQLite file.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from decimal import Decimal
from pathlib import Path

from core.clock import SimClock
from core.config import (
    AgentsConfig,
    AppConfig,
    CircuitBreakerConfig,
    PaperVenueConfig,
    RiskConfig,
    StorageConfig,
    StrategyConfig,
    StrategyReviewConfig,
    SurveillanceConfig,
)
from core.engine import TradingEngine
from core.models import OrderRequest, OrderType, Side
from runtime.wiring import build_engine

SYMBOL = "BTC/USDT"
GRID = StrategyConfig(  # type: ignore[call-arg]
    kind="grid", enabled=True, symbols=[SYMBOL], lower=59_000, upper=61_000, levels=41, order_size=0.001,
    out_of_range="hold",
)
STEP_MS = 1_000
ANSWER_TIMEOUT_S = 20  # wall time for one step to be answered: far more than a loaded machine needs
ANSWER_POLL_S = 0.001


def config() -> AppConfig:
    return AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(1_000_000), max_daily_loss=Decimal(1_000_000),
            max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10,
            max_order_loss=Decimal(1_000_000), max_open_positions=10,
        ),
        venues={"paper": PaperVenueConfig(markets=[{"symbol": SYMBOL}], seed=7)},  # type: ignore[list-item]
        strategies={},
        agents=AgentsConfig(enabled=False),
        storage=StorageConfig(url=os.environ.get("OPENTRADE_TEST_STORAGE_URL")),
    )


def grid_config() -> AppConfig:
    """The grid with the trade limits raised, so every rung it wants passes the risk checks."""
    return config().model_copy(update={
        "strategies": {"grid": GRID},
        "strategy_review": StrategyReviewConfig(enabled=False),
        "surveillance": SurveillanceConfig(duplicate_window=0, max_orders_per_minute=100_000,
                                           max_strategy_orders_per_minute=100_000, runaway_orders=1_000_000),
        "circuit_breakers": CircuitBreakerConfig(max_trades_per_day=1_000_000),
    })


def request(i: int, mark: Decimal) -> OrderRequest:
    if i % 3 == 2:
        return OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                            size=Decimal("0.001"), client_order_id=f"crash-{i}")
    price = (mark * Decimal("0.98")).quantize(Decimal(1)) - i  # distinct prices: not duplicates
    return OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.001"), price=price,
                        client_order_id=f"crash-{i}")


async def trade(home: Path, count: int) -> None:
    clock = SimClock()
    engine = await build_engine(config(), home, clock=clock)
    await engine.start()
    try:
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        for i in range(count):
            if await engine.orders.get(f"crash-{i}") is not None:
                continue
            clock.advance(5_000)  # a trader's pace: identical orders seconds apart are not duplicates
            mark = engine.market.mark("paper", SYMBOL)
            assert mark is not None
            await engine.place_order(request(i, mark), actor="crash-test")
    finally:
        await engine.close()


async def grid(home: Path, seconds: int) -> None:
    """The grid trading for ``seconds`` of simulated time, a step per second, the next step
    taken once the grid has answered this one."""
    saved = home / "clock.txt"
    clock = SimClock(int(saved.read_text()) if saved.exists() else 1_704_067_200_000)
    engine = await build_engine(grid_config(), home, clock=clock)
    await engine.start()
    try:
        for _ in range(seconds):
            clock.advance(STEP_MS)
            saved.write_text(str(clock.now_ms()))
            engine.venues["paper"].step(STEP_MS / 1000)  # type: ignore[attr-defined]
            await answered(engine)
    finally:
        await engine.close()


async def answered(engine: TradingEngine) -> None:
    """Wait (bounded by wall time, failing loudly) until the engine has answered the step: every
    event it published dispatched to the strategies, the venue's reports applied (the engine's
    open orders are the venue's, filled as far), and the grid's answers placed (its ladder is
    the engine's open grid orders). A fixed wait let a loaded machine stop with a fill of the
    last step unanswered."""
    try:
        async with asyncio.timeout(ANSWER_TIMEOUT_S):
            await asyncio.sleep(0)  # the venue's own step, woken by the clock's advance, goes first
            while await unanswered(engine) is not None:
                await asyncio.sleep(ANSWER_POLL_S)
    except TimeoutError:
        raise AssertionError(f"the step was not answered within {ANSWER_TIMEOUT_S} s: {await unanswered(engine)}") from None


async def unanswered(engine: TradingEngine) -> str | None:
    """What the engine has yet to do about the venue's last step, None when nothing."""
    strategies = engine.strategies
    assert strategies is not None
    inbox = strategies._subscription  # noqa: SLF001 - the runner's queue: nothing else says it is read
    if inbox is not None and len(inbox):
        return f"{len(inbox)} events not yet dispatched to the strategies"
    at_venue = {r.client_order_id: r.filled_size for r in await engine.venues["paper"].fetch_open_orders()}
    in_engine = {o.client_order_id: o.filled_size for o in engine.open_orders()}
    if at_venue != in_engine:
        return f"open orders at the venue {sorted(at_venue.items())}, in the engine {sorted(in_engine.items())}"
    ladder = set(strategies.context("grid").strategy.snapshot()["ladder"])
    placed = {o.client_order_id for o in engine.open_orders() if o.strategy_id == "grid"}
    if ladder != placed:
        return f"the grid's ladder {sorted(ladder)}, its open orders {sorted(placed)}"
    return None


async def state(home: Path) -> dict[str, object]:
    engine = await build_engine(config(), home, clock=SimClock())
    await engine.start()
    venue = engine.venues["paper"]
    db_orders = await engine.order_history()
    venue_orders, venue_filled = {}, {}
    for order in db_orders:
        report = await venue.fetch_order(order.client_order_id, order.symbol)
        if report is not None:
            venue_orders[order.client_order_id] = report.status.value
            venue_filled[order.client_order_id] = str(report.filled_size)
    balances = {b.asset: str(b.total) for b in await venue.fetch_balances()}
    fills = await engine.fills()
    result = {
        "db": {o.client_order_id: o.status.value for o in db_orders},
        "db_filled": {o.client_order_id: str(o.filled_size) for o in db_orders},
        "venue": venue_orders,
        "venue_filled": venue_filled,
        "venue_open": sorted(r.client_order_id for r in await venue.fetch_open_orders()),
        "venue_balances": balances,
        "portfolio_balances": {b.asset: str(b.total) for b in engine.portfolio.balances("paper")},
        "fills": len(fills),
        "fill_ids_unique": len({f.fill_id for f in fills}) == len(fills),
        "audit_ok": (await engine.db.verify_audit()).ok,
        "open_orders": [{"id": o.client_order_id, "side": o.side.value, "price": str(o.price), "strategy": o.strategy_id}
                        for o in engine.open_orders()],
        "grid_state": json.loads(await engine.db.get_state("strategy_state:grid") or "null"),
        "grid_fills": [[f.side.value, str(f.size)] for f in fills if f.strategy_id == "grid"],
    }
    await engine.close()
    return result


def main() -> None:
    home, action = Path(sys.argv[1]), sys.argv[2]
    if action == "trade":
        asyncio.run(trade(home, int(sys.argv[3])))
    elif action == "grid":
        asyncio.run(grid(home, int(sys.argv[3])))
    else:
        print(json.dumps(asyncio.run(state(home))))


if __name__ == "__main__":
    main()
