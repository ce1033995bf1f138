"""Permission levels enforced in the engine, whatever the interface shows."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import ConfigError, PermissionsConfig, parse_config
from core.engine import OrderRefused
from core.models import RiskState
from core.permissions import Level, PermissionDenied
from tests.safety.conftest import SPOT, EngineFactory, limit, market, safety_config, settle, start_engine

D = Decimal


def profile(level: str) -> PermissionsConfig:
    return PermissionsConfig(profile="me", profiles={"me": level})  # type: ignore[dict-item]


async def test_read_only_watches_but_never_trades(make_engine: EngineFactory) -> None:
    engine = await make_engine(permissions=profile("read_only"))
    request = limit(engine)
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(request, actor="carol")
    assert refused.value.rule == "permission"
    assert refused.value.reason == "profile 'me' is read_only: placing orders needs the trade level"
    assert await engine.orders.get(request.client_order_id) is None
    audited = await engine.db.audit_entries(kind="order_refused")
    assert audited[-1].actor == "carol" and audited[-1].payload["rule"] == "permission"
    with pytest.raises(OrderRefused, match="canceling orders needs the trade level"):
        await engine.cancel_order("anything")
    with pytest.raises(PermissionDenied):
        await engine.emergency_stop("panic")
    assert engine.market.mark("paper", SPOT) is not None, "market data still flows"


async def test_strategies_need_the_trade_level_too(make_engine: EngineFactory) -> None:
    engine = await make_engine(permissions=profile("read_only"))
    with pytest.raises(OrderRefused, match="read_only"):
        await engine.executor.place_order(limit(engine, strategy_id="grid"), actor="strategy:grid")


async def test_trade_places_orders_but_admin_actions_are_refused_and_audited(make_engine: EngineFactory) -> None:
    engine = await make_engine(permissions=profile("trade"))
    assert (await engine.place_order(limit(engine))).is_open
    for action in ("switching paper to live", "changing risk limits"):
        with pytest.raises(PermissionDenied, match=f"{action} needs the admin level"):
            await engine.authorize(action, actor="dave")
    with pytest.raises(PermissionDenied):
        await engine.reset_risk(actor="dave")
    denied = await engine.db.audit_entries(kind="permission_denied", actor="dave")
    assert [e.payload["action"] for e in denied] == [
        "switching paper to live", "changing risk limits", "resetting the risk state",
    ]


async def test_admin_may_do_everything(make_engine: EngineFactory) -> None:
    engine = await make_engine(permissions=profile("admin"))
    await engine.authorize("switching paper to live")
    await engine.reset_risk()
    assert engine.risk.state is RiskState.ACTIVE


async def test_protective_actions_run_even_under_a_read_only_profile(isolated_home: Path, clock: SimClock) -> None:
    engine = await start_engine(isolated_home, clock)
    await engine.place_order(market(size="0.1"))
    await engine.close()
    engine = await start_engine(isolated_home, clock, safety_config(permissions=profile("read_only")))
    try:
        assert engine.portfolio.position("paper", SPOT) is not None
        await engine.risk.emergency_stop("feed lost")
        await settle()
        assert engine.portfolio.position("paper", SPOT) is None
        assert engine.risk.state is RiskState.HALTED
    finally:
        await engine.close()


def test_profiles_are_checked_in_the_config() -> None:
    with pytest.raises(ConfigError, match="profile 'ghost' is not among the profiles: me"):
        parse_config("permissions:\n  profile: ghost\n  profiles: {me: admin}\n")
    with pytest.raises(ConfigError, match="permissions.profiles.me"):
        parse_config("permissions:\n  profile: me\n  profiles: {me: superuser}\n")
    assert parse_config("").permissions.profile == "owner"
    assert Level.ADMIN > Level.TRADE > Level.READ_ONLY


async def test_every_decision_is_audited_with_who_what_and_the_answer(make_engine: EngineFactory) -> None:
    """The audit trail names the actor, the verdict and the venue's answer for each step."""
    engine = await make_engine()
    order = await engine.place_order(limit(engine, strategy_id="grid"), actor="strategy:grid")
    with pytest.raises(OrderRefused):
        await engine.place_order(limit(engine, offset="0.5"), actor="alice")
    with pytest.raises(OrderRefused):
        await engine.modify_order(order.client_order_id, size=D("-1"), actor="bob")
    await engine.cancel_order(order.client_order_id, actor="carol")
    entries = await engine.db.audit_entries()
    seen = [(e.kind, e.actor) for e in entries]
    assert ("order", "strategy:grid") in seen, "written by the strategy that asked"
    assert ("order", "paper") in seen, "the venue's answer, by venue name"
    refused = next(e for e in entries if e.kind == "order_refused" and e.actor == "alice")
    assert refused.payload["rule"] == "fat_finger" and "fat-finger band" in refused.payload["reason"]
    assert ("modify_refused", "bob") in seen
    assert ("cancel_requested", "carol") in seen
