"""Protective levels through the real engine and paper venue: no hidden stops, auto levels only
when configured, levels from the order kept, persisted and restored, and an engine-side level
closing the position once on a mark update."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import AppConfig, PaperVenueConfig, PermissionsConfig
from core.engine import TradingEngine
from core.events import ProtectionChanged, RiskAlert, TickerUpdated
from core.models import (
    LevelPlacement,
    Order,
    OrderRequest,
    OrderType,
    PositionSide,
    ProtectiveLevels,
    Side,
    Ticker,
)
from core.permissions import PermissionDenied
from core.ports import VenueError
from core.risk.protector import ProtectionRefused
from tests.engine.conftest import engine_config, started, until

D = Decimal
SPOT = "BTC/USDT"


async def settle(rounds: int = 10) -> None:
    for _ in range(rounds):
        await asyncio.sleep(0)


def market(size: str = "0.01", side: Side = Side.BUY, **kw: object) -> OrderRequest:
    return OrderRequest(venue="paper", symbol=SPOT, side=side, type=OrderType.MARKET, size=D(size), **kw)  # type: ignore[arg-type]


def mark_at(engine: TradingEngine, price: str, symbol: str = SPOT) -> None:
    """A mark update from the venue (the paper venue publishes one per simulator step)."""
    engine.bus.publish(TickerUpdated(Ticker(venue="paper", symbol=symbol, ts=engine.clock.now_ms(), mark=D(price))))


def with_trading(config: AppConfig, **trading: object) -> AppConfig:
    return config.model_copy(update={"trading": config.trading.model_copy(update=trading)})


async def buy_with_levels(engine: TradingEngine, stop: str, take: str) -> ProtectiveLevels:
    mark = engine.market.mark("paper", SPOT)
    assert mark is not None
    await engine.place_order(market(stop_loss=D(stop) * mark / 100 // 1, take_profit=D(take) * mark / 100 // 1))
    await engine.protection.drain()
    levels = engine.protection.levels("paper", SPOT)
    assert levels is not None
    return levels


def drop_file(tmp_path: Path) -> Path:
    """Candles every 10 s: flat at 30,000, then down to 29,000 (-3.3%), then flat."""
    rows = ["timestamp,open,high,low,close,volume"]
    prices = [30000, 30000, 30000, 29700, 29400, 29100, 29000, 29000, 29000]
    for i, (open_, close) in enumerate(zip(prices, prices[1:], strict=False)):
        rows.append(f"{i * 10_000},{open_},{max(open_, close)},{min(open_, close)},{close},5")
    path = tmp_path / "drop.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


async def test_a_manual_position_without_levels_is_never_closed_by_a_stop(
    isolated_home: Path, clock: SimClock, tmp_path: Path
) -> None:
    config = engine_config().model_copy(update={"venues": {"paper": PaperVenueConfig(
        markets=[{"symbol": SPOT}], seed=3, replay=drop_file(tmp_path), tick_interval=1.0)}})  # type: ignore[list-item]
    engine = await started(isolated_home, clock, config)
    try:
        await engine.place_order(market(size="0.1"))
        await settle()
        assert engine.protection.levels("paper", SPOT) is None
        for _ in range(100):  # 100 s of simulated time: the 30 s monitor runs three times
            clock.advance(1000)
            await settle()
        mark = engine.market.mark("paper", SPOT)
        assert mark is not None and mark <= D(29100), "the market fell more than 3%"
        position = engine.portfolio.position("paper", SPOT)
        assert position is not None and position.size == D("0.1")
        assert [o for o in await engine.order_history() if o.side is Side.SELL] == []
        assert await engine.db.audit_entries(kind="protective_level_reached") == []
    finally:
        await engine.close()


async def test_auto_protect_gives_auto_levels_from_the_entry(isolated_home: Path, clock: SimClock) -> None:
    engine = await started(isolated_home, clock, with_trading(engine_config(), auto_protect=True))
    try:
        order = await engine.place_order(market())
        await engine.protection.drain()
        levels = engine.protection.levels("paper", SPOT)
        position = engine.portfolio.position("paper", SPOT)
        assert levels is not None and position is not None and order.avg_price is not None
        instrument = engine.instrument("paper", SPOT)
        assert levels.stop_loss == instrument.round_price(position.entry_price * D("0.98"))
        assert levels.take_profit == instrument.round_price(position.entry_price * D("1.06"))
        assert (levels.stop_loss_source, levels.take_profit_source) == ("auto", "auto")
        assert levels.placement is LevelPlacement.ENGINE and levels.placement.label == "engine-side"
        [entry] = await engine.db.audit_entries(kind="protection")
        assert entry.actor == "user" and entry.payload["old"] is None and entry.payload["reason"] == "auto_protect"
        assert entry.payload["new"]["stop_loss_source"] == "auto"
    finally:
        await engine.close()


async def test_levels_carried_by_the_order_are_kept_persisted_and_restored_after_a_restart(
    isolated_home: Path, clock: SimClock
) -> None:
    engine = await started(isolated_home, clock)
    changes = engine.bus.subscribe(ProtectionChanged)
    try:
        levels = await buy_with_levels(engine, "97", "105")
        assert (levels.stop_loss_source, levels.take_profit_source) == ("manual", "manual")
        assert levels.side is PositionSide.LONG and levels.placement is LevelPlacement.ENGINE
        assert [e.levels for e in changes.drain()] == [levels]
        [entry] = await engine.db.audit_entries(kind="protection")
        assert entry.payload["new"]["stop_loss"] == str(levels.stop_loss)
        assert await engine.db.audit_entries(kind="protection", symbol=SPOT) == [entry]
    finally:
        await engine.close()
    engine = await started(isolated_home, clock)
    try:
        assert engine.protection.levels("paper", SPOT) == levels
        assert engine.protection.watched() == [levels]
    finally:
        await engine.close()


async def test_levels_set_by_hand_are_validated_labelled_and_audited(engine: TradingEngine) -> None:
    await engine.place_order(market())
    await engine.protection.drain()
    mark = engine.market.mark("paper", SPOT)
    assert mark is not None
    stop, take = (mark * D("0.95")).quantize(D(1)), (mark * D("1.1")).quantize(D(1))
    with pytest.raises(ProtectionRefused, match="a long's stop-loss must be below the mark"):
        await engine.set_protection("paper", SPOT, stop_loss=mark + 10, take_profit=None)
    with pytest.raises(ProtectionRefused, match="there is no open BTC/USDT:USDT position on paper"):
        await engine.set_protection("paper", "BTC/USDT:USDT", stop_loss=stop, take_profit=None)
    levels = await engine.set_protection("paper", SPOT, stop_loss=stop, take_profit=take)
    assert levels is not None and (levels.stop_loss, levels.take_profit) == (stop, take)
    assert (levels.stop_loss_source, levels.take_profit_source) == ("manual", "manual")
    assert await engine.set_protection("paper", SPOT, stop_loss=None, take_profit=None) is None
    assert engine.protection.levels("paper", SPOT) is None
    entries = await engine.db.audit_entries(kind="protection")
    assert [(e.actor, e.payload["reason"], e.payload["old"] is None, e.payload["new"] is None) for e in entries] == [
        ("user", "set by hand", True, False), ("user", "set by hand", False, True)]


async def test_a_read_only_profile_may_not_set_levels(isolated_home: Path, clock: SimClock) -> None:
    viewer = PermissionsConfig(profile="viewer", profiles={"viewer": "read_only"})
    engine = await started(isolated_home, clock, engine_config().model_copy(update={"permissions": viewer}))
    try:
        with pytest.raises(PermissionDenied):
            await engine.set_protection("paper", SPOT, stop_loss=D(1), take_profit=None)
    finally:
        await engine.close()


async def test_an_engine_side_stop_closes_the_position_once_on_a_mark_update(engine: TradingEngine) -> None:
    alerts = engine.bus.subscribe(RiskAlert)
    levels = await buy_with_levels(engine, "97", "105")
    assert levels.stop_loss is not None
    sent: list[Order] = []
    gate = asyncio.Event()
    venue = engine.venues["paper"]
    real_create = venue.create_order

    async def slow_create(order: Order):  # the closing order is still on its way while marks arrive
        sent.append(order)
        await gate.wait()
        return await real_create(order)

    venue.create_order = slow_create  # type: ignore[method-assign]
    below = str(levels.stop_loss - 5)
    try:
        mark_at(engine, below)
        await until(lambda: len(sent) == 1)
        for _ in range(3):
            mark_at(engine, below)
            await settle()
        assert len(sent) == 1 and sent[0].side is Side.SELL and sent[0].reduce_only is False
    finally:
        gate.set()
    await until(lambda: engine.portfolio.position("paper", SPOT) is None)
    await engine.protection.drain()
    assert engine.protection.levels("paper", SPOT) is None
    mark_at(engine, below)
    await settle()
    assert len(sent) == 1
    [reached] = await engine.db.audit_entries(kind="protective_level_reached")
    assert reached.actor == "risk" and reached.payload["kind"] == "stop_loss"
    exempt = await engine.db.audit_entries(kind="risk_exempt_order")
    assert [e.payload["reason"] for e in exempt] == [f"stop-loss {levels.stop_loss:,.2f} reached"]
    assert [a.rule for a in alerts.drain()] == ["stop_loss"]
    [dropped] = (await engine.db.audit_entries(kind="protection"))[1:]
    assert dropped.payload["new"] is None and dropped.payload["reason"] == "the long position was closed"


async def test_levels_of_a_position_closed_while_away_are_dropped_at_start_up(
    isolated_home: Path, clock: SimClock
) -> None:
    engine = await started(isolated_home, clock)
    stale = ProtectiveLevels(venue="paper", symbol="BTC/USDT:USDT", side=PositionSide.SHORT, opened_ts=5,
                             stop_loss=D(99000), stop_loss_source="manual")
    await engine.db.save_protection("paper", "BTC/USDT:USDT", stale, actor="user", ts=5, payload={})
    await engine.close()
    engine = await started(isolated_home, clock)
    try:
        assert engine.protection.levels("paper", "BTC/USDT:USDT") is None
        assert await engine.db.load_protections() == []
        [dropped] = [e for e in await engine.db.audit_entries(kind="protection") if e.actor == "engine"]
        assert dropped.payload["reason"] == "the short position they protected was closed while the app was away"
        assert any(a.rule == "protection_dropped" for a in engine.recent_alerts())
    finally:
        await engine.close()


async def test_a_strategys_levels_are_labelled_with_the_strategy(engine: TradingEngine) -> None:
    mark = engine.market.mark("paper", SPOT)
    assert mark is not None
    stop = (mark * D("0.97")).quantize(D(1))
    await engine.place_order(market(stop_loss=stop, strategy_id="grid"), actor="strategy:grid")
    await engine.protection.drain()
    levels = engine.protection.levels("paper", SPOT)
    assert levels is not None and (levels.stop_loss, levels.stop_loss_source) == (stop, "strategy:grid")
    assert (levels.take_profit, levels.take_profit_source) == (None, None)
    [entry] = await engine.db.audit_entries(kind="protection")
    assert entry.actor == "strategy:grid"


async def test_a_refused_close_is_tried_again_after_a_pause_not_on_every_mark(
    engine: TradingEngine, clock: SimClock
) -> None:
    alerts = engine.bus.subscribe(RiskAlert)
    levels = await buy_with_levels(engine, "97", "105")
    assert levels.stop_loss is not None
    venue = engine.venues["paper"]
    real_create = venue.create_order
    refused: list[Order] = []

    async def refuse(order: Order):
        refused.append(order)
        raise VenueError("paper: venue unavailable")

    venue.create_order = refuse  # type: ignore[method-assign]
    below = str(levels.stop_loss - 5)
    mark_at(engine, below)
    await until(lambda: any(a.rule == "protection_close_failed" for a in engine.recent_alerts()))
    for _ in range(3):
        mark_at(engine, below)
        await settle()
    assert len(refused) == 1, "no new close on every mark while the venue refuses"
    venue.create_order = real_create  # type: ignore[method-assign]
    clock.advance(5_000)
    mark_at(engine, below)
    await until(lambda: engine.portfolio.position("paper", SPOT) is None)
    failed = [a for a in alerts.drain() if a.rule == "protection_close_failed"]
    assert [a.level for a in failed] == ["critical"]
    assert failed[0].message.startswith("BTC/USDT long: closing at its stop-loss failed: paper: venue unavailable")
