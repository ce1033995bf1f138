"""The event-driven backtester: strategies trade replayed candles through the matching engine.

It is the strategies' host (``StrategyHost``) in simulated time, so a strategy runs here exactly as
it runs live. Each candle is replayed as four prices — open, then low and high in the order a candle
of that colour most plausibly took them, then close — each printed as a trade that the strategies
see; the candle itself closes after the last. Given a tape of recorded trades for a symbol, its
candles replay those trades instead, at their own times, sizes and sides. A candle inside which
nothing can happen (no order of ours live, no signal due, no risk gate watching each price, no
strategy wanting its prints: ``Strategy.wants_ticks``) is not replayed print by print: it leaves
its last price, all its prints would have left, and a replayed candle stops at the print after
which that holds. Orders are matched by the
matching engine (``core.matching``) against synthetic depth placed around the replayed price (see
``Slippage``): market orders fill at that price, or walk the depth and leave a remainder; resting
limit orders fill when the replayed price reaches them, stops fire from the engine's trigger logic.
Given funding rates for a perpetual, each is paid at the close of the candle it falls in, on the
position then held, at that close (longs pay a positive rate), and the strategies read the latest
paid rate as they would read the venue's. With ``latency_ms`` an order reaches the book at the first
replayed price at or after submission plus the latency. The books, the account and the orders are
the simulated exchange's (``core.sim``), the one the paper venues use; its account is a margin
account in the quote currency, like backtesting.py's: cash moves by realized PnL and fees, shorts
are allowed, nothing is refused for want of funds. Given the live configuration (``risk``), every
order of a strategy also passes the live pre-trade gate (``core.backtest.risk``) and refusals are
counted.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from array import array
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from core.backtest.data import Bars, DataError, ReplayCandle, Tape, format_ts
from core.backtest.equity import EquityCurve
from core.backtest.metrics import TradeRecord, compute_metrics
from core.backtest.result import BacktestResult, BacktestSettings
from core.clock import SimClock
from core.events import EventBus
from core.executor import OrderRefused
from core.ledger import Book
from core.matching import BUY, MatchingEngine, MatchResult
from core.models import (
    ZERO,
    Fill,
    FundingRate,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    Signal,
    TimeInForce,
    Trade,
)
from core.sim import Account, Change, SimExchange
from core.sim.exchange import MARKET
from core.strategies.base import Strategy, as_decimal
from core.strategies.runner import StrategyContext, StrategyEngine

if TYPE_CHECKING:
    from core.backtest.risk import BacktestRisk
    from core.config import AppConfig

log = logging.getLogger(__name__)

VENUE = "backtest"
UNLIMITED_LOTS = 10**18
# candles converted from the arrays at a time: few enough that they are freed before the
# collector's older generations see them (4096 cost ~15% of the replay in collections)
CANDLE_BATCH = 128
Progress = Callable[[int, int], None]


def price_decimals(bars: Bars) -> int:
    """Decimals the file's prices are written with (at most 10), from a sample of them."""
    sample = np.concatenate([a[:: max(1, len(a) // 2000)] for a in (bars.open, bars.high, bars.low, bars.close)])
    for decimals in range(11):
        scaled = sample * 10**decimals
        if np.all(np.abs(scaled - np.rint(scaled)) < 1e-6):
            return decimals
    return 10


def instrument_for(bars: Bars, settings: BacktestSettings) -> Instrument:
    """A tick two decimals finer than the data, so the one-tick minimum spread is negligible."""
    base, _, quote = bars.symbol.partition("/")
    tick = Decimal(1).scaleb(-(price_decimals(bars) + 2))
    fee = Decimal(repr(settings.fee))
    return Instrument(
        venue=VENUE, symbol=bars.symbol, base=base or bars.symbol, quote=(quote.split(":")[0] or "USD"),
        tick_size=tick, lot_size=Decimal(repr(settings.lot_size)), maker_fee=fee, taker_fee=fee,
    )


@dataclass
class _OpenTrade:
    """The round trip the position is in: when it opened, its entry price (the ledger's) and
    the fees of its open size."""

    entry_bar: int
    entry_ts: int
    entry: Decimal
    fees: Decimal


@dataclass
class _Market:
    """One symbol: its candles as ticks, its book and its position in the exchange."""

    bars: Bars
    instrument: Instrument
    book: MatchingEngine
    position: Book
    paths: np.ndarray  # (n, 4) replayed prices in ticks
    closes: list[int]  # the last replayed price of each candle, ticks (0: none yet)
    tape: Tape | None = None  # recorded trades replayed instead of the four prices
    tape_ticks: np.ndarray | None = None
    tape_bounds: np.ndarray | None = None  # (n, 2) first and past-last trade of each candle
    trade: _OpenTrade | None = None
    cursor: int = 0
    last: int = 0  # last replayed price, ticks
    funding: Sequence[FundingRate] = ()  # oldest first
    funding_paid: int = 0  # how many of them are paid
    # the strategies its candles go to, and those its prints go to (the run's start fills them)
    listeners: list[StrategyContext] = field(default_factory=list)
    watchers: list[StrategyContext] = field(default_factory=list)
    upcoming: Iterator[ReplayCandle] = field(init=False)  # the candles to close, from the cursor's

    def __post_init__(self) -> None:
        bars = self.bars
        self.upcoming = chain.from_iterable(bars.replay_candles(start, start + CANDLE_BATCH)
                                            for start in range(0, len(bars), CANDLE_BATCH))

    def close_candle(self) -> ReplayCandle:
        """The candle at the cursor, which moves past it."""
        self.cursor += 1
        return next(self.upcoming)


@dataclass
class _Live:
    order: Order
    due: int  # when it reaches the book (latency), ms
    placed: bool = False


class StrategyFailed(RuntimeError):
    """A strategy raised during a backtest: its results would be meaningless, so the run stops."""


class Backtester:
    """Implements ``StrategyHost`` over the matching engine and a SimClock (module docstring).

    Each symbol trades as ``instrument_for`` makes it from the data and the settings, or as
    ``instruments`` gives it (a venue's own market: its tick, lot, fees, contract size; a
    perpetual's orders keep their leverage, so its margin and liquidation price are the venue's).
    ``risk``: the configuration whose pre-trade gate the strategies' orders pass.
    """

    def __init__(
        self,
        bars: Bars | Sequence[Bars],
        settings: BacktestSettings | None = None,
        *,
        signals: Sequence[Signal] = (),
        tapes: Mapping[str, Tape] | None = None,
        instruments: Mapping[str, Instrument] | None = None,
        funding: Mapping[str, Sequence[FundingRate]] | None = None,
        progress: Progress | None = None,
        risk: AppConfig | None = None,
    ) -> None:
        series = [bars] if isinstance(bars, Bars) else list(bars)
        if not series or any(len(b) == 0 for b in series):
            raise DataError("a backtest needs at least one candle per symbol")
        if len({b.timeframe for b in series}) > 1 or len({b.symbol for b in series}) < len(series):
            raise DataError("all symbols of a backtest must share one timeframe and be distinct")
        self.settings = settings or BacktestSettings()
        problems = self.settings.problems()
        if problems:
            raise ValueError("; ".join(problems))
        ts = series[0].ts
        # one symbol's candles, in order as loading checks them, are the timeline (np.unique hashes)
        self.timeline = ts if len(series) == 1 and bool(np.all(ts[1:] > ts[:-1])) else np.unique(
            np.concatenate([b.ts for b in series]))
        self.clock = SimClock(int(self.timeline[0]))
        self.bus = EventBus()
        self.strategies = StrategyEngine(self)
        self.exchange = SimExchange(VENUE, Account(margin=True), fill_prefix="bt", check_funds=False)
        self.trades: list[TradeRecord] = []
        given = dict(instruments or {})
        self._markets = {b.symbol: self._market(b, given.pop(b.symbol, None)) for b in series}
        if given:
            raise DataError(f"instruments given for symbols without candles: {', '.join(sorted(given))}")
        quotes = sorted({m.instrument.quote for m in self._markets.values()})
        if len(quotes) > 1:
            # the account is kept in one currency; PnL of an ETH/BTC position is in BTC
            raise DataError(f"all symbols of a backtest must share one quote currency (got {', '.join(quotes)})")
        self.quote = quotes[0]
        self.exchange.account.free[self.quote] = Decimal(repr(self.settings.cash))
        for symbol, tape in (tapes or {}).items():
            self._attach_tape(self._require(symbol), tape)
        self.funding = ZERO  # received by every position (negative: paid)
        for symbol, rates in (funding or {}).items():
            if ":" not in symbol:
                raise DataError(f"funding rates given for {symbol}, which is not a perpetual (like BTC/USDT:USDT)")
            self._require(symbol).funding = sorted(rates, key=lambda rate: rate.ts)
        self._live: dict[str, _Live] = {}
        self._moved = False  # the ledger moved (a fill, funding) since the equity curve last looked
        self._signals = sorted(signals, key=lambda s: s.generated_time)
        self._bar = 0
        self._progress = progress
        self.series = series
        self.exposed_bars = 0
        self.risk: BacktestRisk | None = None
        self._emergencies: list[str] = []
        if risk is not None:
            from core.backtest.risk import BacktestRisk

            self.risk = BacktestRisk(risk, VENUE, [m.instrument for m in self._markets.values()], self.quote,
                                     Decimal(repr(self.settings.cash)), self.clock, self.bus, self.open_orders,
                                     self._emergency)

    def _market(self, bars: Bars, given: Instrument | None) -> _Market:
        instrument = given or instrument_for(bars, self.settings)
        scale = 1 / float(instrument.tick_size)
        bullish = bars.close >= bars.open
        first = np.where(bullish, bars.low, bars.high)
        second = np.where(bullish, bars.high, bars.low)
        prices = np.column_stack([bars.open, first, second, bars.close]) * scale
        paths = np.rint(prices).astype(np.int64)
        if given is not None and not np.allclose(prices, paths, rtol=0, atol=1e-6):
            raise DataError(f"prices of {bars.symbol} are not all multiples of its tick size {instrument.tick_size}")
        return _Market(bars, instrument, self.exchange.add_market(instrument), self.exchange.account.book(instrument),
                       paths, paths[:, 3].tolist())

    def _attach_tape(self, market: _Market, tape: Tape) -> None:
        step = market.bars.step_ms
        market.tape = tape
        market.tape_ticks = np.rint(tape.price / float(market.instrument.tick_size)).astype(np.int64)
        market.tape_bounds = np.column_stack([np.searchsorted(tape.ts, market.bars.ts),
                                              np.searchsorted(tape.ts, market.bars.ts + step)])
        # a candle without trades leaves the price where the last replayed trade did
        latest = np.maximum.accumulate(np.where(market.tape_bounds[:, 1] > market.tape_bounds[:, 0],
                                                market.tape_bounds[:, 1] - 1, -1))
        market.closes = np.where(latest >= 0, market.tape_ticks[np.maximum(latest, 0)], 0).tolist()

    def _ticks(self, market: _Market, ts: int, offsets: tuple[int, ...]) -> list[tuple[int, _Market, int, Decimal, Side]]:
        """What is replayed inside one candle: its recorded trades, else its four prices."""
        i = market.cursor
        if market.tape is None or market.tape_ticks is None or market.tape_bounds is None:
            return [(ts + off, market, price, ZERO, Side.BUY) for off, price in zip(offsets, market.paths[i].tolist(), strict=True)]
        tape, (first, last) = market.tape, market.tape_bounds[i]
        return [(int(tape.ts[j]), market, int(market.tape_ticks[j]), as_decimal(float(tape.size[j])),
                 Side.BUY if tape.side[j] > 0 else Side.SELL) for j in range(first, last)]

    # ----- StrategyHost -------------------------------------------------------------------------

    def instrument(self, venue: str, symbol: str) -> Instrument:
        return self._require(symbol).instrument

    def position(self, venue: str, symbol: str) -> Position | None:
        market = self._require(symbol)
        if market.position.size == 0:
            return None
        return market.position.to_position(VENUE, symbol, market.book.price_of(market.last),
                                           perpetual=market.instrument.is_perpetual)

    def funding_rate(self, venue: str, symbol: str) -> float | None:
        """The rate of the last funding paid by now: the next one's best guess, as a venue shows it."""
        market = self._require(symbol)
        return market.funding[market.funding_paid - 1].rate if market.funding_paid else None

    def position_size(self, symbol: str) -> Decimal:
        """The account's signed position in ``symbol``."""
        return self._require(symbol).position.size

    @property
    def fees(self) -> Decimal:
        return sum((m.position.fees for m in self._markets.values()), ZERO)

    def equity(self) -> Decimal:
        """Cash (the quote currency's balance, margin included) plus the open positions' PnL
        (``core.backtest.equity`` works out the same at every close)."""
        total = self.exchange.account.total(self.quote)
        for market in self._markets.values():
            if market.position.size:
                total += market.position.unrealized(market.book.price_of(market.last))
        return total

    async def submit(self, request: OrderRequest) -> Order:
        market = self._markets.get(request.symbol)
        if market is None:
            raise OrderRefused(f"{request.symbol} is not in this backtest (symbols: {', '.join(self._markets)})")
        if self.risk is None:
            problems = request.validate_for(market.instrument)
            if problems:
                raise OrderRefused("; ".join(problems), "instrument")
        if request.client_order_id in self._live:
            raise OrderRefused(f"client order id {request.client_order_id} is already in use")
        if request.stop_loss is not None or request.take_profit is not None:
            raise OrderRefused("the backtester does not attach stop-loss/take-profit to an order: "
                               "send them as separate stop_market / take_profit orders")
        if self.risk is not None:
            refusal = self.risk.check(request)  # validation against the instrument included
            if refusal is not None:
                raise OrderRefused(refusal.reason, refusal.rule)
        return await self._accept(market, request)

    async def _accept(self, market: _Market, request: OrderRequest) -> Order:
        now = self.clock.now_ms()
        order = Order.from_request(request, now)
        live = self._live[order.client_order_id] = _Live(order, now + self.settings.latency_ms)
        if self.settings.latency_ms == 0 and market.last > 0:
            await self._place(market, live)
        return order

    async def cancel(self, client_order_id: str) -> None:
        """Cancel an order if it is still live; one already done is left as it is."""
        live = self._live.pop(client_order_id, None)
        if live is None:
            return
        reason = "canceled by the strategy"
        if live.placed:
            self.exchange.cancel(client_order_id, self.clock.now_ms(), reason)
        else:
            live.order.transition(OrderStatus.CANCELED, self.clock.now_ms(), reason)

    def open_orders(self, venue: str | None = None, symbol: str | None = None) -> list[Order]:
        return [lv.order for lv in self._live.values() if symbol is None or lv.order.symbol == symbol]

    def _require(self, symbol: str) -> _Market:
        market = self._markets.get(symbol)
        if market is None:
            raise KeyError(f"{symbol} is not in this backtest (symbols: {', '.join(self._markets)})")
        return market

    # ----- the replay ---------------------------------------------------------------------------

    async def run(self) -> np.ndarray:
        """Replay every candle; returns the equity at each candle's close. A candle inside which
        nothing can happen (``_quiet``) is not replayed print by print: it leaves its last price,
        all its prints would have left."""
        markets = list(self._markets.values())
        step = markets[0].bars.step_ms
        offsets = (0, step // 3, 2 * step // 3, step - 1)
        curve = EquityCurve()
        tracked: list[tuple[array[int], _Market]] = []  # the open positions' markets, and where their marks go
        self._moved = True
        single = len(markets) == 1  # then every candle of the timeline is the market's
        funded = any(m.funding for m in markets)
        strategies, risk, clock, progress = self.strategies, self.risk, self.clock, self._progress
        close_bar, finish, emitted, failures = strategies.close_bar, strategies.finish, strategies.emitted, strategies.failures
        for market in markets:
            market.listeners = strategies.listeners(VENUE, market.bars.symbol, market.bars.timeframe)
            market.watchers = strategies.listeners(VENUE, market.bars.symbol)
        await strategies.start()
        self._stop_on_failure()
        last = len(self.timeline) - 1
        for i, ts in enumerate(self.timeline.tolist()):
            self._bar = i
            end = ts + step
            active = markets if single else [m for m in markets if m.cursor < len(m.bars) and m.bars.ts[m.cursor] == ts]
            if self._quiet(active, end):
                for market in active:
                    market.last = market.closes[market.cursor]
            else:
                await self._replay_candle(active, ts, end, offsets)
            clock.set(end)
            if risk is not None:
                for market in active:
                    risk.closed(market.bars.symbol, market.book.price_of(market.last))
            if funded:
                for market in active:
                    if market.funding:
                        self._pay_funding(market, end)
            for market in active:
                candle, symbol = market.close_candle(), market.bars.symbol
                for ctx in market.listeners:
                    if ctx.state == "running":
                        pending = close_bar(ctx, symbol, candle)
                        if pending is not None:
                            await finish(ctx, pending)
            if emitted:  # the strategies' signals: nobody here reads them
                emitted.clear()
            if risk is not None:
                await self._watch_risk()
            if failures:
                self._stop_on_failure()
            if self._moved:
                self._moved = False
                held = [m for m in markets if m.position.size]
                places = curve.moved(i, self.exchange.account.total(self.quote), [
                    (m.book.price_of(1), m.position.entry, m.position.size, m.position.contract_size) for m in held])
                tracked = list(zip(places, held, strict=True))
            for marks, market in tracked:
                marks.append(market.last)
            if progress is not None and (i % 1000 == 0 or i == last):
                progress(i + 1, last + 1)
        await self.strategies.stop()
        if self.risk is not None:
            await self.risk.drain()
        self.exposed_bars = curve.exposed(len(self.timeline))
        return curve.values(len(self.timeline))

    def _quiet(self, active: list[_Market], end: int) -> bool:
        """Whether nothing can happen inside these candles (ending at ``end``): no order of ours
        is live (resting, a stop, or on its way to the book), no risk gate watches each price,
        no signal falls due, and no strategy wants the prints."""
        if self._live or self.risk is not None or (self._signals and self._signals[0].generated_time < end):
            return False
        for market in active:
            symbol = market.bars.symbol
            for ctx in market.watchers:
                if ctx.state == "running" and ctx.strategy.wants_ticks(symbol):
                    return False
        return True

    async def _replay_candle(self, active: list[_Market], ts: int, end: int, offsets: tuple[int, ...]) -> None:
        """The candles' prints one by one, in time order across the markets, until the rest of
        them cannot change anything (``_quiet``: the order the first print sent has filled, say)."""
        ticks = [tick for market in active for tick in self._ticks(market, ts, offsets)]
        if len(active) > 1:
            ticks.sort(key=lambda tick: tick[0])
        for tick_ts, market, price, size, side in ticks:
            self.clock.set(tick_ts)
            if self._signals and self._signals[0].generated_time <= tick_ts:
                await self._deliver_signals()
            await self._replay(market, price, size, side)
            if self._quiet(active, end):
                break
        for market in active:
            market.last = market.closes[market.cursor]

    def _pay_funding(self, market: _Market, until: int) -> None:
        while market.funding_paid < len(market.funding) and market.funding[market.funding_paid].ts <= until:
            rate = market.funding[market.funding_paid]
            market.funding_paid += 1
            if market.position.size:
                self.funding += self.exchange.account.pay_funding(
                    market.instrument, as_decimal(rate.rate), market.book.price_of(market.last), rate.ts)
                self._moved = True

    async def _watch_risk(self) -> None:
        """The engine's monitor at each close; an emergency stop it (or an order) raised cancels
        every order and closes every position, past the halted gate, as the engine's does."""
        assert self.risk is not None
        self.risk.monitor()
        await asyncio.sleep(0)  # the risk manager hands an emergency to a task: let it report
        while self._emergencies:
            reason = self._emergencies.pop(0)
            for client_order_id in list(self._live):
                await self.cancel(client_order_id)
            for market in self._markets.values():
                await self._close(market, reason)

    async def _emergency(self, reason: str) -> None:
        self._emergencies.append(reason)

    async def _close(self, market: _Market, reason: str) -> None:
        size = abs(market.position.size)
        if size == 0 or market.last == 0:
            return
        request = OrderRequest(venue=VENUE, symbol=market.bars.symbol, side=Side.SELL if market.position.size > 0 else Side.BUY,
                               type=OrderType.MARKET, size=size, time_in_force=TimeInForce.IOC,
                               reduce_only=market.instrument.is_perpetual)
        assert self.risk is not None
        refusal = self.risk.exempt(request)
        if refusal is not None:
            log.error("emergency stop (%s) could not close %s: %s", reason, market.bars.symbol, refusal.reason)
            return
        await self._accept(market, request)

    def _stop_on_failure(self) -> None:
        if self.strategies.failures:
            strategy_id, error = self.strategies.failures[0]
            raise StrategyFailed(f"strategy '{strategy_id}' failed at {format_ts(self.clock.now_ms())}: {error}")

    async def _deliver_signals(self) -> None:
        now = self.clock.now_ms()
        while self._signals and self._signals[0].generated_time <= now:
            await self.strategies.on_signal(self._signals.pop(0))

    async def _replay(self, market: _Market, price: int, size: Decimal, side: Side) -> None:
        """One replayed price: due orders reach the book, resting ones and stops meet the
        synthetic depth, then the strategies see the print."""
        market.last = price
        now = self.clock.now_ms()
        if self.risk is not None:
            self.risk.price(market.bars.symbol, market.book.price_of(price))
        if self._live:
            for live in [lv for lv in self._live.values()
                         if not lv.placed and lv.due <= now and lv.order.symbol == market.bars.symbol]:
                await self._place(market, live)
        if market.book.has_live_orders():
            await self._settle(market, self._meet_resting(market, price, now))
        trade = Trade.trusted(VENUE, market.bars.symbol, now, market.book.price_of(price), size, side)
        await self.strategies.on_trade(trade)

    def _meet_resting(self, market: _Market, price: int, now: int) -> MatchResult:
        """The market trades at ``price``: resting orders it reaches fill at their own price
        (as makers), then stops and trailing stops see the price, with depth on both sides to
        fill what they trigger. A book needs a spread, so with no configured spread the bids
        sit one tick under the price."""
        book = market.book
        ask, bid = self._touch(market, price)
        best_bid, best_ask = book.best_bid(), book.best_ask()
        placed = self._ladder(market, -BUY, ask, now) + self._ladder(market, BUY, bid, now)
        result = MatchResult()
        sweeps = []
        if best_bid is not None and best_bid >= ask:
            sweeps.append(book.new_order(Side.SELL, OrderType.LIMIT, book.size_of(UNLIMITED_LOTS),
                                         price=book.price_of(ask), time_in_force=TimeInForce.IOC, owner=MARKET))
        if best_ask is not None and best_ask <= bid:
            sweeps.append(book.new_order(Side.BUY, OrderType.LIMIT, book.size_of(UNLIMITED_LOTS),
                                         price=book.price_of(bid), time_in_force=TimeInForce.IOC, owner=MARKET))
        for sweep in sweeps:
            _merge(result, book.submit(sweep, now))
        _merge(result, book.update_last_price(price, now))
        for oid in placed:
            book.cancel(oid)
        return result

    def _touch(self, market: _Market, price: int) -> tuple[int, int]:
        half = int(round(price * self.settings.slippage.half_spread_bps / 10_000))
        return price + half, max(1, price - max(half, 1))

    def _ladder(self, market: _Market, maker: int, start: int, now: int) -> list[Any]:
        """Synthetic makers from ``start`` away from the price, never crossing our own orders
        (so placing them prints nothing); returns their ids for removal."""
        book, slip = market.book, self.settings.slippage
        step = max(1, int(round(start * slip.step_bps / 10_000)))
        if maker == BUY:
            best_ask = book.best_ask()
            start = min(start, best_ask - 1) if best_ask is not None else start
        else:
            best_bid = book.best_bid()
            start = max(start, best_bid + 1) if best_bid is not None else start
        placed = []
        for level in range(max(1, slip.levels)):
            level_price = start + level * step * (-1 if maker == BUY else 1)
            if level_price <= 0:
                break
            order = book.new_order(Side.BUY if maker == BUY else Side.SELL, OrderType.LIMIT,
                                   book.size_of(self._level_lots(market, level_price)),
                                   price=book.price_of(level_price), owner=MARKET)
            book.submit(order, now)
            placed.append(order.oid)
        return placed

    def _level_lots(self, market: _Market, price_ticks: int) -> int:
        notional = self.settings.slippage.level_notional
        if notional <= 0:
            return UNLIMITED_LOTS
        price = float(price_ticks * market.instrument.tick_size)
        return max(1, int(notional / price / float(market.instrument.lot_size)))

    async def _place(self, market: _Market, live: _Live) -> None:
        book = market.book
        live.placed = True
        now = self.clock.now_ms()
        sim = self.exchange.accept(live.order, now, book.price_of(market.last))
        if live.order.status is OrderStatus.REJECTED:
            self._live.pop(live.order.client_order_id, None)
            return
        engine_order = self.exchange.engine_order(sim)
        ask, bid = self._touch(market, market.last)
        if self.settings.slippage.half_spread_bps == 0:
            ask = bid = market.last  # one side only: a taker meets the replayed price itself
        placed = self._ladder(market, -engine_order.side, ask if engine_order.side == BUY else bid, now)
        result = book.submit(engine_order, now)
        for oid in placed:
            book.cancel(oid)
        await self._settle(market, result)

    async def _settle(self, market: _Market, result: MatchResult) -> None:
        """The exchange books our fills and order states; the round trips are recorded, then
        the strategies see the fills."""
        fills: list[Fill] = []
        for change in self.exchange.settle(market.bars.symbol, result, self.clock.now_ms()):
            if change.fill is not None:
                self._moved = True
                self._record_trade(market, change)
                fills.append(change.fill)
                if self.risk is not None:
                    self.risk.fill(change.fill, change.sim.order.leverage)
            if change.status.is_terminal:
                self._live.pop(change.sim.order.client_order_id, None)
        for fill in fills:
            await self.strategies.on_fill(fill)

    def _record_trade(self, market: _Market, change: Change) -> None:
        """The round trips of one fill, from the position it left: a fill against the position
        closes part or all of one (its PnL is what the ledger realized), one through zero closes
        it and opens the next; fees are shared out by size."""
        fill = change.fill
        assert fill is not None
        after = change.position_size
        before = after - fill.size * fill.side.sign
        fee_per_unit = fill.fee / fill.size
        remaining, trade = fill.size, market.trade
        if trade is not None and before and (before > 0) != (fill.side is Side.BUY):
            held = abs(before)
            closed = min(held, remaining)
            entry_fee, exit_fee = trade.fees * closed / held, fee_per_unit * closed
            self.trades.append(TradeRecord(
                market.bars.symbol, "long" if before > 0 else "short", float(closed), trade.entry_bar, self._bar,
                trade.entry_ts, fill.ts, float(trade.entry), float(fill.price),
                float(change.realized - entry_fee - exit_fee), float(entry_fee + exit_fee), fill.strategy_id or "",
            ))
            trade.fees -= entry_fee
            remaining -= closed
            if closed == held:
                market.trade = trade = None
        if remaining > 0:
            fee = fee_per_unit * remaining
            if trade is None:
                market.trade = _OpenTrade(self._bar, fill.ts, change.position_entry, fee)
            else:
                trade.entry = change.position_entry
                trade.fees += fee


def _merge(into: MatchResult, more: MatchResult) -> None:
    into.fills.extend(more.fills)
    into.updated.extend(more.updated)


def backtest(
    strategy_cls: type[Strategy],
    bars: Bars | Sequence[Bars],
    params: Mapping[str, Any] | None = None,
    settings: BacktestSettings | None = None,
    *,
    signals: Sequence[Signal] = (),
    tapes: Mapping[str, Tape] | None = None,
    funding: Mapping[str, Sequence[FundingRate]] | None = None,
    progress: Progress | None = None,
    risk: AppConfig | None = None,
) -> BacktestResult:
    """Run one strategy through the event-driven backtester (call from a thread, not the loop);
    ``risk``: the configuration whose pre-trade gate its orders pass."""
    return asyncio.run(backtest_async(strategy_cls, bars, params, settings, signals=signals, tapes=tapes,
                                      funding=funding, progress=progress, risk=risk))


async def backtest_async(
    strategy_cls: type[Strategy],
    bars: Bars | Sequence[Bars],
    params: Mapping[str, Any] | None = None,
    settings: BacktestSettings | None = None,
    *,
    signals: Sequence[Signal] = (),
    tapes: Mapping[str, Tape] | None = None,
    funding: Mapping[str, Sequence[FundingRate]] | None = None,
    progress: Progress | None = None,
    risk: AppConfig | None = None,
) -> BacktestResult:
    started = time.perf_counter()
    strategy = strategy_cls(params or {})
    tester = Backtester(bars, settings, signals=signals, tapes=tapes, funding=funding, progress=progress, risk=risk)
    series = tester.series
    symbols = [b.symbol for b in series]
    tester.strategies.add(strategy, venue=VENUE, symbols=symbols, timeframe=series[0].timeframe)
    equity = await tester.run()
    metrics = compute_metrics(
        equity, tester.timeline, tester.trades, step_ms=series[0].step_ms, start_equity=tester.settings.cash,
        exposed_bars=tester.exposed_bars, fees=float(tester.fees),
    )
    positions = [float(tester.position_size(symbol)) for symbol in symbols]
    return BacktestResult(
        strategy=strategy_cls.name, params=dict(strategy.params), symbol=",".join(symbols),
        timeframe=series[0].timeframe, engine="event", metrics=metrics, ts=tester.timeline, equity=equity,
        trades=tester.trades, final_position=positions[0] if len(positions) == 1 else math.fsum(map(abs, positions)),
        elapsed_s=time.perf_counter() - started, funding=float(tester.funding),
        risk=tester.risk.summary() if tester.risk is not None else None,
    )
