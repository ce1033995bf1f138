"""Runs the analysis team on a schedule inside the engine's event loop.

Each cycle builds an ``AnalysisContext`` per symbol from the engine (candles from the venue,
the live book, positions, equity, risk limits), asks the coordinator for a decision — which
publishes AgentDecision and SignalGenerated on the bus, where the AI trend-following strategy
picks the signal up — and records the whole decision (opinions, weights, signal, risk verdict)
in the audit log. One symbol's failure never stops the others.

Candles come from a ``CandleHistory``: ``agents.history`` of them per timeframe, fetched at the
first cycle (which runs at start), so the agents decide on full history from their first minute.
The Risk agent's correlation check gets the closes of every other market with a position, of the
primary timeframe, from the same store, or from the candles the engine stored when the venue
cannot answer.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agents.base import AnalysisContext, Candles
from agents.coordinator import Coordinator, Decision
from agents.history import CandleHistory
from core.config import AgentsConfig
from core.models import Position
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
        # agents.history, or more when an agent needs more (the forecast model: 314 at horizon 12)
        self.history = CandleHistory(engine.venues, max(config.history, coordinator.min_candles))
        self._task: asyncio.Task[None] | None = None
        self.cycles = 0

    def symbols(self) -> list[str]:
        if self._config.symbols is not None:
            return list(self._config.symbols)
        return [i.symbol for i in self._engine.instruments(self.venue)]

    async def context(self, symbol: str) -> AnalysisContext:
        engine = self._engine
        candles = {tf: await self.history.candles(self.venue, symbol, tf) for tf in self._config.timeframes}
        positions = engine.portfolio.positions()
        primary = candles[self._config.timeframes[0]]
        return AnalysisContext(
            symbol=symbol,
            now_ms=engine.clock.now_ms(),
            candles=candles,
            venue=self.venue,
            order_book=engine.market.book(self.venue, symbol),
            positions=positions,
            equity=engine.portfolio.equity(),
            equity_peak=engine.portfolio.peak_equity(),
            daily_pnl=engine.portfolio.daily_pnl(),
            risk=engine.config.risk_management,
            peer_closes=await self._peer_closes(symbol, primary.ts, positions),
        )

    async def _peer_closes(
        self, symbol: str, times: npt.NDArray[np.int64], positions: list[Position]
    ) -> dict[str, npt.NDArray[np.float64]]:
        """Closes of the other markets held, for the correlation check: on the primary timeframe
        and aligned with ``times`` (this market's candles), a peer's last close carried over a
        candle in which it did not trade."""
        timeframe = self._config.timeframes[0]
        closes = {}
        for position in positions:
            if position.symbol == symbol or position.size <= 0 or position.venue not in self._engine.venues:
                continue
            try:
                peer = await self.history.candles(position.venue, position.symbol, timeframe)
            except VenueError as exc:
                stored = await self._engine.db.load_candles(position.venue, position.symbol, timeframe)
                log.info("%s closes for the correlation check from the %d stored candles: %s",
                         position.symbol, len(stored), redact(str(exc)))
                peer = Candles.from_models(stored)
            at = np.searchsorted(peer.ts, times, side="right") - 1
            closes[position.symbol] = peer.close[at[at >= 0]]
        return closes

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
