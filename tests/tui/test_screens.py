"""Strategies, Agents, Risk and Log screens driven by the keyboard and by bus events."""

from __future__ import annotations

import io
from typing import Any

from rich.console import Console
from textual.widgets import DataTable, Input, Static

from core.clock import SimClock
from core.events import AgentDecision, RiskAlert
from core.models import AgentOpinion, Direction, Signal
from tests.tui.conftest import advance, settle, wait_ready
from tui.screens.edit_params import EditParamsScreen


def printed(widget: Static) -> str:
    """What a Static shows, as text."""
    console = Console(width=160, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def test_strategy_start_stop_and_parameter_edit_with_validation(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("3")
        await settle(pilot)
        runner = app.engine.strategies
        [info] = runner.list_strategies()
        table = app.screen.query_one("#strategies", DataTable)
        assert [str(k.value) for k in table.rows] == [info.strategy_id]
        was_running = info.state == "running"

        await pilot.press("space")
        await settle(pilot)
        assert (runner.list_strategies()[0].state == "running") is not was_running

        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EditParamsScreen)
        field = app.screen.query_one("#param-confidence_threshold", Input)
        field.focus()
        await pilot.press("ctrl+u", *"7", "enter")
        await settle(pilot)
        assert isinstance(app.screen, EditParamsScreen), "an out-of-bounds value must keep the dialog open"
        assert "confidence_threshold" in str(app.screen.query_one("#form-error", Static).render())
        assert runner.list_strategies()[0].params["confidence_threshold"] == 0.7

        await pilot.press("ctrl+u", *"abc", "enter")
        await settle(pilot)
        assert "not a number" in str(app.screen.query_one("#error-confidence_threshold", Static).render())

        await pilot.press("ctrl+u", *"0.8", "enter")
        await settle(pilot)
        assert not isinstance(app.screen, EditParamsScreen)
        assert runner.list_strategies()[0].params["confidence_threshold"] == 0.8


async def test_agent_decisions_and_risk_alerts_appear_as_they_happen(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("5")
        await settle(pilot)
        opinions = (
            AgentOpinion(agent="technical", direction=Direction.BUY, strength=0.8, confidence=0.7, rationale="EMA cross up"),
            AgentOpinion(agent="orderflow", direction=Direction.SELL, strength=0.3, confidence=0.4, rationale="ask heavy"),
        )
        signal = Signal(instrument_id="DOGE/USDT", direction=Direction.BUY, strength=0.6, confidence=0.65,
                        generated_time=clock.now_ms())
        app.engine.bus.publish(AgentDecision("DOGE/USDT", opinions, signal, {"score": 0.42}))
        await settle(pilot)
        table = app.screen.query_one("#decisions", DataTable)
        assert "1/2 agree" in [str(cell) for cell in table.get_row("DOGE/USDT")]
        table.focus()
        table.move_cursor(row=table.get_row_index("DOGE/USDT"))
        await settle(pilot)
        details = printed(app.screen.query_one("#opinions", Static))
        assert "coordinator says BUY" in details and "EMA cross up" in details and "ask heavy" in details

        await pilot.press("4")
        await settle(pilot)
        app.engine.bus.publish(RiskAlert("warning", "daily_loss", "80% of the daily loss limit used", ts=clock.now_ms()))
        await advance(pilot, clock, 0.5)
        alerts = app.screen.query_one("#alerts", DataTable)
        assert alerts.row_count >= 1
        assert "80% of the daily loss limit used" in [str(cell) for cell in alerts.get_row_at(0)]


async def test_log_screen_shows_the_audit_trail_with_a_filter(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("6")
        await settle(pilot)
        audit = app.screen.query_one("#audit", DataTable)
        kinds = {str(audit.get_row_at(i)[2]) for i in range(audit.row_count)}
        assert "engine_start" in kinds and len(kinds) > 1
        await pilot.press("f", *"engine_start")
        await settle(pilot)
        kinds = {str(audit.get_row_at(i)[2]) for i in range(audit.row_count)}
        assert kinds == {"engine_start"}


async def test_agents_screen_shows_the_decision_history_from_the_audit_log(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        payload = {"symbol": "BTC/USDT", "signal": {"direction": "buy", "strength": 0.6, "confidence": 0.8},
                   "risk": {"action": "scale"}, "opinions": []}
        await app.engine.db.audit("agent_decision", payload, actor="agents", ts=clock.now_ms())
        await pilot.press("5")
        await settle(pilot, 4)
        await app.workers.wait_for_complete()
        history = app.screen.query_one("#history", DataTable)
        rows = [[str(c) for c in history.get_row_at(i)] for i in range(history.row_count)]
        assert ["BTC/USDT", "BUY", "0.60", "0.80", "scale"] in [row[1:] for row in rows]


def no_data_decision(symbol: str, clock: SimClock) -> AgentDecision:
    """What the team said before it warmed up: every agent without data, the coordinator holding."""
    reason = "no data: 12 candles are too few (need 314)"
    opinions = tuple(AgentOpinion(agent=name, direction=Direction.HOLD, strength=0, confidence=0, rationale=reason,
                                  has_data=False)
                     for name in ("market", "forecast", "strategy", "risk", "onchain", "sentiment", "macro"))
    signal = Signal(instrument_id=symbol, direction=Direction.HOLD, strength=0, confidence=0, generated_time=clock.now_ms())
    return AgentDecision(symbol, opinions, signal, {"action": "none"})


async def test_agents_without_data_abstain_on_the_agents_screen(make_app: Any, clock: SimClock) -> None:
    """Not "7/7 agree HOLD": no data is shown as no data, and counted apart."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("5")
        await settle(pilot)
        app.engine.bus.publish(no_data_decision("DOGE/USDT", clock))
        partly = (AgentOpinion(agent="market", direction=Direction.BUY, strength=0.5, confidence=0.6, rationale="up"),
                  AgentOpinion(agent="forecast", direction=Direction.HOLD, strength=0, confidence=0,
                               rationale="no data: 12 candles are too few (need 314)", has_data=False))
        app.engine.bus.publish(AgentDecision("PEPE/USDT", partly, Signal(
            instrument_id="PEPE/USDT", direction=Direction.BUY, strength=0.3, confidence=0.5, generated_time=clock.now_ms())))
        await settle(pilot)
        table = app.screen.query_one("#decisions", DataTable)
        row = [str(cell) for cell in table.get_row("DOGE/USDT")]
        assert "NO DATA" in row and "0 of 7 agents have data" in row and "HOLD" not in row
        assert "1/1 agree, 1 no data" in [str(cell) for cell in table.get_row("PEPE/USDT")]
        table.focus()
        table.move_cursor(row=table.get_row_index("DOGE/USDT"))
        await settle(pilot)
        details = printed(app.screen.query_one("#opinions", Static))
        assert "no view, none of the 7 agents has data" in details and "coordinator says" not in details
        assert details.count("no data: 12 candles are too few (need 314)") == 7
        assert " hold " not in details


async def test_the_ai_strategy_says_why_it_is_idle(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("3")
        app.engine.bus.publish(no_data_decision("BTC/USDT", clock))
        await settle(pilot)
        table = app.screen.query_one("#strategies", DataTable)
        note = str(table.get_row("ai_trend_following")[-1])
        assert note == "idle: the agents lack data (0 of 7 have data on BTC/USDT)"
        assert note in printed(app.screen.query_one("#strategy-detail", Static))
        opinions = (AgentOpinion(agent="market", direction=Direction.BUY, strength=0.5, confidence=0.6, rationale="up"),)
        app.engine.bus.publish(AgentDecision("BTC/USDT", opinions, Signal(
            instrument_id="BTC/USDT", direction=Direction.BUY, strength=0.3, confidence=0.45, generated_time=clock.now_ms())))
        await settle(pilot)
        assert str(table.get_row("ai_trend_following")[-1]) == "idle: BUY BTC/USDT at confidence 0.45, below its 0.70"


def test_every_reason_for_an_idle_ai_strategy() -> None:
    from decimal import Decimal

    from core.config import AgentsConfig
    from core.strategies.info import StrategyInfo
    from tui.screens.strategies import idle_reason

    info = StrategyInfo("ai", "ai_trend_following", "running", "paper", ("BTC/USDT",), "1m", 0.1,
                        {"confidence_threshold": 0.7, "min_strength": 0.2}, Decimal(0), Decimal(0), Decimal(0), {},
                        (), 0, 0, None)
    agents = AgentsConfig()
    seen = AgentOpinion(agent="market", direction=Direction.SELL, strength=0.5, confidence=0.9)

    def decided(direction: Direction, confidence: float = 0.9, strength: float = 0.5, **verdict: Any) -> dict[str, AgentDecision]:
        signal = Signal(instrument_id="BTC/USDT", direction=direction, strength=strength, confidence=confidence)
        return {"BTC/USDT": AgentDecision("BTC/USDT", (seen,), signal, verdict)}

    assert idle_reason(info, {}, AgentsConfig(enabled=False), "paper") == "idle: no signals, the agents are off (agents.enabled: false)"
    assert idle_reason(info, {}, AgentsConfig(venue="binance"), "paper") == "idle: no signals, the agents analyse binance, not paper"
    assert idle_reason(info, {}, agents, "paper") == "idle: no agent signal yet"
    vetoed = decided(Direction.HOLD, action="veto", reasons=["volatility shock: 3.2x its norm"])
    assert idle_reason(info, vetoed, agents, "paper") == "idle: the risk agent vetoed BTC/USDT: volatility shock: 3.2x its norm"
    assert idle_reason(info, decided(Direction.HOLD), agents, "paper") == "idle: the agents say hold on BTC/USDT (1 of 1 have data)"
    assert idle_reason(info, decided(Direction.SELL, strength=0.1), agents, "paper") == (
        "idle: SELL BTC/USDT at strength 0.10, below its 0.20")
    assert idle_reason(info, decided(Direction.SELL), agents, "paper") == "", "it acts on this one"
