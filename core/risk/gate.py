"""The pre-trade gate: every check an order passes before it is written and sent, in one order.

1. permission         may this actor place orders at all (profiles)
2. venue, market      the venue is configured and lists the symbol
3. validation         the request fits the instrument (tick, lot, minimums): the one validation
   -- the engine's own protective orders (``exempt``) stop here: they must be sendable, no more
4. safety             circuit breakers (halted, strategy stopped), surveillance (rate, duplicates,
                      self-trade, runaways) and dynamic risk (volatility cut, macro pause)
5. risk state         HALTED passes only orders that reduce a position (none when a person halted)
6. price              a mark to check a market or trailing order against
7. fat finger         a limit or trigger price too far from the mark
8. protective levels  the order's stop-loss / take-profit on the side that protects
   -- orders that only reduce a position pass from here on: reducing risk is always allowed
9. reducing           while REDUCING, nothing that adds exposure
10. limits            equity, daily loss, leverage, open positions, position size, exposure,
                      loss at the stop (``core.risk.rules``)

The first refusal wins, so the reason a trader sees is the same wherever the order comes from:
a key press, a strategy, the gateway or ``opentrade backtest --with-risk``. The check runs
without side effects for a preview (``dry_run``: nothing counted, nothing stopped).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from core.models import Instrument, Order, OrderRequest, Position, RiskState
from core.risk.exposure import only_reduces, order_price
from core.risk.manager import RiskManager
from core.risk.protection import order_level_problem
from core.risk.rules import OrderContext, RiskCheckResult, as_decimal, pct, price_text
from core.working import WorkingOrders


@dataclass(frozen=True)
class Refusal:
    """Why an order would be refused before reaching a venue, and the rule that says so."""

    reason: str
    rule: str


class Safety(Protocol):
    """Permissions, breakers, surveillance and dynamic risk (``core.risk.guard.SafetyGuard``)."""

    def permit(self, actor: str, action: str) -> str | None: ...

    def screen(
        self, request: OrderRequest, instrument: Instrument, working: WorkingOrders, *, reduces: bool,
        dry_run: bool = False,
    ) -> tuple[str, str] | None: ...


class Marks(Protocol):
    def mark(self, venue: str, symbol: str) -> Decimal | None: ...


class PreTradeGate:
    """The checks of the module docstring over the engine's (or a backtest's) state.
    ``open_orders``: the working orders, kept with their totals (``core.working``; the engine's
    order manager keeps them as orders change) or listed, then walked once per check."""

    def __init__(
        self,
        risk: RiskManager,
        *,
        safety: Safety | None = None,
        market: Marks | None = None,
        venues: Collection[str] = (),
        instruments: Mapping[tuple[str, str], Instrument] | None = None,
        open_orders: Callable[[], Sequence[Order] | WorkingOrders] = WorkingOrders,
    ) -> None:
        self._risk = risk
        self._portfolio = risk.portfolio
        self._safety = safety
        self._market = market
        self._venues = venues
        self._instruments = instruments if instruments is not None else {}
        self._open_orders = open_orders

    def check(
        self, request: OrderRequest, actor: str, *, exclude: str | None = None, dry_run: bool = False,
        exempt: bool = False,
    ) -> Refusal | None:
        """The first refusal, or None. ``exclude``: the order a modification would cancel, left
        out of the working orders; ``exempt``: the engine's own protective order."""
        if self._safety is not None and not exempt:
            denied = self._safety.permit(actor, "placing orders")
            if denied is not None:
                return Refusal(denied, "permission")
        if request.venue not in self._venues:
            return Refusal(f"venue '{request.venue}' is not configured", "unknown_venue")
        instrument = self._instruments.get((request.venue, request.symbol))
        if instrument is None:
            return Refusal(f"{request.symbol} is not a market on {request.venue}", "unknown_market")
        problems = request.validate_for(instrument)
        if problems:
            return Refusal("; ".join(problems), "validation")
        if exempt:
            return None
        working = as_working(self._open_orders()).without(exclude)
        position = self._portfolio.position(request.venue, request.symbol)
        reduces = only_reduces(request, instrument, position, working, spot_shorts=self._portfolio.spot_shorts)
        if self._safety is not None:
            abnormal = self._safety.screen(request, instrument, working, reduces=reduces, dry_run=dry_run)
            if abnormal is not None:
                return Refusal(*abnormal)
        mark = self._market.mark(request.venue, request.symbol) if self._market is not None else None
        verdict = self.limits(request, instrument, mark, working, position=position, reduces=reduces)
        if not verdict.approved:
            return Refusal(verdict.reason or "refused by risk", verdict.rule or "risk")
        return None

    def check_cancel(self, actor: str) -> Refusal | None:
        denied = self._safety.permit(actor, "canceling orders") if self._safety is not None else None
        return Refusal(denied, "permission") if denied is not None else None

    def limits(
        self,
        request: OrderRequest,
        instrument: Instrument,
        mark_price: Decimal | None,
        open_orders: Sequence[Order] | WorkingOrders,
        *,
        position: Position | None = None,
        reduces: bool | None = None,
    ) -> RiskCheckResult:
        """Steps 5 to 10 for a request already known to fit its instrument."""
        working = as_working(open_orders)
        risk = self._risk
        risk.evaluate()
        if position is None:
            position = self._portfolio.position(request.venue, request.symbol)
        if reduces is None:
            reduces = only_reduces(request, instrument, position, working, spot_shorts=self._portfolio.spot_shorts)
        if risk.state is RiskState.HALTED and (risk.halted_by_person or not reduces):
            return RiskCheckResult.reject("halted", risk.halt_text())
        mark = mark_price if mark_price is not None else self._portfolio.mark(request.venue, request.symbol)
        price = order_price(request, mark)
        if price is None:
            return RiskCheckResult.reject(
                "no_mark",
                f"no market price yet for {request.symbol}; a {request.type.value.replace('_', ' ')} order "
                "cannot be checked without one",
            )
        band = fat_finger(request, mark, risk.config.fat_finger_pct)
        if band is not None:
            return band
        levels = order_level_problem(request, instrument, price)
        if levels is not None:
            return RiskCheckResult.reject("protective_levels", levels)
        if reduces:
            return RiskCheckResult.ok()
        if risk.state is RiskState.REDUCING:
            return RiskCheckResult.reject(
                "reducing",
                f"only orders that reduce a position pass while risk is REDUCING ({risk.state_reason}); "
                f"this {request.side.value} of {request.size} {instrument.base} would not reduce {request.symbol}",
            )
        context = OrderContext(
            request=request, instrument=instrument, price=price, position=position, working=working,
            equity=self._portfolio.equity(), portfolio=self._portfolio,
        )
        return risk.rules.check(context)


def as_working(open_orders: Sequence[Order] | WorkingOrders) -> WorkingOrders:
    return open_orders if isinstance(open_orders, WorkingOrders) else WorkingOrders.of(open_orders)


def fat_finger(request: OrderRequest, mark: Decimal | None, band_pct: float) -> RiskCheckResult | None:
    """A refusal when the order's limit or trigger price is farther than the band from the mark."""
    if mark is None:
        return None
    band = as_decimal(band_pct)
    for label, value in (("limit price", request.price), ("trigger price", request.trigger_price)):
        if value is not None and abs(value - mark) > mark * band:
            return RiskCheckResult.reject(
                "fat_finger",
                f"{label} {price_text(value)} is {pct(abs(value - mark) / mark)} from the mark "
                f"{price_text(mark)} of {request.symbol}; the fat-finger band is {pct(band_pct)}",
            )
    return None
