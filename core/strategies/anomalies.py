"""Working orders that no strategy manages as it should, for `opentrade doctor`.

Read from the database's open orders (the venue's view arrives at the next start, when the
engine reconciles): orders of a strategy that is not configured or not enabled rest at the venue
with nobody to answer their fills; several orders of one strategy at one price and side are
duplicates; a grid's orders are one ladder only when each stands at one of its levels, one per
level, the buys under the sells.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from core.config import StrategyConfig
from core.models import Order, Side
from core.strategies.base import ParameterError
from core.strategies.grid import Grid, grid_levels
from core.strategies.registry import kind_of

POSITIONS_SCREEN = "the Positions screen (key 2) of 'opentrade trade'"


@dataclass(frozen=True)
class Anomaly:
    strategy_id: str
    problem: str
    fix: str


def order_anomalies(
    orders: Sequence[Order], configs: Mapping[str, StrategyConfig], params: Mapping[str, Mapping[str, Any]]
) -> list[Anomaly]:
    """``orders`` are the open orders, ``params`` each configured strategy's parameters in force."""
    by_strategy: defaultdict[str, list[Order]] = defaultdict(list)
    for order in orders:
        if order.strategy_id:
            by_strategy[order.strategy_id].append(order)
    found = []
    for strategy_id, own in sorted(by_strategy.items()):
        config = configs.get(strategy_id)
        count = f"{len(own)} open order{'s' if len(own) > 1 else ''} of strategy '{strategy_id}'"
        if config is None:
            found.append(Anomaly(strategy_id, f"{count}, which is not configured: nothing answers their fills",
                                 f"cancel them on {POSITIONS_SCREEN}, or configure the strategy again: "
                                 "once started it adopts them"))
            continue
        if not config.enabled:
            found.append(Anomaly(strategy_id, f"{count}, which is not enabled: nothing answers their fills",
                                 f"enable it (enabled: true) so it adopts them at the next start, or cancel them "
                                 f"on {POSITIONS_SCREEN}"))
        is_grid = kind_of(strategy_id, config) == "grid"
        duplicates = _duplicates(own)
        if duplicates:
            fix = ("start the engine with the grid enabled: it keeps one order per rung and cancels the others"
                   if is_grid else f"cancel the extra ones on {POSITIONS_SCREEN}")
            found.append(Anomaly(strategy_id, f"several open orders of '{strategy_id}' at one price: {duplicates}", fix))
        problem = _ladder_problem(own, params.get(strategy_id, config.params)) if is_grid else ""
        if problem:
            found.append(Anomaly(
                strategy_id, f"the open orders of grid '{strategy_id}' are not one ladder: {problem}",
                "start the engine with the grid enabled: it re-adopts one order per rung at its levels and "
                f"cancels the others (to stop it instead, disable it and cancel them on {POSITIONS_SCREEN})",
            ))
    return found


def _duplicates(orders: Sequence[Order]) -> str:
    counts = Counter((o.symbol, o.side.value, o.price) for o in orders)
    repeated = sorted((str(key), key, n) for key, n in counts.items() if n > 1)
    shown = ", ".join(f"{n} {side}s of {symbol} at {price}" for _, (symbol, side, price), n in repeated[:3])
    more = len(repeated) - 3
    return f"{shown}, and {more} more price{'s' if more > 1 else ''} like these" if more > 0 else shown


def _ladder_problem(orders: Sequence[Order], params: Mapping[str, Any]) -> str:
    """What keeps the orders from being one ladder of the grid with ``params``, or ''."""
    symbols = sorted({o.symbol for o in orders})
    if len(symbols) > 1:
        return f"they are on {len(symbols)} markets ({', '.join(symbols)})"
    try:
        p = Grid.validate_params(params)
    except ParameterError:
        return ""  # `config validate` reports the parameters
    levels = grid_levels(p["lower"], p["upper"], p["levels"], p["spacing"])
    near = min(b - a for a, b in pairwise(levels)) / 100  # a tick's rounding, far less than a level's step
    prices = {o.price for o in orders if o.price is not None}
    off = sorted(price for price in prices if min(abs(float(price) - level) for level in levels) > near)
    if off:
        return f"{', '.join(map(str, off))} {'is' if len(off) == 1 else 'are'} no level of it"
    buys = [o.price for o in orders if o.side is Side.BUY and o.price is not None]
    sells = [o.price for o in orders if o.side is Side.SELL and o.price is not None]
    if buys and sells and max(buys) >= min(sells):
        return f"a buy at {max(buys)} is not under the lowest sell at {min(sells)}"
    return ""
