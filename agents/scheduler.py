"""Runs the analysis team on a schedule inside the engine's event loop.

Each cycle builds an ``AnalysisContext`` per symbol from the engine (candles from the venue,
the live book, positions, equity, risk limits), asks the coordinator for a decision — which
publishes AgentDecision and SignalGenerated on the bus, where the AI trend-following strategy
picks the signal up — and records the whole decision (opinions, weights, signal, risk verdict)
in the audit log. One symbol's failure never stops the others.

Candles come from a ``CandleHistory``: ``agents.history`` of them per timeframe, fetched at the
first cycle (which runs at start), so the agents decide on full history from their first minute.
The Risk agent's correlation check gets the closes of every other configured market, of the
primary timeframe, from the candles the data service stored (core.marketdata), and for a market
held whose candles are not stored, from the venue. A perpetual's funding rate, long/short ratio
and open interest over the candles' time come from the data service's readings.
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
        stats = engine.market.stats(self.venue, symbol)
        readings = await engine.db.load_market_stats(self.venue, symbol, since_ms=int(primary.ts[0])) if len(primary) else []
        open_interest = [r.open_interest for r in readings if r.open_interest is not None]
        return AnalysisContext(
            symbol=symbol,
            now_ms=engine.clock.now_ms(),
            candles=candles,
            venue=self.venue,
            order_book=engine.market.book(self.venue, symbol),
            funding_rate=stats.funding_rate if stats is not None else None,
            open_interest=open_interest or None,
            long_short_ratio=stats.long_short_ratio if stats is not None else None,
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
        """Closes of the other markets, for the correlation check: on the primary timeframe and
        aligned with ``times`` (this market's candles), a peer's last close carried over a candle
        in which it did not trade. Every configured market whose candles are stored, and the
        markets held, from their venue when none are stored."""
        engine = self._engine
        timeframe = self._config.timeframes[0]
        since = int(times[0]) if len(times) else None
        markets = {(i.venue, i.symbol) for name in engine.venues for i in engine.instruments(name)}
        held = {(p.venue, p.symbol) for p in positions if p.size > 0 and p.venue in engine.venues}
        closes = {}
        for venue, peer_symbol in sorted(markets | held):
            if peer_symbol == symbol or peer_symbol in closes:
                continue
            peer = Candles.from_models(await engine.db.load_candles(venue, peer_symbol, timeframe, since_ms=since))
            if not len(peer) and (venue, peer_symbol) in held:
                try:
                    peer = await self.history.candles(venue, peer_symbol, timeframe)
                except VenueError as exc:
                    log.info("no closes of %s for the correlation check: %s", peer_symbol, redact(str(exc)))
            if len(peer):
                at = np.searchsorted(peer.ts, times, side="right") - 1
                closes[peer_symbol] = peer.close[at[at >= 0]]
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
