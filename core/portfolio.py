"""Positions, balances, PnL and fees: the account as the risk manager and the screens see it.

Balances are the cash ledger. A venue sync (``set_balances``) replaces them; between syncs our
own fills move them, so equity stays right without waiting for the next sync. Positions come
from our fills (average cost, not FIFO) and are overwritten by reconciliation
(``set_position``), because the venue is the truth.

Equity, in the quote currency, is every balance valued at its mark (the quote currency at 1,
a base asset at the mark of ``ASSET/QUOTE`` or ``ASSET/QUOTE:QUOTE`` on the same venue) plus the
unrealized PnL of perpetual positions. Spot holdings are already in the balances, so a spot
position adds nothing more: it only says at what price the holding was bought. Balances are
taken to be wallet balances, without unrealized PnL, as most venues report them.

Position arithmetic, margin and liquidation prices are the ledger's (``core.ledger``): the same
as the simulated exchange books and the order ticket previews, so what the trader is shown before
sending is what the engine books after the fill.

Daily PnL is equity now minus equity at the first event of the UTC day, venue by venue; a venue
whose holdings cannot all be priced yet (or that connects later) starts its day when they can,
so its arrival is not a profit. A deposit or withdrawal seen in a balance sync does count as
PnL and moves the high-water mark; ``rebase_peak`` starts a new one.

Given a bus, every position change from a fill or a reconciliation is published as
``PositionChanged``; mark updates are not, as they arrive many times a second.
"""

from __future__ import annotations

import logging
from decimal import Decimal

from core.events import EventBus, PositionChanged
from core.ledger import MAINTENANCE_MARGIN_RATE, ONE, average_cost, perpetual_margin
from core.models import ZERO, Balance, Fill, Instrument, Position, PositionSide, Side
from core.portfolio_state import AccountingState
from core.ports import Clock

log = logging.getLogger(__name__)

DAY_MS = 86_400_000

Key = tuple[str, str]


class UnknownInstrument(ValueError):
    """A fill or position arrived for a market that was never registered."""


class Portfolio:
    def __init__(
        self,
        clock: Clock,
        quote_currency: str = "USDT",
        *,
        bus: EventBus | None = None,
        default_leverage: int = 1,
        maintenance_margin_rate: Decimal = MAINTENANCE_MARGIN_RATE,
        spot_shorts: bool = False,
    ) -> None:
        """``spot_shorts``: the venue lends, so a spot sell past the holdings opens a short (the
        backtester's account does; a live spot venue refuses it)."""
        if default_leverage < 1:
            raise ValueError(f"default leverage must be at least 1, got {default_leverage}")
        if not ZERO <= maintenance_margin_rate < ONE:
            raise ValueError(f"maintenance margin rate must be in [0, 1), got {maintenance_margin_rate}")
        self.spot_shorts = spot_shorts
        self._clock = clock
        self._bus = bus
        self.quote_currency = quote_currency
        self._default_leverage = default_leverage
        self._mmr = maintenance_margin_rate
        self._instruments: dict[Key, Instrument] = {}
        self._balances: dict[str, dict[str, Balance]] = {}
        self._positions: dict[Key, Position] = {}
        self._marks: dict[Key, Decimal] = {}
        self._leverage: dict[Key, int] = {}
        self._realized = ZERO
        self._fees = ZERO
        self._day: int | None = None
        self._day_start: dict[str, Decimal] = {}
        self._valued: dict[str, tuple[Decimal, bool]] | None = None
        self._valued_by: set[Key] = set()  # the marks that valuation read (or looked for)
        self.revision = 0  # moves with every change of equity, the day's start or the peak
        self._restored_spot: dict[Key, Position] = {}
        self._peak = ZERO
        self._unvalued_warned: set[tuple[str, str]] = set()

    # -- instruments and settings -------------------------------------------------------------

    def register_instrument(self, instrument: Instrument) -> None:
        key = (instrument.venue, instrument.symbol)
        self._instruments[key] = instrument
        restored = self._restored_spot.pop(key, None)
        if restored is not None:
            self._place_restored(restored, instrument)

    def instrument(self, venue: str, symbol: str) -> Instrument | None:
        return self._instruments.get((venue, symbol))

    @property
    def maintenance_margin_rate(self) -> Decimal:
        return self._mmr

    def leverage_in_use(self, venue: str, symbol: str) -> tuple[int, str]:
        """The leverage a new order on this perpetual trades at, and where that figure comes
        from: the open position's (the venue's setting for it, which an order does not change),
        else the configured default, within the market's maximum."""
        instrument = self._require(venue, symbol)
        position = self._positions.get((venue, symbol))
        if position is not None:
            return position.leverage, "open position"
        if self._default_leverage > instrument.max_leverage:
            return instrument.max_leverage, "market maximum"
        return self._default_leverage, "config default"

    def set_leverage(self, venue: str, symbol: str, leverage: int) -> None:
        """The leverage a perpetual position on this market uses (the venue's setting)."""
        if leverage < 1:
            raise ValueError(f"leverage must be at least 1, got {leverage}")
        key = (venue, symbol)
        self._leverage[key] = leverage
        position = self._positions.get(key)
        if position is not None:
            position.leverage = leverage
            self._refresh(position, self._require(venue, symbol))

    # -- inputs --------------------------------------------------------------------------------

    def set_balances(self, venue: str, balances: list[Balance]) -> None:
        """Take the venue's balances; a spot position larger than the coins now held (sold
        elsewhere) shrinks to what is held."""
        self._roll_day()
        self._balances[venue] = {b.asset: b.model_copy() for b in balances}
        for (v, symbol), position in list(self._positions.items()):
            instrument = self._instruments[(v, symbol)]
            if v != venue or instrument.is_perpetual:
                continue
            held = max(self._balances[venue].get(instrument.base, Balance(asset=instrument.base)).total, ZERO)
            if held < position.size:
                log.info("%s position on %s trimmed from %s to the %s held", symbol, venue, position.size, held)
                trimmed = position.model_copy(update={"size": held})
                self._refresh(trimmed, instrument)
                self._replace(trimmed, instrument)
        self._after_change()

    def sync_positions(self, venue: str, positions: list[Position]) -> None:
        """Take a venue's complete list of perpetual positions: ours that it does not list are
        closed (a liquidation, or a close made elsewhere)."""
        listed = {p.symbol for p in positions}
        for (v, symbol), position in list(self._positions.items()):
            if v == venue and symbol not in listed and self._instruments[(v, symbol)].is_perpetual:
                self.set_position(position.model_copy(update={"size": ZERO}))
        for position in positions:
            self.set_position(position)

    def apply_fill(self, fill: Fill, leverage: int | None = None) -> Position | None:
        """Book one of our fills; returns the position it changed (size 0 when it closed one).
        ``leverage`` is the order's: a perpetual position the fill opens is held at it.

        A spot sell larger than the tracked position (coins held before we started) closes the
        position and sells the rest from the balance: spot cannot go short.
        """
        instrument = self._require(fill.venue, fill.symbol)
        self._roll_day()
        key = (fill.venue, fill.symbol)
        self._marks.setdefault(key, fill.price)
        fee_currency = fill.fee_currency or instrument.quote
        if fill.fee:
            self._adjust(fill.venue, fee_currency, -fill.fee)
            self._fees += self._fee_value(fill, instrument, fee_currency)
        delta = fill.size * fill.side.sign
        if instrument.is_perpetual:
            position, realized = self._trade(instrument, delta, fill, leverage)
            self._adjust(fill.venue, instrument.quote, realized)
        else:
            self._adjust(fill.venue, instrument.base, delta)
            self._adjust(fill.venue, instrument.quote, -delta * fill.price * instrument.contract_size)
            if fill.side is Side.BUY and fee_currency == instrument.base:
                delta -= fill.fee
            position, realized = self._trade(instrument, delta, fill)
        self._realized += self.to_quote(fill.venue, realized, instrument.quote)
        self._after_change()
        if position is not None:
            self._publish(position)
        return position

    def set_position(self, position: Position) -> None:
        """Take the venue's word for a position; size 0 removes ours."""
        instrument = self._require(position.venue, position.symbol)
        self._roll_day()
        self._replace(position, instrument)
        self._after_change()

    def update_mark(self, venue: str, symbol: str, price: Decimal) -> None:
        if price <= 0:
            raise ValueError(f"mark price for {symbol} on {venue} must be greater than 0, got {price}")
        self._roll_day()
        key = (venue, symbol)
        known = key in self._marks
        self._marks[key] = price
        position = self._positions.get(key)
        if position is not None:
            self._apply_mark(position, self._require(venue, symbol))
        elif known and self._valued is not None and key not in self._valued_by:
            # Equity does not read this mark (no position, no holding priced by it): the
            # valuation, the day's start and the peak stand. Every ticker of every market comes
            # here, and most marks are of markets without a position.
            self.revision += 1
            return
        self._after_change()

    def accounting_state(self) -> str:
        """What a restart must not forget (see ``core.portfolio_state``), as text to store."""
        self._roll_day()
        spot = [
            p.model_copy() for (v, s), p in self._positions.items() if not self._instruments[(v, s)].is_perpetual
        ]
        return AccountingState(
            day=self._day or 0, day_start=dict(self._day_start), peak=self._peak,
            realized=self._realized, fees=self._fees, spot_positions=spot,
        ).to_json()

    def restore_accounting(self, text: str) -> None:
        """Carry on from a saved state: today's starting equity (if it is still the same UTC day),
        the high-water mark, realized PnL and fees, and spot positions (placed when their
        instrument is registered, never larger than the coins held)."""
        state = AccountingState.from_json(text)
        self._roll_day()
        if state.day == self._day:
            self._day_start.update(state.day_start)
        self._peak = max(self._peak, state.peak)
        self._realized, self._fees = state.realized, state.fees
        for position in state.spot_positions:
            key = (position.venue, position.symbol)
            instrument = self._instruments.get(key)
            if instrument is None:
                self._restored_spot[key] = position
            else:
                self._place_restored(position, instrument)
        self._after_change()

    def rebase_peak(self) -> None:
        """Forget the old high-water mark, e.g. when a person resets the risk state."""
        self._peak = self.equity()
        self.revision += 1

    # -- queries ------------------------------------------------------------------------------

    def positions(self, venue: str | None = None) -> list[Position]:
        """Open positions. These are the portfolio's own objects, kept current: read, do not modify."""
        return [p for (v, _), p in self._positions.items() if venue is None or v == venue]

    def position(self, venue: str, symbol: str) -> Position | None:
        return self._positions.get((venue, symbol))

    def balances(self, venue: str) -> list[Balance]:
        return list(self._balances.get(venue, {}).values())

    def mark(self, venue: str, symbol: str) -> Decimal | None:
        return self._marks.get((venue, symbol))

    def asset_value(self, venue: str, asset: str, amount: Decimal) -> Decimal | None:
        """``amount`` of ``asset`` in the quote currency at its mark on ``venue``; None while
        there is no mark to value it at."""
        price = ONE if asset == self.quote_currency else self._asset_price(venue, asset)
        return None if price is None else amount * price

    def equity(self) -> Decimal:
        return sum((equity for equity, _ in self._valuation().values()), ZERO)

    def exposure(self, venue: str | None = None, symbol: str | None = None) -> Decimal:
        total = ZERO
        for (v, s), position in self._positions.items():
            if (venue is None or v == venue) and (symbol is None or s == symbol):
                total += self.to_quote(v, self.position_notional(position), self._require(v, s).quote)
        return total

    def position_notional(self, position: Position) -> Decimal:
        """Size at mark (entry when no mark yet) times the contract size, in the market's quote."""
        instrument = self._require(position.venue, position.symbol)
        price = position.mark_price or position.entry_price
        return position.size * price * instrument.contract_size

    def liquidation_distance(self, venue: str, symbol: str) -> float | None:
        """How far the mark may move before liquidation, as a share of the mark."""
        position = self._positions.get((venue, symbol))
        mark = self._marks.get((venue, symbol))
        if position is None or mark is None or position.liquidation_price is None:
            return None
        return float(abs(mark - position.liquidation_price) / mark)

    def start_of_day_equity(self) -> Decimal | None:
        """Equity when the current UTC day began (for each venue: or when it was first fully
        valued); None until some venue's equity is known."""
        self._roll_day()
        return sum(self._day_start.values(), ZERO) if self._day_start else None

    def daily_pnl(self) -> Decimal:
        """Change of equity since the day started, over the venues whose start is known."""
        self._roll_day()
        venues = self._valuation()
        return sum((venues[venue][0] - start for venue, start in self._day_start.items()), ZERO)

    def realized_pnl(self) -> Decimal:
        """Realized PnL of closed size, before fees (see ``fees_paid``)."""
        return self._realized

    def fees_paid(self) -> Decimal:
        return self._fees

    def peak_equity(self) -> Decimal:
        return max(self._peak, self.equity())

    def drawdown(self) -> float:
        """Fall from the high-water mark as a share of it: 0.1 is 10% below the peak."""
        peak = self.peak_equity()
        if peak <= 0:
            return 0.0
        return float((peak - self.equity()) / peak)

    # -- internals ----------------------------------------------------------------------------

    def _require(self, venue: str, symbol: str) -> Instrument:
        instrument = self._instruments.get((venue, symbol))
        if instrument is None:
            raise UnknownInstrument(
                f"{symbol} on venue '{venue}' is not registered with the portfolio; "
                "register its instrument before booking fills or positions"
            )
        return instrument

    def _replace(self, position: Position, instrument: Instrument) -> None:
        key = (position.venue, position.symbol)
        if position.size == 0:
            if self._positions.pop(key, None) is not None:
                self._publish(position)
            return
        stored = position.model_copy()
        self._leverage[key] = stored.leverage
        self._apply_mark(stored, instrument)
        if stored.liquidation_price is None and instrument.is_perpetual:
            stored.liquidation_price = self._perpetual_margin(stored, instrument)[1]
        self._positions[key] = stored
        self._publish(stored)

    def _place_restored(self, position: Position, instrument: Instrument) -> None:
        key = (position.venue, position.symbol)
        if key in self._positions or instrument.is_perpetual:
            return
        assets = self._balances.get(position.venue)
        if assets is not None:
            held = max(assets.get(instrument.base, Balance(asset=instrument.base)).total, ZERO)
            position = position.model_copy(update={"size": min(position.size, held)})
        self._refresh(position, instrument)
        self._replace(position, instrument)

    def _publish(self, position: Position) -> None:
        if self._bus is not None:
            self._bus.publish(PositionChanged(position.model_copy(), closed=position.size == 0))

    def _adjust(self, venue: str, asset: str, delta: Decimal) -> None:
        if not delta:
            return
        assets = self._balances.setdefault(venue, {})
        current = assets.get(asset)
        if current is None:
            assets[asset] = Balance(asset=asset, free=delta)
        else:
            assets[asset] = Balance(asset=asset, free=current.free + delta, used=current.used)

    def _fee_value(self, fill: Fill, instrument: Instrument, fee_currency: str) -> Decimal:
        if fee_currency == instrument.base:
            return self.to_quote(fill.venue, fill.fee * fill.price, instrument.quote)
        return self.to_quote(fill.venue, fill.fee, fee_currency)

    def _trade(
        self, instrument: Instrument, delta: Decimal, fill: Fill, leverage: int | None = None
    ) -> tuple[Position | None, Decimal]:
        """The ledger's average-cost update of one position by a signed size; returns it (size 0
        when it closed, at the entry it had) and the realized PnL. Spot cannot go short."""
        key = (fill.venue, fill.symbol)
        old = self._positions.get(key)
        current = old.signed_size if old is not None else ZERO
        can_short = instrument.is_perpetual or self.spot_shorts
        if delta == 0 or (old is None and delta < 0 and not can_short):
            return None, ZERO
        new, entry, realized = average_cost(current, old.entry_price if old is not None else ZERO, delta, fill.price,
                                            instrument.contract_size, can_short=can_short)
        kept = old if old is not None and (new == 0 or (new > 0) == (current > 0)) else None
        position = Position(
            venue=fill.venue,
            symbol=fill.symbol,
            side=PositionSide.LONG if (new > 0 or (new == 0 and current > 0)) else PositionSide.SHORT,
            size=abs(new),
            entry_price=entry if new or old is None else old.entry_price,
            leverage=self._position_leverage(key, kept, leverage) if instrument.is_perpetual else 1,
            realized_pnl=(kept.realized_pnl if kept is not None else ZERO) + realized,
            created_ts=kept.created_ts if kept is not None else fill.ts,
            updated_ts=fill.ts,
        )
        self._refresh(position, instrument)
        if new == 0:
            self._positions.pop(key, None)
        else:
            self._positions[key] = position
        return position, realized

    def _position_leverage(self, key: Key, kept: Position | None, ordered: int | None) -> int:
        """A position keeps its leverage; a new one takes the order's, else the last seen here."""
        if kept is not None:
            return kept.leverage
        return ordered or self._leverage.get(key, self._default_leverage)

    def _refresh(self, position: Position, instrument: Instrument) -> None:
        """Recompute what follows from the mark, entry and leverage of a position we book."""
        self._apply_mark(position, instrument)
        if instrument.is_perpetual:
            position.margin, position.liquidation_price = self._perpetual_margin(position, instrument)
        else:
            position.margin = position.entry_price * position.size * instrument.contract_size
            position.liquidation_price = None

    def _apply_mark(self, position: Position, instrument: Instrument) -> None:
        mark = self._marks.get((position.venue, position.symbol))
        if mark is not None:
            position.mark_price = mark
            position.unrealized_pnl = (mark - position.entry_price) * position.signed_size * instrument.contract_size

    def _perpetual_margin(self, position: Position, instrument: Instrument) -> tuple[Decimal, Decimal | None]:
        return perpetual_margin(position.side is PositionSide.LONG, position.entry_price, position.size,
                                instrument.contract_size, position.leverage, self._mmr)

    def _asset_price(self, venue: str, asset: str) -> Decimal | None:
        for key in self._price_keys(venue, asset):
            price = self._marks.get(key)
            if price is not None:
                return price
        return None

    def _price_keys(self, venue: str, asset: str) -> tuple[Key, Key]:
        """The marks that price ``asset`` in the quote currency, the first one known first."""
        quote = self.quote_currency
        return (venue, f"{asset}/{quote}"), (venue, f"{asset}/{quote}:{quote}")

    def to_quote(self, venue: str, amount: Decimal, currency: str) -> Decimal:
        if currency == self.quote_currency or not amount:
            return amount
        price = self._asset_price(venue, currency)
        if price is None:
            self._warn_unvalued(venue, currency)
            return ZERO
        return amount * price

    def _warn_unvalued(self, venue: str, asset: str) -> None:
        if (venue, asset) not in self._unvalued_warned:
            self._unvalued_warned.add((venue, asset))
            log.warning(
                "cannot value %s on %s in %s: no mark for %s/%s yet; it counts as 0 in equity",
                asset, venue, self.quote_currency, asset, self.quote_currency,
            )

    def _valuation(self) -> dict[str, tuple[Decimal, bool]]:
        """Per venue: its equity, and whether every non-zero holding there could be valued.

        Cached until the next change (every change ends in ``_after_change``): a risk check asks
        for equity several times and nothing moves in between.
        """
        if self._valued is None:
            self._valued = self._value_venues()
        return self._valued

    def _value_venues(self) -> dict[str, tuple[Decimal, bool]]:
        venues: dict[str, tuple[Decimal, bool]] = {}
        read = self._valued_by = set()
        for venue, assets in self._balances.items():
            total, complete = ZERO, True
            for asset, balance in assets.items():
                amount = balance.total
                if not amount:
                    continue
                if asset == self.quote_currency:
                    price: Decimal | None = ONE
                else:
                    read.update(self._price_keys(venue, asset))
                    price = self._asset_price(venue, asset)
                if price is None:
                    complete = False
                    self._warn_unvalued(venue, asset)
                else:
                    total += amount * price
            venues[venue] = (total, complete)
        for (venue, symbol), position in self._positions.items():
            instrument = self._instruments[(venue, symbol)]
            if instrument.is_perpetual:
                read.update(self._price_keys(venue, instrument.quote))
                total, complete = venues.get(venue, (ZERO, True))
                venues[venue] = (total + self.to_quote(venue, position.unrealized_pnl, instrument.quote), complete)
        return venues

    def _roll_day(self) -> None:
        """At the first event of a new UTC day, freeze the equity each venue starts it from."""
        day = self._clock.now_ms() // DAY_MS
        if day == self._day:
            return
        self._day = day
        self._day_start = {venue: equity for venue, (equity, complete) in self._valuation().items() if complete}

    def _after_change(self) -> None:
        """A venue seen fully valued for the first time today starts its day here (so a venue
        that connects later adds its equity, not a profit); the peak moves when all are valued."""
        self._valued = None
        self.revision += 1
        venues = self._valuation()
        for venue, (equity, complete) in venues.items():
            if complete and venue not in self._day_start:
                self._day_start[venue] = equity
        if venues and all(complete for _, complete in venues.values()):
            self._peak = max(self._peak, sum((equity for equity, _ in venues.values()), ZERO))
