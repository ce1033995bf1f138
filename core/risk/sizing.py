"""How much of equity one trade should commit, by the three usual rules (the risk agent's
sizing advice); the pre-trade gate then holds every order to the position limits.
"""

from __future__ import annotations

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

