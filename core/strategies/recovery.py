"""Strategies pick up where they stopped, after a clean stop or a crash.

At start-up, after the engine has reconciled its orders with the venue and before any strategy
decides anything, each strategy gets back:

* its positions and PnL, replayed from its own fills (fills carry the strategy id), so a
  restart gives the books an uninterrupted run would have, even beside manual trading;
* its working orders, as reconciled (orders carry the strategy id);
* the candles its indicators need, from those the engine stored, when they are recent enough
  to continue the live series;
* the last ``snapshot`` it saved: what cannot be derived from orders and positions (the grid's
  ladder and inventory, a mean reversion's stopped-out side, counters).

The strategy rebuilds its state from these in ``Strategy.recover``; a grid re-adopts its ladder
and places only the missing rungs when it starts. The working orders are read before the fills:
an order the reconciliation saw filled has its fills in the database by then, and a fill
recorded after the read arrives on the bus, which the strategy engine subscribed to first.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from core.backtest.data import DataError, timeframe_ms
from core.models import ZERO, Fill, Order
from core.strategies.runner import STATE_KEY, StrategyStateStore

if TYPE_CHECKING:
    from core.strategies.runner import StrategyContext, StrategyEngine

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recovery:
    """What a strategy gets back after a restart (module docstring)."""

    saved: dict[str, Any] | None  # the last snapshot, None when there is none or it is unreadable
    working: tuple[Order, ...]  # open orders, oldest first
    fills: tuple[Fill, ...]  # every fill of the strategy, oldest first

    def filled(self) -> dict[str, Decimal]:
        """Size filled per client order id, from the fills (an order row may lag behind them)."""
        sizes: defaultdict[str, Decimal] = defaultdict(lambda: ZERO)
        for fill in self.fills:
            sizes[fill.client_order_id] += fill.size
        return dict(sizes)


async def recover(engine: StrategyEngine) -> None:
    """Rebuild every loaded strategy (enabled or not: one started later from the Strategies
    screen needs its positions too). Call after ``engine.subscribe()``, before starting any."""
    if engine.store is None:
        return
    for ctx in engine.contexts():
        await _recover(ctx, engine.store)


async def _recover(ctx: StrategyContext, store: StrategyStateStore) -> None:
    strategy_id = ctx.strategy.strategy_id
    working = tuple(sorted(ctx.working_orders(), key=lambda o: o.created_ts))
    fills = tuple(await store.load_fills(strategy_id=strategy_id))
    text = await store.get_state(STATE_KEY + strategy_id)
    ctx.replay(fills)
    await _reload_history(ctx, store)
    saved = _parse(strategy_id, text)
    try:
        await ctx.strategy.recover(Recovery(saved, working, fills))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        if saved is None:
            raise
        log.error("strategy %s: saved state not usable (%s: %s); rebuilt from its orders and positions alone",
                  strategy_id, type(exc).__name__, exc)
        await ctx.strategy.recover(Recovery(None, working, fills))
    ctx.saved_state = text
    if working or fills or saved is not None:
        positions = {s: str(b.size) for s, b in ctx.books.items() if b.size}
        log.info("strategy %s recovered: %d working orders, %d fills, positions %s%s", strategy_id, len(working),
                 len(fills), positions or "flat", "" if saved is not None else ", no saved state")


def _parse(strategy_id: str, text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        saved = json.loads(text)
    except ValueError as exc:
        log.error("strategy %s: saved state is not JSON (%s); rebuilt from its orders and positions alone", strategy_id, exc)
        return None
    return saved if isinstance(saved, dict) else None


async def _reload_history(ctx: StrategyContext, store: StrategyStateStore) -> None:
    """The stored candles the indicators need, from the last ``warmup`` periods only: an
    older series would hide from the indicators the gap the stop left."""
    needed = ctx.strategy.warmup()
    if needed <= 1:
        return
    try:
        step = timeframe_ms(ctx.timeframe)
    except DataError:
        return
    since = ctx.now_ms() - (needed + 1) * step
    for symbol in ctx.symbols:
        for candle in (await store.load_candles(ctx.venue, symbol, ctx.timeframe, since_ms=since))[-needed:]:
            ctx.strategy.record(symbol, candle)
