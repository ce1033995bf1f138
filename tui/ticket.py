"""The order ticket's rules, apart from its widgets: parse what was typed, say what is wrong
with each field, preview the cost, and decide whether a confirmation is needed.

Nothing here rounds silently: a price off the tick is an error, not a nudge. The one
conversion is a size typed in the quote currency, turned into base units at the reference
price and rounded down to the lot; the preview shows the resulting base size. Numbers are read
by ``tui.numbers`` (a comma is refused, never guessed at). A perpetual's leverage is a field
like the others: the order carries exactly what it says, and the preview's margin and
liquidation price come from the engine's own ``core.ledger.perpetual_margin``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import ValidationError

from core.config import TradingConfig
from core.ledger import MAINTENANCE_MARGIN_RATE, perpetual_margin
from core.models import Instrument, OrderRequest, OrderType, Side, TimeInForce
from tui.format import show_price, show_size
from tui.numbers import NumberError, parse_number


@dataclass
class TicketForm:
    """The raw text of every ticket field, as typed."""

    side: Side = Side.BUY
    type: OrderType = OrderType.LIMIT
    size: str = ""
    size_in_quote: bool = False
    price: str = ""
    trigger: str = ""
    trail: str = ""
    take_profit: str = ""
    stop_loss: str = ""
    leverage: str = ""
    time_in_force: TimeInForce = TimeInForce.GTC
    reduce_only: bool = False
    post_only: bool = False


@dataclass
class Preview:
    size: Decimal
    notional: Decimal
    fee: Decimal
    margin: Decimal
    liquidation: Decimal | None


@dataclass
class TicketResult:
    request: OrderRequest | None = None
    errors: dict[str, str] = field(default_factory=dict)
    preview: Preview | None = None


FIELDS_FOR_TYPE: dict[OrderType, frozenset[str]] = {
    OrderType.MARKET: frozenset(),
    OrderType.LIMIT: frozenset({"price"}),
    OrderType.STOP_MARKET: frozenset({"trigger"}),
    OrderType.STOP_LIMIT: frozenset({"price", "trigger"}),
    OrderType.TAKE_PROFIT: frozenset({"trigger"}),
    OrderType.TRAILING_STOP: frozenset({"trail"}),
}


def _decimal(text: str, name: str, errors: dict[str, str], *, required: bool) -> Decimal | None:
    if not text.strip():
        if required:
            errors[name] = "required"
        return None
    try:
        return parse_number(text)
    except NumberError as exc:
        errors[name] = str(exc)
        return None


def _leverage(text: str, instrument: Instrument, errors: dict[str, str]) -> int | None:
    """The leverage typed for a perpetual (required there: the order carries exactly it)."""
    text = text.strip().removesuffix("x").removesuffix("X").strip()
    if not instrument.is_perpetual:
        if text not in ("", "1"):
            errors["leverage"] = "spot markets trade without leverage"
        return None
    if not text:
        errors["leverage"] = "required"
        return None
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        errors["leverage"] = f"'{text}' is not a whole number of 1 or more"
        return None
    value = int(text)
    if value > instrument.max_leverage:
        errors["leverage"] = f"at most {instrument.max_leverage}x on {instrument.symbol}"
        return None
    return value


def _price_field(value: Decimal | None, name: str, label: str, instrument: Instrument, errors: dict[str, str]) -> None:
    if value is not None and name not in errors:
        problem = instrument.price_problem(value, label)
        if problem:
            errors[name] = f"not a multiple of the tick {instrument.tick_size}" if "multiple" in problem else problem


def reference_price(form_price: Decimal | None, trigger: Decimal | None, mark: Decimal | None) -> Decimal | None:
    return form_price or trigger or mark


def parse_ticket(
    form: TicketForm, instrument: Instrument, venue: str, mark: Decimal | None,
    maintenance_margin_rate: Decimal = MAINTENANCE_MARGIN_RATE,
) -> TicketResult:
    """Turn the form into an OrderRequest, or explain per field why it cannot be one."""
    errors: dict[str, str] = {}
    needed = FIELDS_FOR_TYPE[form.type]
    price = _decimal(form.price, "price", errors, required="price" in needed) if "price" in needed else None
    trigger = _decimal(form.trigger, "trigger", errors, required=True) if "trigger" in needed else None
    trail = _decimal(form.trail, "trail", errors, required=True) if "trail" in needed else None
    take_profit = _decimal(form.take_profit, "take_profit", errors, required=False)
    stop_loss = _decimal(form.stop_loss, "stop_loss", errors, required=False)
    leverage = _leverage(form.leverage, instrument, errors)
    for value, name, label in ((price, "price", "price"), (trigger, "trigger", "trigger"),
                               (take_profit, "take_profit", "take profit"), (stop_loss, "stop_loss", "stop loss")):
        _price_field(value, name, label, instrument, errors)

    raw_size = _decimal(form.size, "size", errors, required=True)
    ref = reference_price(price, trigger, mark)
    size: Decimal | None = None
    if raw_size is not None:
        if form.size_in_quote:
            if ref is None:
                errors["size"] = "no price yet to convert a quote amount"
            else:
                size = instrument.round_size(raw_size / (ref * instrument.contract_size))
                if size <= 0:
                    errors["size"] = f"{raw_size} {instrument.quote} is less than one lot ({instrument.lot_size})"
        else:
            size = raw_size
        if size is not None and "size" not in errors:
            problem = instrument.size_problem(size, ref)
            if problem:
                errors["size"] = problem
    if form.reduce_only and not instrument.is_perpetual:
        errors["reduce_only"] = "reduce-only applies to perpetuals only"
    if form.post_only and form.type is not OrderType.LIMIT:
        errors["post_only"] = "post-only applies to limit orders only"
    if form.post_only and form.time_in_force is not TimeInForce.GTC:
        errors["post_only"] = "post-only orders must be GTC"
    if errors or size is None:
        return TicketResult(errors=errors)

    try:
        request = OrderRequest(
            venue=venue,
            symbol=instrument.symbol,
            side=form.side,
            type=form.type,
            size=size,
            price=price,
            trigger_price=trigger,
            trailing_offset=trail,
            time_in_force=form.time_in_force,
            post_only=form.post_only,
            reduce_only=form.reduce_only,
            leverage=leverage,
            take_profit=take_profit,
            stop_loss=stop_loss,
        )
    except ValidationError as exc:
        return TicketResult(errors={"form": "; ".join(err["msg"].removeprefix("Value error, ") for err in exc.errors())})
    problems = request.validate_for(instrument)
    if problems:
        return TicketResult(errors={"form": "; ".join(problems)})
    return TicketResult(request=request, preview=preview(request, instrument, mark, maintenance_margin_rate))


def preview(
    request: OrderRequest, instrument: Instrument, mark: Decimal | None,
    maintenance_margin_rate: Decimal = MAINTENANCE_MARGIN_RATE,
) -> Preview | None:
    """Estimated notional, fee, initial margin and (perpetuals) liquidation price of the
    position this order opens at the reference price, computed as the engine books it."""
    ref = reference_price(request.price, request.trigger_price, mark)
    if ref is None:
        return None
    notional = request.size * ref * instrument.contract_size
    maker = request.type is OrderType.LIMIT and request.post_only
    fee = notional * (instrument.maker_fee if maker else instrument.taker_fee)
    margin, liquidation = notional, None
    if instrument.is_perpetual:
        margin, liquidation = perpetual_margin(request.side is Side.BUY, ref, request.size, instrument.contract_size,
                                               request.leverage or 1, maintenance_margin_rate)
    return Preview(size=request.size, notional=notional, fee=fee, margin=margin, liquidation=liquidation)


def describe(request: OrderRequest, instrument: Instrument) -> str:
    """One sentence that says exactly what will be sent, at the market's precision. A market
    order's time in force is left out: it fills at once or not at all, whatever it says."""
    size = show_size(instrument, request.size)
    parts = [f"{request.side.value.upper()} {request.type.value.replace('_', ' ').upper()} {size} {request.symbol}"]
    if request.price is not None:
        parts.append(f"at {show_price(instrument, request.price)} {instrument.quote}")
    if request.trigger_price is not None:
        parts.append(f"triggered at {show_price(instrument, request.trigger_price)}")
    if request.trailing_offset is not None:
        parts.append(f"trailing by {show_price(instrument, request.trailing_offset)}")
    if request.leverage:
        parts.append(f"at {request.leverage}x leverage")
    flags = [name for name, on in (("reduce-only", request.reduce_only), ("post-only", request.post_only)) if on]
    if flags:
        parts.append("(" + ", ".join(flags) + ")")
    if request.type is not OrderType.MARKET:
        parts.append(request.time_in_force.value)
    parts.append(f"on {request.venue}")
    return " ".join(parts)


def confirmation_reasons(
    request: OrderRequest, instrument: Instrument, notional: Decimal | None, mark: Decimal | None, live: bool,
    trading: TradingConfig,
) -> list[str]:
    """Why this order needs a person to confirm it; empty when it can go straight out."""
    reasons = []
    if live:
        reasons.append("this is a LIVE order with real money")
    if notional is not None and notional > trading.confirm_notional_above:
        reasons.append(f"notional {notional:,.2f} is above {trading.confirm_notional_above:,}")
    price = request.price or request.trigger_price
    if price is not None and mark:
        distance = abs(price - mark) / mark
        if distance > Decimal(str(trading.confirm_distance_pct)):
            reasons.append(f"price is {distance:.1%} from the mark {show_price(instrument, mark)}")
    return reasons
