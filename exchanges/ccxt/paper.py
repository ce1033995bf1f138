"""Paper trading on a real exchange's public data: the account is simulated, the market is not.

The exchange is ``core.sim.SimExchange``, the same as the paper venue's and the backtester's: a
matching engine per symbol holding the live book's levels (the market's liquidity) and the
account's own orders, and an account whose balances, fees, margin and positions follow
``core.ledger``. Each new live book replaces the market's levels; when the live book moves
through a resting order of ours, the new levels cross it and the engine fills it at our price,
as the exchange would. Our market and marketable orders take the live levels, so they pay the
spread and walk the book. Live trades move the last price, which arms and fires stops, and mark
perpetual positions: one whose liquidation price a trade reaches is liquidated there, losing its
isolated margin. Funding is not simulated here: a live exchange's rates are not followed.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from core.events import BalancesChanged, EventBus, ExecutionReported, PositionChanged, RiskAlert
from core.matching import BUY, SELL, MatchingEngine
from core.models import ZERO, Balance, ExecutionReport, Instrument, Order, OrderBook, Position, Trade
from core.ports import Clock, OrderNotFound
from core.sim import Account, Change, SimExchange, SimOrder

log = logging.getLogger(__name__)

Level = tuple[Decimal, Decimal]
# Levels remembered per side before the memory starts again: far more than a published book holds.
MEMORY = 4096


class _Grid:
    """A market's live levels as the matching engine takes them, ``(side, ticks, lots)``, by
    the ``(price, size)`` level they came from; ``()`` for a level off the market's grid."""

    __slots__ = ("tick", "lot", "known")

    def __init__(self, instrument: Instrument) -> None:
        self.tick = instrument.tick_size
        self.lot = instrument.lot_size
        self.known: dict[int, dict[Level, tuple[int, int, int] | tuple[()]]] = {BUY: {}, SELL: {}}

    def levels(self, side: int, book_side: list[Level]) -> list[tuple[int, int, int]]:
        known = self.known[side]
        if len(known) > MEMORY:
            known.clear()
        out = []
        for level in book_side:
            entry = known.get(level)
            if entry is None:
                price, size = level
                on_grid = size >= self.lot and not price % self.tick
                entry = known[level] = (side, int(price // self.tick), int(size // self.lot)) if on_grid else ()
            if entry:
                out.append(entry)
        return out


class PaperAccount:
    def __init__(self, venue: str, balances: dict[str, Decimal], clock: Clock) -> None:
        self.venue = venue
        self._clock = clock
        self.exchange = SimExchange(venue, Account({a: (amount, ZERO) for a, amount in balances.items()}),
                                     fill_prefix="paper")
        self._instruments: dict[str, Instrument] = {}
        self._orders: dict[str, SimOrder] = {}  # every order, open or done, for lookups
        self._grids: dict[str, _Grid] = {}
        self._bus: EventBus | None = None

    def attach(self, bus: EventBus, instruments: dict[str, Instrument]) -> None:
        self._bus = bus
        self._instruments = instruments

    def _engine(self, symbol: str) -> MatchingEngine | None:
        """The symbol's book, opened at its first use; None for a market the venue does not list."""
        try:
            return self.exchange.engine(symbol)
        except KeyError:
            instrument = self._instruments.get(symbol)
            return self.exchange.add_market(instrument) if instrument is not None else None

    def _last(self, symbol: str) -> Decimal | None:
        engine = self._engine(symbol)
        if engine is None or engine.last_price is None:
            return None
        return engine.price_of(engine.last_price)

    # -- market data in -------------------------------------------------------------------

    def on_book(self, snapshot: OrderBook) -> None:
        """Make the live book's levels the market's liquidity (those on the market's tick and
        lot grid; sizes rounded down to the lot). The exchange touches only the levels that
        changed, and each level's ticks and lots are remembered by the level itself: the venue
        hands over the same ``(price, size)`` again while a level does not change."""
        engine = self._engine(snapshot.symbol)
        if engine is None:
            return
        grid = self._grids.get(snapshot.symbol)
        if grid is None:
            grid = self._grids[snapshot.symbol] = _Grid(engine.instrument)
        levels = grid.levels(BUY, snapshot.bids) + grid.levels(SELL, snapshot.asks)
        self._publish(self.exchange.replace_liquidity(snapshot.symbol, levels, self._clock.now_ms()))

    def on_trade(self, trade: Trade) -> None:
        """A live trade: stops see its price, and it marks a perpetual position."""
        engine = self._engine(trade.symbol)
        if engine is None or trade.price % engine.instrument.tick_size:
            return
        now = self._clock.now_ms()
        self._publish(self.exchange.update_last_price(trade.symbol, engine.to_ticks(trade.price), now))
        liquidated = self.exchange.liquidate_at(trade.symbol, trade.price, now)
        if liquidated is not None:
            closed, canceled = liquidated
            self._publish(canceled)
            log.warning("%s paper account: %s position liquidated at %s, margin %s lost",
                        self.venue, trade.symbol, closed.mark_price, closed.margin)
            if self._bus is not None:
                self._bus.publish(PositionChanged(closed, closed=True))
                self._bus.publish(BalancesChanged(self.venue, tuple(self.balances())))
                self._bus.publish(RiskAlert("critical", "liquidation", f"{trade.symbol} position liquidated at "
                                            f"{closed.mark_price}: isolated margin lost", trade.symbol, now))

    # -- orders ---------------------------------------------------------------------------

    def submit(self, order: Order) -> ExecutionReport:
        known = self._orders.get(order.client_order_id)
        if known is not None:
            return self.exchange.report(known)
        self._engine(order.symbol)
        order = order.model_copy(update={"venue_order_id": order.client_order_id})
        sim, changes = self.exchange.submit(order, self._clock.now_ms(), self._last(order.symbol))
        self._orders[order.client_order_id] = sim
        self._publish(changes or [Change(sim, None)])
        fills = [c.fill for c in changes if c.sim is sim and c.fill is not None]
        return self.exchange.report(sim, fills[-1] if fills else None)

    def cancel(self, client_order_id: str) -> ExecutionReport:
        sim = self._orders.get(client_order_id)
        if sim is None:
            raise OrderNotFound(f"{self.venue}: no paper order {client_order_id}")
        if self.exchange.cancel(client_order_id, self._clock.now_ms(), "canceled") is not None:
            self._publish([Change(sim, None)])
        return self.exchange.report(sim)

    def order(self, client_order_id: str) -> ExecutionReport | None:
        sim = self._orders.get(client_order_id)
        return self.exchange.report(sim) if sim is not None else None

    def open_orders(self) -> list[ExecutionReport]:
        return [self.exchange.report(s) for s in sorted(self.exchange.open.values(), key=lambda s: s.seq)]

    # -- account --------------------------------------------------------------------------

    def balances(self) -> list[Balance]:
        return self.exchange.account.balances()

    def positions(self) -> list[Position]:
        """Perpetual positions, marked at the last live trade."""
        return self.exchange.positions(self._last)

    def _publish(self, changes: list[Change]) -> None:
        if self._bus is not None:
            for change in changes:
                self._bus.publish(ExecutionReported(self.exchange.report_of(change)))
