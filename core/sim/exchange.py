"""One simulated exchange: a matching engine per market, an account with margin, our orders.

The paper venue, the ccxt paper mode and the event backtester are this exchange with their own
market around it: the paper venue's seeded liquidity and flow, the live book and trades of a real
exchange, a backtest's replayed prices and synthetic depth. The liquidity they bring is owned by
``MARKET``; an order of ours carries its ``SimOrder`` as the engine order's ``data``, so every
engine call's result (``settle``) turns into account changes, order changes and ``Fill``s the
same way everywhere. What reaches the account goes through ``core.ledger``.

An accepted order holds what it may spend (``Account.hold``) at the price it may fill at: its
limit, 5% past a stop's trigger, the book it would sweep, else the mark. A reduce-only order must
shrink the position when it is placed and is canceled when a fill leaves it unable to, as venues
do. Without ``check_funds`` (a backtest's margin account) nothing is held and nothing refused for
want of funds.

Liquidation and funding are the venue's to call (``liquidate_at``, ``pay_funding``): it knows
its mark and its funding clock. The exchange never publishes: it returns what changed to our
orders, as ``Change``s.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from decimal import Decimal

from pydantic import ValidationError

from core.ledger import Book
from core.matching import BUY, SELL, EngineOrder, Kind, MatchFill, MatchingEngine, MatchResult, Status
from core.models import (
    ZERO,
    ExecutionReport,
    Fill,
    Instrument,
    Liquidity,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Position,
    Side,
    instrument_problems,
    sound_request,
)
from core.sim.account import Account, Hold

MARKET = "market"  # owner of the liquidity the venue brings
OURS = "ours"
STOP_PRICE_BUFFER = Decimal("1.05")  # funds held for a stop assume it may fill 5% past its trigger
_REQUEST_FIELDS = set(OrderRequest.model_fields)
_LIMIT, _OPEN = int(Kind.LIMIT), int(Status.OPEN)  # plain ints in the per-step loop
_STATUS_OF_ENGINE: dict[int, OrderStatus] = {  # by the engine's plain int status
    Status.PENDING: OrderStatus.OPEN,
    Status.FILLED: OrderStatus.FILLED,
    Status.CANCELED: OrderStatus.CANCELED,
    Status.REJECTED: OrderStatus.REJECTED,
}


@dataclass(slots=True, eq=False)
class SimOrder:
    """An order as the exchange tracks it: the order, the funds it holds, its arrival number,
    the notional of its fills (price times size, for its average price) and, for a trailing
    stop restored after a restart, the best price it had seen (ticks)."""

    order: Order
    hold: Hold
    seq: int
    notional: Decimal = ZERO
    trail_ref: int | None = None


class Change:
    """What one event did to one of our orders: the fill (None for a change of status alone)
    and the order's state right after it, for the report a venue publishes about it. A fill
    also says the PnL it realized and the position it left (signed size, entry price)."""

    __slots__ = ("sim", "fill", "status", "filled_size", "avg_price", "fee", "reason", "ts", "realized",
                 "position_size", "position_entry")

    def __init__(self, sim: SimOrder, fill: Fill | None, realized: Decimal = ZERO,
                 position: Book | None = None) -> None:
        order = sim.order
        self.sim = sim
        self.fill = fill
        self.status = order.status
        self.filled_size = order.filled_size
        self.avg_price = order.avg_price
        self.fee = order.fee
        self.reason = order.reason
        self.ts = order.updated_ts
        self.realized = realized
        self.position_size = position.size if position is not None else ZERO
        self.position_entry = position.entry if position is not None else ZERO


@dataclass(slots=True, eq=False)
class LadderUpdate:
    """A source's new ladder told as what changed since its last one, for ``update_liquidity``:
    the levels it no longer wants (signed keys: ticks, negative for asks), those it placed or
    resized as (signed key, lots), and ``levels`` to make the whole ladder, (side, ticks, lots)
    in placement order, when the exchange needs it. ``source`` and ``since``/``version`` say
    which ladder the changes start from and which one they make."""

    source: object
    since: int
    version: int
    removed: list[int]
    placed: list[tuple[int, int]]
    levels: Callable[[], list[tuple[int, int, int]]]


@dataclass(slots=True, eq=False)
class _Ladder:
    """What a market's resting liquidity stands for after ``update_liquidity``: the source's
    ladder (``version``), the lots it wants at each signed key, the keys of its levels that
    traded since, and the fills the engine had printed then plus those ``settle`` saw since
    (when the engine printed more, a fill went unseen and the whole ladder is checked)."""

    source: object
    version: int
    wanted: dict[int, int]
    traded: set[int]
    fills: int


Printer = Callable[[str, MatchFill], None]


class SimExchange:
    """See the module docstring. ``fill_prefix`` starts every fill id; ``on_print`` sees every
    trade the books print (ours and the market's), for a venue that keeps a tape."""

    def __init__(
        self, venue: str, account: Account, *, fill_prefix: str, check_funds: bool = True,
        on_print: Printer | None = None,
    ) -> None:
        self.venue = venue
        self.account = account
        self.fill_prefix = fill_prefix
        self.check_funds = check_funds
        self.on_print = on_print
        self.fill_seq = 0
        self.order_seq = 0
        self.open: dict[str, SimOrder] = {}
        self._open_in: dict[str, dict[str, SimOrder]] = {}  # ``open`` by symbol
        self._engines: dict[str, MatchingEngine] = {}
        # the market's resting levels by price in ticks signed by side (BUY 1, SELL -1; an int
        # hashes faster than a pair, for ~40 levels a step), and duplicates of a price by order
        self._liquidity: dict[str, dict[Hashable, EngineOrder]] = {}
        self._ladders: dict[str, _Ladder] = {}

    # ----- markets -------------------------------------------------------------------------

    def add_market(self, instrument: Instrument) -> MatchingEngine:
        engine = self._engines[instrument.symbol] = MatchingEngine(instrument)
        self._liquidity[instrument.symbol] = {}
        self._open_in[instrument.symbol] = {}
        return engine

    def engine(self, symbol: str) -> MatchingEngine:
        return self._engines[symbol]

    def replace_liquidity(self, symbol: str, levels: Iterable[tuple[int, int, int]], ts: int) -> list[Change]:
        """Replace the market's resting liquidity with ``levels`` of (side, ticks, lots). A new
        level that crosses one of our orders trades with it: that is how a price moving through
        a limit order fills it.

        A live book changes a few of its levels per update, so only those are touched here: a
        level whose order rests alone at its price stays, resized to its new size; the others
        are canceled and placed again. While nothing trades, that leaves the book as canceling
        and placing every level would (each level behind our orders at its price, at its new
        size). When a level to place would cross the other side (one of our orders, or a crossed
        book), or a price comes twice, every level is placed again from scratch, in order
        (``refill``), so the fills are those the whole refill always made."""
        self._ladders.pop(symbol, None)
        return self._replace(symbol, levels if isinstance(levels, list) else list(levels), ts)[0]

    def update_liquidity(self, symbol: str, update: LadderUpdate, ts: int) -> list[Change]:
        """``replace_liquidity`` with ``update.levels()``, told as the levels that changed: the
        paper venue's ladder changes ~8 of its 40 levels a step, and checking all of them was
        a third of the market's step. Only those are checked, with the levels of the ladder
        that traded since (resized back, or placed again when gone) and those at the prices of
        our resting orders (placed again behind them, as every refresh does): the others rest
        alone at the size the ladder wants, which a check would leave as they are. So the book
        and the fills are those of ``replace_liquidity``. Changes that do not start from the
        ladder the book holds (the first, another source's, a refill's, a fill the exchange
        did not see) replace it whole."""
        ladder = self._ladders.pop(symbol, None)
        engine = self._engines[symbol]
        if (ladder is None or ladder.source is not update.source or ladder.version != update.since
                or ladder.fills != engine.trades):
            changes, wanted = self._replace(symbol, update.levels(), ts)
            if wanted is not None:
                self._ladders[symbol] = _Ladder(update.source, update.version, wanted, set(), engine.trades)
            return changes
        wanted, todo = ladder.wanted, dict(update.placed)
        for key in update.removed:
            del wanted[key]
        wanted.update(todo)
        recheck = ladder.traded
        for sim in self._open_in[symbol].values():
            ours = engine.get(sim.order.client_order_id)
            if ours is not None and ours.status == _OPEN:
                recheck.add(ours.side * ours.price)
        for key in recheck:
            if key not in todo and key in wanted:
                todo[key] = wanted[key]
        if not self._requote(engine, self._liquidity[symbol], update.removed, todo.items(), ts):
            return self.refill(symbol, update.levels(), ts)
        recheck.clear()
        ladder.version = update.version
        self._ladders[symbol] = ladder
        return []

    def _replace(self, symbol: str, levels: list[tuple[int, int, int]], ts: int) -> tuple[list[Change], dict[int, int] | None]:
        """``replace_liquidity``, and the lots wanted at each signed key when the levels rest
        as given (None after a refill)."""
        wanted = {side * ticks: lots for side, ticks, lots in levels}
        if len(wanted) < len(levels):
            return self.refill(symbol, levels, ts), None
        resting = self._liquidity[symbol]
        stale = [key for key in resting if key not in wanted]
        if not self._requote(self._engines[symbol], resting, stale, wanted.items(), ts):
            return self.refill(symbol, levels, ts), None
        return [], wanted

    @staticmethod
    def _requote(engine: MatchingEngine, resting: dict[Hashable, EngineOrder], stale: Iterable[Hashable],
                 levels: Iterable[tuple[int, int]], ts: int) -> bool:
        """Cancel the ``stale`` levels and make each of ``levels`` (signed key, lots) rest as
        ``replace_liquidity`` says; False, at the first that would cross, for a refill."""
        for key in stale:
            engine.cancel(resting.pop(key).oid, "book refreshed")
        for key, lots in levels:
            level = resting.get(key)
            if level is not None:
                # alone at its price (``engine.rests_alone``, inline: ~40 levels a step of each
                # market): its place in the queue is no one's business
                queue = level.level
                if lots > 0 and level.status == _OPEN and queue is not None and queue.total == level.remaining:
                    if level.remaining != lots:
                        engine.resize(level, lots)
                    continue
                engine.cancel(level.oid, "book refreshed")
            side, ticks = (BUY, key) if key > 0 else (SELL, -key)
            best = engine.best_ask() if side == BUY else engine.best_bid()
            if best is not None and (ticks >= best if side == BUY else ticks <= best):
                return False
            level = resting[key] = EngineOrder(None, MARKET, side, _LIMIT, lots, ticks)
            engine.submit(level, ts)
        return True

    def refill(self, symbol: str, levels: list[tuple[int, int, int]], ts: int) -> list[Change]:
        """Cancel all the market's liquidity and place ``levels`` in order, each trading with
        the orders of ours it crosses. A price given twice rests twice (the second keyed by the
        order itself, whose id could be a signed price, never wanted again: the next replacement
        cancels it)."""
        engine = self._engines[symbol]
        resting = self._liquidity[symbol]
        for level in resting.values():
            engine.cancel(level.oid, "book refreshed")
        resting.clear()
        changes: list[Change] = []
        for side, ticks, lots in levels:
            level = EngineOrder(None, MARKET, side, _LIMIT, lots, ticks)
            result = engine.submit(level, ts)
            if result.fills:
                changes += self.settle(symbol, result, ts)
            if level.status == _OPEN:
                key: Hashable = side * ticks
                resting[level if key in resting else key] = level
        return changes

    def update_last_price(self, symbol: str, ticks: int, ts: int) -> list[Change]:
        """A trade printed elsewhere (a live exchange, a replayed candle): stops see it."""
        return self.settle(symbol, self._engines[symbol].update_last_price(ticks, ts), ts)

    # ----- orders --------------------------------------------------------------------------

    def accept(self, order: Order, ts: int, mark: Decimal | None) -> SimOrder:
        """Register a new order and hold its funds, or reject it with the reason (read the
        order's status). ``mark`` prices what the book cannot (a market order on an empty book,
        a trailing stop). The order gets the exchange's number as its venue order id unless it
        has one."""
        self.order_seq += 1
        sim = SimOrder(order, Hold(""), self.order_seq)
        if order.venue_order_id is None:
            order.venue_order_id = str(self.order_seq)
        reason = self.refusal(order, mark)
        if reason is None and self.check_funds:
            reason = self._hold(sim, mark)
        if reason is not None:
            order.transition(OrderStatus.REJECTED, ts, reason)
        else:
            self.open[order.client_order_id] = self._open_in[order.symbol][order.client_order_id] = sim
        return sim

    def submit(self, order: Order, ts: int, mark: Decimal | None) -> tuple[SimOrder, list[Change]]:
        """``accept`` then ``place``: what a venue does with a new order."""
        sim = self.accept(order, ts, mark)
        if sim.order.status is OrderStatus.REJECTED:
            return sim, []
        return sim, self.place(sim, ts)

    def place(self, sim: SimOrder, ts: int) -> list[Change]:
        """Send an accepted order to its book."""
        engine = self._engines[sim.order.symbol]
        return self.settle(sim.order.symbol, engine.submit(self.engine_order(sim), ts), ts)

    def engine_order(self, sim: SimOrder) -> EngineOrder:
        """The order as its book takes it (its unfilled part, after a restart)."""
        order = sim.order
        engine_order = self._engines[order.symbol].new_order(
            order.side, order.type, order.remaining, price=order.price, trigger_price=order.trigger_price,
            trailing_offset=order.trailing_offset, time_in_force=order.time_in_force, post_only=order.post_only,
            oid=order.client_order_id, owner=OURS, data=sim,
        )
        if sim.trail_ref is not None:
            engine_order.ref = sim.trail_ref
            engine_order.trigger = sim.trail_ref + (engine_order.trail if engine_order.side > 0 else -engine_order.trail)
        return engine_order

    def restore(self, sim: SimOrder, ts: int) -> None:
        """Put back an open order from before a restart (its funds are still held)."""
        self.open[sim.order.client_order_id] = self._open_in[sim.order.symbol][sim.order.client_order_id] = sim
        self._engines[sim.order.symbol].submit(self.engine_order(sim), ts)

    def cancel(self, client_order_id: str, ts: int, reason: str) -> SimOrder | None:
        """Cancel an open order; None when it is not open."""
        sim = self.open.get(client_order_id)
        if sim is None:
            return None
        self._engines[sim.order.symbol].cancel(client_order_id, reason)
        self.finish(sim, OrderStatus.CANCELED, ts, reason)
        return sim

    def finish(self, sim: SimOrder, status: OrderStatus, ts: int, reason: str | None) -> None:
        """Move an order to ``status``; a terminal order gives back what it still holds."""
        if status is not sim.order.status:
            sim.order.transition(status, ts, reason)
        if status.is_terminal:
            self.account.release(sim.hold)
            self.open.pop(sim.order.client_order_id, None)
            # (an order of a market no longer traded here is finished without having been open)
            self._open_in.get(sim.order.symbol, {}).pop(sim.order.client_order_id, None)

    def refusal(self, order: Order, mark: Decimal | None) -> str | None:
        """Why the exchange refuses the order before it reaches the book, or None."""
        engine = self._engines.get(order.symbol)
        if engine is None:
            return f"unknown symbol {order.symbol} on {self.venue}; markets: {', '.join(self._engines)}"
        instrument = engine.instrument
        request: Order | OrderRequest = order  # checked as it is, not copied into a request
        if not sound_request(order):
            try:
                request = OrderRequest.model_validate({name: getattr(order, name) for name in _REQUEST_FIELDS})
            except ValidationError as exc:
                return "; ".join(
                    (f"{'.'.join(map(str, e['loc']))}: " if e["loc"] else "") + e["msg"].removeprefix("Value error, ")
                    for e in exc.errors()
                )
        problems = instrument_problems(request, instrument)
        if order.price is None and order.trigger_price is None and mark is not None:
            notional_problem = instrument.size_problem(order.size, mark)
            if notional_problem is not None and notional_problem not in problems:
                problems.append(notional_problem)
        if order.trailing_offset is not None:
            offset_problem = instrument.price_problem(order.trailing_offset, "trailing offset")
            if offset_problem is not None:
                problems.append(offset_problem)
        if problems:
            return "; ".join(problems)
        return self._reduce_only_problem(order) if order.reduce_only else None

    def _reduce_only_problem(self, order: Order) -> str | None:
        book = self.account.position(order.symbol)
        if book is None:
            return f"reduce-only order rejected: there is no {order.symbol} position to reduce"
        if (book.size > 0) == (order.side is Side.BUY):
            kind = "long" if book.size > 0 else "short"
            return f"reduce-only order rejected: a {order.side.value} would increase the {kind} position"
        if order.size > abs(book.size):
            return f"reduce-only order rejected: size {order.size} exceeds the position's {abs(book.size)}"
        return None

    def _hold(self, sim: SimOrder, mark: Decimal | None) -> str | None:
        """Set aside what the order may spend: the base for a spot sell, else the quote for its
        cost (spot) or margin (perpetual) and a taker fee, at the price it may fill at."""
        order = sim.order
        instrument = self._engines[order.symbol].instrument
        on_margin = self.account.on_margin(instrument)
        if not on_margin and order.side is Side.SELL:
            sim.hold = Hold(instrument.base, order.size)
        else:
            cost = self._cost_estimate(order, mark)
            if cost is None:
                return f"no price to value the {order.type.value} order at: the book of {order.symbol} is empty"
            fee = cost * instrument.taker_fee
            if not on_margin:
                sim.hold = Hold(instrument.quote, cost + fee)
            else:
                book = self.account.position(order.symbol)
                same_side = book is not None and (book.size > 0) == (order.side is Side.BUY)
                closable = abs(book.size) if book is not None and not same_side else ZERO
                opening = ZERO if order.reduce_only else max(ZERO, order.size - closable)
                leverage = book.leverage if book is not None and same_side else order.leverage or 1
                margin = cost if opening == order.size else cost * opening / order.size
                sim.hold = Hold(instrument.quote, margin / leverage + fee)
        reason = self.account.hold(sim.hold.asset, sim.hold.amount)
        if reason is not None:
            sim.hold.amount = ZERO
        return reason

    def _cost_estimate(self, order: Order, mark: Decimal | None) -> Decimal | None:
        """The notional (quote) an order may trade: at its limit, 5% past a stop's trigger or
        a trailing stop's mark, else what it would sweep from the book now (at the mark for
        what the book lacks)."""
        engine = self._engines[order.symbol]
        unit = order.size * engine.instrument.contract_size
        if order.price is not None:
            return order.price * unit
        if order.trigger_price is not None:
            return order.trigger_price * STOP_PRICE_BUFFER * unit
        if order.type is OrderType.TRAILING_STOP:
            return None if mark is None else (mark + (order.trailing_offset or ZERO)) * STOP_PRICE_BUFFER * unit
        wanted = engine.to_lots(order.size)
        lots, notional = engine.sweep(order.side.sign, wanted)
        if lots == wanted:
            return engine.notional_of(notional)
        if lots:
            return engine.notional_of(notional) * wanted / lots
        return None if mark is None else mark * unit

    # ----- what the books did to our orders ------------------------------------------------

    def settle(self, symbol: str, result: MatchResult, ts: int) -> list[Change]:
        """Turn one engine call into account changes, order changes and fills."""
        changes: list[Change] = []
        moved = False
        printer = self.on_print
        ladder = self._ladders.get(symbol)
        for match in result.fills:
            if printer is not None:
                printer(symbol, match)
            maker = match.maker
            sim = maker.data
            if sim is not None:
                changes.append(self._fill(sim, maker, match, ts))
                moved = True
            elif ladder is not None:
                ladder.traded.add(maker.side * maker.price)
            sim = match.taker.data
            if sim is not None:
                changes.append(self._fill(sim, match.taker, match, ts))
                moved = True
        if ladder is not None:
            ladder.fills += len(result.fills)
        for engine_order in result.updated:
            sim = engine_order.data
            if sim is None:
                continue
            status = self._status_of(engine_order, sim.order)
            if status is not sim.order.status and sim.order.can_transition(status):
                reason = engine_order.reason if status in (OrderStatus.CANCELED, OrderStatus.REJECTED) else None
                self.finish(sim, status, ts, reason)
                changes.append(Change(sim, None))
        if moved and self.account.on_margin(self._engines[symbol].instrument):
            changes += self.cancel_stale_reduce_only(symbol, ts)
        return changes

    @staticmethod
    def _status_of(engine_order: EngineOrder, order: Order) -> OrderStatus:
        if engine_order.status == Status.OPEN:
            return OrderStatus.PARTIALLY_FILLED if order.filled_size else OrderStatus.OPEN
        return _STATUS_OF_ENGINE[engine_order.status]

    def _fill(self, sim: SimOrder, engine_order: EngineOrder, match: MatchFill, ts: int) -> Change:
        order = sim.order
        instrument = self._engines[order.symbol].instrument
        maker = engine_order is match.maker
        fee = match.maker_fee if maker else match.taker_fee
        price, size = match.price, match.size
        realized = self.account.fill(instrument, sim.hold, engine_order.side, price, size, fee, order.leverage or 1, ts)
        self.fill_seq += 1
        fill = Fill(
            fill_id=f"{self.fill_prefix}-{self.fill_seq}", client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id, venue=self.venue, symbol=order.symbol, side=order.side,
            price=price, size=size, fee=fee, fee_currency=instrument.quote,
            liquidity=Liquidity.MAKER if maker else Liquidity.TAKER, ts=ts, strategy_id=order.strategy_id,
        )
        sim.notional = order.add_fill(price, size, fee, ts, sim.notional)
        if order.status is OrderStatus.FILLED:
            self.finish(sim, OrderStatus.FILLED, ts, None)
        return Change(sim, fill, realized, self.account.books[order.symbol])

    def cancel_stale_reduce_only(self, symbol: str, ts: int) -> list[Change]:
        """Reduce-only orders that the position no longer allows are canceled, as venues do."""
        book = self.account.position(symbol)
        reason = "reduce-only order canceled: it would no longer reduce the position"
        changes: list[Change] = []
        for sim in list(self.open.values()):
            order = sim.order
            if order.symbol != symbol or not order.reduce_only:
                continue
            if book is None or (book.size > 0) == (order.side is Side.BUY) or order.remaining > abs(book.size):
                self._engines[symbol].cancel(order.client_order_id, reason)
                self.finish(sim, OrderStatus.CANCELED, ts, reason)
                changes.append(Change(sim, None))
        return changes

    # ----- margin and funding --------------------------------------------------------------

    def liquidate_at(self, symbol: str, mark: Decimal, ts: int) -> tuple[Position, list[Change]] | None:
        """Liquidate the position in ``symbol`` if ``mark`` reached its liquidation price:
        returns the closed position (realized PnL net of the margin lost, marked at the
        liquidation price) and the reduce-only orders that were canceled with it."""
        book = self.account.position(symbol)
        instrument = self._engines[symbol].instrument
        if book is None or not instrument.is_perpetual:
            return None
        price = book.liquidation_price()
        if price is None or ((mark > price) if book.size > 0 else (mark < price)):
            return None
        before = book.to_position(self.venue, symbol, price, perpetual=True)
        loss = self.account.liquidate(instrument, ts)
        closed = before.model_copy(update={"size": ZERO, "unrealized_pnl": ZERO,
                                           "realized_pnl": before.realized_pnl - loss, "updated_ts": ts})
        return closed, self.cancel_stale_reduce_only(symbol, ts)

    def pay_funding(self, symbol: str, rate: Decimal, mark: Decimal, ts: int) -> Decimal | None:
        """Funding on the perpetual position in ``symbol``, if there is one: what it received."""
        if self.account.position(symbol) is None or not self._engines[symbol].instrument.is_perpetual:
            return None
        return self.account.pay_funding(self._engines[symbol].instrument, rate, mark, ts)

    def positions(self, marks: Callable[[str], Decimal | None]) -> list[Position]:
        """Open perpetual positions as the port reports them, at each market's mark."""
        return [
            book.to_position(self.venue, symbol, marks(symbol), perpetual=True)
            for symbol, book in sorted(self.account.books.items())
            if book.size and self._engines[symbol].instrument.is_perpetual
        ]

    def report(self, sim: SimOrder, fill: Fill | None = None) -> ExecutionReport:
        """The order's report as it stands now."""
        return self.report_of(Change(sim, fill))

    def report_of(self, change: Change) -> ExecutionReport:
        """The report of one change: the order as it was right after it."""
        order = change.sim.order
        return ExecutionReport.trusted(
            order.client_order_id, self.venue, order.symbol, change.status, order.venue_order_id, change.filled_size,
            change.avg_price, change.fee, change.fill, change.reason, change.ts,
        )
