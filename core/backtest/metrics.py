"""Performance of a run: the numbers a trader compares strategies by, from an equity curve and
the closed trades.

Ratios are annualised with the bar frequency over a 365-day year: crypto trades every day.
Values that have no meaning for a run (a profit factor without losing trades) are None rather
than infinity, so results stay valid JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, NamedTuple

import numpy as np

YEAR_MS = 365 * 86_400_000


class TradeRecord(NamedTuple):
    """One round trip: a position opened and closed (or reduced) at the given bars.

    A named tuple, not a dataclass: a fast backtest creates thousands per run.
    """

    symbol: str
    side: str  # "long" | "short"
    size: float
    entry_bar: int
    exit_bar: int
    entry_ts: int
    exit_ts: int
    entry_price: float
    exit_price: float
    pnl: float  # after both commissions
    fees: float
    strategy_id: str = ""

    @property
    def return_pct(self) -> float:
        """The trade's return on the capital it tied up, after commissions, in percent."""
        cost = self.size * self.entry_price
        return 100.0 * self.pnl / cost if cost else 0.0

    def to_dict(self) -> dict[str, object]:
        return {**self._asdict(), "return_pct": self.return_pct}


@dataclass(frozen=True)
class Metrics:
    start_equity: float
    final_equity: float
    total_return: float  # fraction: 0.25 is +25%
    cagr: float | None
    sharpe: float | None
    sortino: float | None
    calmar: float | None
    max_drawdown: float  # fraction, <= 0
    max_drawdown_duration_ms: int
    max_drawdown_duration_bars: int
    trades: int
    win_rate: float | None
    profit_factor: float | None
    avg_trade_pnl: float | None
    avg_trade_return_pct: float | None
    exposure: float  # share of bars with an open position
    fees: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def buy_and_hold_return(first_open: float, last_close: float, fee: float) -> float:
    """What holding the market did over the same candles, the yardstick for a strategy: bought
    at the first open, valued at the last close, with the commission paid in and out."""
    return last_close / first_open * (1.0 - fee) ** 2 - 1.0


def drawdown(equity: np.ndarray) -> np.ndarray:
    """Fraction below the running peak at each bar (0 at a new high, negative under water)."""
    peak = np.maximum.accumulate(equity)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(peak > 0, equity / peak - 1.0, 0.0)


def _longest_underwater(dd: np.ndarray, ts: np.ndarray) -> tuple[int, int]:
    """The longest stretch under a previous peak, in bars and milliseconds (to recovery or the end)."""
    under = dd < 0
    if not under.any():
        return 0, 0
    edges = np.diff(np.concatenate(([0], under.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    ends = np.flatnonzero(edges == -1)
    lengths = ends - starts
    k = int(np.argmax(lengths))
    first_under, recovered = int(starts[k]), int(ends[k])
    peak_bar = first_under - 1
    end_bar = min(recovered, len(ts) - 1)
    return int(lengths[k]), int(ts[end_bar] - ts[max(peak_bar, 0)])


def compute_metrics(
    equity: np.ndarray,
    ts: np.ndarray,
    trades: Sequence[TradeRecord],
    *,
    step_ms: int,
    start_equity: float,
    exposed_bars: int,
    fees: float,
) -> Metrics:
    """``equity`` is marked to market at each bar's close; ``ts`` are the bars' open times."""
    equity = np.asarray(equity, dtype=np.float64)
    final = float(equity[-1]) if len(equity) else start_equity
    total_return = final / start_equity - 1.0
    span_ms = (int(ts[-1]) - int(ts[0]) + step_ms) if len(ts) else 0
    cagr = (final / start_equity) ** (YEAR_MS / span_ms) - 1.0 if span_ms > 0 and final > 0 else None

    periods_per_year = YEAR_MS / step_ms
    curve = np.concatenate(([start_equity], equity))
    with np.errstate(divide="ignore", invalid="ignore"):
        returns = np.diff(curve) / curve[:-1]
    returns = returns[np.isfinite(returns)]
    sharpe = sortino = None
    if len(returns) > 1:
        std = float(returns.std(ddof=1))
        mean = float(returns.mean())
        if std > 0:
            sharpe = _finite(mean / std * math.sqrt(periods_per_year))
        downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
        if downside > 0:
            sortino = _finite(mean / downside * math.sqrt(periods_per_year))

    dd = drawdown(curve)[1:] if len(equity) else np.zeros(0)
    max_dd = float(dd.min()) if len(dd) else 0.0
    dd_bars, dd_ms = _longest_underwater(dd, ts) if len(dd) else (0, 0)
    calmar = _finite(cagr / -max_dd) if cagr is not None and max_dd < 0 else None

    pnls = np.array([t.pnl for t in trades], dtype=np.float64)
    wins, losses = pnls[pnls > 0], pnls[pnls < 0]
    return Metrics(
        start_equity=start_equity,
        final_equity=final,
        total_return=total_return,
        cagr=_finite(cagr) if cagr is not None else None,
        sharpe=sharpe,
        sortino=sortino,
        calmar=calmar,
        max_drawdown=max_dd,
        max_drawdown_duration_ms=dd_ms,
        max_drawdown_duration_bars=dd_bars,
        trades=len(trades),
        win_rate=len(wins) / len(pnls) if len(pnls) else None,
        profit_factor=float(wins.sum() / -losses.sum()) if len(losses) else None,
        avg_trade_pnl=float(pnls.mean()) if len(pnls) else None,
        avg_trade_return_pct=float(np.mean([t.return_pct for t in trades])) if trades else None,
        exposure=exposed_bars / len(equity) if len(equity) else 0.0,
        fees=fees,
    )
