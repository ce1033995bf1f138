"""The limits an order that adds exposure must respect, each with a reason a trader can act on.

Orders that only shrink a position skip these: reducing risk is always allowed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache

from core.config import RiskConfig, TradingConfig
from core.models import ZERO, Instrument, Order, OrderRequest, Position
from core.portfolio import DAY_MS, Portfolio
from core.ports import Clock
from core.risk.exposure import projected_exposure, projected_size, working_on_side
from core.working import WorkingOrders


@dataclass(frozen=True)
class RiskCheckResult:
    approved: bool
    reason: str | None = None
    rule: str | None = None

    @classmethod
    def ok(cls) -> RiskCheckResult:
        return _APPROVED  # immutable: one for every order that passes

    @classmethod
    def reject(cls, rule: str, reason: str) -> RiskCheckResult:
        return cls(False, reason, rule)


_APPROVED = RiskCheckResult(True)


def money(amount: Decimal, currency: str) -> str:
    return f"{amount:,.2f} {currency}"


def pct(share: float | Decimal) -> str:
    """16% or 15.4%: one decimal only when it changes what the reader sees."""
    text = f"{float(share) * 100:.1f}"
    return (text[:-2] if text.endswith(".0") else text) + "%"


def price_text(price: Decimal) -> str:
    return f"{price:,.8f}".rstrip("0").rstrip(".") if price < 1 else f"{price:,.2f}"


@lru_cache(maxsize=64, typed=True)
def as_decimal(share: float) -> Decimal:
    """A limit of the configuration (a float, changed in place when the trader edits it) as the
    Decimal it is compared with: made once per value (from its shortest repr, so 0.1 is 0.1),
    not on each of the orders and tickers that compare with it."""
    return Decimal(str(share))


def daily_loss_limit(config: RiskConfig, start_equity: Decimal | None) -> Decimal:
    """The tighter of the absolute daily loss limit and the share of the day's starting equity."""
    limit = config.max_daily_loss
    if start_equity is not None and start_equity > 0:
        limit = min(limit, start_equity * as_decimal(config.max_daily_loss_pct))
    return limit


@dataclass
class OrderContext:
    """What the limits read of one order, made for every order that adds exposure: not frozen,
    as a frozen dataclass sets each field through ``object.__setattr__`` (1.5 us of its 1.7)."""

    request: OrderRequest
    instrument: Instrument
    price: Decimal
    position: Position | None
    working: WorkingOrders
    equity: Decimal
    portfolio: Portfolio
    _exposures: dict[tuple[str, str], Decimal] | None = field(default=None, init=False, repr=False)

    @property
    def quote(self) -> str:
        return self.instrument.quote

    @property
    def notional(self) -> Decimal:
        return self.request.size * self.price * self.instrument.contract_size

    @property
    def exposures(self) -> dict[tuple[str, str], Decimal]:
        """Worst-case exposure per market with this order added, computed once per check (kept
        by hand: functools.cached_property takes a lock at each first read in Python 3.11)."""
        if self._exposures is None:
            self._exposures = projected_exposure(self.portfolio, self.working, self.request, self.price)
        return self._exposures

    @property
    def projected_position(self) -> Decimal:
        """Notional of the position if this order and the working orders on its side all fill."""
        return projected_size(self.position, self.request, self.working) * self.price * self.instrument.contract_size


def counted(ctx: OrderContext) -> str:
    """The working orders on the order's side, as a refusal names them: summed in the order
    they were placed, so the size reads as the orders' sizes do (a kept total can carry the
    trailing zeros of an order that has gone)."""
    market = ctx.working.market(ctx.request.venue, ctx.request.symbol)
    if market is None or not working_on_side(ctx.working, ctx.request):
        return ""
    side = ctx.request.side
    working = sum((o.remaining for o in market.orders.values() if o.side is side and not o.reduce_only), ZERO)
    return f" with the working {side.value} orders ({working} {ctx.instrument.base})"


class OrderRules:
    def __init__(self, config: RiskConfig, trading: TradingConfig, portfolio: Portfolio, clock: Clock) -> None:
        self._config = config
        self._trading = trading
        self._portfolio = portfolio
        self._clock = clock
        self._daily: tuple[tuple[object, ...], RiskCheckResult | None] | None = None  # (what it read, verdict)
        self._rules: tuple[Callable[[OrderContext], RiskCheckResult | None], ...] = (
            self._equity,
            self._daily_loss,
            self._leverage,
            self._open_positions,
            self._position_size,
            self._symbol_exposure,
            self._total_exposure,
            self._order_loss,
        )

    def check(self, context: OrderContext) -> RiskCheckResult:
        for rule in self._rules:
            result = rule(context)
            if result is not None:
                return result
        return RiskCheckResult.ok()

    def _equity(self, ctx: OrderContext) -> RiskCheckResult | None:
        return self._no_equity(ctx.equity)

    def _no_equity(self, equity: Decimal) -> RiskCheckResult | None:
        if equity <= 0:
            return RiskCheckResult.reject(
                "equity",
                f"equity is {money(equity, self._portfolio.quote_currency)}, so no new exposure can be "
                "sized against it (have the balances been synced?)",
            )
        return None

    def standing(self, open_orders: list[Order]) -> list[RiskCheckResult]:
        """The limits that refuse any order adding exposure right now (open positions: any new
        market), for the Risk screen and the status bar."""
        found = [self._no_equity(self._portfolio.equity()), self._daily_loss_reached()]
        working = WorkingOrders.of(open_orders)
        occupied = {(p.venue, p.symbol) for p in self._portfolio.positions()}
        occupied |= working.adding_markets()
        if len(occupied) >= self._config.max_open_positions:
            found.append(RiskCheckResult.reject(
                "max_open_positions",
                f"{len(occupied)} markets hold a position or a working order; the limit is "
                f"{self._config.max_open_positions}, so no new market can be traded",
            ))
        equity = self._portfolio.equity()
        total = sum(projected_exposure(self._portfolio, working).values(), ZERO)
        if equity > 0 and total >= equity * as_decimal(self._config.max_total_exposure_pct):
            found.append(RiskCheckResult.reject(
                "max_total_exposure_pct",
                f"total exposure, positions and working orders included, is {money(total, self._portfolio.quote_currency)}, "
                f"{pct(total / equity)} of equity; the limit is {pct(self._config.max_total_exposure_pct)}",
            ))
        return [result for result in found if result is not None]

    def _daily_loss(self, ctx: OrderContext) -> RiskCheckResult | None:
        return self._daily_loss_reached()

    def _daily_loss_reached(self) -> RiskCheckResult | None:
        """Worked out again only when what it reads has changed: the portfolio (its revision
        moves with equity and the day's start, but for the day's roll, hence the UTC day), the
        two limits and the currency its reason is in. Every order that adds exposure asks."""
        portfolio, config = self._portfolio, self._config
        read = (portfolio.revision, self._clock.now_ms() // DAY_MS, config.max_daily_loss, config.max_daily_loss_pct,
                portfolio.quote_currency)
        if self._daily is None or self._daily[0] != read:
            self._daily = read, self._daily_verdict()
        return self._daily[1]

    def _daily_verdict(self) -> RiskCheckResult | None:
        loss = -self._portfolio.daily_pnl()
        quote = self._portfolio.quote_currency
        if loss >= self._config.max_daily_loss:
            return RiskCheckResult.reject(
                "max_daily_loss",
                f"today's loss of {money(loss, quote)} has reached the daily limit of "
                f"{money(self._config.max_daily_loss, quote)}; only orders that reduce a position pass "
                "until the UTC day ends",
            )
        start = self._portfolio.start_of_day_equity()
        if start is not None and start > 0 and loss >= start * as_decimal(self._config.max_daily_loss_pct):
            return RiskCheckResult.reject(
                "max_daily_loss_pct",
                f"today's loss of {money(loss, quote)} is {pct(loss / start)} of the day's starting equity "
                f"{money(start, quote)}; the limit is {pct(self._config.max_daily_loss_pct)}",
            )
        return None

    def _leverage(self, ctx: OrderContext) -> RiskCheckResult | None:
        if not ctx.instrument.is_perpetual:
            return None
        held = ctx.position.leverage if ctx.position is not None else self._trading.default_leverage
        asked = ctx.request.leverage or held
        if asked > self._config.max_leverage:
            return RiskCheckResult.reject(
                "max_leverage",
                f"leverage {asked}x on {ctx.request.symbol} is above the {self._config.max_leverage}x limit",
            )
        if ctx.position is not None and asked != ctx.position.leverage:
            return RiskCheckResult.reject(
                "position_leverage",
                f"the open {ctx.request.symbol} position is at {ctx.position.leverage}x and an order does not change "
                f"that; this one asks for {asked}x: send it at {ctx.position.leverage}x or close the position first",
            )
        return None

    def _open_positions(self, ctx: OrderContext) -> RiskCheckResult | None:
        if ctx.position is not None:
            return None
        positions = self._portfolio.positions()
        if len(positions) + len(ctx.working.markets()) < self._config.max_open_positions:
            return None  # fewer markets than the limit hold a position or a working order
        here = (ctx.request.venue, ctx.request.symbol)
        occupied = {(p.venue, p.symbol) for p in positions}
        occupied |= ctx.working.adding_markets()
        occupied.discard(here)
        if len(occupied) >= self._config.max_open_positions:
            return RiskCheckResult.reject(
                "max_open_positions",
                f"{ctx.request.symbol} would be a new position while {len(occupied)} markets already hold a "
                f"position or a working order; the limit is {self._config.max_open_positions}",
            )
        return None

    def _position_size(self, ctx: OrderContext) -> RiskCheckResult | None:
        projected = self._portfolio.to_quote(ctx.request.venue, ctx.projected_position, ctx.quote)
        quote = self._portfolio.quote_currency
        if projected > self._config.max_position_size:
            return RiskCheckResult.reject(
                "max_position_size",
                f"this order would take the {ctx.request.symbol} position to {money(projected, quote)}{counted(ctx)}; "
                f"the largest position allowed is {money(self._config.max_position_size, quote)}",
            )
        if projected > ctx.equity * as_decimal(self._config.max_position_pct):
            return RiskCheckResult.reject(
                "max_position_pct",
                f"this order would take the {ctx.request.symbol} position to {money(projected, quote)}{counted(ctx)}, "
                f"{pct(projected / ctx.equity)} of equity; the limit is {pct(self._config.max_position_pct)}",
            )
        return None

    def _symbol_exposure(self, ctx: OrderContext) -> RiskCheckResult | None:
        exposure = ctx.exposures[(ctx.request.venue, ctx.request.symbol)]
        if exposure > ctx.equity * as_decimal(self._config.max_symbol_exposure_pct):
            notional = self._portfolio.to_quote(ctx.request.venue, ctx.notional, ctx.quote)
            return RiskCheckResult.reject(
                "max_symbol_exposure_pct",
                f"order notional {money(notional, self._portfolio.quote_currency)} would take "
                f"{ctx.request.symbol} to {pct(exposure / ctx.equity)} of equity with its position and working "
                f"orders; the limit is {pct(self._config.max_symbol_exposure_pct)}",
            )
        return None

    def _total_exposure(self, ctx: OrderContext) -> RiskCheckResult | None:
        total = sum(ctx.exposures.values(), ZERO)
        if total > ctx.equity * as_decimal(self._config.max_total_exposure_pct):
            return RiskCheckResult.reject(
                "max_total_exposure_pct",
                f"this order would take total exposure, positions and working orders included, to "
                f"{money(total, self._portfolio.quote_currency)}, {pct(total / ctx.equity)} of equity; "
                f"the limit is {pct(self._config.max_total_exposure_pct)}",
            )
        return None

    def _order_loss(self, ctx: OrderContext) -> RiskCheckResult | None:
        """The loss if the stop this order will have is hit: its own stop-loss, else the auto
        stop it will get when ``auto_protect`` is on. An order without a stop has no loss at
        a stop to measure; the position and exposure limits bound it instead."""
        request = ctx.request
        if request.stop_loss is not None:
            stop = request.stop_loss
        elif self._trading.auto_protect:
            stop = ctx.price * (1 - request.side.sign * as_decimal(self._trading.stop_loss_pct))
        else:
            return None
        per_unit = abs(ctx.price - stop)
        loss = self._portfolio.to_quote(request.venue, request.size * per_unit * ctx.instrument.contract_size, ctx.quote)
        if loss > self._config.max_order_loss:
            quote = self._portfolio.quote_currency
            return RiskCheckResult.reject(
                "max_order_loss",
                f"this order would lose {money(loss, quote)} if its stop at {price_text(stop)} is hit; "
                f"the most one order may risk is {money(self._config.max_order_loss, quote)}",
            )
        return None
