"""The StrategyEngine: runs several strategies over one host, live or in a backtest.

The host is whatever can place orders for a strategy: ``core.strategy_host`` live (every order
through the executor's pre-trade gate) or the backtester over the matching engine. Strategies only see their
``StrategyContext``, which stamps their id on every order, sizes them from their share of the
capital, and keeps their own ledger, so PnL is attributed per strategy even when two trade the
same symbol. Live, it also keeps a strategy's sales on a spot market within what it holds
(unless the venue is configured for margin) and saves what the strategy cannot derive from its
orders and positions after each callback, for ``core.strategies.recovery`` after a restart.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Awaitable, Iterable, Mapping
from decimal import Decimal
from typing import Any, Protocol

from core.events import CandleClosed, Event, EventBus, OrderFilled, SignalGenerated, Subscription, TradePrinted
from core.faults import kill_point
from core.ledger import Book
from core.models import (
    ZERO,
    Candle,
    ContractType,
    Direction,
    Fill,
    Instrument,
    Order,
    OrderRequest,
    OrderType,
    Position,
    Side,
    Signal,
    Trade,
)
from core.ports import Clock
from core.storage.errors import StorageError
from core.strategies.base import CandleLike, ParameterError, Strategy, as_decimal, floor_to_lot
from core.strategies.info import StrategyInfo

log = logging.getLogger(__name__)

STRATEGY_SOURCE = "strategy:"
STATE_KEY = "strategy_state:"  # + strategy id, in the database's key-value state
FILLS_REMEMBERED = 1000  # per strategy: enough to recognise the fills booked twice around a restart


class StrategyHost(Protocol):
    """What the StrategyEngine needs from its host (``core.strategy_host`` live, the backtester).

    ``submit`` goes through the risk manager and raises an exception whose text is the reason
    when the order is refused; fills come back through ``StrategyEngine.on_fill``.
    """

    @property
    def clock(self) -> Clock: ...

    @property
    def bus(self) -> EventBus: ...

    async def submit(self, request: OrderRequest) -> Order: ...

    async def cancel(self, client_order_id: str) -> None: ...

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]: ...

    def position(self, venue: str, symbol: str) -> Position | None: ...

    def equity(self) -> Decimal: ...

    def instrument(self, venue: str, symbol: str) -> Instrument: ...

    def funding_rate(self, venue: str, symbol: str) -> float | None:
        """A perpetual's current funding rate (positive: longs pay), None when unknown."""


class StrategyVersions(Protocol):
    """The part of ``core.storage.Database`` that keeps strategy versions."""

    async def save_strategy_version(self, name: str, params: dict[str, Any], note: str = "", ts: int = 0) -> int: ...

    async def strategy_versions(self, name: str) -> list[dict[str, Any]]: ...


class StrategyStateStore(Protocol):
    """The part of ``core.storage.Database`` where strategies keep what they cannot derive from
    their orders and positions, and recover from after a restart (``core.strategies.recovery``)."""

    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...

    async def load_fills(self, *, strategy_id: str | None = None) -> list[Fill]: ...

    async def load_candles(
        self, venue: str, symbol: str, timeframe: str, since_ms: int | None = None
    ) -> list[Candle]: ...


class StrategyContext:
    """A strategy's only door to the world (see the module docstring)."""

    def __init__(
        self,
        engine: StrategyEngine,
        strategy: Strategy,
        *,
        venue: str,
        symbols: tuple[str, ...],
        timeframe: str,
        allocation_pct: float,
    ) -> None:
        self._engine = engine
        self.strategy = strategy
        self.venue = venue
        self.symbols = symbols
        self.timeframe = timeframe
        self.allocation_pct = allocation_pct
        self.books: dict[str, Book] = {}  # by symbol: this strategy's own fills (core.ledger)
        self.marks: dict[str, Decimal | float] = {}  # a candle's close stays a float until it is read
        self.signals: deque[Signal] = deque(maxlen=engine.recent_signals)
        self.state = "stopped"
        self.last_error: str | None = None
        self.orders_sent = 0
        self.orders_refused = 0
        self.client_ids: set[str] = set()
        self.saved_state: str | None = None  # the state record last written or recovered
        self._fills_seen: deque[str] = deque(maxlen=FILLS_REMEMBERED)
        self._fill_ids: set[str] = set()
        self._flat_noted: set[str] = set()

    @property
    def host(self) -> StrategyHost:
        return self._engine.host

    def now_ms(self) -> int:
        return self.host.clock.now_ms()

    def instrument(self, symbol: str) -> Instrument:
        return self.host.instrument(self.venue, symbol)

    def funding_rate(self, symbol: str) -> float | None:
        return self.host.funding_rate(self.venue, symbol)

    def book(self, symbol: str) -> Book:
        found = self.books.get(symbol)
        if found is None:
            found = self.books[symbol] = Book(self.instrument(symbol).contract_size)
        return found

    def position(self, symbol: str) -> Decimal:
        """This strategy's signed position in ``symbol`` (its own fills only)."""
        return self.book(symbol).size

    def book_fill(self, fill: Fill) -> bool:
        """Apply one of this strategy's fills to its book; False (and nothing applied) for a
        fill already booked: after a restart the same fill can come both from the database and
        from the bus."""
        if fill.fill_id in self._fill_ids:
            return False
        if len(self._fills_seen) == self._fills_seen.maxlen:
            self._fill_ids.discard(self._fills_seen[0])
        self._fills_seen.append(fill.fill_id)
        self._fill_ids.add(fill.fill_id)
        self.book(fill.symbol).fill(fill.size * fill.side.sign, fill.price, fill.fee, fill.ts)
        self.marks[fill.symbol] = fill.price
        return True

    def replay(self, fills: Iterable[Fill]) -> None:
        """Rebuild the books from the strategy's fills, oldest first (at start-up), so its
        positions and PnL are what they would be had it never stopped."""
        for fill in fills:
            if fill.venue == self.venue:
                self.book_fill(fill)

    def working_orders(self, symbol: str | None = None) -> list[Order]:
        """This strategy's open orders (at start-up: as the engine reconciled them with the venue)."""
        return [o for o in self.host.open_orders(self.venue, symbol) if o.strategy_id == self.strategy.strategy_id]

    def can_short(self, symbol: str) -> bool:
        """Whether a sale may take this strategy below zero in ``symbol``: always on derivatives,
        on a spot market only when its venue is configured for margin (the engine's
        ``margin_venues``; None, as in backtests, allows it everywhere)."""
        margin = self._engine.margin_venues
        return margin is None or self.venue in margin or self.instrument(symbol).contract_type is not ContractType.SPOT

    def _going_flat(self, symbol: str) -> None:
        """Said once per symbol: a strategy that keeps wanting to go short is not a log flood."""
        if symbol not in self._flat_noted:
            self._flat_noted.add(symbol)
            log.warning("strategy %s: %s on %s is a spot market without margin: going flat where it would go short",
                        self.strategy.strategy_id, symbol, self.venue)

    def _within_holdings(self, request: OrderRequest) -> OrderRequest | None:
        """A sale cut to what the strategy holds and has not already offered in other sell
        orders (None when that is nothing): a spot venue rejects the rest."""
        offered = sum((o.remaining for o in self.working_orders(request.symbol) if o.side is Side.SELL), ZERO)
        held = floor_to_lot(max(self.position(request.symbol) - offered, ZERO), self.instrument(request.symbol).lot_size)
        if request.size <= held:
            return request
        self._going_flat(request.symbol)
        return request.model_copy(update={"size": held}) if held > 0 else None

    async def save_state(self) -> None:
        """Write the strategy's ``snapshot`` when it changed. The engine calls this after every
        callback; a strategy calls it itself before acting on a change it must not forget
        (the grid, before sending the orders of its ladder)."""
        store = self._engine.store
        if store is None:
            return
        text = json.dumps(self.strategy.snapshot(), sort_keys=True)
        if text != self.saved_state:
            await store.set_state(STATE_KEY + self.strategy.strategy_id, text)
            self.saved_state = text
            kill_point("after_strategy_state")

    def equity(self) -> Decimal:
        """The capital this strategy may use: its allocation of the account's equity."""
        return self.host.equity() * as_decimal(self.allocation_pct)

    def unrealized(self) -> Decimal:
        marks = self.marks
        return sum((b.unrealized(as_decimal(marks[s]) if s in marks else None) for s, b in self.books.items()), ZERO)

    def pnl(self) -> Decimal:
        return sum((b.realized - b.fees for b in self.books.values()), ZERO) + self.unrealized()

    def mark(self, symbol: str, price: Decimal | float) -> None:
        self.marks[symbol] = price

    async def submit(self, request: OrderRequest) -> Order | None:
        """Send an order through the host; a refusal is logged and counted, and None returned.
        On a spot market without margin a sale never exceeds what the strategy holds."""
        if request.strategy_id != self.strategy.strategy_id:
            request = request.model_copy(update={"strategy_id": self.strategy.strategy_id})
        if request.side is Side.SELL and not self.can_short(request.symbol):
            within = self._within_holdings(request)
            if within is None:
                return None
            request = within
        self.client_ids.add(request.client_order_id)
        self.orders_sent += 1
        try:
            return await self.host.submit(request)
        except Exception as exc:  # the host words the refusal; a strategy must keep running
            self.orders_refused += 1
            self.client_ids.discard(request.client_order_id)
            log.warning("strategy %s: order refused: %s", self.strategy.strategy_id, getattr(exc, "reason", exc))
            return None

    async def market(self, symbol: str, side: Side, size: Decimal, **extra: Any) -> Order | None:
        fields = {"strategy_id": self.strategy.strategy_id, **extra}  # stamped here, not copied in submit
        return await self.submit(
            OrderRequest(venue=self.venue, symbol=symbol, side=side, type=OrderType.MARKET, size=size, **fields)
        )

    async def cancel(self, client_order_id: str) -> None:
        """Cancel through the host; a refusal (the order filled meanwhile) is logged, not raised."""
        try:
            await self.host.cancel(client_order_id)
        except Exception as exc:  # the host words the refusal; a strategy must keep running
            log.warning("strategy %s: cancel of %s refused: %s", self.strategy.strategy_id, client_order_id,
                        getattr(exc, "reason", exc))

    async def target_exposure(self, symbol: str, fraction: float, price: Decimal) -> Order | None:
        """Trade to hold ``fraction`` (signed) of this strategy's equity in ``symbol`` at ``price``,
        in one market order. Reversing, the order closes the current position and opens the new
        one, sized from the equity left after closing; either way net of the taker fee and in
        whole lots. Short on a spot market without margin means flat."""
        if fraction < 0 and not self.can_short(symbol):
            self._going_flat(symbol)
            fraction = 0.0
        instrument = self.instrument(symbol)
        fee = instrument.taker_fee
        current = self.position(symbol)
        self.mark(symbol, price)
        equity = self.equity()
        if current and (fraction == 0 or (fraction > 0) != (current > 0)):
            equity -= abs(current) * price * fee  # what closing the current position costs
        wanted = floor_to_lot(equity * abs(as_decimal(fraction)) / (price * (1 + fee)), instrument.lot_size)
        target = wanted if fraction > 0 else -wanted
        delta = target - current
        if delta == 0:
            return None
        return await self.market(symbol, Side.BUY if delta > 0 else Side.SELL, abs(delta))

    def emit(
        self,
        symbol: str,
        direction: Direction,
        *,
        strength: float = 1.0,
        confidence: float = 1.0,
        target_price: float | None = None,
        stop_loss: float | None = None,
        take_profit: float | None = None,
    ) -> Signal:
        """Record a signal this strategy produced and publish it (never routed back to strategies)."""
        signal = Signal(
            instrument_id=symbol, direction=direction, strength=strength, confidence=confidence,
            target_price=target_price, stop_loss=stop_loss, take_profit=take_profit,
            generated_time=self.now_ms(), source=STRATEGY_SOURCE + self.strategy.strategy_id,
        )
        self.signals.append(signal)
        self._engine.emitted.append(signal)
        self.host.bus.publish(SignalGenerated(signal))
        return signal

    def info(self) -> StrategyInfo:
        s = self.strategy
        return StrategyInfo(
            strategy_id=s.strategy_id, kind=s.name, state=self.state, venue=self.venue, symbols=self.symbols,
            timeframe=self.timeframe, allocation_pct=self.allocation_pct, params=dict(s.params),
            realized_pnl=sum((b.realized for b in self.books.values()), ZERO),
            unrealized_pnl=self.unrealized(),
            fees=sum((b.fees for b in self.books.values()), ZERO),
            positions={k: b.size for k, b in self.books.items() if b.size != 0},
            recent_signals=tuple(self.signals), orders_sent=self.orders_sent, orders_refused=self.orders_refused,
            last_error=self.last_error, extra=s.state(),
        )


class StrategyEngine:
    """Dispatches market data, signals and fills to the strategies that want them.

    Live, ``run`` consumes the bus (CandleClosed, TradePrinted, SignalGenerated, OrderFilled);
    the backtester calls the ``on_*`` methods directly, in simulated-time order.
    """

    def __init__(
        self,
        host: StrategyHost,
        *,
        versions: StrategyVersions | None = None,
        store: StrategyStateStore | None = None,
        margin_venues: frozenset[str] | None = None,
        recent_signals: int = 50,
    ) -> None:
        self.host = host
        self.versions = versions
        self.store = store  # None: nothing is saved (backtests)
        self.margin_venues = margin_venues
        self.recent_signals = recent_signals
        self._contexts: dict[str, StrategyContext] = {}
        self._subscription: Subscription | None = None
        self.emitted: list[Signal] = []
        self.failures: list[tuple[str, str]] = []  # (strategy id, error), in order

    # ----- set-up -----------------------------------------------------------------------------

    def add(
        self,
        strategy: Strategy,
        *,
        venue: str,
        symbols: tuple[str, ...] | list[str],
        timeframe: str,
        allocation_pct: float = 1.0,
    ) -> StrategyContext:
        if strategy.strategy_id in self._contexts:
            raise ValueError(f"a strategy with id '{strategy.strategy_id}' is already loaded")
        if not 0 < allocation_pct <= 1:
            raise ValueError(f"strategy '{strategy.strategy_id}': allocation_pct must be in (0, 1] (got {allocation_pct})")
        total = sum(c.allocation_pct for c in self._contexts.values()) + allocation_pct
        if total > 1 + 1e-9:
            raise ValueError(
                f"strategy '{strategy.strategy_id}': allocations would add up to {total:.0%} of the capital (max 100%)"
            )
        ctx = StrategyContext(
            self, strategy, venue=venue, symbols=tuple(symbols), timeframe=timeframe, allocation_pct=allocation_pct
        )
        strategy.attach(ctx)
        self._contexts[strategy.strategy_id] = ctx
        return ctx

    def context(self, strategy_id: str) -> StrategyContext:
        found = self._contexts.get(strategy_id)
        if found is None:
            known = ", ".join(self._contexts) or "none"
            raise KeyError(f"no strategy '{strategy_id}' is loaded (loaded: {known})")
        return found

    def list_strategies(self) -> list[StrategyInfo]:
        return [ctx.info() for ctx in self._contexts.values()]

    def contexts(self) -> list[StrategyContext]:
        return list(self._contexts.values())

    # ----- lifecycle ----------------------------------------------------------------------------

    async def start(self, strategy_id: str | None = None) -> None:
        for ctx in self._selected(strategy_id):
            if ctx.state != "running":
                ctx.state, ctx.last_error = "running", None
                await self.finish(ctx, ctx.strategy.on_start())

    async def stop(self, strategy_id: str | None = None) -> None:
        for ctx in self._selected(strategy_id):
            if ctx.state == "running":
                await self.finish(ctx, ctx.strategy.on_stop())
                if ctx.state == "running":
                    ctx.state = "stopped"

    def _selected(self, strategy_id: str | None) -> list[StrategyContext]:
        return list(self._contexts.values()) if strategy_id is None else [self.context(strategy_id)]

    async def set_params(self, strategy_id: str, changes: Mapping[str, Any], note: str = "") -> dict[str, Any]:
        """Validate and apply new parameter values; a new version is stored when a database is given."""
        ctx = self.context(strategy_id)
        params = ctx.strategy.validate_params({**ctx.strategy.params, **changes})
        ctx.strategy.params = params
        if self.versions is not None:
            await self.versions.save_strategy_version(strategy_id, params, note or "parameters changed", self.host.clock.now_ms())
        return params

    async def restore_versions(self) -> dict[str, int]:
        """Apply each loaded strategy's newest stored version over its configured parameters
        (at start-up); returns the version applied per strategy id. A stored version that no
        longer validates (the strategy's parameters changed since) is skipped with a warning."""
        applied: dict[str, int] = {}
        if self.versions is None:
            return applied
        for strategy_id, ctx in self._contexts.items():
            history = await self.versions.strategy_versions(strategy_id)
            if not history:
                continue
            try:
                ctx.strategy.params = ctx.strategy.validate_params(history[-1]["params"])
            except ParameterError as exc:
                log.warning("strategy %s: stored version %s ignored: %s", strategy_id, history[-1]["version"], exc)
                continue
            applied[strategy_id] = int(history[-1]["version"])
        return applied

    # ----- dispatch ----------------------------------------------------------------------------

    async def on_candle(self, venue: str, symbol: str, timeframe: str, candle: CandleLike) -> list[Signal]:
        """Feed a closed candle to the strategies trading it; returns the signals they emitted."""
        emitted = self.emitted
        first = len(emitted)
        for ctx in self.listeners(venue, symbol, timeframe):
            if ctx.state == "running":
                pending = self.close_bar(ctx, symbol, candle)
                if pending is not None or self.store is not None:
                    await self.finish(ctx, pending)
        if len(emitted) == first:  # most candles
            return []
        produced = emitted[first:]
        del emitted[first:]
        return produced

    def listeners(self, venue: str, symbol: str, timeframe: str | None = None) -> list[StrategyContext]:
        """The strategies trading ``symbol`` on ``venue`` (in ``timeframe``, when given), in the
        order market data reaches them, running or not: the backtester asks once per market."""
        return [ctx for ctx in self._contexts.values()
                if ctx.venue == venue and symbol in ctx.symbols and (timeframe is None or ctx.timeframe == timeframe)]

    def close_bar(self, ctx: StrategyContext, symbol: str, candle: CandleLike) -> Awaitable[None] | None:
        """A running strategy's part of a closed candle: its mark, its history, then its
        ``on_bar``. Returns what is left to await (``finish``) of an ``async def on_bar``; None
        when it ran to the end, or raised (it is stopped then)."""
        ctx.marks[symbol] = candle.close
        strategy = ctx.strategy
        strategy.record(symbol, candle)
        try:
            return strategy.on_bar(symbol, candle)
        except Exception as exc:
            self._stopped(ctx, exc)
            return None

    async def on_trade(self, trade: Trade) -> None:
        for ctx in self._running():
            if ctx.venue == trade.venue and trade.symbol in ctx.symbols:
                ctx.mark(trade.symbol, trade.price)
                await self.finish(ctx, ctx.strategy.on_tick(trade))

    async def on_signal(self, signal: Signal) -> None:
        if signal.source.startswith(STRATEGY_SOURCE):
            return
        for ctx in self._running():
            if signal.instrument_id in ctx.symbols:
                await self.finish(ctx, ctx.strategy.on_signal(signal))

    async def on_fill(self, fill: Fill) -> None:
        ctx = self._contexts.get(fill.strategy_id or "")
        if ctx is None or not ctx.book_fill(fill):
            return
        if ctx.state == "running":
            await self.finish(ctx, ctx.strategy.on_fill(fill))

    def _running(self) -> list[StrategyContext]:
        return [ctx for ctx in self._contexts.values() if ctx.state == "running"]

    async def finish(self, ctx: StrategyContext, callback: Awaitable[None] | None) -> None:
        """Run one callback (None: it has run), then save the strategy's state if it changed."""
        try:
            if callback is not None:
                await callback
            if self.store is not None:  # a backtest saves nothing: no coroutine per callback
                await ctx.save_state()
        except Exception as exc:
            self._stopped(ctx, exc)

    def _stopped(self, ctx: StrategyContext, exc: Exception) -> None:
        """A strategy that raised (called from the ``except``) is stopped with its error shown,
        not the engine."""
        if isinstance(exc, StorageError):
            # The storage watch has already halted trading and said why; a traceback adds nothing.
            ctx.state, ctx.last_error = "error", f"its state could not be saved: {exc}"
            self.failures.append((ctx.strategy.strategy_id, ctx.last_error))
            log.error("strategy %s stopped: %s", ctx.strategy.strategy_id, ctx.last_error)
        else:
            ctx.state, ctx.last_error = "error", f"{type(exc).__name__}: {exc}"
            self.failures.append((ctx.strategy.strategy_id, ctx.last_error))
            log.exception("strategy %s failed and was stopped", ctx.strategy.strategy_id)

    # ----- live: the bus ------------------------------------------------------------------------

    def subscribe(self) -> None:
        """Start queueing the bus's events for ``run``. Recovery reads the database after this,
        so a fill is either read there or queued here (or both: ``book_fill`` skips the second)."""
        if self._subscription is None:
            self._subscription = self.host.bus.subscribe(
                CandleClosed, TradePrinted, SignalGenerated, OrderFilled, maxsize=10_000, name="strategies"
            )

    async def run(self) -> None:
        """Consume the bus until ``close``; the TradingEngine runs this as a task."""
        self.subscribe()
        assert self._subscription is not None
        async for event in self._subscription:
            await self.dispatch(event)

    async def dispatch(self, event: Event) -> None:
        if isinstance(event, CandleClosed):
            await self.on_candle(event.venue, event.symbol, event.timeframe, event.candle)
        elif isinstance(event, TradePrinted):
            await self.on_trade(event.trade)
        elif isinstance(event, SignalGenerated):
            await self.on_signal(event.signal)
        elif isinstance(event, OrderFilled):
            await self.on_fill(event.fill)

    def close(self) -> None:
        if self._subscription is not None:
            self._subscription.close()
            self._subscription = None
