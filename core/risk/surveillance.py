"""Abnormal trading detection: what a sane trader or strategy does not do, caught before the
risk check.

Order rates per strategy and per account, the daily order count, the same order twice within a
short window, an order that would trade with our own resting order (self-trade), and a runaway
strategy (too many order attempts, or too large a realized loss, within a window). The
fat-finger band is the risk manager's (``risk_management.fat_finger_pct``), not repeated here.

The daily order count and the rate limits never stop an order that only reduces a position:
exits are never locked in (they still count toward the day's orders).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import Decimal

from core.config import CircuitBreakerConfig, SurveillanceConfig
from core.events import Event, EventBus, OrderFilled, OrderUpdated
from core.ledger import ONE, ContractSize, Ledger
from core.models import ZERO, Fill, Order, OrderBook, OrderRequest, OrderStatus, OrderType, Side
from core.portfolio import DAY_MS, Portfolio
from core.ports import Clock
from core.risk.breakers import TimeWindow
from core.risk.rules import money, pct

MINUTE_MS = 60_000
WITHDRAWN = frozenset({OrderStatus.CANCELED, OrderStatus.REJECTED, OrderStatus.EXPIRED})


@dataclass(frozen=True)
class _Placed:
    ts: int
    signature: tuple[object, ...]
    client_order_id: str


def signature(request: OrderRequest) -> tuple[object, ...]:
    """What makes two orders the same order for duplicate detection."""
    return (request.venue, request.symbol, request.side, request.type, request.size, request.price,
            request.trigger_price, request.strategy_id)


def crosses_own(request: OrderRequest, resting: Order, book: OrderBook | None) -> bool:
    """Whether ``request`` would trade with our own resting limit order. A market order trades
    with it when it is at the touch (or when the touch is unknown: the cautious answer)."""
    if (resting.venue, resting.symbol) != (request.venue, request.symbol) or resting.side is request.side:
        return False
    if not resting.is_open or resting.type is not OrderType.LIMIT or resting.price is None:
        return False
    if request.type is OrderType.LIMIT and request.price is not None:
        return resting.price <= request.price if request.side is Side.BUY else resting.price >= request.price
    if request.type is OrderType.MARKET:
        touch = None if book is None else (book.best_ask if request.side is Side.BUY else book.best_bid)
        if touch is None:
            return True
        return resting.price <= touch if request.side is Side.BUY else resting.price >= touch
    return False


class _RealizedWindow:
    """One strategy's realized PnL net of fees within a window, from its fills booked in the
    ledger (average cost per market, with the market's contract size)."""

    def __init__(self, span_ms: int, contract_size: ContractSize) -> None:
        self.span_ms = span_ms
        self._ledger = Ledger(contract_size)
        self._realized: deque[tuple[int, Decimal]] = deque()

    def add(self, ts: int, fill: Fill) -> Decimal:
        self._realized.append((ts, self._ledger.apply(fill) - fill.fee))
        return self.total(ts)

    def total(self, now: int) -> Decimal:
        while self._realized and self._realized[0][0] <= now - self.span_ms:
            self._realized.popleft()
        return sum((r for _, r in self._realized), ZERO)


class Surveillance:
    def __init__(
        self,
        config: SurveillanceConfig,
        breakers: CircuitBreakerConfig,
        portfolio: Portfolio,
        bus: EventBus,
        clock: Clock,
    ) -> None:
        self._config = config
        self._max_per_day = breakers.max_trades_per_day
        self._portfolio = portfolio
        self._clock = clock
        self._account = TimeWindow(MINUTE_MS)
        self._per_strategy: dict[str, TimeWindow] = {}
        self._attempts: dict[str, TimeWindow] = {}
        self._ledgers: dict[str, _RealizedWindow] = {}
        self._recent: deque[_Placed] = deque()
        self._withdrawn: set[str] = set()
        self._day = -1
        self.placed_today = 0
        self.runaways: list[tuple[str, str]] = []
        if config.enabled:
            bus.add_listener((OrderFilled,), self._on_fill)
            bus.add_listener((OrderUpdated,), self._on_update)

    def count_day(self, day: int, placed: int) -> None:
        """Orders already placed today (from the database at start-up): a restart does not
        hand out a fresh daily allowance."""
        self._day, self.placed_today = day, placed

    @property
    def max_per_day(self) -> int:
        return self._max_per_day

    def orders_today(self) -> int:
        """Orders placed since the UTC day began."""
        day = self._clock.now_ms() // DAY_MS
        if day != self._day:
            self._day, self.placed_today = day, 0
        return self.placed_today

    def blockers(self) -> list[tuple[str, str]]:
        """(reason, rule) of the limits that refuse every new order adding exposure right now."""
        if not self._config.enabled:
            return []
        found = [self._day_cap(), self._account_rate(self._clock.now_ms())]
        return [block for block in found if block is not None]

    def _day_cap(self) -> tuple[str, str] | None:
        if self.orders_today() >= self._max_per_day:
            return (f"{self.placed_today} orders were placed today; the most allowed per UTC day is "
                    f"{self._max_per_day} (circuit_breakers.max_trades_per_day); orders that reduce or close a "
                    "position still pass", "max_trades_per_day")
        return None

    def _account_rate(self, now: int) -> tuple[str, str] | None:
        if self._account.count(now) >= self._config.max_orders_per_minute:
            return (f"the account placed {self._config.max_orders_per_minute} orders in the last minute; "
                    "that is the limit (surveillance.max_orders_per_minute)", "rate_limit")
        return None

    def screen(
        self, request: OrderRequest, open_orders: list[Order], book: OrderBook | None, *,
        reduces: bool = False, dry_run: bool = False,
    ) -> tuple[str, str] | None:
        """(reason, rule) for an abnormal order, else None. ``reduces``: the order only shrinks a
        position, so the daily count and the rate limits let it pass. Counts the attempt for
        runaway detection, unless ``dry_run`` (a check before asking for a confirmation)."""
        if not self._config.enabled:
            return None
        now = self._clock.now_ms()
        if request.strategy_id is not None and not dry_run:
            self._count_attempt(request.strategy_id, now)
        if not reduces:
            limited = self._day_cap() or self._account_rate(now) or self._strategy_rate(request, now)
            if limited is not None:
                return limited
        duplicate = self._duplicate(request, now)
        if duplicate is not None:
            return duplicate
        if self._config.self_trade_prevention:
            for resting in open_orders:
                if crosses_own(request, resting, book):
                    return (f"this {request.side.value} would trade with our own resting {resting.side.value} order "
                            f"{resting.client_order_id} at {resting.price} on {request.symbol} (self-trade)", "self_trade")
        return None

    def _strategy_rate(self, request: OrderRequest, now: int) -> tuple[str, str] | None:
        if request.strategy_id is not None:
            window = self._per_strategy.get(request.strategy_id)
            if window is not None and window.count(now) >= self._config.max_strategy_orders_per_minute:
                return (f"strategy {request.strategy_id} placed {self._config.max_strategy_orders_per_minute} orders "
                        "in the last minute; that is its limit (surveillance.max_strategy_orders_per_minute)",
                        "strategy_rate_limit")
        return None

    def _duplicate(self, request: OrderRequest, now: int) -> tuple[str, str] | None:
        if not self._recent:  # nothing placed within the window (or no window)
            return None
        span = int(self._config.duplicate_window * 1000)
        while self._recent and self._recent[0].ts <= now - span:
            self._withdrawn.discard(self._recent.popleft().client_order_id)
        mine = signature(request)
        for placed in self._recent:
            if placed.signature == mine and placed.client_order_id not in self._withdrawn \
                    and placed.client_order_id != request.client_order_id:
                price = f" at {request.price}" if request.price is not None else ""
                return (f"the same {request.side.value} of {request.size} {request.symbol}{price} was placed "
                        f"{(now - placed.ts) / 1000:g} s ago; a duplicate within {self._config.duplicate_window:g} s "
                        "is refused", "duplicate_order")
        return None

    def placed(self, request: OrderRequest) -> None:
        """An order that passed every check and was written: it counts toward the limits."""
        now = self._clock.now_ms()
        self._account.add(now)
        self.placed_today = self.orders_today() + 1
        if request.strategy_id is not None:
            window = self._per_strategy.setdefault(request.strategy_id, TimeWindow(MINUTE_MS))
            window.add(now)
        if self._config.duplicate_window > 0:
            self._recent.append(_Placed(now, signature(request), request.client_order_id))

    def _on_update(self, event: Event) -> None:
        """A canceled or rejected order may be placed again at once: that is a re-place, not a duplicate."""
        assert isinstance(event, OrderUpdated)
        if event.order.status in WITHDRAWN and any(p.client_order_id == event.order.client_order_id for p in self._recent):
            self._withdrawn.add(event.order.client_order_id)

    def _count_attempt(self, strategy_id: str, now: int) -> None:
        window = self._attempts.setdefault(strategy_id, TimeWindow(int(self._config.runaway_window * 1000)))
        count = window.add(now)
        if count > self._config.runaway_orders:
            self.runaways.append((strategy_id, f"{count} order attempts within {self._config.runaway_window:g} s "
                                               f"(limit {self._config.runaway_orders})"))

    def _on_fill(self, event: Event) -> None:
        assert isinstance(event, OrderFilled)
        fill = event.fill
        if fill.strategy_id is None:
            return
        ledger = self._ledgers.get(fill.strategy_id)
        if ledger is None:
            ledger = self._ledgers[fill.strategy_id] = _RealizedWindow(int(self._config.runaway_window * 1000),
                                                                       self._contract_size)
        realized = ledger.add(fill.ts or self._clock.now_ms(), fill)
        equity = self._portfolio.equity()
        if equity > 0 and -realized >= equity * Decimal(str(self._config.runaway_loss_pct)):
            quote = self._portfolio.quote_currency
            self.runaways.append((fill.strategy_id, f"realized loss of {money(-realized, quote)} within "
                                                    f"{self._config.runaway_window:g} s is {pct(-realized / equity)} of "
                                                    f"equity (limit {pct(self._config.runaway_loss_pct)})"))

    def _contract_size(self, venue: str, symbol: str) -> Decimal:
        instrument = self._portfolio.instrument(venue, symbol)
        return instrument.contract_size if instrument is not None else ONE

    def take_runaways(self) -> list[tuple[str, str]]:
        found, self.runaways = self.runaways, []
        return found

    def forget(self) -> None:
        """After an admin reset: windows start empty, so a reset strategy is not stopped again
        for attempts it made before."""
        self._attempts.clear()
        self._per_strategy.clear()
        self._ledgers.clear()
        self.runaways.clear()
