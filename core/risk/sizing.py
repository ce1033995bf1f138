"""How much of equity one trade should commit, by the three usual rules, and the size it makes.

Each rule returns a share of equity; ``position_size`` turns it into a size, caps it by the
position limits of ``risk_management`` and rounds it down to the lot size.
"""

from __future__ import annotations

from decimal import Decimal

from core.config import RiskConfig
from core.models import ZERO, Direction, Instrument, Signal

SIZING_METHODS = ("fixed_fraction", "volatility_target", "kelly")


class SizingError(ValueError):
    """A sizing request that cannot give a meaningful answer (missing or impossible inputs)."""


def kelly_fraction(win_rate: float, payoff: float) -> float:
    """Kelly's optimal share f* = W - (1 - W) / R; negative means the edge is against us."""
    if not 0 <= win_rate <= 1:
        raise SizingError(f"win rate must be between 0 and 1, got {win_rate}")
    if payoff <= 0:
        raise SizingError(f"payoff (average win / average loss) must be greater than 0, got {payoff}")
    return win_rate - (1 - win_rate) / payoff


def equity_share(
    method: str,
    *,
    fraction: float = 0.1,
    volatility: float | None = None,
    target_volatility: float = 0.02,
    win_rate: float | None = None,
    payoff: float | None = None,
    kelly_cap: float = 0.25,
) -> float:
    """The share of equity a position should have under ``method``, never below zero.

    volatility_target scales exposure so the position's volatility is ``target_volatility`` of
    equity: share = target / volatility (same period for both). Kelly is capped because the full
    Kelly bet is far too aggressive when the win rate and payoff are estimates.
    """
    if method == "fixed_fraction":
        if not 0 <= fraction <= 1:
            raise SizingError(f"fraction must be between 0 and 1, got {fraction}")
        return fraction
    if method == "volatility_target":
        if volatility is None or volatility <= 0:
            raise SizingError("volatility targeting needs the instrument's volatility, greater than 0")
        if target_volatility <= 0:
            raise SizingError(f"target volatility must be greater than 0, got {target_volatility}")
        return target_volatility / volatility
    if method == "kelly":
        if win_rate is None or payoff is None:
            raise SizingError("Kelly sizing needs a win rate and a payoff ratio")
        if not 0 <= kelly_cap <= 1:
            raise SizingError(f"Kelly cap must be between 0 and 1, got {kelly_cap}")
        return max(0.0, min(kelly_fraction(win_rate, payoff), kelly_cap))
    raise SizingError(f"unknown sizing method '{method}'; choose one of {', '.join(SIZING_METHODS)}")


def position_size(
    limits: RiskConfig,
    equity: Decimal,
    signal: Signal | None,
    instrument: Instrument,
    price: Decimal,
    *,
    method: str = "fixed_fraction",
    fraction: float = 0.1,
    volatility: float | None = None,
    target_volatility: float = 0.02,
    win_rate: float | None = None,
    payoff: float | None = None,
    kelly_cap: float = 0.25,
) -> Decimal:
    """A size in base units (contracts for perpetuals), rounded down to the lot size.

    A signal's strength scales the share (a half-strength signal trades half); a HOLD signal
    trades nothing. The result never exceeds the position limits, and is 0 when it would be
    below the instrument's minimum size or notional.
    """
    if price <= 0:
        raise ValueError(f"price must be greater than 0 to size a position, got {price}")
    if signal is not None and signal.direction is Direction.HOLD:
        return ZERO
    share = equity_share(
        method, fraction=fraction, volatility=volatility, target_volatility=target_volatility,
        win_rate=win_rate, payoff=payoff, kelly_cap=kelly_cap,
    )
    if signal is not None:
        share *= signal.strength
    if equity <= 0 or share <= 0:
        return ZERO
    cap = min(limits.max_position_size, equity * Decimal(str(limits.max_position_pct)))
    notional = min(equity * Decimal(str(share)), cap)
    unit_value = price * instrument.contract_size
    size = instrument.round_size(notional / unit_value)
    if size <= 0 or size < instrument.min_size or size * unit_value < instrument.min_notional:
        return ZERO
    return size
