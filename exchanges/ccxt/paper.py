"""Paper trading on a real exchange's public data: the account is simulated, the market is not.

Each symbol has a ``core.matching.MatchingEngine`` holding the live book's levels (owner
``MARKET``) and the account's own orders. Each new live book replaces the market's levels; when
the live book moves through a resting order of ours, re-adding the market's levels crosses it
and the engine fills it at our price, as the exchange would. Our market and marketable orders
take the live levels, so they pay the spread and walk the book. Live trades move the last price,
which arms and fires stops. Fills, fees and balances are Decimal; positions of perpetuals carry
an entry price and realised PnL.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable
from dataclasses import dataclass, field
from decimal import Decimal

from core.events import EventBus, ExecutionReported
from core.matching import EngineOrder, MatchingEngine, MatchResult, Status
from core.models import (
    ZERO,
    Balance,
    ExecutionReport,
    Fill,
    Instrument,
    Order,
    OrderBook,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Trade,
)
from core.ports import Clock, OrderNotFound

log = logging.getLogger(__name__)

MARKET = "market"
ME = "me"

_STATUS = {
    Status.PENDING: OrderStatus.OPEN,
    Status.OPEN: OrderStatus.OPEN,
    Status.FILLED: OrderStatus.FILLED,
    Status.CANCELED: OrderStatus.CANCELED,
    Status.REJECTED: OrderStatus.REJECTED,
}


@dataclass
class _PaperPosition:
    size: Decimal = ZERO  # signed, in contracts
    entry: Decimal = ZERO
    realized: Decimal = ZERO
    created_ts: int = 0


@dataclass
class _Book:
    engine: MatchingEngine
    market_ids: list[Hashable] = field(default_factory=list)


class PaperAccount:
    def __init__(self, venue: str, balances: dict[str, Decimal], clock: Clock) -> None:
        self.venue = venue
        self._clock = clock
        self._free: dict[str, Decimal] = dict(balances)
        self._books: dict[str, _Book] = {}
        self._instruments: dict[str, Instrument] = {}
        self._orders: dict[str, Order] = {}
        self._engine_orders: dict[str, EngineOrder] = {}
        self._positions: dict[str, _PaperPosition] = {}
        self._fill_seq = 0
        self._bus: EventBus | None = None

    def attach(self, bus: EventBus, instruments: dict[str, Instrument]) -> None:
        self._bus = bus
        self._instruments = instruments

    def _book(self, symbol: str) -> _Book:
        book = self._books.get(symbol)
        if book is None:
            book = self._books[symbol] = _Book(MatchingEngine(self._instruments[symbol]))
        return book

    # -- market data in -------------------------------------------------------------------

    def on_book(self, snapshot: OrderBook) -> None:
        """Replace the market's liquidity with the live book's levels."""
        if snapshot.symbol not in self._instruments:
            return
        book = self._book(snapshot.symbol)
        engine = book.engine
        for oid in book.market_ids:
            engine.cancel(oid, "book refreshed")
        book.market_ids = []
        now = self._clock.now_ms()
        lot = engine.instrument.lot_size
        for side, levels in ((Side.BUY, snapshot.bids), (Side.SELL, snapshot.asks)):
            for price, size in levels:
                size = (size // lot) * lot
                if size <= 0 or price % engine.instrument.tick_size:
                    continue
                order = engine.new_order(side, OrderType.LIMIT, size, price=price, owner=MARKET)
                result = engine.submit(order, ts=now)
                if order.is_live:
                    book.market_ids.append(order.oid)
                self._apply(snapshot.symbol, result)

    def on_trade(self, trade: Trade) -> None:
        if trade.symbol not in self._books:
            return
        engine = self._books[trade.symbol].engine
        instrument = engine.instrument
        if trade.price % instrument.tick_size:
            return
        self._apply(trade.symbol, engine.update_last_price(engine.to_ticks(trade.price), self._clock.now_ms()))

    # -- orders ---------------------------------------------------------------------------

    def submit(self, order: Order) -> ExecutionReport:
        if order.client_order_id in self._orders:
            return self._report(self._orders[order.client_order_id])
        now = self._clock.now_ms()
        order = order.model_copy()
        problem = self._reduce_only_problem(order) or self._funds_problem(order)
        if problem is not None:
            order.transition(OrderStatus.REJECTED, now, problem)
            self._orders[order.client_order_id] = order
            return self._report(order)
        engine = self._book(order.symbol).engine
        engine_order = engine.new_order(
            order.side, order.type, order.size, price=order.price, trigger_price=order.trigger_price,
            trailing_offset=self._trail(engine, order), time_in_force=order.time_in_force,
            post_only=order.post_only, oid=order.client_order_id, owner=ME,
        )
        self._orders[order.client_order_id] = order
        self._engine_orders[order.client_order_id] = engine_order
        result = engine.submit(engine_order, ts=now)
        reports = self._apply(order.symbol, result, publish_for=None if result.fills else order.client_order_id)
        self._sync_status(order, engine_order, now)
        return reports.get(order.client_order_id) or self._report(order)

    @staticmethod
    def _trail(engine: MatchingEngine, order: Order) -> Decimal | None:
        if order.trailing_offset is None:
            return None
        return engine.instrument.round_price(order.trailing_offset)

    def cancel(self, client_order_id: str) -> ExecutionReport:
        order = self._orders.get(client_order_id)
        if order is None:
            raise OrderNotFound(f"{self.venue}: no paper order {client_order_id}")
        if order.is_open:
            self._book(order.symbol).engine.cancel(client_order_id)
            order.transition(OrderStatus.CANCELED, self._clock.now_ms(), "canceled")
        return self._report(order)

    def order(self, client_order_id: str) -> ExecutionReport | None:
        order = self._orders.get(client_order_id)
        return self._report(order) if order is not None else None

    def open_orders(self) -> list[ExecutionReport]:
        return [self._report(o) for o in self._orders.values() if o.is_open]

    # -- account --------------------------------------------------------------------------

    def balances(self) -> list[Balance]:
        used = self._reserved()
        assets = sorted(set(self._free) | set(used))
        return [
            Balance(asset=a, free=self._free.get(a, ZERO) - used.get(a, ZERO), used=used.get(a, ZERO))
            for a in assets
        ]

    def positions(self) -> list[Position]:
        result = []
        for symbol, pos in self._positions.items():
            if pos.size == 0:
                continue
            result.append(Position(
                venue=self.venue, symbol=symbol,
                side=PositionSide.LONG if pos.size > 0 else PositionSide.SHORT,
                size=abs(pos.size), entry_price=pos.entry, realized_pnl=pos.realized,
                created_ts=pos.created_ts, updated_ts=self._clock.now_ms(),
            ))
        return result

    def _reserved(self) -> dict[str, Decimal]:
        """What open orders hold back: quote for spot buys and perpetual margin, base for spot sells."""
        used: dict[str, Decimal] = {}
        for order in self._orders.values():
            if not order.is_open:
                continue
            asset, amount = self._cost(order, order.remaining)
            used[asset] = used.get(asset, ZERO) + amount
        return used

    def _cost(self, order: Order, size: Decimal) -> tuple[str, Decimal]:
        instrument = self._instruments[order.symbol]
        price = order.price or order.trigger_price or self._estimate(order) or ZERO
        notional = size * price * instrument.contract_size
        if instrument.is_perpetual:
            return instrument.quote, notional / (order.leverage or 1)
        if order.side is Side.BUY:
            return instrument.quote, notional * (1 + instrument.taker_fee)
        return instrument.base, size

    def _estimate(self, order: Order) -> Decimal | None:
        engine = self._book(order.symbol).engine
        side = 1 if order.side is Side.BUY else -1
        lots, notional = engine.sweep(side, engine.to_lots(order.size))
        if lots == 0:
            return None
        return engine.notional_of(notional) / (engine.size_of(lots) * engine.instrument.contract_size)

    def _reduce_only_problem(self, order: Order) -> str | None:
        if not order.reduce_only:
            return None
        held = self._positions.get(order.symbol, _PaperPosition()).size
        if held == 0 or (held > 0) == (order.side is Side.BUY) or order.size > abs(held):
            return f"reduce-only {order.side.value} of {order.size} would not reduce the position ({held})"
        return None

    def _funds_problem(self, order: Order) -> str | None:
        asset, need = self._cost(order, order.size)
        if need == 0 and order.type is OrderType.MARKET:
            return f"no liquidity in the live book of {order.symbol} to price a market order"
        free = self._free.get(asset, ZERO) - self._reserved().get(asset, ZERO)
        if need > free:
            return f"insufficient {asset}: need {need.normalize():f}, free {free.normalize():f} (paper account)"
        return None

    # -- engine results -------------------------------------------------------------------

    def _apply(
        self, symbol: str, result: MatchResult, publish_for: str | None = None
    ) -> dict[str, ExecutionReport]:
        """Book our fills, update our orders' states, publish a report per change.

        Returns the last report of each of our orders touched, for ``submit`` to answer with.
        """
        now = self._clock.now_ms()
        reports: dict[str, ExecutionReport] = {}
        for match in result.fills:
            for engine_order in (match.maker, match.taker):
                if engine_order.owner != ME:
                    continue
                order = self._orders[str(engine_order.oid)]
                fill = self._book_fill(order, match.price, match.size, match.fee_of(engine_order),
                                       match.liquidity_of(engine_order), now)
                self._sync_status(order, engine_order, now)
                report = self._report(order, fill)
                reports[order.client_order_id] = report
                self._publish(report)
        for engine_order in result.updated:
            if engine_order.owner != ME:
                continue
            order = self._orders[str(engine_order.oid)]
            if self._sync_status(order, engine_order, now) or order.client_order_id == publish_for:
                report = self._report(order)
                reports[order.client_order_id] = report
                self._publish(report)
        return reports

    def _sync_status(self, order: Order, engine_order: EngineOrder, now: int) -> bool:
        status = _STATUS.get(Status(engine_order.status), order.status)
        if status is OrderStatus.OPEN and order.filled_size > 0:
            status = OrderStatus.PARTIALLY_FILLED
        if status is order.status or not order.can_transition(status):
            return False
        order.transition(status, now, engine_order.reason if status is not OrderStatus.FILLED else None)
        return True

    def _book_fill(
        self, order: Order, price: Decimal, size: Decimal, fee: Decimal, liquidity: object, now: int
    ) -> Fill:
        instrument = self._instruments[order.symbol]
        notional = price * size * instrument.contract_size
        previous = order.avg_price or ZERO
        order.avg_price = instrument.round_price((previous * order.filled_size + price * size) / (order.filled_size + size))
        order.filled_size += size
        order.fee += fee
        order.updated_ts = now
        quote = instrument.quote
        if instrument.is_perpetual:
            self._free[quote] = self._free.get(quote, ZERO) + self._position_fill(order, price, size, now) - fee
        elif order.side is Side.BUY:
            self._free[quote] = self._free.get(quote, ZERO) - notional - fee
            self._free[instrument.base] = self._free.get(instrument.base, ZERO) + size
        else:
            self._free[instrument.base] = self._free.get(instrument.base, ZERO) - size
            self._free[quote] = self._free.get(quote, ZERO) + notional - fee
        self._fill_seq += 1
        return Fill(
            fill_id=f"paper-{self._fill_seq}", client_order_id=order.client_order_id, venue=self.venue,
            symbol=order.symbol, side=order.side, price=price, size=size, fee=fee, fee_currency=quote,
            liquidity=liquidity, ts=now, strategy_id=order.strategy_id,  # type: ignore[arg-type]
        )

    def _position_fill(self, order: Order, price: Decimal, size: Decimal, now: int) -> Decimal:
        """Apply a perpetual fill to the position; returns the PnL it realised."""
        pos = self._positions.setdefault(order.symbol, _PaperPosition(created_ts=now))
        signed = size * order.side.sign
        contract = self._instruments[order.symbol].contract_size
        realized = ZERO
        if pos.size == 0 or (pos.size > 0) == (signed > 0):
            total = pos.size + signed
            pos.entry = (pos.entry * abs(pos.size) + price * size) / abs(total)
            pos.size = total
            if pos.created_ts == 0:
                pos.created_ts = now
            return realized
        closing = min(abs(signed), abs(pos.size))
        direction = 1 if pos.size > 0 else -1
        realized = (price - pos.entry) * closing * direction * contract
        pos.realized += realized
        pos.size += signed
        if pos.size == 0:
            pos.entry = ZERO
        elif (pos.size > 0) != (direction > 0):
            pos.entry, pos.created_ts = price, now
        return realized

    def _report(self, order: Order, fill: Fill | None = None) -> ExecutionReport:
        return ExecutionReport(
            client_order_id=order.client_order_id, venue=self.venue, symbol=order.symbol,
            status=order.status, venue_order_id=order.client_order_id, filled_size=order.filled_size,
            avg_price=order.avg_price, fee=order.fee, fill=fill, reason=order.reason,
            ts=order.updated_ts or self._clock.now_ms(),
        )

    def _publish(self, report: ExecutionReport) -> None:
        if self._bus is not None:
            self._bus.publish(ExecutionReported(report))
