"""Runs the analysis team on a schedule inside the engine's event loop.

Each cycle builds an ``AnalysisContext`` per symbol from the engine (candles from the venue,
the live book, positions, equity, risk limits), asks the coordinator for a decision — which
publishes AgentDecision and SignalGenerated on the bus, where the AI trend-following strategy
picks the signal up — and records the whole decision (opinions, weights, signal, risk verdict)
in the audit log. One symbol's failure never stops the others.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from agents.base import AnalysisContext, Candles
from agents.coordinator import Coordinator, Decision
from core.config import AgentsConfig
from core.ports import VenueError
from core.redact import redact
from core.tasks import cancel_and_wait

if TYPE_CHECKING:
    from core.engine import TradingEngine

log = logging.getLogger(__name__)


class AnalysisScheduler:
    def __init__(self, engine: TradingEngine, coordinator: Coordinator, config: AgentsConfig) -> None:
        self._engine = engine
        self._coordinator = coordinator
        self._config = config
        self.venue = config.venue or engine.default_venue
        self._task: asyncio.Task[None] | None = None
        self.cycles = 0

    def symbols(self) -> list[str]:
        if self._config.symbols is not None:
            return list(self._config.symbols)
        return [i.symbol for i in self._engine.instruments(self.venue)]

    async def context(self, symbol: str) -> AnalysisContext:
        engine = self._engine
        venue = engine.venues[self.venue]
        candles = {}
        for timeframe in self._config.timeframes:
            rows = await venue.fetch_ohlcv(symbol, timeframe, limit=self._config.history)
            candles[timeframe] = Candles.from_models(rows)
        return AnalysisContext(
            symbol=symbol,
            now_ms=engine.clock.now_ms(),
            candles=candles,
            venue=self.venue,
            order_book=engine.market.book(self.venue, symbol),
            positions=engine.portfolio.positions(),
            equity=engine.portfolio.equity(),
            equity_peak=engine.portfolio.peak_equity(),
            daily_pnl=engine.portfolio.daily_pnl(),
            risk=engine.config.risk_management,
        )

    async def analyze(self, symbol: str) -> Decision:
        decision = await self._coordinator.decide(await self.context(symbol))
        await self._engine.db.audit("agent_decision", decision.to_dict(), actor="agents", ts=decision.created_ms)
        return decision

    async def run_once(self) -> list[Decision]:
        decisions = []
        for symbol in self.symbols():
            try:
                decisions.append(await self.analyze(symbol))
            except (VenueError, ValueError) as exc:
                log.warning("analysis of %s skipped: %s", symbol, redact(str(exc)))
        self.cycles += 1
        return decisions

    async def run(self) -> None:
        while True:
            await self.run_once()
            await self._engine.clock.sleep(self._config.interval)

    async def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name="agents-scheduler")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
