"""Domain models shared by every layer.

Prices, sizes and money are ``Decimal`` so that what the trader typed is what the venue
receives; rounding to an instrument's precision happens once, in ``Instrument``, at the edge.
Timestamps are integer milliseconds UTC, as in ccxt.
"""

from __future__ import annotations

import itertools
import os
import random
import uuid
from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

ZERO = Decimal(0)
# Above this a price or size is a typo, and checking it against the tick or lot size would
# overflow the decimal context (1e400 % 0.01 raises instead of answering).
MAX_QUANTITY = Decimal(10) ** 15


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    # plain attributes of each member (set below), not properties: read ~7 times an order placed
    sign: int  # +1 for a buy, -1 for a sell
    opposite: Side


Side.BUY.sign, Side.BUY.opposite = 1, Side.SELL
Side.SELL.sign, Side.SELL.opposite = -1, Side.BUY


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    STOP_MARKET = "stop_market"
    STOP_LIMIT = "stop_limit"
    TAKE_PROFIT = "take_profit"
    TRAILING_STOP = "trailing_stop"

    @property
    def needs_price(self) -> bool:
        return self in (OrderType.LIMIT, OrderType.STOP_LIMIT)

    @property
    def needs_trigger(self) -> bool:
        return self in (OrderType.STOP_MARKET, OrderType.STOP_LIMIT, OrderType.TAKE_PROFIT)


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    PENDING_NEW = "pending_new"
    OPEN = "open"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATUSES


TERMINAL_STATUSES = frozenset(
    {OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED}
)

# The legal moves of an order. pending_new may jump straight to a fill or a rejection because a
# venue can answer a marketable order with its fills in the acknowledgement itself.
LEGAL_TRANSITIONS: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.PENDING_NEW: frozenset(
        {
            OrderStatus.OPEN,
            OrderStatus.PARTIALLY_FILLED,
            OrderStatus.FILLED,
            OrderStatus.CANCELED,
            OrderStatus.REJECTED,
            OrderStatus.EXPIRED,
        }
    ),
    OrderStatus.OPEN: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
    ),
    OrderStatus.PARTIALLY_FILLED: frozenset(
        {OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED, OrderStatus.CANCELED, OrderStatus.EXPIRED}
    ),
    OrderStatus.FILLED: frozenset(),
    OrderStatus.CANCELED: frozenset(),
    OrderStatus.REJECTED: frozenset(),
    OrderStatus.EXPIRED: frozenset(),
}


class IllegalTransition(ValueError):
    """An order was asked to move to a state its state machine does not allow."""


class ContractType(StrEnum):
    SPOT = "spot"
    LINEAR_PERPETUAL = "linear_perpetual"


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class RiskState(StrEnum):
    """ACTIVE trades normally, REDUCING lets through only orders that shrink exposure,
    HALTED lets nothing through until a person resets it."""

    ACTIVE = "active"
    REDUCING = "reducing"
    HALTED = "halted"


class Direction(StrEnum):
    BUY = "buy"
    SELL = "sell"
    HOLD = "hold"


_order_ids = random.Random(os.urandom(32))
_ID_SEQUENCE_BITS = 40
_ID_SEQUENCE_MASK = (1 << _ID_SEQUENCE_BITS) - 1
_id_sequence = itertools.count(_order_ids.getrandbits(_ID_SEQUENCE_BITS))


def _reseed_order_ids() -> None:
    global _id_sequence
    _order_ids.seed(os.urandom(32))
    _id_sequence = itertools.count(_order_ids.getrandbits(_ID_SEQUENCE_BITS))


os.register_at_fork(after_in_child=_reseed_order_ids)


def new_client_order_id() -> str:
    """Client order ids are made locally, before sending, so a timeout is resolved by lookup.
    24 hex digits (what ``exchanges.ccxt.client.to_wire`` carries to venues that take hex):
    a 40-bit sequence, started at a random point in each process (and again in a forked
    child), then 56 random bits. Ids that follow each other sort next to each other, so the
    database's indexes on the id (the orders' key, their events') take each new one at the
    same edge instead of at a random page: with random ids each commit dirtied a page per
    order per index, ~25 us of the writer's CPU per order (measured on a 100,000-order table).
    Random bits come from a generator seeded from the system's entropy: ``uuid4`` asked the
    system for each id, a call that gives up the GIL, and on a busy order path getting it back
    cost more than the id."""
    return f"ot-{next(_id_sequence) & _ID_SEQUENCE_MASK:010x}{_order_ids.getrandbits(56):014x}"


_set_attribute = object.__setattr__
# The setters of BaseModel's slots, called directly: each saves object.__setattr__'s lookup of the
# slot (~0.1 us), which counts on the venues' book path (thousands of books a second).
_set_fields_set = BaseModel.__dict__["__pydantic_fields_set__"].__set__
_set_extra = BaseModel.__dict__["__pydantic_extra__"].__set__
_set_private = BaseModel.__dict__["__pydantic_private__"].__set__


class _Model(BaseModel):
    """Each model's validator and serializer are built on its first use (``defer_build``), not
    on import: building them all was ~20-40 ms of the app's start that its first frame does not
    need. ``build_schemas`` builds the rest once the first frame is up."""

    model_config = ConfigDict(frozen=False, extra="forbid", validate_assignment=False, defer_build=True)


_M = TypeVar("_M", bound=_Model)


class Instrument(_Model):
    """A tradable market with the precision and limits every order must respect."""

    venue: str
    symbol: str
    base: str
    quote: str
    contract_type: ContractType = ContractType.SPOT
    tick_size: Decimal = Field(gt=0)
    lot_size: Decimal = Field(gt=0)
    min_size: Decimal = ZERO
    min_notional: Decimal = ZERO
    maker_fee: Decimal = Decimal("0.001")
    taker_fee: Decimal = Decimal("0.001")
    contract_size: Decimal = Decimal(1)
    max_leverage: int = 1

    @property
    def is_perpetual(self) -> bool:
        return self.contract_type is ContractType.LINEAR_PERPETUAL

    @property
    def price_decimals(self) -> int:
        return max(0, -self.tick_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    @property
    def size_decimals(self) -> int:
        return max(0, -self.lot_size.normalize().as_tuple().exponent)  # type: ignore[operator]

    def round_price(self, price: Decimal) -> Decimal:
        steps = (price / self.tick_size).quantize(Decimal(1), rounding=ROUND_HALF_EVEN)
        return (steps * self.tick_size).quantize(self.tick_size)

    def round_size(self, size: Decimal) -> Decimal:
        """Sizes round down: never trade more than was asked."""
        steps = (size / self.lot_size).quantize(Decimal(1), rounding=ROUND_DOWN)
        return (steps * self.lot_size).quantize(self.lot_size)

    def size_problem(self, size: Decimal, price: Decimal | None) -> str | None:
        """Why a size cannot be traded on this instrument, or None when it can."""
        if size <= 0:
            return "size must be greater than 0"
        if size > MAX_QUANTITY:
            return f"size {size} is above the largest accepted, {MAX_QUANTITY:,f}"
        if size % self.lot_size != 0:
            return f"size {size} is not a multiple of the lot size {self.lot_size}"
        if size < self.min_size:
            return f"size {size} is below the minimum {self.min_size} {self.base}"
        if price is not None and self.min_notional > 0:
            notional = size * price * self.contract_size
            if notional < self.min_notional:
                return f"notional {notional:.2f} {self.quote} is below the minimum {self.min_notional} {self.quote}"
        return None

    def price_problem(self, price: Decimal, label: str = "price") -> str | None:
        if price <= 0:
            return f"{label} must be greater than 0"
        if price > MAX_QUANTITY:
            return f"{label} {price} is above the largest accepted, {MAX_QUANTITY:,f}"
        if price % self.tick_size != 0:
            return f"{label} {price} is not a multiple of the tick size {self.tick_size}"
        return None


class OrderRequest(_Model):
    """What a person or a strategy asks for, before risk checks and before it becomes an Order."""

    venue: str
    symbol: str
    side: Side
    type: OrderType = OrderType.LIMIT
    size: Decimal = Field(gt=0)
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trailing_offset: Decimal | None = Field(default=None, gt=0)
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    leverage: int | None = Field(default=None, ge=1)
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    strategy_id: str | None = None
    client_order_id: str = Field(default_factory=new_client_order_id)

    @model_validator(mode="after")
    def _consistent(self) -> OrderRequest:
        problem = _inconsistency(self)
        if problem is not None:
            raise ValueError(problem)
        return self

    def validate_for(self, instrument: Instrument) -> list[str]:
        """Every way this request breaks the instrument's precision and limits."""
        return instrument_problems(self, instrument)

    def size_problem(self, instrument: Instrument) -> str | None:
        return instrument.size_problem(self.size, self.price or self.trigger_price)


def sound_request(order: Order) -> bool:
    """Whether an order's request fields pass a request's checks: the bounds of its fields
    (``Field(gt=, ge=)``), then ``_consistent``'s. Every order the engine sends was a validated
    request, so a venue checking one again need not pay pydantic for it; one that fails is
    validated as a request, for its problem to be worded as pydantic words it."""
    return (order.size > 0 and (order.trailing_offset is None or order.trailing_offset > 0)
            and (order.leverage is None or order.leverage >= 1) and _inconsistency(order) is None)


def instrument_problems(request: OrderRequest | Order, instrument: Instrument) -> list[str]:
    """Every way a request (or an order: it carries one) breaks the instrument's precision and
    limits: ``OrderRequest.validate_for``, and the simulated exchange's check of an order."""
    problems: list[str] = []
    if instrument.symbol != request.symbol:
        problems.append(f"instrument {instrument.symbol} does not match {request.symbol}")
    price = request.price
    size_problem = instrument.size_problem(request.size, price or request.trigger_price)
    if size_problem:
        problems.append(size_problem)
    for value, label in ((price, "price"), (request.trigger_price, "trigger price"),
                         (request.take_profit, "take profit"), (request.stop_loss, "stop loss")):
        if value is not None:
            problem = instrument.price_problem(value, label)
            if problem:
                problems.append(problem)
    if request.leverage is not None and request.leverage > instrument.max_leverage:
        problems.append(
            f"leverage {request.leverage}x exceeds {instrument.symbol}'s maximum {instrument.max_leverage}x"
        )
    if request.reduce_only and not instrument.is_perpetual:
        problems.append("reduce-only applies to perpetual contracts only")
    return problems


_NEEDS_PRICE = frozenset(kind for kind in OrderType if kind.needs_price)
_NEEDS_TRIGGER = frozenset(kind for kind in OrderType if kind.needs_trigger)


def _inconsistency(request: OrderRequest | Order) -> str | None:
    """What makes a request's fields (or an order's: it carries them) contradict each other;
    the first of these problems: a price a type needs, a trigger price, a trailing offset; a
    price a market order must not have; post-only on other than a GTC limit; a price, trigger
    price, take profit or stop loss not above 0. Twice an order placed (its request's
    validation, the venue's check of the order)."""
    kind = request.type
    price = request.price
    if price is None:
        if kind in _NEEDS_PRICE:
            return f"a {kind.value} order needs a price"
    elif kind is OrderType.MARKET:  # needs no price nor trigger: no check above it applies
        return "a market order takes no price"
    trigger = request.trigger_price
    if trigger is None and kind in _NEEDS_TRIGGER:
        return f"a {kind.value} order needs a trigger price"
    if kind is OrderType.TRAILING_STOP and request.trailing_offset is None:
        return "a trailing_stop order needs a trailing offset"
    if request.post_only:
        if kind is not OrderType.LIMIT:
            return "post-only applies to limit orders only"
        if request.time_in_force is not TimeInForce.GTC:
            return "post-only orders must be GTC"
    for value, name in ((price, "price"), (trigger, "trigger_price"), (request.take_profit, "take_profit"),
                        (request.stop_loss, "stop_loss")):
        if value is not None and value <= 0:
            return f"{name} must be greater than 0"
    return None


class Order(_Model):
    """An order as the system knows it: every change goes through ``transition``."""

    client_order_id: str
    venue: str
    symbol: str
    side: Side
    type: OrderType
    size: Decimal
    price: Decimal | None = None
    trigger_price: Decimal | None = None
    trailing_offset: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    reduce_only: bool = False
    leverage: int | None = None
    take_profit: Decimal | None = None
    stop_loss: Decimal | None = None
    strategy_id: str | None = None
    venue_order_id: str | None = None
    status: OrderStatus = OrderStatus.PENDING_NEW
    filled_size: Decimal = ZERO
    avg_price: Decimal | None = None
    fee: Decimal = ZERO
    reason: str | None = None
    created_ts: int = 0
    updated_ts: int = 0

    @classmethod
    def from_request(cls, request: OrderRequest, ts: int) -> Order:
        """The order a request becomes, its fields as the request's validation left them: not
        validated a second time, as every order placed would pay for it."""
        return _trusted(cls, {**_NO_ORDER_FIELDS, **request.__dict__, "status": OrderStatus.PENDING_NEW,
                              "filled_size": ZERO, "fee": ZERO, "created_ts": ts, "updated_ts": ts})

    def copy_with(self, **changes: Any) -> Order:
        """A copy, with ``changes`` (values already of their fields' types): ``model_copy``'s
        result at a third of its cost, for the copies every order makes (each event carries one)."""
        return _trusted(Order, {**self.__dict__, **changes})

    @property
    def remaining(self) -> Decimal:
        return self.size - self.filled_size

    @property
    def is_open(self) -> bool:
        """The set looked up here, not ``status.is_terminal``: ~15 reads an order placed."""
        return self.status not in TERMINAL_STATUSES

    def can_transition(self, new: OrderStatus) -> bool:
        return new in LEGAL_TRANSITIONS[self.status]

    def transition(self, new: OrderStatus, ts: int, reason: str | None = None) -> None:
        """The fields are set as pydantic's ``__setattr__`` sets them (no validation on
        assignment here), without its two calls per field: two transitions an order placed."""
        values = self.__dict__
        if new not in LEGAL_TRANSITIONS[values["status"]]:
            raise IllegalTransition(
                f"order {self.client_order_id}: {self.status.value} -> {new.value} is not allowed"
            )
        values["status"] = new
        values["updated_ts"] = ts
        fields_set = self.__pydantic_fields_set__
        fields_set.add("status")
        fields_set.add("updated_ts")
        if reason is not None:
            values["reason"] = reason
            fields_set.add("reason")

    def add_fill(self, price: Decimal, size: Decimal, fee: Decimal, ts: int, notional: Decimal) -> Decimal:
        """Fold one fill into the order (a simulated exchange's own book-keeping): the filled
        size, the fee, and the volume-weighted average price, taken from ``notional`` (price
        times size of the earlier fills, summed) so that it is exact (Decimal's 28 digits, never
        rounded to a tick) and does not depend on how the fills came. The order is partially
        filled, or filled once nothing remains. Returns the new notional, for the next fill."""
        notional += price * size
        filled = self.filled_size + size
        self.avg_price = notional / filled
        self.filled_size = filled
        self.fee += fee
        status = OrderStatus.FILLED if filled >= self.size else OrderStatus.PARTIALLY_FILLED
        if status is not self.status:
            self.transition(status, ts)
        else:
            self.updated_ts = ts
        return notional

    def take_fill_totals(self, filled_size: Decimal, avg_price: Decimal | None, fee: Decimal) -> bool:
        """Take a venue's cumulative word on the order's fills (size, average price, fee) if it
        says more was filled than we know; a late or repeated report changes nothing. Returns
        whether the order grew."""
        if filled_size <= self.filled_size:
            return False
        self.filled_size = filled_size
        self.avg_price = avg_price
        self.fee = max(self.fee, fee)
        return True


# Every field of an order None, in the fields' order: a request's fields (all an order's) are
# laid over it in one copy, not looked up one by one.
_NO_ORDER_FIELDS: dict[str, Any] = dict.fromkeys(Order.model_fields)


class Fill(_Model):
    fill_id: str
    client_order_id: str
    venue_order_id: str | None = None
    venue: str
    symbol: str
    side: Side
    price: Decimal
    size: Decimal
    fee: Decimal = ZERO
    fee_currency: str = ""
    liquidity: Liquidity = Liquidity.TAKER
    ts: int = 0
    strategy_id: str | None = None

    @property
    def notional(self) -> Decimal:
        return self.price * self.size


class ExecutionReport(_Model):
    """A venue's word about one order: its status, cumulative fill and, optionally, one new fill.

    Reports may arrive twice or out of order; the OrderManager applies them idempotently.
    """

    client_order_id: str
    venue: str
    symbol: str
    status: OrderStatus
    venue_order_id: str | None = None
    filled_size: Decimal = ZERO
    avg_price: Decimal | None = None
    fee: Decimal = ZERO
    fill: Fill | None = None
    reason: str | None = None
    ts: int = 0

    @classmethod
    def trusted(
        cls, client_order_id: str, venue: str, symbol: str, status: OrderStatus, venue_order_id: str | None,
        filled_size: Decimal, avg_price: Decimal | None, fee: Decimal, fill: Fill | None, reason: str | None, ts: int,
    ) -> ExecutionReport:
        """A report built by a venue from its own orders and fills, already of their types: not
        validated again (two reports or more for every order placed on the paper venue)."""
        return _trusted(cls, {
            "client_order_id": client_order_id, "venue": venue, "symbol": symbol, "status": status,
            "venue_order_id": venue_order_id, "filled_size": filled_size, "avg_price": avg_price, "fee": fee,
            "fill": fill, "reason": reason, "ts": ts,
        })


class Position(_Model):
    venue: str
    symbol: str
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    leverage: int = 1
    margin: Decimal = ZERO
    mark_price: Decimal | None = None
    unrealized_pnl: Decimal = ZERO
    realized_pnl: Decimal = ZERO
    liquidation_price: Decimal | None = None
    created_ts: int = 0
    updated_ts: int = 0

    @property
    def signed_size(self) -> Decimal:
        return self.size if self.side is PositionSide.LONG else -self.size

    @property
    def notional(self) -> Decimal:
        return self.size * (self.mark_price or self.entry_price)


class LevelPlacement(StrEnum):
    """Where a position's protective levels live: resting at the exchange as reduce-only
    orders (they hold while the app is closed), or watched by the engine on every mark update
    (only while the app runs)."""

    EXCHANGE = "exchange"
    ENGINE = "engine"

    @property
    def label(self) -> str:
        return "exchange" if self is LevelPlacement.EXCHANGE else "engine-side"


class ProtectiveLevels(_Model):
    """A position's stop-loss and take-profit, bound to that one position by its side and the
    time it was opened, so levels never outlive it. Each level says where it came from:
    "manual" (the trader), "auto" (``trading.auto_protect``) or "strategy:<id>". At the
    exchange, each level is a reduce-only order known by its client order id."""

    venue: str
    symbol: str
    side: PositionSide
    opened_ts: int
    stop_loss: Decimal | None = None
    stop_loss_source: str | None = None
    take_profit: Decimal | None = None
    take_profit_source: str | None = None
    placement: LevelPlacement = LevelPlacement.ENGINE
    stop_loss_order: str | None = None
    take_profit_order: str | None = None
    updated_ts: int = 0

    @property
    def empty(self) -> bool:
        return self.stop_loss is None and self.take_profit is None


class Balance(_Model):
    asset: str
    free: Decimal = ZERO
    used: Decimal = ZERO

    @property
    def total(self) -> Decimal:
        return self.free + self.used


def _trusted(cls: type[_M], values: dict[str, Any]) -> _M:
    """An instance of ``cls`` over ``values`` (every field, already of its type), built as
    ``model_construct`` builds one minus its loop over the fields for aliases and defaults: a
    third of the cost where market data or a replay makes thousands a second."""
    model = cls.__new__(cls)
    _set_attribute(model, "__dict__", values)
    _set_fields_set(model, set(values))
    _set_extra(model, None)
    _set_private(model, None)
    return model


class OrderBook(_Model):
    venue: str
    symbol: str
    ts: int
    bids: list[tuple[Decimal, Decimal]] = Field(default_factory=list)
    asks: list[tuple[Decimal, Decimal]] = Field(default_factory=list)

    @classmethod
    def trusted(
        cls, venue: str, symbol: str, ts: int, bids: list[tuple[Decimal, Decimal]], asks: list[tuple[Decimal, Decimal]]
    ) -> OrderBook:
        """A book from levels the caller already converted and ordered (a venue's market data,
        up to thousands a second): the instance ``model_construct`` makes, without its loop over
        fields for aliases and defaults, which cost as much as converting a message's levels."""
        return _trusted(cls, {"venue": venue, "symbol": symbol, "ts": ts, "bids": bids, "asks": asks})

    @property
    def best_bid(self) -> Decimal | None:
        return self.bids[0][0] if self.bids else None

    @property
    def best_ask(self) -> Decimal | None:
        return self.asks[0][0] if self.asks else None

    @property
    def mid(self) -> Decimal | None:
        if self.bids and self.asks:
            return (self.bids[0][0] + self.asks[0][0]) / 2
        return None

    @property
    def spread(self) -> Decimal | None:
        if self.bids and self.asks:
            return self.asks[0][0] - self.bids[0][0]
        return None


class Trade(_Model):
    """A public trade on the tape (side is the aggressor's)."""

    venue: str
    symbol: str
    ts: int
    price: Decimal
    size: Decimal
    side: Side
    trade_id: str = ""

    @classmethod
    def trusted(cls, venue: str, symbol: str, ts: int, price: Decimal, size: Decimal, side: Side, trade_id: str = "") -> Trade:
        """A print from values the caller already checked (a replayed candle's prices)."""
        return _trusted(cls, {"venue": venue, "symbol": symbol, "ts": ts, "price": price, "size": size, "side": side,
                              "trade_id": trade_id})


class Ticker(_Model):
    venue: str
    symbol: str
    ts: int
    bid: Decimal | None = None
    ask: Decimal | None = None
    last: Decimal | None = None
    mark: Decimal | None = None
    volume_24h: Decimal | None = None
    #: the price the 24-hour change is measured from and when it was: 24 h before ``ts`` when the
    #: venue knows that far back, else the oldest price it knows within the day
    reference_price: Decimal | None = None
    reference_ts: int | None = None

    @classmethod
    def trusted(cls, venue: str, symbol: str, ts: int, bid: Decimal | None, ask: Decimal | None, last: Decimal | None,
                mark: Decimal | None, volume_24h: Decimal | None, reference_price: Decimal | None,
                reference_ts: int | None) -> Ticker:
        """A ticker from values the caller made of the right types (the paper venue's, a few
        hundred a second from its own book): validating them cost more than making them."""
        return _trusted(cls, {"venue": venue, "symbol": symbol, "ts": ts, "bid": bid, "ask": ask, "last": last,
                              "mark": mark, "volume_24h": volume_24h, "reference_price": reference_price,
                              "reference_ts": reference_ts})


class Candle(_Model):
    ts: int
    open: float
    high: float
    low: float
    close: float
    volume: float

    @classmethod
    def trusted(cls, ts: int, open: float, high: float, low: float, close: float, volume: float) -> Candle:
        """A candle from arrays checked when they were loaded (a backtest's bars)."""
        return cls.trusted_many([(ts, open, high, low, close, volume)])[0]

    @classmethod
    def trusted_many(cls, rows: Iterable[tuple[int, float, float, float, float, float]]) -> list[Candle]:
        """``trusted`` for each (ts, open, high, low, close, volume) row, as ``_trusted`` builds
        one, in one loop: the event backtester closes a candle every few microseconds."""
        new, fields = cls.__new__, {"ts", "open", "high", "low", "close", "volume"}
        candles = []
        for ts, open_, high, low, close, volume in rows:
            candle = new(cls)
            _set_attribute(candle, "__dict__", {"ts": ts, "open": open_, "high": high, "low": low, "close": close,
                                                "volume": volume})
            _set_fields_set(candle, fields.copy())
            _set_extra(candle, None)
            _set_private(candle, None)
            candles.append(candle)
        return candles


class FundingRate(_Model):
    """The rate of one funding payment of a perpetual, as a fraction of the position's notional:
    positive, longs pay shorts."""

    ts: int
    rate: float


class FundingPayment(_Model):
    """One funding payment on a perpetual position, as the venue settled it on the account:
    ``amount`` in ``currency`` (the market's settlement currency), positive received, negative
    paid. The venue pays the account's position, not a strategy's: reports share it among the
    strategies by their books at ``ts`` (``core.reports``). ``ts`` is the funding time, one
    payment per market at each, which is what keeps it recorded once. The rate, the price it
    was computed at and the position's side and size are None where the venue does not say
    (an exchange's income history gives the amount only)."""

    venue: str
    symbol: str
    ts: int
    amount: Decimal
    currency: str
    rate: Decimal | None = None
    price: Decimal | None = None
    side: PositionSide | None = None
    size: Decimal | None = None


class Funding(_Model):
    """A perpetual's current funding rate and when it is next paid; a dedicated venue also says
    how often it is paid and the mark and index prices it comes from (None: the venue does not
    say)."""

    rate: float
    next_ts: int | None = None
    interval_hours: int | None = None
    mark_price: Decimal | None = None
    index_price: Decimal | None = None


class MarketStats(_Model):
    """What the data service read of one market at ``ts`` beyond its prices; None where the
    venue does not provide a figure. Depths are base amounts within 10 bps of the mid, open
    interest is in the base currency, the long/short ratio is accounts long per account short."""

    venue: str
    symbol: str
    ts: int
    spread_bps: float | None = None
    bid_depth: float | None = None
    ask_depth: float | None = None
    funding_rate: float | None = None
    next_funding_ts: int | None = None
    open_interest: float | None = None
    long_short_ratio: float | None = None


class Signal(_Model):
    """A trade idea with the fields of the first design document."""

    signal_id: str = Field(default_factory=lambda: "sig-" + uuid.uuid4().hex[:16])
    instrument_id: str
    direction: Direction
    strength: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    target_price: float | None = None
    stop_loss: float | None = None
    take_profit: float | None = None
    generated_time: int = 0
    source: str = "ai_prediction"
    # share of the account's equity the risk agent allows (Kelly, volatility target, correlation,
    # exposure limits); None from a source that does not size
    size_fraction: float | None = Field(default=None, ge=0, le=1)


class AgentOpinion(_Model):
    agent: str
    direction: Direction
    strength: float = Field(ge=0, le=1)
    confidence: float = Field(ge=0, le=1)
    rationale: str = ""
    inputs: dict[str, Any] = Field(default_factory=dict)
    data_age_ms: int | None = None
    has_data: bool = True


def build_schemas() -> None:
    """Build the validators and serializers of the models not used yet, so that the first
    order placed (an ``OrderRequest``, an ``Order``, its reports and fills) does not pay for
    them; run after the app's first frame."""
    pending = list(_Model.__subclasses__())
    while pending:
        model = pending.pop()
        model.model_rebuild()
        pending.extend(model.__subclasses__())
