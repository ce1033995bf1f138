"""The analysis team scheduled inside the engine: decisions on the bus and in the audit log."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agents.scheduler import AnalysisScheduler
from core.clock import SimClock
from core.events import AgentDecision, SignalGenerated
from tests.engine.conftest import engine_config
from runtime.wiring import build_engine

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
    scheduler = engine.services[0]
    assert isinstance(scheduler, AnalysisScheduler)
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
    assert engine.services == []
    await engine.db.close()
