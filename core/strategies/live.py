"""The configured strategies running beside the live engine (an engine Service).

Loading happens when the service is built, so a bad parameter stops start-up with the
registry's message instead of surfacing later; the newest stored version of each strategy's
parameters (set from the TUI, the command line or the daily review) wins over the file's,
unless it no longer validates. Starting recovers each strategy's state (``recovery``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping

from core.backtest.evolve import DAY_MS, ReviewResult, ReviewStore, review_running, run_daily
from core.config import StrategyConfig, StrategyReviewConfig
from core.ports import Clock
from core.strategies.recovery import recover
from core.strategies.registry import load
from core.strategies.runner import StrategyEngine
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

STOP_GRACE_SECONDS = 10.0


class LiveStrategies:
    def __init__(self, engine: StrategyEngine, configs: Mapping[str, StrategyConfig]) -> None:
        self.engine = engine
        self._task: asyncio.Task[None] | None = None
        loaded = load(engine, configs)  # a strategy whose plugin is broken is left out
        self._configs = {ctx.strategy.strategy_id: configs[ctx.strategy.strategy_id] for ctx in loaded}

    async def start(self) -> None:
        """Parameters first (a stored version may change a grid's levels), then each strategy's
        state from the database, then the enabled ones start; the bus is subscribed before the
        recovery reads anything and consumed once they run, so no fill or signal is missed."""
        applied = await self.engine.restore_versions()
        for strategy_id, version in applied.items():
            log.info("strategy %s runs its stored version %d", strategy_id, version)
        self.engine.subscribe()
        await recover(self.engine)
        for strategy_id, config in self._configs.items():
            if config.enabled:
                await self.engine.start(strategy_id)
                log.info("strategy %s running on %s %s", strategy_id, config.venue, ", ".join(config.symbols))
        self._task = asyncio.create_task(self.engine.run(), name="strategies")

    async def stop(self) -> None:
        """The strategies stop deciding; a callback under way (a grid sending its ladder) may
        finish, up to ``STOP_GRACE_SECONDS``, so a clean stop leaves no decision half sent."""
        await self.engine.stop()
        self.engine.close()
        if self._task is not None:
            await asyncio.wait({self._task}, timeout=STOP_GRACE_SECONDS)
        await cancel_and_wait(self._task)
        self._task = None


class DailyReview:
    """The daily review inside the app: at the configured hour, every running strategy's
    parameters are mutated, backtested on stored candles and the winners saved as new versions."""

    def __init__(self, strategies: StrategyEngine, store: ReviewStore, clock: Clock, config: StrategyReviewConfig) -> None:
        self._strategies = strategies
        self._store = store
        self._clock = clock
        self._config = config
        self._task: asyncio.Task[None] | None = None

    async def review(self) -> dict[str, ReviewResult | str]:
        results = await review_running(
            self._strategies, self._store, self._clock.now_ms(), lookback_ms=self._config.lookback_days * DAY_MS
        )
        for strategy_id, outcome in results.items():
            log.info("daily review of %s: %s", strategy_id, outcome)
        return results

    async def start(self) -> None:
        self._task = asyncio.create_task(run_daily(self._clock, self._config.hour_utc, self.review), name="daily-review")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
