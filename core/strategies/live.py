"""The configured strategies running beside the live engine (an engine Service).

Loading happens when the service is built, so a bad parameter stops start-up with the
registry's message instead of surfacing later; the newest stored version of each strategy's
parameters (set from the TUI, the command line or the daily review) wins over the file's,
unless it no longer validates.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping

from core.config import StrategyConfig
from core.strategies.registry import load
from core.strategies.runner import StrategyEngine

log = logging.getLogger(__name__)


class LiveStrategies:
    def __init__(self, engine: StrategyEngine, configs: Mapping[str, StrategyConfig]) -> None:
        self.engine = engine
        self._configs = dict(configs)
        self._task: asyncio.Task[None] | None = None
        load(engine, self._configs)

    async def start(self) -> None:
        applied = await self.engine.restore_versions()
        for strategy_id, version in applied.items():
            log.info("strategy %s runs its stored version %d", strategy_id, version)
        self._task = asyncio.create_task(self.engine.run(), name="strategies")
        # One loop turn lets the task subscribe to the bus before anything else is published,
        # so no signal sent right after start-up is missed.
        await asyncio.sleep(0)
        for strategy_id, config in self._configs.items():
            if config.enabled:
                await self.engine.start(strategy_id)
                log.info("strategy %s running on %s %s", strategy_id, config.venue, ", ".join(config.symbols))

    async def stop(self) -> None:
        await self.engine.stop()
        self.engine.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
