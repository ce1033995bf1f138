"""The pre-trade gate's one order of checks: an order that breaks several rules is refused by
the first, the same before a confirmation and at placement, whoever sends it."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.engine import OrderRefused
from core.risk.breakers import BreakerLevel
from tests.safety.conftest import EngineFactory, limit

D = Decimal


async def test_the_first_broken_rule_in_the_gates_order_is_the_one_reported(make_engine: EngineFactory) -> None:
    engine = await make_engine()
    engine.config.risk_management.max_position_size = D(1000)
    engine.guard.breakers.trip(BreakerLevel.ACCOUNT, "drawdown", "account", "test trip")
    far = limit(engine, offset="0.5", size="0.5")  # 50% from the mark, ~15,000 USDT: over the position cap

    async def first_rule(request: object) -> str:
        refusal = engine.executor.precheck(request)  # type: ignore[arg-type]
        assert refusal is not None
        with pytest.raises(OrderRefused) as placed:
            await engine.place_order(request.model_copy(update={"client_order_id": f"{request.client_order_id}x"}))  # type: ignore[attr-defined]
        assert (placed.value.rule, placed.value.reason) == (refusal.rule, refusal.reason), "preview and placement differ"
        return refusal.rule

    assert await first_rule(far.model_copy(update={"price": far.price + D("0.001")})) == "validation"  # type: ignore[operator]
    assert await first_rule(far) == "breaker"
    await engine.reset_risk("user")
    assert await first_rule(far) == "fat_finger"
    assert await first_rule(limit(engine, offset="0.99", size="0.5")) == "max_position_size"
    assert engine.open_orders() == []
