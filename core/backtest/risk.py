"""The live pre-trade gate inside a backtest (``opentrade backtest --with-risk``).

The same ``PreTradeGate``, ``RiskManager`` and ``SafetyGuard`` the engine builds, from the same
configuration sections, over a portfolio that books the backtest's fills and marks: an order a
live strategy would have had refused (a limit, a tripped breaker, the daily order count, a
halt after the daily loss) is refused here too, with the same rule and reason, and counted.
Breakers and the risk monitor run at each candle's close, as the engine's monitor does on its
interval. What the gate stops is what changes the result; without ``--with-risk`` nothing here
runs and results are as before.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Coroutine, Iterable
from decimal import Decimal
from typing import Any

from core.clock import SimClock
from core.config import AppConfig
from core.events import EventBus, OrderFilled, OrderRejected, TickerUpdated
from core.market import MarketCache
from core.models import Balance, Fill, Instrument, Order, OrderRequest, Ticker
from core.portfolio import Portfolio
from core.risk.gate import PreTradeGate, Refusal
from core.risk.guard import SafetyGuard
from core.risk.manager import RiskManager

Flatten = Callable[[str], Coroutine[Any, Any, None]]


class _MemoryState:
    """Where the guard keeps tripped breakers: a backtest starts with none and keeps them in memory."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    async def get_state(self, key: str) -> str | None:
        return self.values.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self.values[key] = value

    async def load_orders(self, **filters: Any) -> list[Order]:
        return []


class BacktestRisk:
    """The gate and what feeds it, for one backtest; ``refused`` counts refusals by rule."""

    def __init__(
        self,
        config: AppConfig,
        venue: str,
        instruments: Iterable[Instrument],
        quote: str,
        cash: Decimal,
        clock: SimClock,
        bus: EventBus,
        open_orders: Callable[[], list[Order]],
        flatten: Flatten,
    ) -> None:
        self._bus = bus
        self._clock = clock
        self._venue = venue
        # the backtester's account lends: a spot sell past the holdings opens a short, checked as one
        self.portfolio = Portfolio(clock, bus=bus, default_leverage=config.trading.default_leverage, spot_shorts=True)
        by_key = {}
        for instrument in instruments:
            self.portfolio.register_instrument(instrument)
            by_key[(venue, instrument.symbol)] = instrument
        self.portfolio.set_balances(venue, [Balance(asset=quote, free=cash)])
        self.risk = RiskManager(config.risk_management, config.trading, self.portfolio, bus, clock,
                                on_emergency=flatten)
        market = MarketCache(bus)
        self.events: list[tuple[str, dict[str, Any]]] = []
        self.guard = SafetyGuard(config, bus, clock, self.portfolio, market, self.risk, _MemoryState(), self._audit)
        self.gate = PreTradeGate(self.risk, safety=self.guard, market=self.portfolio, venues=(venue,),
                                 instruments=by_key, open_orders=open_orders)
        self.refused: Counter[str] = Counter()
        self.reasons: dict[str, str] = {}

    async def _audit(self, kind: str, payload: dict[str, Any], actor: str) -> None:
        self.events.append((kind, payload))

    def check(self, request: OrderRequest) -> Refusal | None:
        """The gate's verdict on a strategy's order; a refusal is counted and published, as the
        executor does (so a burst of them trips the rejection breaker, as it would live)."""
        refusal = self.gate.check(request, f"strategy:{request.strategy_id or 'unknown'}")
        if refusal is None:
            self.guard.placed(request)
            return None
        self.refused[refusal.rule] += 1
        self.reasons.setdefault(refusal.rule, refusal.reason)
        self._bus.publish(OrderRejected(request.client_order_id, request.symbol, refusal.reason, refusal.rule,
                                        request.strategy_id))
        return refusal

    def exempt(self, request: OrderRequest) -> Refusal | None:
        """The check of the engine's own protective orders (an emergency stop's closes)."""
        return self.gate.check(request, "risk", exempt=True)

    def price(self, symbol: str, price: Decimal) -> None:
        """A replayed price: the mark every check of an order reads."""
        self.portfolio.update_mark(self._venue, symbol, price)

    def closed(self, symbol: str, price: Decimal) -> None:
        """A candle's close, as the ticker the breakers and dynamic risk watch. Only closes: the
        four prices replayed inside a candle are a path through its range, not trades, and would
        make the volatility dynamic risk measures several times what it was."""
        self._bus.publish(TickerUpdated(Ticker(venue=self._venue, symbol=symbol, ts=self._clock.now_ms(),
                                               last=price, mark=price)))

    def fill(self, fill: Fill, leverage: int | None) -> None:
        self.portfolio.apply_fill(fill, leverage)
        self._bus.publish(OrderFilled(fill))

    def monitor(self) -> None:
        """The engine's periodic pass: breakers, runaway strategies, position alerts."""
        self.guard.check()
        self.risk.monitor_positions()

    async def drain(self) -> None:
        await self.guard.drain()

    def summary(self) -> dict[str, Any]:
        """How many orders the gate refused, by rule with the first reason, and what tripped."""
        return {
            "refused": sum(self.refused.values()),
            "by_rule": {rule: {"count": count, "first_reason": self.reasons[rule]}
                        for rule, count in self.refused.most_common()},
            "breakers_tripped": [payload.get("rule") for kind, payload in self.events if kind == "breaker_tripped"],
            "final_state": self.risk.state.value,
        }
