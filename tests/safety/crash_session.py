"""A scripted trading session run as a real subprocess by the crash-recovery test.

``python crash_session.py HOME`` runs two phases of four steps with an engine restart between
them (so a kill can land in start-up reconciliation too): limit buys near the touch, market
buys, a deep limit buy that is then canceled, market sells; the paper venue is stepped after
each step so resting orders fill and fills flow. Steps already in the database are skipped, so a
run after a SIGKILL resumes the session. At the end the state of the database, the portfolio and
the venue is printed as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.clock import SimClock
from core.config import AppConfig, PaperVenueConfig, RiskConfig, StorageConfig, database_path
from core.engine import TradingEngine
from core.models import OrderRequest, OrderType, Side
from core.storage.database import Database
from exchanges.paper.venue import PaperVenue

SYMBOL = "BTC/USDT"
PHASES = (range(0, 4), range(4, 8))
STEP_MS = 1000


def config() -> AppConfig:
    return AppConfig(
        risk_management=RiskConfig(max_position_size=Decimal(1_000_000), max_daily_loss=Decimal(1_000_000),
                                   max_position_pct=1, max_symbol_exposure_pct=10, max_total_exposure_pct=10,
                                   max_order_loss=Decimal(1_000_000), max_open_positions=10),
        venues={"paper": PaperVenueConfig(markets=[{"symbol": SYMBOL}], seed=11)},  # type: ignore[list-item]
        strategies={},
        # A SIGKILL loses no write the operating system already has: NORMAL is as safe here and faster.
        storage=StorageConfig(synchronous="NORMAL"),
    )


def request(i: int, mark: Decimal) -> OrderRequest:
    coid, kind = f"s-{i}", i % 4
    if kind in (1, 3):
        side = Side.BUY if kind == 1 else Side.SELL
        return OrderRequest(venue="paper", symbol=SYMBOL, side=side, type=OrderType.MARKET,
                            size=Decimal("0.002") if kind == 1 else Decimal("0.001"), client_order_id=coid)
    # s-0 rests across the restart (reconciled there); s-4 sits at the touch and fills.
    offset = {0: Decimal("0.995"), 4: Decimal("0.9999")}.get(i, Decimal("0.98"))
    return OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, size=Decimal("0.001"),
                        price=(mark * offset).quantize(Decimal(1)), client_order_id=coid)


async def run_step(engine: TradingEngine, clock: SimClock, i: int) -> None:
    coid = f"s-{i}"
    if await engine.orders.get(coid) is None:
        mark = engine.market.mark("paper", SYMBOL)
        assert mark is not None
        await engine.place_order(request(i, mark), actor="session")
    order = engine.orders.track_order(coid)
    if i % 4 == 2 and order is not None and order.is_open:
        await engine.cancel_order(coid, actor="session")
    for _ in range(4):
        clock.advance(STEP_MS)
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        for _ in range(3):
            await asyncio.sleep(0)


async def state(engine: TradingEngine) -> dict[str, Any]:
    venue = engine.venues["paper"]
    db_orders = await engine.order_history()
    at_venue = {o.client_order_id: await venue.fetch_order(o.client_order_id, o.symbol) for o in db_orders}
    fills = await engine.fills()
    return {
        "db": {o.client_order_id: o.status.value for o in db_orders},
        "reasons": {o.client_order_id: o.reason or "" for o in db_orders},
        "db_filled": {o.client_order_id: str(o.filled_size) for o in db_orders},
        "fill_sum": {c: str(sum((f.size for f in fills if f.client_order_id == c), Decimal(0))) for c in at_venue},
        "venue": {c: r.status.value for c, r in at_venue.items() if r is not None},
        "venue_filled": {c: str(r.filled_size) for c, r in at_venue.items() if r is not None},
        "venue_accepted": venue.exchange.order_seq,  # type: ignore[attr-defined]
        "venue_open": sorted(r.client_order_id for r in await venue.fetch_open_orders()),
        "venue_balances": {b.asset: str(b.total) for b in await venue.fetch_balances()},
        "portfolio_balances": {b.asset: str(b.total) for b in engine.portfolio.balances("paper")},
        "db_balances": {b.asset: str(b.total) for b in await engine.db.latest_balances("paper")},
        "fill_ids_unique": len({f.fill_id for f in fills}) == len(fills),
        "position": str(position.size) if (position := engine.portfolio.position("paper", SYMBOL)) else "0",
        "audit_ok": (await engine.db.verify_audit()).ok,
    }


async def build_engine(config: AppConfig, home: Path, clock: SimClock) -> TradingEngine:
    """The wiring of ``runtime.wiring`` without the agents it imports: a crash run starts in a third of the time."""
    home.mkdir(parents=True, exist_ok=True)
    venue = PaperVenue("paper", config.venues["paper"], clock, home / "paper-paper.sqlite")  # type: ignore[arg-type]
    db = await Database.open(database_path(config, home), synchronous=config.storage.synchronous)
    return TradingEngine(config, db, {"paper": venue}, clock)


async def session(home: Path) -> dict[str, Any]:
    clock = SimClock()
    for phase in PHASES:
        engine = await build_engine(config(), home, clock)
        await engine.start()
        engine.venues["paper"].step()  # type: ignore[attr-defined]
        for i in phase:
            await run_step(engine, clock, i)
        if phase is PHASES[-1]:
            await engine.reconcile("paper")
            result = await state(engine)
        await engine.close()
    return result


if __name__ == "__main__":
    print(json.dumps(asyncio.run(session(Path(sys.argv[1])))))
