"""A price-time priority limit order book and matching engine for one instrument.

Used by the paper venue (``exchanges/paper``) and the backtester (``core/backtest``). One
``MatchingEngine`` per symbol. Inside, prices are integer ticks and sizes integer lots so the
matching loop never touches ``Decimal`` or pydantic; conversion happens at the edge with the
instrument's ``tick_size`` / ``lot_size`` (``to_ticks``, ``to_lots``, ``price_of``, ``size_of``,
``new_order``). Fees are ``Decimal`` and computed lazily on each fill's notional.

How to use it::

    engine = MatchingEngine(instrument)
    order = engine.new_order(Side.BUY, OrderType.LIMIT, Decimal("0.5"), price=Decimal("60000"),
                             owner="user", oid="ot-1")
    result = engine.submit(order, ts=clock.now_ms())
    for fill in result.fills:        # MatchFill: price/size in ints and Decimals, maker and taker
        ...
    for changed in result.updated:   # orders whose status changed during this call
        ...

Every operation returns a ``MatchResult``: the fills it printed, in order, and the orders whose
status changed (the submitted order, makers that became FILLED, stop orders that were armed or
triggered). ``EngineOrder`` objects are live: read ``status``/``remaining``/``filled`` after the
call. An order whose state did not change status (a maker partially filled) is visible only
through the fills that name it.

The API in one place:

* orders: ``new_order`` (Decimal fields) or ``EngineOrder(oid, owner, side, kind, lots, ticks,
  trigger=, trail=, tif=, post_only=, data=)``; ``submit(order, ts)``; ``cancel(oid, reason)``;
  ``update_last_price(ticks, ts)`` for stops driven by outside prices; ``get(oid)``,
  ``live_orders()``.
* book: ``best_bid()``/``best_ask()`` and ``depth(n)`` in ticks and lots, ``depth_decimal(n)``;
  ``available(side, limit)`` and ``sweep(side, lots, limit)`` price an order without sending it;
  ``last_price`` in ticks.
* conversions: ``to_ticks``/``to_lots`` (exact or ValueError), ``price_of``/``size_of``/
  ``notional_of`` back to Decimal. ``BUY``/``SELL`` are +1/-1; ``Kind``, ``Tif``, ``Status``
  are IntEnums (``KIND_OF``/``TIF_OF`` map the models' enums).

Rules implemented here:

* Price-time priority: better price first, then earlier arrival at the same price (each
  level is a FIFO queue). A triggered stop enters the queue at its trigger time.
* Order kinds: market, limit, stop-market, stop-limit, take-profit (a market order once
  triggered) and trailing stop (a market order once the last price retreats ``trail`` ticks
  from the best price seen since it was armed). Triggers fire on the last trade price; a stop
  whose condition already holds when it is submitted triggers at once. Until the first trade
  there is no last price and stops wait (``update_last_price`` sets it from outside, which is
  what a candle-driven backtester uses).
* Time in force: GTC rests the remainder, IOC cancels it, FOK fills completely or is rejected
  before touching the book. Market orders never rest: a remainder without liquidity is
  canceled. Post-only limit orders are rejected if they would cross.
* Reduce-only is not known here: it depends on positions, which the venue owns. The venue
  checks it before ``submit`` and may use ``available``/``sweep`` to price a market order.
* No self-trade prevention: owners are reported on every fill so a venue can decide.
"""

from __future__ import annotations

import itertools
from bisect import bisect_left, insort
from collections import deque
from collections.abc import Hashable
from decimal import Decimal
from enum import IntEnum
from typing import Any

from core.models import Instrument, Liquidity, OrderType, Side, TimeInForce

BUY = 1
SELL = -1


class Kind(IntEnum):
    MARKET = 0
    LIMIT = 1
    STOP_MARKET = 2
    STOP_LIMIT = 3
    TAKE_PROFIT = 4
    TRAILING_STOP = 5


class Tif(IntEnum):
    GTC = 0
    IOC = 1
    FOK = 2


class Status(IntEnum):
    NEW = 0
    PENDING = 1  # armed, waiting for its trigger
    OPEN = 2  # resting in the book, possibly partially filled
    FILLED = 3
    CANCELED = 4  # by request, or the unfilled remainder of an IOC / market order
    REJECTED = 5  # FOK that could not fill completely, post-only that would cross


KIND_OF: dict[OrderType, Kind] = {
    OrderType.MARKET: Kind.MARKET,
    OrderType.LIMIT: Kind.LIMIT,
    OrderType.STOP_MARKET: Kind.STOP_MARKET,
    OrderType.STOP_LIMIT: Kind.STOP_LIMIT,
    OrderType.TAKE_PROFIT: Kind.TAKE_PROFIT,
    OrderType.TRAILING_STOP: Kind.TRAILING_STOP,
}
TIF_OF: dict[TimeInForce, Tif] = {TimeInForce.GTC: Tif.GTC, TimeInForce.IOC: Tif.IOC, TimeInForce.FOK: Tif.FOK}

# Plain ints for the hot path: reading an IntEnum member (``Status.NEW``) costs ~0.2 us on
# Python 3.11, as much as the rest of building an order.
_MARKET, _LIMIT, _STOP_LIMIT, _TAKE_PROFIT, _TRAILING = 0, 1, 3, 4, 5
_GTC, _FOK = 0, 2
_CONDITIONAL = frozenset({Kind.STOP_MARKET, Kind.STOP_LIMIT, Kind.TAKE_PROFIT, Kind.TRAILING_STOP})
_NEW, _PENDING, _OPEN, _FILLED, _CANCELED, _REJECTED = 0, 1, 2, 3, 4, 5
_new = object.__new__


class EngineOrder:
    """An order inside the engine. Prices are ticks, sizes lots; ``data`` is the caller's own.

    ``trigger`` is the stop/take-profit price; for a trailing stop it is kept current as the
    best price moves (``ref`` is that best price). ``notional`` is the sum of ticks * lots of
    its fills, so ``avg_price_ticks`` is exact. ``filled`` is ``size - remaining``, derived so
    that a fill updates one counter.
    """

    __slots__ = (
        "oid", "owner", "side", "kind", "tif", "price", "trigger", "trail", "size", "remaining",
        "notional", "post_only", "status", "reason", "data", "ref",
        "level",
    )

    def __init__(
        self,
        oid: Hashable | None,
        owner: Hashable,
        side: int,
        kind: int,
        size: int,
        price: int = 0,
        trigger: int = 0,
        trail: int = 0,
        tif: int = Tif.GTC,
        post_only: bool = False,
        data: Any = None,
    ) -> None:
        self.oid = oid
        self.owner = owner
        self.side = side
        self.kind = kind
        self.tif = tif
        self.price = price
        self.trigger = trigger
        self.trail = trail
        self.size = size
        self.remaining = size
        self.notional = 0
        self.post_only = post_only
        self.status: int = _NEW
        self.reason: str | None = None
        self.data = data
        self.ref: int | None = None
        self.level: _Level | None = None

    @property
    def filled(self) -> int:
        return self.size - self.remaining

    @property
    def avg_price_ticks(self) -> float | None:
        filled = self.size - self.remaining
        return self.notional / filled if filled else None

    @property
    def is_live(self) -> bool:
        return self.status == _OPEN or self.status == _PENDING

    def __repr__(self) -> str:
        return (
            f"EngineOrder({self.oid!r}, owner={self.owner!r}, side={self.side}, kind={Kind(self.kind).name},"
            f" price={self.price}, size={self.size}, remaining={self.remaining},"
            f" status={Status(self.status).name})"
        )


class _Scale:
    """What a fill needs to speak Decimal: the instrument's steps and fee rates."""

    __slots__ = ("tick", "lot", "unit", "maker_fee", "taker_fee")

    def __init__(self, instrument: Instrument) -> None:
        self.tick = instrument.tick_size
        self.lot = instrument.lot_size
        self.unit = instrument.tick_size * instrument.lot_size * instrument.contract_size
        self.maker_fee = instrument.maker_fee
        self.taker_fee = instrument.taker_fee


class MatchFill:
    """One match between a resting maker and an incoming taker.

    ``price_ticks``/``lots`` are exact ints; ``price``, ``size``, ``notional`` and the fees are
    Decimals derived from them on demand (fee = rate * notional, per fill).

    Only the matching loop makes them, by setting the slots of a bare instance: without an
    ``__init__`` the class call stays in C (on Python 3.11 a Python ``__init__`` costs as much
    as the rest of a fill).
    """

    __slots__ = ("seq", "ts", "price_ticks", "lots", "maker", "taker", "_scale")
    seq: int
    ts: int
    price_ticks: int
    lots: int
    maker: EngineOrder
    taker: EngineOrder
    _scale: _Scale

    @property
    def taker_side(self) -> int:
        return self.taker.side

    @property
    def maker_id(self) -> Hashable:
        return self.maker.oid

    @property
    def taker_id(self) -> Hashable:
        return self.taker.oid

    @property
    def maker_owner(self) -> Hashable:
        return self.maker.owner

    @property
    def taker_owner(self) -> Hashable:
        return self.taker.owner

    @property
    def price(self) -> Decimal:
        return self.price_ticks * self._scale.tick

    @property
    def size(self) -> Decimal:
        return self.lots * self._scale.lot

    @property
    def notional(self) -> Decimal:
        return (self.price_ticks * self.lots) * self._scale.unit

    @property
    def maker_fee(self) -> Decimal:
        return self.notional * self._scale.maker_fee

    @property
    def taker_fee(self) -> Decimal:
        return self.notional * self._scale.taker_fee

    def liquidity_of(self, order: EngineOrder) -> Liquidity:
        return Liquidity.MAKER if order is self.maker else Liquidity.TAKER

    def fee_of(self, order: EngineOrder) -> Decimal:
        return self.maker_fee if order is self.maker else self.taker_fee

    def __repr__(self) -> str:
        return f"MatchFill(#{self.seq} {self.lots}@{self.price_ticks} maker={self.maker.oid!r} taker={self.taker.oid!r})"


class MatchResult:
    """What one engine call did: fills in print order, and orders whose status changed."""

    __slots__ = ("fills", "updated")

    def __init__(self) -> None:
        self.fills: list[MatchFill] = []
        self.updated: list[EngineOrder] = []


class _Level:
    """One price level: a FIFO queue. Canceled orders stay in the queue until they reach the
    front (lazy removal keeps cancel O(1)); ``dead`` counts them. ``total`` counts the lots of
    resting orders only, so a level is empty exactly when its total is 0 (a resting order has
    at least one lot left)."""

    __slots__ = ("price", "queue", "total", "dead")

    def __init__(self, price: int) -> None:
        self.price = price
        self.queue: deque[EngineOrder] = deque()
        self.total = 0
        self.dead = 0

    @property
    def live(self) -> int:
        """Resting orders in the queue."""
        return len(self.queue) - self.dead


class _BookSide:
    """Levels by key, keys sorted ascending with the best at the end (key = price * sign:
    bids use the price, asks its negation), so the best level is ``keys[-1]``."""

    __slots__ = ("sign", "levels", "keys")

    def __init__(self, sign: int) -> None:
        self.sign = sign
        self.levels: dict[int, _Level] = {}
        self.keys: list[int] = []

    def drop(self, key: int) -> None:
        del self.levels[key]
        keys = self.keys
        if keys[-1] == key:
            keys.pop()
        else:
            del keys[bisect_left(keys, key)]


class MatchingEngine:
    """The book and matching rules of one instrument (see the module docstring)."""

    def __init__(self, instrument: Instrument) -> None:
        self.instrument = instrument
        self._scale = _Scale(instrument)
        self._bids = _BookSide(1)
        self._asks = _BookSide(-1)
        self._orders: dict[Hashable, EngineOrder] = {}
        self._pending: dict[Hashable, EngineOrder] = {}
        self._auto_ids = itertools.count(-1, -1)  # negative: never clashes with callers' ids
        self._trade_seq = 0
        self._now = 0
        self.last_price: int | None = None

    # ----- conversions at the edge ---------------------------------------------------------

    def to_ticks(self, price: Decimal, label: str = "price") -> int:
        """Exact conversion; a price off the tick grid is an error, never silently rounded."""
        ticks, rest = divmod(price, self._scale.tick)
        if rest != 0:
            raise ValueError(f"{label} {price} is not a multiple of the tick size {self._scale.tick}")
        return int(ticks)

    def to_lots(self, size: Decimal) -> int:
        lots, rest = divmod(size, self._scale.lot)
        if rest != 0:
            raise ValueError(f"size {size} is not a multiple of the lot size {self._scale.lot}")
        return int(lots)

    def price_of(self, ticks: int | float) -> Decimal:
        """Ticks to a Decimal price; a float (an average) is rounded to the instrument's tick."""
        if isinstance(ticks, float):
            return self.instrument.round_price(Decimal(ticks) * self._scale.tick)
        return ticks * self._scale.tick

    def size_of(self, lots: int) -> Decimal:
        return lots * self._scale.lot

    def notional_of(self, ticks_times_lots: int) -> Decimal:
        """The Decimal notional of a sum of ticks * lots (e.g. ``EngineOrder.notional``)."""
        return ticks_times_lots * self._scale.unit

    def new_order(
        self,
        side: Side,
        order_type: OrderType,
        size: Decimal,
        *,
        price: Decimal | None = None,
        trigger_price: Decimal | None = None,
        trailing_offset: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        oid: Hashable | None = None,
        owner: Hashable = None,
        data: Any = None,
    ) -> EngineOrder:
        """An EngineOrder from Decimal fields; raises ValueError for off-grid prices or sizes."""
        return EngineOrder(
            oid,
            owner,
            BUY if side is Side.BUY else SELL,
            KIND_OF[order_type],
            self.to_lots(size),
            self.to_ticks(price) if price is not None else 0,
            trigger=self.to_ticks(trigger_price, "trigger price") if trigger_price is not None else 0,
            trail=self.to_ticks(trailing_offset, "trailing offset") if trailing_offset is not None else 0,
            tif=TIF_OF[time_in_force],
            post_only=post_only,
            data=data,
        )

    # ----- queries -------------------------------------------------------------------------

    def get(self, oid: Hashable) -> EngineOrder | None:
        """A live (resting or armed) order by id."""
        return self._orders.get(oid)

    def live_orders(self) -> list[EngineOrder]:
        return list(self._orders.values())

    def has_live_orders(self) -> bool:
        return bool(self._orders)

    def rests_alone(self, order: EngineOrder) -> bool:
        """Whether ``order`` rests in the book with no other order at its price."""
        level = order.level
        return order.status == _OPEN and level is not None and level.total == order.remaining

    def resize(self, order: EngineOrder, lots: int) -> None:
        """Make a resting order's remaining size ``lots`` (at least one) where it stands in its
        queue: for the liquidity a venue brings, which stands for a level's size."""
        level = order.level
        assert level is not None and lots > 0, "only a resting order is resized, to at least one lot"
        level.total += lots - order.remaining
        order.size += lots - order.remaining
        order.remaining = lots

    @property
    def trades(self) -> int:
        """How many fills the book has printed (the last fill's ``seq``)."""
        return self._trade_seq

    def best_bid(self) -> int | None:
        keys = self._bids.keys
        return keys[-1] if keys else None

    def best_ask(self) -> int | None:
        keys = self._asks.keys
        return -keys[-1] if keys else None

    def depth(self, n: int = 20) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Aggregated (ticks, lots) levels, best first, ``n`` per side."""
        bids, asks = self._bids, self._asks
        return (
            [(k, bids.levels[k].total) for k in reversed(bids.keys[-n:])] if n > 0 else [],
            [(-k, asks.levels[k].total) for k in reversed(asks.keys[-n:])] if n > 0 else [],
        )

    def depth_decimal(self, n: int = 20) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
        bids, asks = self.depth(n)
        return self.levels_decimal(bids), self.levels_decimal(asks)

    def levels_decimal(self, levels: list[tuple[int, int]]) -> list[tuple[Decimal, Decimal]]:
        """``depth``'s (ticks, lots) levels as (price, size): apart, for a venue that takes the
        depth when it publishes and converts it when the book is first read."""
        tick, lot = self._scale.tick, self._scale.lot
        return [(p * tick, q * lot) for p, q in levels]

    def available(self, side: int, limit: int | None = None, want: int | None = None) -> int:
        """Lots a taker of ``side`` could fill now up to ``limit`` ticks (stops counting at
        ``want``). FOK uses it; a venue uses it to check a market order before sending."""
        opposite = self._asks if side == BUY else self._bids
        bound = None if limit is None else limit * opposite.sign
        total = 0
        levels = opposite.levels
        for key in reversed(opposite.keys):
            if bound is not None and key < bound:
                break
            total += levels[key].total
            if want is not None and total >= want:
                break
        return total

    def sweep(self, side: int, lots: int, limit: int | None = None) -> tuple[int, int]:
        """(lots, ticks * lots) a taker would fill now, walking the book without changing it:
        what a venue needs to reserve the cost of a market order."""
        opposite = self._asks if side == BUY else self._bids
        bound = None if limit is None else limit * opposite.sign
        filled = notional = 0
        for key in reversed(opposite.keys):
            if filled >= lots or (bound is not None and key < bound):
                break
            level = opposite.levels[key]
            take = min(level.total, lots - filled)
            filled += take
            notional += take * level.price
        return filled, notional

    # ----- operations ----------------------------------------------------------------------

    def submit(self, order: EngineOrder, ts: int = 0) -> MatchResult:
        """Accept a new order: match it, rest it, or arm it. An order without ``oid`` gets a
        negative int id. Raises ValueError for a malformed order or a live duplicate id (the
        venue validates requests first; reaching this is a programming error)."""
        oid = order.oid
        if oid is None:
            order.oid = oid = next(self._auto_ids)
        elif oid in self._orders:
            raise ValueError(f"order id {oid!r} is already live in the book")
        if order.status != _NEW:
            raise ValueError(f"order {oid!r} was already submitted")
        self._now = ts
        # Built without calling MatchResult(): a class call runs __init__ through a slow generic
        # path on Python 3.11, and every operation returns a result.
        result = _new(MatchResult)
        fills: list[MatchFill]
        updated: list[EngineOrder]
        result.fills = fills = []
        kind = order.kind
        side = order.side
        if (kind == _LIMIT and order.tif == _GTC and not order.post_only and order.price > 0 and order.size > 0
                and (side == BUY or side == SELL)):
            # The commonest order: matched if it reaches the other side's best level, the rest rests.
            price = order.price
            best = self._asks.keys if side == BUY else self._bids.keys
            if best and (price >= -best[-1] if side == BUY else price <= best[-1]):
                result.updated = updated = []
                self._take(order, price, fills, updated)
                updated.append(order)
            else:
                result.updated = [order]
            if order.remaining:
                self._rest(order)
            else:
                order.status = _FILLED
        elif (kind == _MARKET and order.tif != _FOK and not order.post_only and order.size > 0
              and (side == BUY or side == SELL)):
            # A market order never rests: what the book cannot fill is canceled.
            result.updated = updated = []
            self._take(order, None, fills, updated)
            if order.remaining:
                order.status = _CANCELED
                order.reason = "no more liquidity for the market order's remainder"
            else:
                order.status = _FILLED
            updated.append(order)
        else:
            self._check(order)  # raises if malformed
            result.updated = []
            if kind == _MARKET or kind == _LIMIT:
                self._execute(order, result)
            else:
                self._arm(order, result)
        if fills and self._pending:
            self._after_trades(result)
        return result

    def cancel(self, oid: Hashable, reason: str = "canceled") -> EngineOrder | None:
        """Cancel a live order; None when the id is unknown or already done."""
        order = self._orders.pop(oid, None)
        if order is None:
            return None
        was_resting = order.status == _OPEN
        order.status = _CANCELED
        order.reason = reason
        if was_resting:
            side = self._bids if order.side == BUY else self._asks
            level = order.level
            assert level is not None
            level.total -= order.remaining
            if level.total == 0:
                side.drop(level.price * side.sign)
            else:
                level.dead += 1
                if 2 * level.dead > len(level.queue) + 16:
                    # Canceled orders wait in the queue until matching reaches them; compact a
                    # level where they pile up behind orders that never trade.
                    level.queue = deque(o for o in level.queue if o.status == _OPEN)
                    level.dead = 0
            order.level = None
        else:
            del self._pending[oid]
        return order

    def update_last_price(self, ticks: int, ts: int = 0) -> MatchResult:
        """Set the last trade price from outside (a candle close, a recorded trade) so stops
        and trailing stops react as if it had printed here."""
        self._now = ts
        self.last_price = ticks
        result = MatchResult()
        if self._pending:
            self._trail_to(ticks, ticks)
            self._fire_triggers(result)
        return result

    # ----- internals -----------------------------------------------------------------------

    def _check(self, order: EngineOrder) -> None:
        kind = order.kind
        if order.size <= 0:
            raise ValueError("size must be at least one lot")
        if order.side != BUY and order.side != SELL:
            raise ValueError(f"side must be {BUY} (buy) or {SELL} (sell), got {order.side!r}")
        if kind == _LIMIT:
            if order.price <= 0:
                raise ValueError("a limit order needs a positive price")
        elif kind != _MARKET:
            self._check_conditional(order)
        if order.post_only and (kind != _LIMIT or order.tif != _GTC):
            raise ValueError("post-only applies to GTC limit orders only")

    @staticmethod
    def _check_conditional(order: EngineOrder) -> None:
        kind = order.kind
        name = Kind(kind).name.lower()
        if kind == Kind.STOP_LIMIT and order.price <= 0:
            raise ValueError(f"a {name} order needs a positive price")
        if kind in (Kind.STOP_MARKET, Kind.STOP_LIMIT, Kind.TAKE_PROFIT) and order.trigger <= 0:
            raise ValueError(f"a {name} order needs a positive trigger price")
        if kind == Kind.TRAILING_STOP and order.trail <= 0:
            raise ValueError("a trailing stop needs a positive trailing offset")
        if kind not in _CONDITIONAL:
            raise ValueError(f"unknown order kind {kind!r}")

    def _execute(self, order: EngineOrder, result: MatchResult) -> None:
        """Match an active (market or limit) order, then rest, cancel or fill it."""
        limit = order.price if order.kind == _LIMIT or order.kind == _STOP_LIMIT else None
        if order.post_only:
            best = self.best_ask() if order.side == BUY else self.best_bid()
            if best is not None and (order.price >= best if order.side == BUY else order.price <= best):
                order.status = _REJECTED
                order.reason = "post-only order would cross the book"
                result.updated.append(order)
                return
        elif order.tif == _FOK and self.available(order.side, limit, order.remaining) < order.remaining:
            order.status = _REJECTED
            order.reason = "fill-or-kill order cannot be filled completely"
            result.updated.append(order)
            return
        if limit is None:
            self._take(order, None, result.fills, result.updated)
        else:
            # Most limit orders do not cross: skip the matching loop's set-up for them.
            opposite = self._asks.keys if order.side == BUY else self._bids.keys
            if opposite and (limit >= -opposite[-1] if order.side == BUY else limit <= opposite[-1]):
                self._take(order, limit, result.fills, result.updated)
        if order.remaining == 0:
            order.status = _FILLED
        elif limit is None:
            order.status = _CANCELED
            order.reason = "no more liquidity for the market order's remainder"
        elif order.tif != _GTC:
            order.status = _CANCELED
            order.reason = "unfilled remainder of an immediate-or-cancel order"
        else:
            self._rest(order)
        result.updated.append(order)

    def _take(self, taker: EngineOrder, limit: int | None, fills: list[MatchFill], done: list[EngineOrder]) -> None:
        """The matching loop: walk the opposite side best first, FIFO within a level. Fills
        go to ``fills``, makers it fills completely to ``done``; the last price is set.

        A level's total and the taker's notional are settled once per level, not per fill.
        """
        opposite = self._asks if taker.side == BUY else self._bids
        keys = opposite.keys
        levels = opposite.levels
        # a market order's bound is the worst level: it may walk the whole side
        bound = limit * opposite.sign if limit is not None else keys[0] if keys else 0
        orders = self._orders
        scale = self._scale
        ts = self._now
        seq = self._trade_seq
        rem = taker.remaining
        filled_notional = 0
        price = None
        while rem and keys:
            key = keys[-1]
            if key < bound:
                break
            level = levels[key]
            queue = level.queue
            price = level.price
            total = level.total
            want = rem if rem < total else total
            rem -= want
            total -= want
            filled_notional += want * price
            while want:
                maker = queue[0]
                if maker.status != _OPEN:
                    queue.popleft()
                    level.dead -= 1
                    continue
                left = maker.remaining
                lots = left if left < want else want
                seq += 1
                fill = MatchFill()
                fill.seq = seq
                fill.ts = ts
                fill.price_ticks = price
                fill.lots = lots
                fill.maker = maker
                fill.taker = taker
                fill._scale = scale
                fills.append(fill)
                maker.notional += lots * price
                if left > want:
                    maker.remaining = left - want
                    break
                maker.remaining = 0
                want -= left
                queue.popleft()
                maker.status = _FILLED
                maker.level = None
                del orders[maker.oid]
                done.append(maker)
            if total:
                level.total = total
            else:
                del levels[key]
                keys.pop()
        if price is not None:
            self.last_price = price
        self._trade_seq = seq
        taker.notional += filled_notional
        taker.remaining = rem

    def _rest(self, order: EngineOrder) -> None:
        side = self._bids if order.side == BUY else self._asks
        key = order.price * side.sign
        level = side.levels.get(key)
        if level is None:
            level = side.levels[key] = _Level(order.price)
            keys = side.keys
            if not keys or key > keys[-1]:
                keys.append(key)
            else:
                insort(keys, key)
        level.queue.append(order)
        level.total += order.remaining
        order.level = level
        order.status = _OPEN
        self._orders[order.oid] = order

    def _arm(self, order: EngineOrder, result: MatchResult) -> None:
        order.status = _PENDING
        self._orders[order.oid] = order
        self._pending[order.oid] = order
        result.updated.append(order)
        if order.kind == _TRAILING and self.last_price is not None:
            self._trail_one(order, self.last_price, self.last_price)
        if self.last_price is not None:
            self._fire_triggers(result)

    def _after_trades(self, result: MatchResult) -> None:
        """Trailing stops follow the prices of the fills, then the stops they reach fire."""
        prices = [f.price_ticks for f in result.fills]
        self._trail_to(min(prices), max(prices))
        self._fire_triggers(result)

    def _trail_to(self, low: int, high: int) -> None:
        for order in self._pending.values():
            if order.kind == _TRAILING:
                self._trail_one(order, low, high)

    @staticmethod
    def _trail_one(order: EngineOrder, low: int, high: int) -> None:
        """A sell trailing stop follows the highest price seen, a buy one the lowest."""
        if order.side == SELL:
            order.ref = high if order.ref is None else max(order.ref, high)
            order.trigger = order.ref - order.trail
        else:
            order.ref = low if order.ref is None else min(order.ref, low)
            order.trigger = order.ref + order.trail

    def _fires(self, order: EngineOrder, last: int) -> bool:
        if order.kind == _TRAILING and order.ref is None:
            return False
        rises = order.side == BUY
        if order.kind == _TAKE_PROFIT:
            rises = not rises
        return last >= order.trigger if rises else last <= order.trigger

    def _fire_triggers(self, result: MatchResult) -> None:
        """Trigger, in arming order, every stop the last price reaches; repeat while the
        triggered orders' own trades reach more stops."""
        while self._pending and self.last_price is not None:
            last = self.last_price
            fired = [o for o in self._pending.values() if self._fires(o, last)]
            if not fired:
                return
            for order in fired:
                del self._pending[order.oid]
                del self._orders[order.oid]
                start = len(result.fills)
                self._execute(order, result)
                if len(result.fills) > start and self._pending:
                    prices = [f.price_ticks for f in result.fills[start:]]
                    self._trail_to(min(prices), max(prices))
