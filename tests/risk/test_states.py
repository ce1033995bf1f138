"""ACTIVE -> REDUCING -> HALTED: automatic escalation, emergency stop, and the explicit reset."""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal as D

import pytest

from core.clock import SimClock
from core.events import RiskStateChanged, Subscription
from core.models import OrderRequest, OrderType, RiskState, Side
from core.portfolio import DAY_MS, Portfolio
from core.risk.gate import PreTradeGate

from .conftest import BTC, MakeRisk, open_position

PERP = "BTC/USDT:USDT"


def state_changes(events: Subscription) -> list[tuple[RiskState, RiskState, str]]:
    return [(e.old, e.new, e.reason) for e in events.drain() if isinstance(e, RiskStateChanged)]


def test_set_state_publishes_each_change_once(make_risk: MakeRisk, events: Subscription) -> None:
    risk = make_risk()
    risk.set_state(RiskState.REDUCING, "manual")
    risk.set_state(RiskState.REDUCING, "again")
    risk.set_state(RiskState.HALTED, "worse")
    assert state_changes(events) == [
        (RiskState.ACTIVE, RiskState.REDUCING, "manual"),
        (RiskState.REDUCING, RiskState.HALTED, "worse"),
    ]
    assert risk.state_reason == "worse"


def test_daily_loss_escalates_to_reducing_then_halted(
    make_risk: MakeRisk, portfolio: Portfolio, events: Subscription
) -> None:
    risk = make_risk(max_daily_loss=D(1000), trading_stop_loss_pct=0.5)
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    assert risk.monitor_positions() == [] and risk.state is RiskState.ACTIVE

    portfolio.update_mark("paper", PERP, D(29150))
    alerts = risk.monitor_positions()
    assert [(a.level, a.rule) for a in alerts] == [("warning", "daily_loss_reducing")]
    assert alerts[0].message == (
        "today's loss of 850.00 USDT is 85% of the daily limit of 1,000.00 USDT; only orders that reduce a position pass"
    )
    assert state_changes(events) == [(RiskState.ACTIVE, RiskState.REDUCING, alerts[0].message)]
    assert risk.monitor_positions() == [] and events.drain() == []

    portfolio.update_mark("paper", PERP, D(29000))
    alerts = risk.monitor_positions()
    assert [(a.level, a.rule) for a in alerts] == [("critical", "max_daily_loss")]
    assert risk.state is RiskState.HALTED
    assert state_changes(events)[0][2] == "today's loss of 1,000.00 USDT reached the daily limit of 1,000.00 USDT"


def test_evaluate_runs_again_once_anything_it_reads_changes(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    """``evaluate`` skips a run whose inputs are those of the last: a new mark, a limit changed
    in place and a reset each make the next run count."""
    risk = make_risk(max_daily_loss=D(1000))
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    portfolio.update_mark("paper", PERP, D(29500))
    risk.evaluate()
    assert risk.state is RiskState.ACTIVE
    risk.config.max_daily_loss = D(550)  # the same loss of 500 is now past 85% of the limit
    risk.evaluate()
    assert risk.state is RiskState.REDUCING
    risk.reset("ops")
    risk.evaluate()
    assert risk.state is RiskState.ACTIVE  # the loss was acknowledged
    portfolio.update_mark("paper", PERP, D(29000))
    risk.evaluate()
    assert risk.state is RiskState.HALTED


def test_the_daily_limit_is_the_tighter_of_amount_and_share(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(max_daily_loss=D(50000), max_daily_loss_pct=0.02)
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    portfolio.update_mark("paper", PERP, D(28000))
    risk.monitor_positions()
    assert risk.state is RiskState.HALTED


def test_states_never_relax_by_themselves(make_risk: MakeRisk, portfolio: Portfolio) -> None:
    risk = make_risk(max_daily_loss=D(1000))
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    portfolio.update_mark("paper", PERP, D(29150))
    risk.monitor_positions()
    portfolio.update_mark("paper", PERP, D(31000))
    risk.monitor_positions()
    assert risk.state is RiskState.REDUCING


def test_reset_acknowledges_the_current_loss_but_not_a_worse_one(
    make_risk: MakeRisk, portfolio: Portfolio, events: Subscription
) -> None:
    risk = make_risk(max_daily_loss=D(1000))
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    portfolio.update_mark("paper", PERP, D(29150))
    risk.monitor_positions()
    events.drain()
    risk.reset("bob")
    assert state_changes(events) == [(RiskState.REDUCING, RiskState.ACTIVE, "reset by bob")]
    risk.monitor_positions()
    assert risk.state is RiskState.ACTIVE
    portfolio.update_mark("paper", PERP, D(29000))
    risk.monitor_positions()
    assert risk.state is RiskState.HALTED


def test_acknowledgement_ends_with_the_utc_day(make_risk: MakeRisk, portfolio: Portfolio, clock: SimClock) -> None:
    risk = make_risk(max_daily_loss=D(1000))
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    portfolio.update_mark("paper", PERP, D(29150))
    risk.monitor_positions()
    risk.reset("bob")
    clock.set((clock.now_ms() // DAY_MS + 1) * DAY_MS)
    portfolio.update_mark("paper", PERP, D(28300))
    risk.monitor_positions()
    assert risk.state is RiskState.REDUCING


async def test_drawdown_beyond_the_emergency_stop_halts_and_calls_the_engine(
    make_risk: MakeRisk, portfolio: Portfolio, events: Subscription
) -> None:
    risk = make_risk(emergency_stop_loss=0.1, max_daily_loss_pct=1, max_leverage=10)
    calls: list[str] = []

    async def flatten(reason: str) -> None:
        calls.append(reason)

    risk.on_emergency = flatten
    open_position(portfolio, PERP, Side.BUY, "10", "30000")
    portfolio.update_mark("paper", PERP, D(31000))
    portfolio.update_mark("paper", PERP, D(29900))
    alerts = risk.monitor_positions()
    expected = (
        "equity 99,000.00 USDT is 10% below its peak 110,000.00 USDT; the emergency stop is at 10%"
    )
    assert [(a.level, a.rule, a.message) for a in alerts] == [("critical", "emergency_stop", f"emergency stop: {expected}")]
    assert risk.state is RiskState.HALTED and risk.state_reason == f"emergency stop: {expected}"
    await asyncio.sleep(0)
    assert calls == [expected]
    risk.monitor_positions()
    await asyncio.sleep(0)
    assert len(calls) == 1

    risk.reset("carol")
    assert portfolio.drawdown() == 0
    risk.monitor_positions()
    assert risk.state is RiskState.ACTIVE


def test_emergency_outside_the_loop_still_halts(
    make_risk: MakeRisk, portfolio: Portfolio, caplog: pytest.LogCaptureFixture
) -> None:
    risk = make_risk(emergency_stop_loss=0.05, max_daily_loss_pct=1)

    async def flatten(reason: str) -> None:
        raise AssertionError("not reachable without a loop")

    risk.on_emergency = flatten
    open_position(portfolio, PERP, Side.BUY, "10", "30000")
    portfolio.update_mark("paper", PERP, D(29000))
    with caplog.at_level(logging.ERROR):
        risk.monitor_positions()
    assert risk.state is RiskState.HALTED
    assert "outside the event loop" in caplog.text


async def test_emergency_stop_halts_alerts_then_runs_the_callback(make_risk: MakeRisk, events: Subscription) -> None:
    risk = make_risk()
    seen: list[RiskState] = []

    async def flatten(reason: str) -> None:
        seen.append(risk.state)

    risk.on_emergency = flatten
    await risk.emergency_stop("operator pressed the big red button")
    assert seen == [RiskState.HALTED] and risk.state is RiskState.HALTED
    kinds = [(type(e).__name__, getattr(e, "rule", None)) for e in events.drain()]
    assert kinds == [("RiskStateChanged", None), ("RiskAlert", "emergency_stop")]


async def test_a_failing_emergency_callback_is_logged(
    make_risk: MakeRisk, portfolio: Portfolio, caplog: pytest.LogCaptureFixture
) -> None:
    risk = make_risk(emergency_stop_loss=0.05, max_daily_loss_pct=1)

    async def broken(reason: str) -> None:
        raise RuntimeError("venue down")

    risk.on_emergency = broken
    open_position(portfolio, PERP, Side.BUY, "10", "30000")
    portfolio.update_mark("paper", PERP, D(29000))
    risk.monitor_positions()
    for _ in range(3):
        await asyncio.sleep(0)
    assert "emergency stop handler failed" in caplog.text
    assert isinstance(risk.monitor_positions(), list)


def test_alerts_carry_the_clock_time(make_risk: MakeRisk, portfolio: Portfolio, clock: SimClock) -> None:
    risk = make_risk(max_daily_loss=D(1000), trading_stop_loss_pct=0.5)
    open_position(portfolio, PERP, Side.BUY, "1", "30000")
    clock.advance(5000)
    portfolio.update_mark("paper", PERP, D(29000))
    assert [a.ts for a in risk.monitor_positions()] == [clock.now_ms()]


async def test_a_drawdown_found_while_checking_an_order_refuses_it_and_flattens(
    make_risk: MakeRisk, portfolio: Portfolio
) -> None:
    risk = make_risk(emergency_stop_loss=0.05, max_daily_loss_pct=1, max_leverage=10)
    calls: list[str] = []

    async def flatten(reason: str) -> None:
        calls.append(reason)

    risk.on_emergency = flatten
    open_position(portfolio, PERP, Side.BUY, "10", "30000")
    portfolio.update_mark("paper", PERP, D(29000))
    request = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, type=OrderType.MARKET, size=D("0.01"))
    result = PreTradeGate(risk).limits(request, BTC, D(30000), [])
    assert result.rule == "halted" and result.reason is not None and "emergency stop: equity" in result.reason
    await asyncio.sleep(0)
    assert len(calls) == 1
