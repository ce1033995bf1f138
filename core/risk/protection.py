"""What protective levels may be and when they are reached: the rules, without side effects.

A long's stop-loss sits below the price and its take-profit above; a short's the other way
round. A level set on the wrong side would close the position at the next mark update, so it
is refused with a message, like a level off the instrument's tick. The automatic levels of
``trading.auto_protect`` are the configured distances from the entry, rounded to the tick.
"""

from __future__ import annotations

from decimal import Decimal

from core.config import TradingConfig
from core.models import Instrument, OrderRequest, Position, PositionSide, ProtectiveLevels, Side
from core.risk.rules import price_text

STOP_LOSS, TAKE_PROFIT = "stop_loss", "take_profit"
KINDS = (STOP_LOSS, TAKE_PROFIT)
LEVEL_NAMES = {STOP_LOSS: "stop-loss", TAKE_PROFIT: "take-profit"}
AUTO, MANUAL = "auto", "manual"


def source_of(strategy_id: str | None) -> str:
    """The label of levels an order carried: its strategy's, or the trader's."""
    return f"strategy:{strategy_id}" if strategy_id else MANUAL


def auto_levels(position: Position, instrument: Instrument, trading: TradingConfig) -> tuple[Decimal, Decimal]:
    """(stop-loss, take-profit) at the configured distances from the position's entry."""
    sign = 1 if position.side is PositionSide.LONG else -1
    stop = position.entry_price * (1 - sign * Decimal(str(trading.stop_loss_pct)))
    take = position.entry_price * (1 + sign * Decimal(str(trading.take_profit_pct)))
    return instrument.round_price(stop), instrument.round_price(take)


def level_problems(
    side: PositionSide,
    reference: Decimal | None,
    levels: dict[str, Decimal | None],
    instrument: Instrument,
    reference_name: str = "mark",
) -> dict[str, str]:
    """Why each given level (by kind, None for "no level") cannot protect a ``side`` position
    when the price is ``reference``; an empty dict when all can."""
    problems: dict[str, str] = {}
    for kind, value in levels.items():
        if value is None:
            continue
        name = LEVEL_NAMES[kind]
        problem = instrument.price_problem(value, name)
        if problem is None and reference is not None:
            below = (kind == STOP_LOSS) == (side is PositionSide.LONG)
            if below and value >= reference:
                problem = (f"a {side.value}'s {name} must be below the {reference_name} {price_text(reference)}; "
                           f"{price_text(value)} is not")
            elif not below and value <= reference:
                problem = (f"a {side.value}'s {name} must be above the {reference_name} {price_text(reference)}; "
                           f"{price_text(value)} is not")
        if problem is not None:
            problems[kind] = problem
    return problems


def order_level_problem(request: OrderRequest, instrument: Instrument, price: Decimal) -> str | None:
    """Why the stop-loss / take-profit an order carries could not protect the position it
    opens at ``price`` (the order's price, else the mark), or None."""
    if request.stop_loss is None and request.take_profit is None:
        return None
    side = PositionSide.LONG if request.side is Side.BUY else PositionSide.SHORT
    name = "limit price" if request.price is not None else "trigger price" if request.trigger_price else "mark"
    problems = level_problems(
        side, price, {STOP_LOSS: request.stop_loss, TAKE_PROFIT: request.take_profit}, instrument,
        f"{request.side.value} order's {name}",
    )
    return "; ".join(problems.values()) or None


def reached(levels: ProtectiveLevels, mark: Decimal) -> tuple[str, Decimal] | None:
    """(kind, level) of the level the mark has reached, the stop-loss first; None if neither."""
    long = levels.side is PositionSide.LONG
    stop, take = levels.stop_loss, levels.take_profit
    if stop is not None and ((mark <= stop) if long else (mark >= stop)):
        return STOP_LOSS, stop
    if take is not None and ((mark >= take) if long else (mark <= take)):
        return TAKE_PROFIT, take
    return None


def level_of(levels: ProtectiveLevels, kind: str) -> tuple[Decimal | None, str | None, str | None]:
    """(price, source, exchange order id) of one level."""
    if kind == STOP_LOSS:
        return levels.stop_loss, levels.stop_loss_source, levels.stop_loss_order
    return levels.take_profit, levels.take_profit_source, levels.take_profit_order


def describe(levels: ProtectiveLevels | None) -> dict[str, object] | None:
    """The levels as the audit log keeps them (prices as exact text)."""
    return None if levels is None else levels.model_dump(mode="json", exclude={"venue", "symbol", "updated_ts"})
