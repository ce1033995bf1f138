"""The embedded paper venue: a simulated exchange behind the ``ExchangeAdapter`` port.

The exchange itself (matching engines, the account with its margin, the user's orders) is
``core.sim.SimExchange``, the same as the ccxt paper mode's and the backtester's. Each configured
market adds a seeded simulator that keeps liquidity resting around a moving mid and sends market
orders through the book, so the user's orders trade against a flow that looks like a market:
resting orders fill when the flow reaches them, market orders slip through the depth, stops fire
on the last trade.

The venue is "the exchange": balances, positions and orders live in its own SQLite file and an
accepted order is committed there before ``create_order`` answers. Changes made in one turn of
the event loop are committed together at the end of that turn (``_save`` stages, ``_flush``
writes): a burst of orders shares one transaction, and since the flush is queued before any
event about those changes is published, nobody can act on a change the file does not hold.
A restart with the same file carries on (the simulators' random state included). Rejections
come back as reports with status ``rejected`` and a reason, never as exceptions; unknown orders
in ``cancel_order`` raise ``OrderNotFound`` as the port says.

Driving it: ``step()`` advances every market by one ``tick_interval`` of simulated time,
synchronously; tests call it with a ``SimClock``. ``start(bus)`` runs the same step in a
background task (``advance``: one market per turn of the event loop, so an order in flight
waits for one market's step, not for all of them) every ``tick_interval / speed`` seconds of
the clock (``speed`` simulated seconds pass per second of the clock; past 20 steps a second the
steps get longer instead of more frequent); ``attach(bus)`` only connects the bus (for tests and tools that step by hand).

The venue keeps its own time: ``speed`` times the clock's, from the moment it was built (or from
where a faster run left it, whichever is later). Everything it stamps (trades, candles, books,
orders, fills, funding) is on that time, so at ``speed: 60`` a 1m candle closes every second of
the clock, as a minute of the simulated market has passed. At speed 1 it is the clock's time.

History: a simulated market starts with ten hours of seeded minutes ending at the start price
(a replayed one with none), walked back to a full day of hours so the ticker's change covers
24 hours. Asked for more candles than that (the agents want 314 hourly ones), ``fetch_ohlcv``
walks the path further back from the oldest seeded trade, once, when first asked: the first
frame does not wait for it. ``history`` (candles per timeframe) sizes what each timeframe keeps
and adds timeframes beyond 1m, 5m, 15m and 1h.

What is published: ``OrderBookUpdated``, ``TickerUpdated`` (mark = the simulated mid),
``TradePrinted`` and 1m ``CandleClosed`` for subscribed markets (all of them until
``subscribe`` narrows it), and ``ExecutionReported`` for every change and fill of the user's
orders: one report per fill (cumulative size, average price and fee, and the new ``Fill``
with a unique, stable ``fill_id``) and one per status change without a fill. A liquidation
publishes ``PositionChanged(closed=True)``, ``BalancesChanged`` and a critical ``RiskAlert``.

Simplifications: a refreshed synthetic quote joins the back of its price level, so a user
order at the same price is ahead of it; a liquidation closes the position at its liquidation
price and takes its whole isolated margin.

Funding every 8 hours comes from the perpetual's own basis over its simulated spot market
(exchanges.paper.funding: the interval's mean premium plus the clamped interest rate, as the
exchanges compute it); the venue answers the data service's funding questions
(``DerivativesFeed``: the rate the interval would pay now, the next payment time, the rates it
paid since it started) and has no open interest or long/short ratio to give. Each payment on a
position is published (``FundingReported``) and kept in its file with the position it changed,
so the engine can also read what it missed (``fetch_funding_payments``, as from an exchange's
income history).
"""

from __future__ import annotations

import asyncio
import logging
import math
from bisect import bisect_left
from collections import deque
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Protocol

from core.config import PaperVenueConfig
from core.events import (
    BalancesChanged,
    CandleClosed,
    ConnectionChanged,
    Event,
    EventBus,
    ExecutionReported,
    FundingReported,
    OrderBookUpdated,
    PositionChanged,
    RiskAlert,
    TickerUpdated,
    TradePrinted,
)
from core.faults import kill_point
from core.ledger import Book
from core.market import MAX_CANDLES, TIMEFRAMES_MS, CandleBuilder, period_ms
from core.matching import EngineOrder, Kind, MatchFill, MatchingEngine, MatchResult
from core.models import (
    ZERO,
    Balance,
    Candle,
    ExecutionReport,
    Funding,
    FundingPayment,
    FundingRate,
    Instrument,
    Order,
    OrderBook,
    OrderStatus,
    Position,
    PositionSide,
    Side,
    Ticker,
    Trade,
)
from core.ports import Capability, Clock, OrderNotFound, VenueError
from core.sim import Account, Change, SimExchange, SimOrder
from core.sim.exchange import MARKET
from core.tasks import cancel_and_wait
from exchanges.paper.funding import PremiumIndex
from exchanges.paper.markets import MarketSpec, market_spec
from exchanges.paper.replay import ReplayPath, load_candles
from exchanges.paper.simulator import HISTORY_MINUTES, MarketFactor, MarketSimulator
from exchanges.paper.state import SavedPosition, VenueState

log = logging.getLogger(__name__)

BOOK_DEPTH = 20
SAVE_SIMULATION_EVERY = 100  # steps
MIN_STEP_INTERVAL = 0.05  # clock seconds between background steps, however fast the speed
GIVE_WAY_LIMIT = 0.005  # seconds a background step waits, at the most, for orders' writes (``advance``)
FUNDING_INTERVAL_MS = 8 * 3_600_000
FUNDING_KEPT = 1000  # rates each perpetual remembers for fetch_funding_history (a year at 8 hours)
PAYMENTS_KEPT = 1000  # payments on positions the venue keeps for fetch_funding_payments
HOUR_MS = TIMEFRAMES_MS["1h"]
DAY_HOURS = 24


class _Market:
    """One symbol's moving parts: its book (in the simulated exchange), its simulator, and
    candles built from the trades it printed."""

    def __init__(self, spec: MarketSpec, simulator: MarketSimulator, engine: MatchingEngine,
                 keep: Mapping[str, int]) -> None:
        self.instrument: Instrument = spec.instrument
        self.engine = engine
        self.sim = simulator
        self.candles = {tf: CandleBuilder(period_ms(tf), count) for tf, count in keep.items()}
        # per timeframe: the oldest seeded trade its candles hold, where more history ends, and
        # the time of the oldest trade they hold now
        self.origins: dict[str, tuple[int, float]] = {}
        self.oldest_ts: dict[str, int] = {}
        self.last_closed_ts = 0
        self.last: Decimal | None = None
        self.mark: Decimal = spec.start_price
        self.premium = PremiumIndex()
        self.funding_paid: list[FundingRate] = []
        # the hours before the open one, for the ticker: taken again when an hour opens or the
        # hourly candles are laid anew (``_day``)
        self.day_of: tuple[object, Candle] | None = None
        self.day_before: list[Candle] = []  # up to 24, oldest first
        self.day_volume: list[float] = []  # of the 23 newest of them, newest first
        # the hour the 24-hour change is from, its open, and that at the market's precision
        self.day_reference: tuple[Candle, float, Decimal] | None = None

    @property
    def symbol(self) -> str:
        return self.instrument.symbol


class Foreground(Protocol):
    """Writes someone waits for on another thread, which the background steps let go first
    (``core.storage.link.InFlight``: the orders' durable writes)."""

    @property
    def busy(self) -> bool: ...

    async def quiet(self, limit: float) -> float: ...


class PaperVenue:
    mode = "paper"

    def __init__(
        self, name: str, config: PaperVenueConfig, clock: Clock, state_path: Path, history: Mapping[str, int] | None = None
    ) -> None:
        """``history``: candles wanted per timeframe (see the module docstring). Raises ValueError
        (``ReplayError`` for a bad replay file) with a message for the person who wrote the
        configuration."""
        self.name = name
        self.config = config
        self._clock = clock
        wanted = dict(history or {})
        # enough candles for what is wanted and for the seeded minutes, whichever is more
        self._keep = {tf: max(MAX_CANDLES, wanted.get(tf, 0) + 1, HISTORY_MINUTES * 60_000 // period_ms(tf) + 2)
                      for tf in dict.fromkeys([*TIMEFRAMES_MS, *wanted])}
        self._markets: dict[str, _Market] = {}
        self.exchange = SimExchange(name, Account(), fill_prefix=name, on_print=self._print_trade)
        replay_candles = load_candles(config.replay) if config.replay is not None else None
        for market_config in config.markets:
            if market_config.symbol in self._markets:
                raise ValueError(f"paper market {market_config.symbol} is configured twice")
            spec = market_spec(name, market_config)
            replay = None
            if replay_candles is not None and not self._markets:
                # The replay drives the first configured market; the others stay simulated.
                replay = ReplayPath(replay_candles)
                spec = replace(spec, start_price=spec.instrument.round_price(Decimal(str(replay_candles[0].open))))
            simulator = MarketSimulator(spec, config.seed, replay)
            self._markets[market_config.symbol] = _Market(spec, simulator, self.exchange.add_market(spec.instrument),
                                                         self._keep)
        self._link_perpetuals()
        self._factor = MarketFactor(config.seed)
        self._state = VenueState(state_path)
        self._bus: EventBus | None = None
        self._task: asyncio.Task[None] | None = None
        self._subscribed: set[str] | None = None
        self._closed = False
        self._staged_orders: dict[str, SimOrder] = {}
        self._staged_positions: dict[str, Book | None] = {}
        self._payments: list[FundingPayment] = []
        self._payments_staged = False
        self._flush_handle: asyncio.Handle | None = None
        self._flush_waiters: list[asyncio.Future[None]] = []  # of the flush scheduled
        self._foreground: Foreground | None = None
        self._restore()

    # ----- set-up and persistence ----------------------------------------------------------

    def _link_perpetuals(self) -> None:
        """A simulated perpetual follows its spot market when both are configured; leaders
        step first."""
        for symbol, market in self._markets.items():
            spot = self._markets.get(symbol.partition(":")[0])
            if market.instrument.is_perpetual and spot is not None and market.sim.replay is None:
                market.sim.leader = spot.sim
                market.sim.price = spot.sim.price
                market.mark = market.instrument.round_price(Decimal(spot.sim.price))
        self._step_order = sorted(self._markets.values(), key=lambda m: m.sim.leader is not None)

    def _now(self) -> int:
        """The venue's time: ``speed`` times the clock's since the venue was built."""
        return self._origin_ms + int((self._clock.now_ms() - self._clock_origin_ms) * self.config.speed)

    def _restore(self) -> None:
        self._clock_origin_ms = self._clock.now_ms()
        self._origin_ms = max(self._clock_origin_ms, self._state.meta("venue_time") or 0)
        balances = self._state.balances()
        if balances is None:
            self.exchange.account = Account({asset: (amount, ZERO) for asset, amount in self.config.balances.items()})
            self._state.save(balances=self.exchange.account.amounts())
        else:
            self.exchange.account = Account(balances)
        for position in self._state.positions():
            self._restore_position(position)
        self.exchange.fill_seq = self._state.meta("fill_seq") or 0
        # the orders carry their numbers; a file saved before that kept the count in meta too
        self.exchange.order_seq = max(self._state.last_seq(), self._state.meta("order_seq") or 0)
        self._steps: int = self._state.meta("steps") or 0
        saved_slot = self._state.meta("funding_slot")
        self._funding_slot: int = saved_slot if saved_slot is not None else self._now() // FUNDING_INTERVAL_MS
        self._payments = [FundingPayment.model_validate(paid) for paid in self._state.meta("funding_payments") or []]
        factor = self._state.meta("market_factor")
        if factor is not None:
            self._factor.restore(factor)
        saved = self._state.meta("simulators") or {}
        premiums = self._state.meta("premiums") or {}
        for symbol, market in self._markets.items():
            if symbol in premiums:
                market.premium.restore(premiums[symbol])
            if symbol in saved:
                market.sim.restore(saved[symbol])
                market.mark = market.instrument.round_price(Decimal(market.sim.price))
        now = self._now()
        for stored in self._state.open_orders():
            if stored.order.symbol not in self._markets:
                self.exchange.finish(stored, OrderStatus.CANCELED, now,
                                      f"market {stored.order.symbol} is no longer configured")
                self._save([stored])
                continue
            self.exchange.restore(stored, now)
        for market in self._markets.values():
            if market.sim.replay is None:
                self._seed_history(market, now)
            self._refresh_quotes(market, now)

    def _restore_position(self, saved: SavedPosition) -> None:
        market = self._markets.get(saved.symbol)
        if market is None:
            log.warning("paper venue %s: a %s position of %s is kept in its file, but the market is no longer "
                        "configured", self.name, saved.symbol, saved.size)
            return
        book = self.exchange.account.book(market.instrument)
        book.size, book.entry, book.leverage, book.realized = saved.size, saved.entry, saved.leverage, saved.realized
        book.created_ts, book.updated_ts = saved.created_ts, saved.updated_ts

    def _seed_history(self, market: _Market, now: int) -> None:
        """Each timeframe takes the seeded trades its candles can hold, no older."""
        ticks = market.sim.history(now)
        for timeframe, builder in market.candles.items():
            period = builder.period_ms
            window = now - now % period - ((builder.candles.maxlen or MAX_CANDLES) - 1) * period
            held = ticks[bisect_left(ticks, window, key=lambda tick: tick[0]):]
            builder.extend(held)
            if held:
                market.origins[timeframe] = held[0][:2]
                market.oldest_ts[timeframe] = held[0][0]
        # A day of hours, so the ticker's change is over 24 hours from the first second.
        self._extend_history(market, "1h", DAY_HOURS + 1)
        market.last_closed_ts = market.candles["1m"].candles[-1].ts

    def _extend_history(self, market: _Market, timeframe: str, count: int) -> None:
        """More candles than were seeded: the simulated path goes on backwards from the oldest
        seeded trade. It is walked from there each time, so the candles are the same however
        the requests came (300 then 314, or 314 at once), and only what is older than the
        candles held is added."""
        builder, origin = market.candles[timeframe], market.origins.get(timeframe)
        if origin is None or len(builder.candles) >= count:
            return
        oldest = builder.candles[0].ts - (count - len(builder.candles)) * builder.period_ms
        held_from = market.oldest_ts[timeframe]
        ticks = [t for t in market.sim.extend_history(origin, builder.period_ms, oldest) if t[0] < held_from]
        if ticks:
            builder.prepend(ticks, count + 1)
            market.oldest_ts[timeframe] = ticks[0][0]

    def _save(self, orders: list[SimOrder], positions: dict[str, Book | None] | None = None) -> None:
        """Stage the changes for the flush at the end of this loop turn (at once without a loop)."""
        for stored in orders:
            self._staged_orders[stored.order.client_order_id] = stored
        self._staged_positions.update(positions or {})
        if self._flush_handle is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._flush()
            return
        self._flush_handle = loop.call_soon(self._flush)

    def _flush(self) -> None:
        """One transaction for everything staged: the orders' and positions' latest state,
        the balances and the counters."""
        waiters, self._flush_waiters, self._flush_handle = self._flush_waiters, [], None
        orders, positions = self._staged_orders, self._staged_positions
        self._staged_orders, self._staged_positions = {}, {}
        # not the order count: each order saved carries its number (``VenueState.last_seq``), so a
        # save of orders alone, the usual one, is one statement
        meta: dict[str, object] = {"fill_seq": self.exchange.fill_seq, "funding_slot": self._funding_slot}
        if self._payments_staged:
            meta["funding_payments"] = [paid.model_dump(mode="json") for paid in self._payments]
        try:
            self._state.save(orders=orders.values(), balances=self.exchange.account.amounts(), positions=positions, meta=meta)
            self._payments_staged = False
        except Exception as exc:
            log.error("paper venue %s: saving its state failed, will retry with the next change: %s", self.name, exc)
            self._staged_orders = {**orders, **self._staged_orders}
            self._staged_positions = {**positions, **self._staged_positions}
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_exception(VenueError(f"{self.name} could not save its state: {exc}"))
            return
        kill_point("paper_after_save")
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    async def _saved(self) -> None:
        """Return once every change staged so far is committed (what "answered" means). Each
        caller waits on a future of its own, so one that is cancelled cancels nobody else's."""
        if self._flush_handle is not None:
            waiter = asyncio.get_running_loop().create_future()
            self._flush_waiters.append(waiter)
            await waiter

    def _save_simulation(self) -> None:
        trailing = []
        for stored in self.exchange.open.values():
            engine_order = self._markets[stored.order.symbol].engine.get(stored.order.client_order_id)
            if engine_order is not None and engine_order.kind == Kind.TRAILING_STOP:
                stored.trail_ref = engine_order.ref
                trailing.append(stored)
        self._state.save(
            orders=trailing,
            meta={"simulators": {s: m.sim.state() for s, m in self._markets.items()}, "steps": self._steps,
                  "premiums": {s: m.premium.state() for s, m in self._markets.items()},
                  "market_factor": self._factor.state(), "venue_time": self._now()},
        )

    # ----- the port: lifecycle and market data ---------------------------------------------

    def give_way_to(self, foreground: Foreground) -> None:
        """Let ``foreground``'s work go first in the background steps (``advance``)."""
        self._foreground = foreground

    def attach(self, bus: EventBus) -> None:
        """Publish on ``bus`` without starting the background task."""
        self._bus = bus

    async def start(self, bus: EventBus) -> None:
        self.attach(bus)
        bus.publish(ConnectionChanged(self.name, "connected", latency_ms=float(self.config.latency_ms)))
        now = self._now()
        for market in self._markets.values():
            self._publish_market(market, now)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"paper-venue-{self.name}")

    async def _run(self) -> None:
        # Fast-forward takes longer simulated steps rather than more of them (CPU is shared).
        interval = max(self.config.tick_interval / self.config.speed, MIN_STEP_INTERVAL)
        while True:
            await self._clock.sleep(interval)
            try:
                await self.advance(interval * self.config.speed)
            except Exception:
                log.exception("paper venue %s: simulation step failed", self.name)

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        self.close()
        if self._bus is not None:
            self._bus.publish(ConnectionChanged(self.name, "disconnected"))

    def close(self) -> None:
        """Save the simulation and close the state file; later calls do nothing."""
        if self._closed:
            return
        self._closed = True
        if self._flush_handle is not None:
            self._flush_handle.cancel()
            self._flush()
        self._save_simulation()
        self._state.close()

    async def load_instruments(self) -> list[Instrument]:
        return [m.instrument for m in self._markets.values()]

    def holds_protective_orders(self, symbol: str) -> bool:
        """The simulation runs inside the app: nothing here keeps working while it is closed."""
        return False

    def supports(self, capability: Capability) -> bool:
        return capability is Capability.FUNDING_PAYMENTS

    def confirm_live(self) -> None:
        """Paper money: nothing to confirm."""

    async def subscribe(self, symbols: list[str]) -> None:
        for symbol in symbols:
            self._market(symbol)
        self._subscribed = (self._subscribed or set()) | set(symbols)

    async def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook:
        return self._book(self._market(symbol), depth, self._now())

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int = 500
    ) -> list[Candle]:
        """Candles built from trades, the current (open) one last. A simulated market starts
        with seeded history (see the module docstring); a replayed one with none."""
        market = self._market(symbol)
        if timeframe not in market.candles:
            raise VenueError(f"timeframe {timeframe} is not offered by {self.name}; use one of {', '.join(market.candles)}")
        if since is None:
            self._extend_history(market, timeframe, limit)
        held = [c for c in market.candles[timeframe].candles if since is None or c.ts >= since]
        # Copies: the open candle and, as history reaches further back, the oldest change here.
        return Candle.trusted_many((c.ts, c.open, c.high, c.low, c.close, c.volume) for c in held[-limit:]) if limit > 0 else []

    # ----- the data service's questions (core.ports.DerivativesFeed) --------------------------

    async def fetch_funding(self, symbol: str) -> Funding | None:
        market = self._market(symbol)
        if not market.instrument.is_perpetual:
            return None
        return Funding(rate=float(market.premium.rate()), next_ts=(self._funding_slot + 1) * FUNDING_INTERVAL_MS)

    async def fetch_funding_history(self, symbol: str, since: int | None = None) -> list[FundingRate]:
        return [paid for paid in self._market(symbol).funding_paid if since is None or paid.ts >= since]

    async def fetch_funding_payments(self, since: int | None = None) -> list[FundingPayment]:
        return [paid for paid in self._payments if since is None or paid.ts >= since]

    async def fetch_open_interest(self, symbol: str) -> float | None:
        return None

    async def fetch_long_short_ratio(self, symbol: str) -> float | None:
        return None

    def _market(self, symbol: str) -> _Market:
        market = self._markets.get(symbol)
        if market is None:
            raise VenueError(f"unknown symbol {symbol} on {self.name}; markets: {', '.join(self._markets)}")
        return market

    # ----- the port: account ---------------------------------------------------------------

    async def fetch_balances(self) -> list[Balance]:
        return self.exchange.account.balances()

    async def fetch_positions(self) -> list[Position]:
        return self.exchange.positions(lambda symbol: self._markets[symbol].mark)

    async def fetch_open_orders(self) -> list[ExecutionReport]:
        return [self.exchange.report(s) for s in sorted(self.exchange.open.values(), key=lambda s: s.seq)]

    async def fetch_order(self, client_order_id: str, symbol: str) -> ExecutionReport | None:
        stored = self._known(client_order_id)
        return self.exchange.report(stored) if stored is not None else None

    def _known(self, client_order_id: str) -> SimOrder | None:
        return (self.exchange.open.get(client_order_id) or self._staged_orders.get(client_order_id)
                or self._state.order(client_order_id))

    # ----- the port: orders ----------------------------------------------------------------

    async def create_order(self, order: Order) -> ExecutionReport:
        """Accept, fill or reject an order. A client order id seen before returns that
        order's current report and creates nothing."""
        if self.config.latency_ms:
            await self._clock.sleep(self.config.latency_ms / 1000)
        report = self.submit(order)
        await self._saved()
        return report

    def submit(self, incoming: Order) -> ExecutionReport:
        """``create_order`` without the latency, for callers that step the venue by hand."""
        known = self._known(incoming.client_order_id)
        if known is not None:
            return self.exchange.report(known)
        now = self._now()
        order = incoming.copy_with(status=OrderStatus.PENDING_NEW, filled_size=ZERO, avg_price=None, fee=ZERO,
                                   reason=None, venue_order_id=None, updated_ts=now)
        market = self._markets.get(order.symbol)
        stored, changes = self.exchange.submit(order, now, market.mark if market is not None else None)
        changes = changes or [Change(stored, None)]
        published = self._after(changes)
        # the report of the order's last change is its report now, unless an earlier change of
        # it brought the fill the answer carries (its last fill: a partial fill, then the rest
        # canceled)
        last = len(changes) - 1
        while changes[last].sim is not stored:
            last -= 1
        fill = changes[last].fill
        if fill is None and last:
            fill = next((c.fill for c in reversed(changes) if c.sim is stored and c.fill is not None), None)
        return published[last] if changes[last].fill is fill else self.exchange.report(stored, fill)

    async def cancel_order(self, client_order_id: str, symbol: str) -> ExecutionReport:
        if self.config.latency_ms:
            await self._clock.sleep(self.config.latency_ms / 1000)
        stored = self.exchange.cancel(client_order_id, self._now(), "canceled by request")
        if stored is None:
            known = self._known(client_order_id)
            if known is None:
                raise OrderNotFound(f"order {client_order_id} is not known to {self.name}")
            await self._saved()
            return self.exchange.report(known)
        self._after([Change(stored, None)])
        await self._saved()
        return self.exchange.report(stored)

    # ----- what the book did to the user's orders ------------------------------------------

    def _settle(self, market: _Market, result: MatchResult, now: int) -> None:
        """One engine call's fills printed and booked by the exchange, then saved and published."""
        self._after(self.exchange.settle(market.symbol, result, now))

    def _after(self, changes: list[Change]) -> list[ExecutionReport]:
        """Stage the orders (and the perpetual positions) the changes touched, then publish a
        report per change; returns the reports."""
        if not changes:
            return []
        orders = {c.sim.order.client_order_id: c.sim for c in changes}
        filled = {c.sim.order.symbol for c in changes if c.fill is not None}
        positions = {
            symbol: self.exchange.account.position(symbol)
            for symbol in filled if self._markets[symbol].instrument.is_perpetual
        } if filled else None
        self._save(list(orders.values()), positions)
        reports = [self.exchange.report_of(change) for change in changes]
        for report in reports:
            self._publish(ExecutionReported(report))
        return reports

    # ----- the simulation ------------------------------------------------------------------

    def step(self, dt: float | None = None) -> None:
        """Advance every market by ``dt`` simulated seconds (default ``tick_interval``): move
        the mid, refresh the liquidity, send the flow, mark positions, publish."""
        dt = self._begin_step(dt)
        now = self._now()
        for market in self._step_order:
            self._step_market(market, dt, now)
        self._end_step(now)

    async def advance(self, dt: float | None = None) -> None:
        """``step`` as the background task takes it: each market in its own turn of the event
        loop. A step of five markets holds the loop ~1.7 ms here; an order placed meanwhile
        waited for all of it at each of its hops (the one-at-a-time p99 was four times the
        p50), now for one market's share at the most.

        While the ``foreground`` (``give_way_to``: an order's durable write) is in flight, the
        next market waits for it, ``GIVE_WAY_LIMIT`` at the most over the whole step: the
        database's thread needs the interpreter lock between its statements and gets it only
        while the loop blocks (``core.storage.link``), so a market stepped meanwhile held the
        write up by more than its own time. Not for the venue's answer that follows: there a
        market's step costs the order its own time and no more, and in a stream of orders
        one at a time it is the step's only room. A stream delays a step by ``GIVE_WAY_LIMIT``,
        never more, and the markets take the same steps either way."""
        dt = self._begin_step(dt)
        budget = GIVE_WAY_LIMIT
        for index, market in enumerate(self._step_order):
            gave_way = False
            while self._foreground is not None and budget > 0 and self._foreground.busy:
                budget -= await self._foreground.quiet(budget)
                gave_way = True
            if index and not gave_way:
                await asyncio.sleep(0)
            self._step_market(market, dt, self._now())
        self._end_step(self._now())

    def _begin_step(self, dt: float | None) -> float:
        dt = dt if dt is not None else self.config.tick_interval
        self._factor.advance(dt)
        return dt

    def _step_market(self, market: _Market, dt: float, now: int) -> None:
        market.sim.advance(dt, self._factor)
        self._refresh_quotes(market, now, dt)
        for side, lots in market.sim.flow(dt):
            result = market.engine.submit(EngineOrder(None, MARKET, side, Kind.MARKET, lots), now)
            self._settle(market, result, now)
        self._mark_to_market(market, now)
        if market.instrument.is_perpetual:
            # the basis is the log premium over the spot market; none without one
            market.premium.add(math.expm1(market.sim.basis) if market.sim.leader is not None else 0.0, dt)
        self._close_candles(market, now)
        self._publish_market(market, now)

    def _end_step(self, now: int) -> None:
        if now // FUNDING_INTERVAL_MS > self._funding_slot:
            self._pay_funding(now)
        self._steps += 1
        if self._steps % SAVE_SIMULATION_EVERY == 0:
            self._save_simulation()

    def _refresh_quotes(self, market: _Market, now: int, dt: float = 0.0) -> None:
        """Replace the synthetic ladder around the new mid, ``dt`` simulated seconds after the
        last, by the levels it changed (a new quote that crosses a user order trades with it)."""
        self._after(self.exchange.update_liquidity(market.symbol, market.sim.requote(dt), now))

    def _print_trade(self, symbol: str, fill: MatchFill) -> None:
        """Every trade the book prints: the tape, the last price and the candles."""
        market = self._markets[symbol]
        price, size, now = fill.price, fill.size, fill.ts
        market.last = price
        # converted once for the timeframes' candles, not once for each
        price_float, size_float = float(price), float(size)
        for builder in market.candles.values():
            builder.add(now, price_float, size_float)
        if self._publishes(market):
            side = Side.BUY if fill.taker_side > 0 else Side.SELL
            self._publish(TradePrinted(Trade.trusted(self.name, market.symbol, now, price, size, side, str(fill.seq))))

    def _close_candles(self, market: _Market, now: int) -> None:
        period = TIMEFRAMES_MS["1m"]
        if now < market.last_closed_ts + 2 * period:
            return  # the minute after the last closed one is still open (all but one step a minute)
        for candle in reversed(list(islice(reversed(market.candles["1m"].candles), 2))):
            if candle.ts > market.last_closed_ts and candle.ts + period <= now:
                market.last_closed_ts = candle.ts
                if self._publishes(market):
                    self._publish(CandleClosed(self.name, market.symbol, "1m", candle.model_copy()))

    def _pay_funding(self, now: int) -> None:
        """At each 8-hour mark every perpetual pays the rate of its interval's basis (positive:
        longs pay shorts) on the notional at the mark. It is booked into the balance and the
        position's realized PnL, kept with them, and published as a FundingReported per position;
        the balances and positions reach the engine at its next account sync."""
        self._funding_slot = now // FUNDING_INTERVAL_MS
        funding_ts = self._funding_slot * FUNDING_INTERVAL_MS
        paid: dict[str, Book | None] = {}
        payments = []
        for symbol, market in self._markets.items():
            if not market.instrument.is_perpetual:
                continue
            rate = market.premium.rate()
            market.premium.reset()
            market.funding_paid = [*market.funding_paid[1 - FUNDING_KEPT:], FundingRate(ts=funding_ts, rate=float(rate))]
            book = self.exchange.account.position(symbol)
            received = self.exchange.pay_funding(symbol, rate, market.mark, now)
            if received is not None and book is not None:
                paid[symbol] = book
                payments.append(FundingPayment(
                    venue=self.name, symbol=symbol, ts=funding_ts, amount=received, currency=market.instrument.quote,
                    rate=rate, price=market.mark, side=PositionSide.LONG if book.size > 0 else PositionSide.SHORT,
                    size=abs(book.size)))
                log.info("paper venue %s: %s funding %s %s", self.name, symbol, received, market.instrument.quote)
        if payments:
            self._payments = [*self._payments, *payments][-PAYMENTS_KEPT:]
            self._payments_staged = True
        self._save([], paid)
        for payment in payments:
            self._publish(FundingReported(payment))

    def _mark_to_market(self, market: _Market, now: int) -> None:
        market.mark = market.instrument.round_price(Decimal(market.sim.price))
        liquidated = self.exchange.liquidate_at(market.symbol, market.mark, now)
        if liquidated is not None:
            self._liquidated(market, *liquidated, now)

    def _liquidated(self, market: _Market, closed: Position, canceled: list[Change], now: int) -> None:
        price = closed.mark_price
        log.warning("paper venue %s: %s position liquidated at %s, margin %s lost",
                    self.name, market.symbol, price, closed.margin)
        self._save([c.sim for c in canceled], {market.symbol: None})
        for change in canceled:
            self._publish(ExecutionReported(self.exchange.report_of(change)))
        self._publish(PositionChanged(closed, closed=True))
        self._publish(BalancesChanged(self.name, tuple(self.exchange.account.balances())))
        self._publish(RiskAlert("critical", "liquidation",
                                f"{market.symbol} position liquidated at {price}: isolated margin lost",
                                market.symbol, now))

    def _book(self, market: _Market, depth: int, now: int) -> OrderBook:
        return self._make_book(market, now, *market.engine.depth(depth))

    def _make_book(self, market: _Market, now: int, bids: list[tuple[int, int]], asks: list[tuple[int, int]]) -> OrderBook:
        """The book of ``depth``'s levels, made without re-validation: the engine's values are
        already the instrument's prices and sizes."""
        engine = market.engine
        return OrderBook.trusted(self.name, market.symbol, now, engine.levels_decimal(bids), engine.levels_decimal(asks))

    def _publish_market(self, market: _Market, now: int) -> None:
        """The book is taken in ticks and made on its first read (``OrderBookUpdated.later``,
        as the ccxt venue publishes): the screen reads a few of the hundreds published a second."""
        if not self._publishes(market):
            return
        engine = market.engine
        bids, asks = engine.depth(BOOK_DEPTH)
        self._publish(OrderBookUpdated.later(self.name, market.symbol, self._make_book, market, now, bids, asks))
        hourly = market.candles["1h"].candles
        newest = hourly[-1] if hourly else None
        if newest is None:
            volume, start = Decimal(0), None
        else:
            before = self._day(market, hourly, newest)
            # summed newest first, as the 24 hours always were, so the figure is the same
            volume = Decimal(str(round(sum(market.day_volume, newest.volume), 8)))
            # The 24-hour change starts at the open of the hour in which the day began (a replay
            # shorter than a day starts at its oldest hour, and the ticker says when).
            since = now - 24 * HOUR_MS
            start = next((c for c in before if c.ts + HOUR_MS > since), newest if newest.ts + HOUR_MS > since else None)
        self._publish(TickerUpdated(Ticker.trusted(
            self.name, market.symbol, now, engine.price_of(bids[0][0]) if bids else None,
            engine.price_of(asks[0][0]) if asks else None, market.last, market.mark, volume,
            self._reference(market, start) if start else None, start.ts if start else None,
        )))

    @staticmethod
    def _reference(market: _Market, start: Candle) -> Decimal:
        """The open of the hour the 24-hour change is from, at the market's precision: the same
        hour for an hour of tickers (its open moves only when older history joins it)."""
        cached = market.day_reference
        if cached is None or cached[0] is not start or cached[1] != start.open:
            cached = market.day_reference = (start, start.open,
                                             market.instrument.round_price(Decimal(str(start.open))))
        return cached[2]

    @staticmethod
    def _day(market: _Market, hourly: deque[Candle], newest: Candle) -> list[Candle]:
        """The hours before the open one (oldest first), kept while the same hour is open: the
        closed hours do not change, and summing their volumes for every ticker of every market
        cost a tenth of the market's step."""
        if market.day_of is None or market.day_of[0] is not hourly or market.day_of[1] is not newest:
            market.day_of = (hourly, newest)
            market.day_before = list(islice(reversed(hourly), 1, 25))[::-1]
            market.day_volume = [c.volume for c in islice(reversed(market.day_before), 23)]
        return market.day_before

    def _publishes(self, market: _Market) -> bool:
        return self._bus is not None and (self._subscribed is None or market.symbol in self._subscribed)

    def _publish(self, event: Event) -> None:
        if self._bus is not None:
            self._bus.publish(event)
