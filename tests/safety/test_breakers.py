"""Circuit breakers through the real engine: each trip halts (or stops a strategy), raises a
critical alert, is audited, survives a restart and is lifted only by an admin."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import CircuitBreakerConfig, PermissionsConfig
from core.engine import OrderRefused, TradingEngine
from core.events import RiskAlert, StrategyHalted, TickerUpdated
from core.models import Balance, RiskState, Side, Ticker
from core.permissions import PermissionDenied
from core.ports import VenueError
from core.risk.breakers import BreakerLevel
from tests.safety.conftest import EngineFactory, limit, safety_config, start_engine

D = Decimal


async def trips(engine: TradingEngine) -> list[dict]:
    await engine.guard.drain()
    return [e.payload for e in await engine.db.audit_entries(kind="breaker_tripped")]


async def test_drawdown_halts_alerts_audits_and_waits_for_an_admin(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    alerts = engine.bus.subscribe(RiskAlert)
    engine.portfolio.set_balances("paper", [Balance(asset="USDT", free=D(80_000))])  # 20% below the peak
    await engine.check_risk()
    assert engine.risk.state is RiskState.HALTED
    assert "drawdown" in engine.risk.state_reason
    critical = [a for a in alerts.drain() if a.rule == "breaker:drawdown"]
    assert critical and critical[0].level == "critical" and "20%" in critical[0].message
    assert [(t["level"], t["rule"]) for t in await trips(engine)] == [("account", "drawdown")]
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine))
    assert refused.value.rule == "breaker" and "an admin must reset it" in refused.value.reason

    await engine.reset_risk(actor="alice")
    assert engine.risk.state is RiskState.ACTIVE
    assert engine.guard.breakers.tripped == {}
    resets = await engine.db.audit_entries(kind="breaker_reset")
    assert [(e.actor, e.payload["rule"]) for e in resets] == [("alice", "drawdown")]
    order = await engine.place_order(limit(engine))
    assert order.is_open


async def test_a_trade_profile_cannot_reset_a_breaker(make_engine: EngineFactory) -> None:
    engine = await make_engine(permissions=PermissionsConfig(profile="bob", profiles={"bob": "trade"}))
    engine.guard.breakers.trip(BreakerLevel.ACCOUNT, "drawdown", "account", "test trip")
    with pytest.raises(PermissionDenied, match="needs the admin level"):
        await engine.reset_risk(actor="bob")
    assert engine.risk.state is RiskState.HALTED
    denied = await engine.db.audit_entries(kind="permission_denied")
    assert denied and denied[0].actor == "bob"


async def test_stale_feed_trips_on_two_checks_in_a_row_but_a_clock_jump_does_not(
    make_engine: EngineFactory, clock: SimClock
) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(stale_feed_seconds=60))
    venue = engine.venues["paper"]
    clock.advance(3_600_000)  # the clock jumps an hour; the feed answers right after
    await engine.check_risk()
    venue.step()  # type: ignore[attr-defined]
    await engine.check_risk()
    assert engine.risk.state is RiskState.ACTIVE and engine.guard.breakers.tripped == {}

    clock.advance(61_000)  # now the feed really is silent
    await engine.check_risk()
    assert engine.risk.state is RiskState.ACTIVE
    clock.advance(30_000)
    await engine.check_risk()
    assert engine.risk.state is RiskState.HALTED
    assert {t["rule"] for t in await trips(engine)} == {"stale_feed"}
    assert all(t["level"] == "system" for t in await trips(engine))


async def test_a_market_moving_too_fast_trips_the_system_breaker(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(price_move_pct=0.08, price_move_window=300))
    base = D(50_000)
    for price in (base, base * D("1.03"), base * D("1.06")):
        clock.advance(10_000)
        engine.bus.publish(TickerUpdated(Ticker(venue="paper", symbol="ETH/USDT", ts=clock.now_ms(), mark=price)))
    assert engine.risk.state is RiskState.ACTIVE
    clock.advance(400_000)  # the earlier prices have left the window
    engine.bus.publish(TickerUpdated(Ticker(venue="paper", symbol="ETH/USDT", ts=clock.now_ms(), mark=base * D("1.12"))))
    assert engine.risk.state is RiskState.ACTIVE
    engine.bus.publish(TickerUpdated(Ticker(venue="paper", symbol="ETH/USDT", ts=clock.now_ms(), mark=base * D("1.02"))))
    assert engine.risk.state is RiskState.HALTED
    assert "price_move" in engine.risk.state_reason


async def test_a_burst_of_refusals_trips_the_account(make_engine: EngineFactory) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(rejection_burst=3, rejection_window=60))
    for _ in range(3):
        with pytest.raises(OrderRefused) as refused:
            await engine.place_order(limit(engine, offset="0.5"))  # far outside the fat-finger band
        assert refused.value.rule == "fat_finger"
    assert engine.risk.state is RiskState.HALTED
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine))
    assert refused.value.rule == "breaker"
    assert [t["rule"] for t in await trips(engine)] == ["rejection_burst"]


async def test_a_burst_of_one_strategys_refusals_stops_only_that_strategy(make_engine: EngineFactory) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(rejection_burst=3))
    halted = engine.bus.subscribe(StrategyHalted)
    for _ in range(3):
        with pytest.raises(OrderRefused):
            await engine.place_order(limit(engine, offset="0.5", strategy_id="grid-1"))
    stopped = halted.drain()
    assert [e.strategy_id for e in stopped] == ["grid-1"] and "3 orders" in stopped[0].reason
    assert engine.risk.state is RiskState.ACTIVE
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, strategy_id="grid-1"))
    assert refused.value.rule == "strategy_halted"
    assert (await engine.place_order(limit(engine, strategy_id="trend-1"))).is_open
    assert (await engine.place_order(limit(engine, offset="0.97"))).is_open
    await engine.reset_risk()
    assert (await engine.place_order(limit(engine, offset="0.96", strategy_id="grid-1"))).is_open


async def test_a_failing_venue_trips_the_system_breaker(make_engine: EngineFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = await make_engine(circuit_breakers=CircuitBreakerConfig(venue_error_min_calls=4, venue_error_rate=0.5))
    venue = engine.venues["paper"]

    async def down(order: object) -> object:
        raise VenueError("503 Service Unavailable", retryable=True)

    assert (await engine.place_order(limit(engine, offset="0.97"))).is_open
    monkeypatch.setattr(venue, "create_order", down)
    for i in range(3):
        order = await engine.place_order(limit(engine, offset=str(D("0.965") - D(i) / 200)))
        assert order.status.value == "rejected" and "503" in (order.reason or "")
    assert engine.risk.state is RiskState.HALTED
    assert [t["scope"] for t in await trips(engine)] == ["paper"]


async def test_daily_loss_trips_once_per_day_after_a_reset(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine()
    engine.portfolio.set_balances("paper", [Balance(asset="USDT", free=D(40_000))])  # 60% lost today
    await engine.check_risk()
    rules = {t["rule"] for t in await trips(engine)}
    assert "daily_loss" in rules
    await engine.reset_risk()
    await engine.check_risk()
    assert engine.guard.breakers.tripped == {}, "the same loss is acknowledged until the day ends"


async def test_a_tripped_breaker_survives_a_restart(isolated_home: Path, clock: SimClock) -> None:
    engine = await start_engine(isolated_home, clock)
    engine.portfolio.set_balances("paper", [Balance(asset="USDT", free=D(80_000))])
    await engine.check_risk()
    await engine.close()

    again = await start_engine(isolated_home, clock, safety_config())
    try:
        assert again.risk.state is RiskState.HALTED
        assert list(again.guard.breakers.tripped) == ["account:drawdown:account"]
        with pytest.raises(OrderRefused) as refused:
            await again.place_order(limit(again, side=Side.BUY))
        assert refused.value.rule in ("breaker", "halted")
        await again.reset_risk()
        assert (await again.place_order(limit(again))).is_open
        assert (await again.db.verify_audit()).ok
    finally:
        await again.close()


def test_config_bounds_are_checked() -> None:
    from core.config import ConfigError, parse_config

    with pytest.raises(ConfigError, match="circuit_breakers.account_drawdown_pct"):
        parse_config("circuit_breakers:\n  account_drawdown_pct: 2\n")
    with pytest.raises(ConfigError, match="circuit_breakers.max_trades_per_day"):
        parse_config("circuit_breakers:\n  max_trades_per_day: 0\n")
    assert parse_config("").circuit_breakers.max_trades_per_day == 20
