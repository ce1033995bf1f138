"""The analysis team scheduled inside the engine: decisions on the bus and in the audit log."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from agents.base import Proposal
from agents.risk_agent import RiskAgent
from agents.scheduler import AnalysisScheduler
from agents.team import build_coordinator
from core.clock import SimClock
from core.config import AppConfig
from core.events import AgentDecision, SignalGenerated
from core.models import Direction, OrderRequest, OrderType, Side
from runtime.wiring import build_engine
from tests.engine.conftest import engine_config


async def cycles_reach(scheduler: AnalysisScheduler, count: int) -> None:
    """Wait (in real time, bounded) for the scheduler task to finish its cycles; the database
    writes it awaits run on a thread, so a fixed number of loop turns is not enough."""
    async with asyncio.timeout(60):
        while scheduler.cycles < count:
            await asyncio.sleep(0.01)


AGENTS = {"market", "forecast", "strategy", "risk", "onchain", "sentiment", "macro"}


async def test_scheduler_analyses_every_market_and_records_each_decision(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    engine = await build_engine(config, isolated_home, clock=clock)
    decisions = engine.bus.subscribe(AgentDecision)
    signals = engine.bus.subscribe(SignalGenerated)
    await engine.start()
    [scheduler] = [s for s in engine.services if isinstance(s, AnalysisScheduler)]
    try:
        await cycles_reach(scheduler, 1)
        symbols = {i.symbol for i in engine.instruments("paper")}
        published = decisions.drain()
        assert {d.symbol for d in published} == symbols
        assert {o.agent for o in published[0].opinions} >= AGENTS
        assert {s.signal.instrument_id for s in signals.drain()} == symbols
        audited = await engine.db.audit_entries(kind="agent_decision")
        assert {a.payload["symbol"] for a in audited} == symbols
        entry = audited[0].payload
        assert set(entry) >= {"signal", "opinions", "weights", "risk"}
        assert {o["agent"] for o in entry["opinions"]} >= AGENTS
        assert {d.symbol for d in engine.latest_decisions()} == symbols

        clock.advance(int(config.agents.interval * 1000))
        await cycles_reach(scheduler, 2)
        assert len(await engine.db.audit_entries(kind="agent_decision")) == 2 * len(symbols)
    finally:
        await engine.close()


async def test_agents_can_be_switched_off(isolated_home: Path, clock: SimClock) -> None:
    config = engine_config()
    config.agents.enabled = False
    engine = await build_engine(config, isolated_home, clock=clock)
    assert not any(isinstance(s, AnalysisScheduler) for s in engine.services)
    await engine.db.close()


async def test_the_default_ai_strategy_can_act_in_its_first_minute(isolated_home: Path, clock: SimClock) -> None:
    """The agents warm up from the paper venue's seeded history: the first analysis, at start,
    has every price-based agent with data (before: "12 candles are too few (need 314)" from
    each), and the built-in strategy trades its signal within the first simulated minute."""
    config = AppConfig()
    trend = config.strategies["ai_trend_following"]
    config.strategies = {"ai_trend_following": trend.model_copy(update={"confidence_threshold": 0.3})}
    engine = await build_engine(config, isolated_home, clock=clock, seed=18)  # a seed whose history says buy
    decisions = engine.bus.subscribe(AgentDecision)
    await engine.start()
    try:
        scheduler = next(s for s in engine.services if isinstance(s, AnalysisScheduler))
        await cycles_reach(scheduler, 1)
        first = {d.symbol: d for d in decisions.drain()}["BTC/USDT"]
        with_data = {o.agent for o in first.opinions if o.has_data}
        assert with_data >= {"market", "forecast", "strategy", "risk"}, first.opinions
        assert first.signal.direction is Direction.BUY and first.signal.confidence >= 0.3
        start = clock.now_ms()
        while clock.now_ms() - start < 60_000 and not await engine.order_history(strategy_id="ai_trend_following"):
            clock.advance(100)
            for _ in range(5):
                await asyncio.sleep(0)
        [order] = await engine.order_history(strategy_id="ai_trend_following")
        assert order.symbol == "BTC/USDT" and order.side.value == "buy"
        assert order.created_ts - start < 60_000
    finally:
        await engine.close()


async def test_the_correlation_check_gets_the_peers_prices_in_a_live_run(isolated_home: Path, clock: SimClock) -> None:
    """With a position in the perpetual, analysing the spot market measures their correlation
    from the candles the run already holds (before: "unknown: no prices")."""
    config = engine_config()
    config.agents.enabled = False
    engine = await build_engine(config, isolated_home, clock=clock)
    await engine.start()
    try:
        await engine.place_order(OrderRequest(venue="paper", symbol="BTC/USDT:USDT", side=Side.BUY,
                                              type=OrderType.MARKET, size=Decimal("0.01")))
        async with asyncio.timeout(30):
            while engine.portfolio.position("paper", "BTC/USDT:USDT") is None:
                await asyncio.sleep(0.01)
        scheduler = AnalysisScheduler(engine, build_coordinator(config.agents, clock), config.agents)
        context = await scheduler.context("BTC/USDT")
        assert len(context.peer_closes["BTC/USDT:USDT"]) >= 300
        context.proposal = Proposal(Direction.BUY, 0.5, 0.6, context.series().last_close,  # type: ignore[union-attr]
                                    context.series().last_close * 0.98, context.series().last_close * 1.03)  # type: ignore[union-attr]
        correlation = RiskAgent().assess(context).checks["correlation"]["BTC/USDT:USDT"]
        assert isinstance(correlation, float) and correlation > 0.9, "a perpetual moves with its spot market"
    finally:
        await engine.close()
