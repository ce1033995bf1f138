"""The RiskManager: the risk state every order is checked against (``core.risk.gate`` runs the
checks, in order) and the watch kept on open positions.

States only escalate on their own (ACTIVE -> REDUCING -> HALTED); going back to ACTIVE takes a
person calling ``reset``. Exits are never locked in: while HALTED on its own (a breaker, the
daily loss) orders that only reduce a position still pass; only a halt by a person (the
emergency stop) stops them, and the emergency stop closes positions itself. Every change is
published as ``RiskStateChanged`` so the engine can audit it, and every alert as ``RiskAlert``.

Alerts are edge-triggered: a condition is announced when it starts and again only after it has
cleared, so a monitor running every 30 seconds does not repeat the same alert forever.

A reset acknowledges the daily-loss levels already reached, so the same loss does not halt
trading again right away; the order rule on daily loss still blocks new exposure until the UTC
day ends. A reset also starts a new high-water mark for the drawdown.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Coroutine
from decimal import Decimal
from typing import Any

from core.config import RiskConfig, TradingConfig
from core.events import EventBus, RiskAlert, RiskStateChanged
from core.models import Order, RiskState
from core.portfolio import DAY_MS, Portfolio
from core.ports import Clock
from core.risk.gauges import LimitUsage, limits_usage
from core.risk.rules import OrderRules, RiskCheckResult, as_decimal, daily_loss_limit, money, pct, price_text

log = logging.getLogger(__name__)

EmergencyCallback = Callable[[str], Coroutine[Any, Any, None]]

_ESCALATION = {RiskState.ACTIVE: 0, RiskState.REDUCING: 1, RiskState.HALTED: 2}


class RiskManager:
    def __init__(
        self,
        config: RiskConfig,
        trading: TradingConfig,
        portfolio: Portfolio,
        bus: EventBus,
        clock: Clock,
        *,
        on_emergency: EmergencyCallback | None = None,
    ) -> None:
        self._config = config
        self._portfolio = portfolio
        self._bus = bus
        self._clock = clock
        self.on_emergency = on_emergency
        self._rules = OrderRules(config, trading, portfolio, clock)
        self._state = RiskState.ACTIVE
        self.state_reason = "started"
        self.halted_by_person = False
        self._raised: set[tuple[str, ...]] = set()
        self._unreported: deque[RiskAlert] = deque(maxlen=256)
        self._acknowledged: set[str] = set()
        self._acknowledged_day: int | None = None
        self._emergency_fired = False
        self._evaluated: tuple[object, ...] | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    # -- state --------------------------------------------------------------------------------

    @property
    def state(self) -> RiskState:
        return self._state

    def set_state(self, new: RiskState, reason: str, *, by_person: bool = False) -> None:
        """``by_person``: a halt a person asked for, which stops closing orders too."""
        if new is self._state and (new is not RiskState.HALTED or by_person <= self.halted_by_person):
            return
        old, self._state = self._state, new
        self.state_reason = reason
        self.halted_by_person = by_person and new is RiskState.HALTED
        log.warning("risk state %s -> %s: %s", old.value, new.value, reason)
        self._bus.publish(RiskStateChanged(old=old, new=new, reason=reason, by_person=self.halted_by_person))

    def _escalate(self, new: RiskState, reason: str) -> None:
        if _ESCALATION[new] > _ESCALATION[self._state]:
            self.set_state(new, reason)

    def reset(self, actor: str) -> None:
        """A person's decision to trade again: back to ACTIVE with the current losses acknowledged."""
        self._acknowledge_daily_loss()
        self._portfolio.rebase_peak()
        self._emergency_fired = False
        self._raised.clear()
        self.set_state(RiskState.ACTIVE, f"reset by {actor}")

    async def emergency_stop(self, reason: str) -> None:
        """A person's emergency stop: halt, then let the engine cancel every order and flatten
        every position."""
        self._halt_for_emergency(reason, by_person=True)
        if self.on_emergency is not None:
            await self.on_emergency(reason)

    def _halt_for_emergency(self, reason: str, *, by_person: bool = False) -> None:
        self._emergency_fired = True
        self.set_state(RiskState.HALTED, f"emergency stop: {reason}", by_person=by_person)
        self._raise(("emergency_stop",), "critical", "emergency_stop", f"emergency stop: {reason}")

    def _trigger_emergency(self, reason: str) -> None:
        """From synchronous code: halt now, run the engine's callback on the loop."""
        self._halt_for_emergency(reason)
        if self.on_emergency is None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            log.error("emergency stop raised outside the event loop; the engine must flatten positions itself")
            return
        task = loop.create_task(self.on_emergency(reason))
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("emergency stop handler failed", exc_info=task.exception())

    # -- automatic transitions ----------------------------------------------------------------

    def _today(self) -> int:
        return self._clock.now_ms() // DAY_MS

    def _acknowledge_daily_loss(self) -> None:
        loss, limit = self._daily_loss()
        self._acknowledged = {level for level, reached in self._levels_reached(loss, limit).items() if reached}
        self._acknowledged_day = self._today()

    def _daily_loss(self) -> tuple[Decimal, Decimal]:
        """Today's loss (positive when losing) and the daily loss limit that applies to it."""
        limit = daily_loss_limit(self._config, self._portfolio.start_of_day_equity())
        return -self._portfolio.daily_pnl(), limit

    def _levels_reached(self, loss: Decimal, limit: Decimal) -> dict[str, bool]:
        return {
            "halt": loss >= limit,
            "reducing": loss >= limit * as_decimal(self._config.reducing_at_loss_fraction),
        }

    def _inputs(self) -> tuple[object, ...]:
        """Everything ``evaluate`` reads and every state it moves: run twice on the same, it does
        nothing the second time."""
        config = self._config
        return (self._portfolio.revision, self._today(), self._state, self.halted_by_person, self._acknowledged_day,
                frozenset(self._acknowledged), frozenset(self._raised), self._emergency_fired, config.max_daily_loss,
                config.max_daily_loss_pct, config.reducing_at_loss_fraction, config.emergency_stop_loss)

    def evaluate(self) -> None:
        """Escalate the state for today's loss and the drawdown; every order asks, and between
        two orders nothing it reads has usually changed, in which case it has nothing to do."""
        if self._inputs() == self._evaluated:
            return
        self._escalate_for_losses()
        self._evaluated = self._inputs()

    def _escalate_for_losses(self) -> None:
        if self._acknowledged_day != self._today():
            self._acknowledged = set()
        loss, limit = self._daily_loss()
        levels = self._levels_reached(loss, limit)
        quote = self._portfolio.quote_currency
        if levels["halt"] and "halt" not in self._acknowledged:
            reason = f"today's loss of {money(loss, quote)} reached the daily limit of {money(limit, quote)}"
            self._escalate(RiskState.HALTED, reason)
            self._raise(("daily_loss", "halt"), "critical", "max_daily_loss", reason)
        elif levels["reducing"] and "reducing" not in self._acknowledged:
            reason = (
                f"today's loss of {money(loss, quote)} is {pct(loss / limit)} of the daily limit of "
                f"{money(limit, quote)}; only orders that reduce a position pass"
            )
            self._escalate(RiskState.REDUCING, reason)
            self._raise(("daily_loss", "reducing"), "warning", "daily_loss_reducing", reason)
        if not levels["reducing"]:
            self._clear(("daily_loss", "halt"), ("daily_loss", "reducing"))
        drawdown = self._portfolio.drawdown()
        if drawdown >= self._config.emergency_stop_loss and not self._emergency_fired:
            self._trigger_emergency(
                f"equity {money(self._portfolio.equity(), quote)} is {pct(drawdown)} below its peak "
                f"{money(self._portfolio.peak_equity(), quote)}; the emergency stop is at "
                f"{pct(self._config.emergency_stop_loss)}"
            )

    # -- what the pre-trade gate reads (core.risk.gate) --------------------------------------

    @property
    def config(self) -> RiskConfig:
        return self._config

    @property
    def portfolio(self) -> Portfolio:
        return self._portfolio

    @property
    def rules(self) -> OrderRules:
        return self._rules

    def halt_text(self) -> str:
        if self.halted_by_person:
            return f"trading is halted ({self.state_reason}); nothing passes until a person resets the risk state"
        return (f"trading is halted ({self.state_reason}); only orders that reduce a position pass until a "
                "person resets the risk state")

    def blockers(self, open_orders: list[Order]) -> list[RiskCheckResult]:
        """Every rule of the risk manager that refuses new exposure right now, whatever the order
        (read only: the state is escalated by orders and the monitor, not by looking at it)."""
        if self._state is RiskState.HALTED:
            return [RiskCheckResult.reject("halted", self.halt_text())]
        found = []
        if self._state is RiskState.REDUCING:
            found.append(RiskCheckResult.reject("reducing", f"only orders that reduce a position pass ({self.state_reason})"))
        return found + self._rules.standing(open_orders)

    # -- watching positions -------------------------------------------------------------------

    def monitor_positions(self) -> list[RiskAlert]:
        """Check every limit that can be broken without an order; returns (and has published)
        the alerts raised since the previous call."""
        self.evaluate()
        self._check_leverage()
        self._check_liquidations()
        alerts = list(self._unreported)
        self._unreported.clear()
        return alerts

    def _check_leverage(self) -> None:
        equity = self._portfolio.equity()
        exposure = self._portfolio.exposure()
        key = ("leverage",)
        if equity > 0 and exposure / equity > self._config.max_leverage:
            leverage = exposure / equity
            quote = self._portfolio.quote_currency
            self._raise(
                key,
                "warning",
                "max_leverage",
                f"account leverage is {leverage:.2f}x ({money(exposure, quote)} of exposure on "
                f"{money(equity, quote)} of equity); the limit is {self._config.max_leverage}x",
            )
        else:
            self._clear(key)

    def _check_liquidations(self) -> None:
        near = set()
        for position in self._portfolio.positions():
            distance = self._portfolio.liquidation_distance(position.venue, position.symbol)
            if distance is None or distance >= self._config.liquidation_warning_pct:
                continue
            key = ("liquidation", position.venue, position.symbol)
            near.add(key)
            assert position.liquidation_price is not None and position.mark_price is not None
            self._raise(
                key,
                "critical",
                "liquidation",
                f"{position.symbol} {position.side.value} is {pct(distance)} from its liquidation price "
                f"{price_text(position.liquidation_price)} (mark {price_text(position.mark_price)})",
                position.symbol,
            )
        self._clear(*(k for k in self._raised if k[0] == "liquidation" and k not in near))

    def _raise(self, key: tuple[str, ...], level: str, rule: str, message: str, symbol: str | None = None) -> None:
        if key in self._raised:
            return
        self._raised.add(key)
        alert = RiskAlert(level=level, rule=rule, message=message, symbol=symbol, ts=self._clock.now_ms())
        self._unreported.append(alert)
        self._bus.publish(alert)

    def _clear(self, *keys: tuple[str, ...]) -> None:
        self._raised.difference_update(keys)

    # -- the risk screen ----------------------------------------------------------------------

    def limits_usage(self, open_orders: list[Order] | None = None) -> list[LimitUsage]:
        """Every limit with its current use, for the gauges; open orders count toward exposure."""
        return limits_usage(self._config, self._portfolio, open_orders or [])
