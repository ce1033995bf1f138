"""The protective levels of open positions: where they come from, where they live, and closing
a position when one of its levels is reached.

Where they come from, and nothing else: the stop_loss / take_profit of an order when it fills
(the ticket's SL/TP fields, or a strategy's order), the Positions screen, and
``trading.auto_protect`` (off by default). A position nobody gave levels to has none.

Where they live: on a venue that can hold them (``holds_protective_orders``: a live exchange
that keeps reduce-only stop orders by our client order id), each level is a reduce-only
stop-market or take-profit order resting at the exchange, placed like any order (written before
it is sent), replaced when the level changes, and the other one canceled when one fills, so
the levels hold while the app is closed. Everywhere else the engine watches them: each mark
update of the market is checked, and a reached level closes the position at market through the
executor, exempt from the risk gate and audited, once: no second close is sent while the first
is working. If the exchange refuses a protective order, the levels fall back to engine-side,
with an alert.

Every change is a row (``protective_levels``), an audit entry (who, the old and new levels, why)
and a ``ProtectionChanged`` event. Levels are bound to one position (its side and opening time):
they go when it closes or turns, and at start-up saved levels are restored only for the very
position they were set for.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from core.config import TradingConfig
from core.events import Event, EventBus, OrderUpdated, PositionChanged, ProtectionChanged, RiskAlert
from core.executor import OrderRefused
from core.models import (
    Instrument,
    LevelPlacement,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    ProtectiveLevels,
    Side,
    new_client_order_id,
)
from core.ports import Clock
from core.risk.protection import (
    AUTO,
    KINDS,
    LEVEL_NAMES,
    MANUAL,
    STOP_LOSS,
    TAKE_PROFIT,
    auto_levels,
    describe,
    level_of,
    level_problems,
    reached,
    source_of,
)
from core.risk.rules import price_text

log = logging.getLogger(__name__)

Key = tuple[str, str]
AuditFn = Callable[[str, dict[str, Any], str], Awaitable[Any]]
#: after a closing order is refused or rejected, the next mark update may try again this much later
RETRY_MS = 5_000


class ProtectionRefused(ValueError):
    """Levels that cannot be set as asked; the message is for the trader."""


class LevelStore(Protocol):
    async def save_protection(
        self, venue: str, symbol: str, levels: ProtectiveLevels | None, *, actor: str, ts: int,
        payload: dict[str, Any],
    ) -> None: ...

    async def load_protections(self) -> list[ProtectiveLevels]: ...


class Positions(Protocol):
    def position(self, venue: str, symbol: str) -> Position | None: ...

    def positions(self, venue: str | None = None) -> list[Position]: ...


class OrderDesk(Protocol):
    """The executor: the only way an order reaches a venue."""

    def instrument(self, venue: str, symbol: str) -> Instrument: ...

    async def place_order(self, request: OrderRequest, *, actor: str = ..., risk_exempt: str | None = ...) -> Order: ...

    async def cancel_order(self, client_order_id: str, *, actor: str = ...) -> Order: ...

    async def close_position(
        self, venue: str, symbol: str, size: Decimal | None = ..., *, actor: str = ..., risk_exempt: str | None = ...
    ) -> Order | None: ...


class OrderBook(Protocol):
    def track_order(self, client_order_id: str) -> Order | None: ...

    async def get(self, client_order_id: str) -> Order | None: ...


class Holder(Protocol):
    def holds_protective_orders(self, symbol: str) -> bool: ...


def _when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _without(levels: ProtectiveLevels, kind: str) -> ProtectiveLevels:
    prefix = "stop_loss" if kind == STOP_LOSS else "take_profit"
    return levels.model_copy(update={prefix: None, f"{prefix}_source": None, f"{prefix}_order": None})


class Protector:
    def __init__(
        self,
        trading: TradingConfig,
        store: LevelStore,
        bus: EventBus,
        clock: Clock,
        portfolio: Positions,
        desk: OrderDesk,
        orders: OrderBook,
        venues: Mapping[str, Holder],
        audit: AuditFn,
    ) -> None:
        self._trading = trading
        self._store = store
        self._bus = bus
        self._clock = clock
        self._portfolio = portfolio
        self._desk = desk
        self._orders = orders
        self._venues = venues
        self._audit = audit
        self._levels: dict[Key, ProtectiveLevels] = {}
        self._locks: defaultdict[Key, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._protective: dict[str, tuple[Key, str]] = {}  # exchange order -> (market, kind)
        self._retiring: set[str] = set()  # exchange orders we cancel ourselves
        self._closing: dict[Key, tuple[str | None, str]] = {}  # market -> (closing order or None: being sent, level)
        self._retry_after: dict[Key, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        bus.add_listener((OrderUpdated,), self._on_order)
        bus.add_listener((PositionChanged,), self._on_position)

    # -- reading --------------------------------------------------------------------------------

    def levels(self, venue: str, symbol: str) -> ProtectiveLevels | None:
        """The levels of the open position on this market, or None."""
        return self._levels.get((venue, symbol))

    def watched(self) -> list[ProtectiveLevels]:
        """Engine-side levels: they stop being watched when the app stops."""
        return [lv for lv in self._levels.values() if lv.placement is LevelPlacement.ENGINE and not lv.empty]

    # -- setting --------------------------------------------------------------------------------

    async def set_levels(
        self, venue: str, symbol: str, stop_loss: Decimal | None, take_profit: Decimal | None, *, actor: str = "user"
    ) -> ProtectiveLevels | None:
        """The trader's levels for the open position (None: no such level). A level left at
        its current price keeps its label; a new price is "manual". Raises ProtectionRefused."""
        key = (venue, symbol)
        async with self._locks[key]:
            position = self._portfolio.position(venue, symbol)
            if position is None:
                raise ProtectionRefused(f"there is no open {symbol} position on {venue} to protect")
            instrument = self._desk.instrument(venue, symbol)
            wanted = {STOP_LOSS: stop_loss, TAKE_PROFIT: take_profit}
            problems = level_problems(position.side, position.mark_price, wanted, instrument)
            if problems:
                raise ProtectionRefused("; ".join(problems.values()))
            current = self._current(key, position)
            base = current or ProtectiveLevels(venue=venue, symbol=symbol, side=position.side,
                                               opened_ts=position.created_ts)
            update: dict[str, Any] = {}
            for kind, price in wanted.items():
                old_price, old_source, _ = level_of(base, kind)
                update[kind] = price
                update[f"{kind}_source"] = None if price is None else old_source if price == old_price else MANUAL
            new = base.model_copy(update=update)
            return await self._transition(key, None if new.empty else new, position, actor, "set by hand")

    async def restore(self) -> None:
        """Bring back the saved levels of positions still open (after reconciliation), drop
        the others with an alert, and give auto levels to unprotected positions if configured."""
        for saved in await self._store.load_protections():
            key = (saved.venue, saved.symbol)
            async with self._locks[key]:
                await self._restore_one(key, saved)
        if self._trading.auto_protect:
            for position in self._portfolio.positions():
                if (position.venue, position.symbol) not in self._levels:
                    await self._adopt(position.venue, position.symbol, None, "config")

    async def _restore_one(self, key: Key, saved: ProtectiveLevels) -> None:
        position = self._portfolio.position(*key)
        stale = self._stale(saved, position)
        if stale is not None:
            self._levels[key] = saved
            self._alert(saved, "warning", "protection_dropped",
                        f"{saved.symbol} {saved.side.value}: its saved levels were dropped: {stale}")
            await self._transition(key, None, position, "engine", stale)
            return
        self._levels[key] = saved
        for kind in KINDS:
            coid = level_of(saved, kind)[2]
            if coid is None:
                continue
            order = self._orders.track_order(coid)
            if order is not None and order.is_open:
                self._protective[coid] = (key, kind)
            else:
                await self._lose(key, kind, coid, "is no longer working at the exchange (found at start-up)", "reconcile")
        current = self._levels.get(key)
        if current is not None:
            self._bus.publish(ProtectionChanged(saved.venue, saved.symbol, current.model_copy()))

    def _stale(self, saved: ProtectiveLevels, position: Position | None) -> str | None:
        """Why saved levels do not belong to the position open now, or None if they do. An
        exchange whose position timestamps move is still trusted while our orders rest there."""
        if position is None:
            return f"the {saved.side.value} position they protected was closed while the app was away"
        if position.side is not saved.side:
            return f"the position open now is {position.side.value}, they protected a {saved.side.value} one"
        if position.created_ts == saved.opened_ts:
            return None
        resting = [self._orders.track_order(c) for c in (saved.stop_loss_order, saved.take_profit_order) if c]
        if any(order is not None and order.is_open for order in resting):
            return None
        return (f"the {position.side.value} position open now was opened at {_when(position.created_ts)}, "
                f"they protected the one opened at {_when(saved.opened_ts)}")

    # -- events ---------------------------------------------------------------------------------

    def _on_order(self, event: Event) -> None:
        assert isinstance(event, OrderUpdated)
        order = event.order
        coid = order.client_order_id
        if coid in self._protective:
            self._protective_update(order)
            return
        key = (order.venue, order.symbol)
        if key in self._closing and self._closing[key][0] == coid and not order.is_open:
            self._close_finished(key, order)
        if order.filled_size > 0 and not order.reduce_only and self._may_adopt(order):
            self._spawn(self._adopt_from(order))

    def _may_adopt(self, order: Order) -> bool:
        """Cheap test on the order path: could this fill give or change levels?"""
        position = self._portfolio.position(order.venue, order.symbol)
        if position is None or (position.side is PositionSide.LONG) != (order.side is Side.BUY):
            return False
        record = self._levels.get((order.venue, order.symbol))
        if order.stop_loss is not None or order.take_profit is not None:
            return True
        if record is None:
            return self._trading.auto_protect
        return AUTO in (record.stop_loss_source, record.take_profit_source) or record.placement is LevelPlacement.EXCHANGE

    async def _adopt_from(self, order: Order) -> None:
        actor = f"strategy:{order.strategy_id}" if order.strategy_id else "user"
        async with self._locks[(order.venue, order.symbol)]:
            await self._adopt(order.venue, order.symbol, order, actor)

    async def _adopt(self, venue: str, symbol: str, order: Order | None, actor: str) -> None:
        """Levels after a fill of ``order`` (None: a position found at start-up): the order's
        own levels, auto levels for a position that has none (if configured), and auto levels
        moved with the entry."""
        key = (venue, symbol)
        position = self._portfolio.position(venue, symbol)
        if position is None:
            return
        current = self._current(key, position)
        automatic = auto_levels(position, self._desk.instrument(venue, symbol), self._trading)
        source = source_of(order.strategy_id if order is not None else None)
        given = {STOP_LOSS: order.stop_loss if order else None, TAKE_PROFIT: order.take_profit if order else None}
        base = current or ProtectiveLevels(venue=venue, symbol=symbol, side=position.side, opened_ts=position.created_ts)
        update: dict[str, Any] = {}
        for index, kind in enumerate(KINDS):
            price, label, _ = level_of(base, kind)
            if given[kind] is not None:
                price, label = given[kind], source
            elif label == AUTO or (current is None and self._trading.auto_protect):
                price, label = automatic[index], AUTO
            update[kind], update[f"{kind}_source"] = price, label
        new = base.model_copy(update=update)
        reason = (f"carried by order {order.client_order_id}" if order is not None and (order.stop_loss or order.take_profit)
                  else "auto_protect")
        await self._transition(key, None if new.empty else new, position, actor, reason)

    def _on_position(self, event: Event) -> None:
        """A closed or turned position takes its levels with it at once, so nothing that runs
        after this (a fill opening the next position) can see them; the orders and the row
        follow in a task, which runs before any later change of the market's levels."""
        assert isinstance(event, PositionChanged)
        position = event.position
        key = (position.venue, position.symbol)
        record = self._levels.get(key)
        if record is not None and (event.closed or position.side is not record.side):
            self._forget(key)
            self._spawn(self._position_gone(key, record))

    async def _position_gone(self, key: Key, record: ProtectiveLevels) -> None:
        async with self._locks[key]:
            reason = f"the {record.side.value} position was closed"
            for kind in KINDS:
                coid = level_of(record, kind)[2]
                order = await self._orders.get(coid) if coid else None
                if order is not None and order.status is OrderStatus.FILLED:
                    reason = self._announce_fill(record, kind, order)
            await self._retire_all(record, "engine")
            await self._commit(key, record, None, "engine", reason)

    def _current(self, key: Key, position: Position | None) -> ProtectiveLevels | None:
        """The market's levels if they still belong to ``position`` (same side), else None."""
        record = self._levels.get(key)
        if record is None or position is None or position.side is not record.side:
            return None
        return record

    # -- exchange-side orders -------------------------------------------------------------------

    def _protective_update(self, order: Order) -> None:
        coid = order.client_order_id
        key, kind = self._protective[coid]
        if order.status is OrderStatus.FILLED:
            self._spawn(self._filled(key, kind, order))
        elif not order.is_open and coid not in self._retiring:
            reason = f"was {order.status.value}" + (f" ({order.reason})" if order.reason else "") + f" at {order.venue}"
            self._spawn(self._locked_lose(key, kind, coid, reason, order.venue))
        if not order.is_open:
            self._protective.pop(coid, None)
            self._retiring.discard(coid)

    async def _filled(self, key: Key, kind: str, order: Order) -> None:
        """One level filled at the exchange (the position may not have closed in our books
        yet): the other is canceled and the levels are done."""
        async with self._locks[key]:
            record = self._levels.get(key)
            if record is None or level_of(record, kind)[2] != order.client_order_id:
                return
            reason = self._announce_fill(record, kind, order)
            await self._transition(key, None, None, order.venue, reason)

    def _announce_fill(self, record: ProtectiveLevels, kind: str, order: Order) -> str:
        """Alert that a level filled at the exchange; the reason for the audit."""
        other = TAKE_PROFIT if kind == STOP_LOSS else STOP_LOSS
        other_price = level_of(record, other)[0]
        price = price_text(order.avg_price) if order.avg_price is not None else "-"
        text = f"{record.symbol} {record.side.value}: {LEVEL_NAMES[kind]} filled at {order.venue}, {order.filled_size} at {price}"
        if other_price is not None:
            text += f"; its {LEVEL_NAMES[other]} at {price_text(other_price)} is canceled"
        self._alert(record, "warning", kind, text)
        return f"{LEVEL_NAMES[kind]} filled at {order.venue}"

    async def _locked_lose(self, key: Key, kind: str, coid: str, reason: str, actor: str) -> None:
        async with self._locks[key]:
            await self._lose(key, kind, coid, reason, actor)

    async def _lose(self, key: Key, kind: str, coid: str, reason: str, actor: str) -> None:
        """A protective order ended without filling and without us asking: that level is gone."""
        record = self._levels.get(key)
        if record is None or level_of(record, kind)[2] != coid:
            return
        name, price = LEVEL_NAMES[kind], level_of(record, kind)[0]
        at = f" at {price_text(price)}" if price is not None else ""
        self._alert(record, "warning", "protection_lost",
                    f"{record.symbol} {record.side.value}: its {name} order{at} {reason}; the position has no {name} now")
        remaining = _without(record, kind)
        await self._commit(key, record, None if remaining.empty else remaining, actor, f"{name} order {reason}")

    async def _transition(
        self, key: Key, new: ProtectiveLevels | None, position: Position | None, actor: str, reason: str
    ) -> ProtectiveLevels | None:
        """Place or cancel what the change needs at the exchange, then record it. Runs under
        the market's lock."""
        old = self._levels.get(key)
        if new is None:
            await self._retire_all(old, actor)
        else:
            new = await self._placed(old, new, position, actor)
        if old is not None and new is not None and old == new.model_copy(update={"updated_ts": old.updated_ts}):
            return old
        if old is None and new is None:
            return None
        return await self._commit(key, old, new, actor, reason)

    async def _placed(
        self, old: ProtectiveLevels | None, new: ProtectiveLevels, position: Position | None, actor: str
    ) -> ProtectiveLevels:
        """``new`` with its exchange orders: placed where the venue holds them (a changed level
        is placed before its old order is canceled, so the position is never without it),
        else engine-side."""
        current = old if old is not None and old.placement is LevelPlacement.EXCHANGE else None
        venue = self._venues.get(new.venue)
        if position is None or venue is None or not venue.holds_protective_orders(new.symbol):
            await self._retire_all(current, actor)
            return new.model_copy(update={"placement": LevelPlacement.ENGINE, "stop_loss_order": None,
                                          "take_profit_order": None})
        ids: dict[str, str | None] = {}
        stale: list[str] = []
        try:
            for kind in KINDS:
                price = level_of(new, kind)[0]
                old_price, _, coid = level_of(current, kind) if current is not None else (None, None, None)
                working = self._orders.track_order(coid) if coid else None
                if price is not None and working is not None and working.is_open and old_price == price \
                        and working.size >= position.size:
                    ids[kind] = coid
                    continue
                ids[kind] = None if price is None else await self._place(new, position, kind, price, actor)
                if coid:
                    stale.append(coid)
        except ProtectionRefused as exc:
            kept = {c for c in (current.stop_loss_order, current.take_profit_order) if c} if current else set()
            for coid in [*kept, *(c for c in ids.values() if c and c not in kept)]:
                await self._retire(coid, actor)
            self._alert(new, "warning", "protection_engine_side",
                        f"{new.symbol} {new.side.value}: {exc}; its levels are watched engine-side, only while the app runs")
            return new.model_copy(update={"placement": LevelPlacement.ENGINE, "stop_loss_order": None,
                                          "take_profit_order": None})
        for coid in stale:
            await self._retire(coid, actor)
        return new.model_copy(update={"placement": LevelPlacement.EXCHANGE, "stop_loss_order": ids[STOP_LOSS],
                                      "take_profit_order": ids[TAKE_PROFIT]})

    async def _place(self, levels: ProtectiveLevels, position: Position, kind: str, price: Decimal, actor: str) -> str:
        """A reduce-only stop-market or take-profit order for the whole position; its id."""
        request = OrderRequest(
            venue=levels.venue, symbol=levels.symbol,
            side=Side.SELL if position.side is PositionSide.LONG else Side.BUY,
            type=OrderType.STOP_MARKET if kind == STOP_LOSS else OrderType.TAKE_PROFIT,
            size=position.size, trigger_price=price, reduce_only=True, client_order_id=new_client_order_id(),
        )
        coid = request.client_order_id
        self._protective[coid] = ((levels.venue, levels.symbol), kind)
        name = LEVEL_NAMES[kind]
        try:
            order = await self._desk.place_order(
                request, actor=actor, risk_exempt=f"protective {name} of the {levels.symbol} {position.side.value} position"
            )
        except OrderRefused as exc:
            self._protective.pop(coid, None)
            raise ProtectionRefused(f"the {name} could not be placed at {levels.venue}: {exc.reason}") from None
        if order.status in (OrderStatus.REJECTED, OrderStatus.CANCELED, OrderStatus.EXPIRED):
            self._protective.pop(coid, None)
            raise ProtectionRefused(f"{levels.venue} refused the {name} order: {order.reason or order.status.value}")
        return coid

    async def _retire_all(self, levels: ProtectiveLevels | None, actor: str) -> None:
        if levels is not None:
            for coid in (levels.stop_loss_order, levels.take_profit_order):
                if coid:
                    await self._retire(coid, actor)

    async def _retire(self, coid: str, actor: str) -> None:
        """Cancel one of our protective orders if it still works."""
        order = self._orders.track_order(coid)
        if order is None or not order.is_open:
            self._protective.pop(coid, None)
            return
        self._retiring.add(coid)
        try:
            await self._desk.cancel_order(coid, actor=actor)
        except OrderRefused as exc:
            log.warning("protective order %s not canceled: %s", coid, exc.reason)

    async def _commit(
        self, key: Key, old: ProtectiveLevels | None, new: ProtectiveLevels | None, actor: str, reason: str
    ) -> ProtectiveLevels | None:
        now = self._clock.now_ms()
        if new is not None:
            new = new.model_copy(update={"updated_ts": now})
            self._levels[key] = new
        elif self._levels.get(key) is old:
            self._forget(key)
        await self._store.save_protection(
            key[0], key[1], new, actor=actor, ts=now,
            payload={"old": describe(old), "new": describe(new), "reason": reason},
        )
        self._bus.publish(ProtectionChanged(key[0], key[1], None if new is None else new.model_copy()))
        return new

    def _forget(self, key: Key) -> None:
        """The market's levels are gone: so is any close in progress or pause after a failed one."""
        self._levels.pop(key, None)
        self._closing.pop(key, None)
        self._retry_after.pop(key, None)

    # -- engine-side watch ----------------------------------------------------------------------

    def on_mark(self, venue: str, symbol: str) -> None:
        """A new mark for the market: close the position if it reached an engine-side level."""
        key = (venue, symbol)
        record = self._levels.get(key)
        if record is None or record.placement is LevelPlacement.EXCHANGE or key in self._closing:
            return
        position = self._portfolio.position(venue, symbol)
        if position is None or position.side is not record.side or position.mark_price is None:
            return
        hit = reached(record, position.mark_price)
        if hit is None or self._clock.now_ms() < self._retry_after.get(key, 0):
            return
        self._closing[key] = (None, LEVEL_NAMES[hit[0]])
        self._spawn(self._close(key, position, *hit))

    async def _close(self, key: Key, position: Position, kind: str, level: Decimal) -> None:
        name = LEVEL_NAMES[kind]
        mark = position.mark_price or level
        record = self._levels.get(key)
        if record is None:
            self._closing.pop(key, None)
            return
        self._alert(record, "warning", kind, f"{position.symbol} {position.side.value} reached its {name} at "
                    f"{price_text(level)} (mark {price_text(mark)}); closing {position.size} at market")
        await self._audit("protective_level_reached", {
            "venue": position.venue, "symbol": position.symbol, "side": position.side.value, "kind": kind,
            "level": str(level), "mark": str(mark), "size": str(position.size),
        }, "risk")
        try:
            order = await self._desk.close_position(
                position.venue, position.symbol, actor="risk", risk_exempt=f"{name} {price_text(level)} reached"
            )
        except OrderRefused as exc:
            self._close_failed(key, record, name, exc.reason)
            return
        if order is None:
            self._closing.pop(key, None)
        elif order.is_open:
            self._closing[key] = (order.client_order_id, name)
        else:
            self._close_finished(key, order)

    def _close_finished(self, key: Key, order: Order) -> None:
        _, name = self._closing.pop(key, (None, "level"))
        record = self._levels.get(key)
        if order.status is not OrderStatus.FILLED and record is not None:
            self._close_failed(key, record, name, order.reason or order.status.value)
        else:
            self._retry_after.pop(key, None)

    def _close_failed(self, key: Key, record: ProtectiveLevels, name: str, reason: str) -> None:
        self._closing.pop(key, None)
        first = key not in self._retry_after
        self._retry_after[key] = self._clock.now_ms() + RETRY_MS
        if first:
            self._alert(record, "critical", "protection_close_failed",
                        f"{record.symbol} {record.side.value}: closing at its {name} failed: {reason}; "
                        f"trying again on the mark updates from {RETRY_MS // 1000} s on")

    # -- plumbing -------------------------------------------------------------------------------

    def _alert(self, levels: ProtectiveLevels, severity: str, rule: str, message: str) -> None:
        log.warning("%s", message)
        self._bus.publish(RiskAlert(severity, rule, message, levels.symbol, self._clock.now_ms()))

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("protective levels: a task failed", exc_info=task.exception())

    async def drain(self) -> None:
        """Let placements, cancels and writes in progress finish (before the venues stop)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
