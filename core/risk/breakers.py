"""Circuit breakers (熔断) at three levels: one strategy, the account, the whole system.

A breaker trips on its own and stays tripped until an admin resets it: a halt that lifted
itself when the numbers improved would let a broken feed or a runaway strategy trade again
unseen. Tripping is latched per (level, rule, scope); ``on_trip`` lets the caller halt the risk
state, audit and notify.

Account level: a drawdown from the equity peak, today's loss at the daily limit, a burst of
refused or rejected orders not attributed to a strategy. System level: a stale market data feed,
a venue failing too many calls, a market moving too far too fast. Strategy level: a burst of
rejections of one strategy's orders, and the runaway rules of ``surveillance``.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

from core.config import CircuitBreakerConfig, RiskConfig
from core.events import Event, EventBus, OrderBookUpdated, OrderRejected, OrderUpdated, TickerUpdated
from core.models import OrderRequest, OrderStatus
from core.portfolio import DAY_MS, Portfolio
from core.ports import Clock
from core.risk.rules import as_decimal, daily_loss_limit, money, pct

log = logging.getLogger(__name__)

# Refusals that are a consequence of a halt, not a sign of trouble: counting them would let a
# tripped breaker feed itself.
NOT_COUNTED = frozenset({"halted", "breaker", "strategy_halted", "permission"})


class BreakerLevel(StrEnum):
    STRATEGY = "strategy"
    ACCOUNT = "account"
    SYSTEM = "system"


@dataclass(frozen=True)
class Trip:
    level: BreakerLevel
    rule: str
    scope: str
    reason: str
    ts: int

    @property
    def key(self) -> str:
        return f"{self.level.value}:{self.rule}:{self.scope}"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "level": self.level.value}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Trip:
        return cls(BreakerLevel(data["level"]), str(data["rule"]), str(data["scope"]), str(data["reason"]), int(data["ts"]))


class TimeWindow:
    """Timestamps within the last ``span_ms``."""

    def __init__(self, span_ms: int) -> None:
        self.span_ms = span_ms
        self._ts: deque[int] = deque()

    def add(self, ts: int) -> int:
        self._ts.append(ts)
        return self.count(ts)

    def count(self, now: int) -> int:
        while self._ts and self._ts[0] <= now - self.span_ms:
            self._ts.popleft()
        return len(self._ts)


class _Range:
    """Lowest and highest price within the last ``span_ms`` (monotonic queues: O(1) per tick)."""

    def __init__(self, span_ms: int) -> None:
        self.span_ms = span_ms
        self._low: deque[tuple[int, Decimal]] = deque()
        self._high: deque[tuple[int, Decimal]] = deque()

    def add(self, ts: int, price: Decimal) -> tuple[Decimal, Decimal]:
        while self._low and self._low[-1][1] >= price:
            self._low.pop()
        while self._high and self._high[-1][1] <= price:
            self._high.pop()
        self._low.append((ts, price))
        self._high.append((ts, price))
        for queue in (self._low, self._high):
            while queue[0][0] <= ts - self.span_ms:
                queue.popleft()
        return self._low[0][1], self._high[0][1]


TripHandler = Callable[[Trip], None]


class CircuitBreakers:
    def __init__(
        self,
        config: CircuitBreakerConfig,
        risk: RiskConfig,
        portfolio: Portfolio,
        bus: EventBus,
        clock: Clock,
        on_trip: TripHandler,
    ) -> None:
        self._config = config
        self._risk = risk
        self._portfolio = portfolio
        self._clock = clock
        self._on_trip = on_trip
        self.tripped: dict[str, Trip] = {}
        self._last_data: dict[tuple[str, str], int] = {}
        self._stale_suspects: set[tuple[str, str]] = set()
        self._ranges: dict[tuple[str, str], _Range] = {}
        self._rejections: dict[str, TimeWindow] = {}
        self._venue_calls: dict[str, deque[tuple[int, bool]]] = {}
        self._venue_failures: dict[str, int] = {}
        self._loss_acknowledged_day: int | None = None
        if config.enabled:
            bus.add_listener((OrderBookUpdated, TickerUpdated), self._on_market)
            bus.add_listener((OrderRejected, OrderUpdated), self._on_rejection)

    # -- tripping and resetting ----------------------------------------------------------------

    def trip(self, level: BreakerLevel, rule: str, scope: str, reason: str) -> Trip | None:
        """Latch a breaker; a breaker already tripped stays as it was (first reason kept)."""
        trip = Trip(level, rule, scope, reason, self._clock.now_ms())
        if trip.key in self.tripped:
            return None
        self.tripped[trip.key] = trip
        log.warning("circuit breaker %s tripped: %s", trip.key, reason)
        self._on_trip(trip)
        return trip

    def reset(self) -> list[Trip]:
        """Clear every breaker (the caller checked the admin level). Today's loss is taken as
        acknowledged, so the same loss does not trip the account again until the day ends."""
        cleared = list(self.tripped.values())
        self.tripped.clear()
        self._stale_suspects.clear()
        self._rejections.clear()
        self._venue_calls.clear()
        self._venue_failures.clear()
        if any(t.rule == "daily_loss" for t in cleared):
            self._loss_acknowledged_day = self._clock.now_ms() // DAY_MS
        return cleared

    def restore(self, trips: Iterable[Trip]) -> None:
        """Trips saved before a restart stay in force (without tripping again)."""
        for trip in trips:
            self.tripped[trip.key] = trip

    def blocks(self, request: OrderRequest, *, reduces: bool = False) -> tuple[str, str] | None:
        """(reason, rule) when a tripped breaker stops this order. An account or system breaker
        stops new exposure only: an order that only reduces a position passes (exits are never
        locked in); a halted strategy's orders are all stopped."""
        if not reduces:
            for trip in self.tripped.values():
                if trip.level is not BreakerLevel.STRATEGY:
                    return (f"circuit breaker '{trip.rule}' ({trip.level.value}) tripped: {trip.reason}; "
                            "an admin must reset it; orders that reduce a position still pass", "breaker")
        if request.strategy_id is not None:
            for trip in self.tripped.values():
                if trip.scope == request.strategy_id:
                    return (f"strategy {request.strategy_id} is halted: {trip.reason}; an admin must reset it",
                            "strategy_halted")
        return None

    @property
    def halted(self) -> bool:
        return any(t.level is not BreakerLevel.STRATEGY for t in self.tripped.values())

    # -- periodic checks ------------------------------------------------------------------------

    def check(self) -> None:
        """Conditions that need no event to show: drawdown, today's loss, a silent feed."""
        if not self._config.enabled:
            return
        quote = self._portfolio.quote_currency
        drawdown = self._portfolio.drawdown()
        if drawdown >= self._config.account_drawdown_pct:
            self.trip(BreakerLevel.ACCOUNT, "drawdown", "account",
                      f"equity {money(self._portfolio.equity(), quote)} is {pct(drawdown)} below its peak "
                      f"{money(self._portfolio.peak_equity(), quote)}; the breaker is at {pct(self._config.account_drawdown_pct)}")
        loss = -self._portfolio.daily_pnl()
        limit = daily_loss_limit(self._risk, self._portfolio.start_of_day_equity())
        today = self._clock.now_ms() // DAY_MS
        if loss >= limit and self._loss_acknowledged_day != today:
            self.trip(BreakerLevel.ACCOUNT, "daily_loss", "account",
                      f"today's loss of {money(loss, quote)} reached the daily limit of {money(limit, quote)}")
        self._check_feeds()

    def _check_feeds(self) -> None:
        """A feed counts as stale only when two checks in a row find it silent: a clock jump
        ages every feed at once, and the next market data clears it before the next check."""
        now = self._clock.now_ms()
        limit_ms = int(self._config.stale_feed_seconds * 1000)
        for key, seen in self._last_data.items():
            if now - seen < limit_ms:
                self._stale_suspects.discard(key)
            elif key in self._stale_suspects:
                venue, symbol = key
                self.trip(BreakerLevel.SYSTEM, "stale_feed", f"{venue}:{symbol}",
                          f"no order book or ticker for {symbol} on {venue} for {(now - seen) / 1000:.0f} s "
                          f"(limit {self._config.stale_feed_seconds:g} s)")
            else:
                self._stale_suspects.add(key)

    # -- events -------------------------------------------------------------------------------

    def _on_market(self, event: Event) -> None:
        now = self._clock.now_ms()
        if isinstance(event, OrderBookUpdated):
            key = (event.venue, event.symbol)
        else:
            assert isinstance(event, TickerUpdated)
            ticker = event.ticker
            key = (ticker.venue, ticker.symbol)
            price = ticker.mark if ticker.mark is not None else ticker.last
            if price is not None and price > 0:
                self._watch_move(key, price, now)
        self._last_data[key] = now

    def _watch_move(self, key: tuple[str, str], price: Decimal, now: int) -> None:
        window = self._ranges.get(key)
        if window is None:
            window = self._ranges[key] = _Range(int(self._config.price_move_window * 1000))
        low, high = window.add(now, price)
        move = (high - low) / low
        if move >= as_decimal(self._config.price_move_pct):
            venue, symbol = key
            self.trip(BreakerLevel.SYSTEM, "price_move", f"{venue}:{symbol}",
                      f"{symbol} on {venue} moved {pct(move)} (between {low} and {high}) within "
                      f"{self._config.price_move_window:g} s; the breaker is at {pct(self._config.price_move_pct)}")

    def _on_rejection(self, event: Event) -> None:
        if isinstance(event, OrderRejected):
            if event.source in NOT_COUNTED:
                return
            strategy_id = event.strategy_id
        else:
            assert isinstance(event, OrderUpdated)
            if event.order.status is not OrderStatus.REJECTED or event.previous_status == OrderStatus.REJECTED.value:
                return
            strategy_id = event.order.strategy_id
        scope = strategy_id or "account"
        window = self._rejections.get(scope)
        if window is None:
            window = self._rejections[scope] = TimeWindow(int(self._config.rejection_window * 1000))
        count = window.add(self._clock.now_ms())
        if count >= self._config.rejection_burst:
            level = BreakerLevel.STRATEGY if strategy_id else BreakerLevel.ACCOUNT
            who = f"strategy {strategy_id}" if strategy_id else "the account"
            self.trip(level, "rejection_burst", scope,
                      f"{count} orders of {who} refused or rejected within {self._config.rejection_window:g} s "
                      f"(limit {self._config.rejection_burst})")

    def venue_result(self, venue: str, ok: bool) -> None:
        """One call to a venue and whether it worked; too many failures trip the system."""
        if not self._config.enabled:
            return
        now = self._clock.now_ms()
        calls = self._venue_calls.get(venue)
        if calls is None:  # made once per venue, not at each call (one an order placed)
            calls = self._venue_calls[venue] = deque()
        calls.append((now, ok))
        failures = self._venue_failures.get(venue, 0) + (not ok)
        span = int(self._config.venue_error_window * 1000)
        while calls and calls[0][0] <= now - span:
            failures -= not calls.popleft()[1]
        self._venue_failures[venue] = failures  # kept as a count: the window can hold thousands of calls
        if len(calls) >= self._config.venue_error_min_calls and failures / len(calls) >= self._config.venue_error_rate:
            self.trip(BreakerLevel.SYSTEM, "venue_errors", venue,
                      f"{failures} of the last {len(calls)} calls to {venue} failed within "
                      f"{self._config.venue_error_window:g} s (limit {pct(self._config.venue_error_rate)})")
