"""The vectorised backtest path: a strategy's target exposure per bar, filled at the next open.

For a strategy that can say "after the close of bar i I want to hold x of my equity" for all
bars at once (``Strategy.vector_targets``), the simulation only has to visit the bars where the
target changes; the equity curve between them is one numpy expression. The fill convention is
the event-driven path's (and backtesting.py's): a change decided at bar i's close fills at bar
i+1's open; the old position is closed first, then the new one opened with the given share of
the cash, in whole lots, with the commission paid on both sides.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.backtest.data import Bars
from core.backtest.metrics import TradeRecord, compute_metrics
from core.backtest.result import BacktestResult, BacktestSettings


@dataclass
class TargetRun:
    equity: np.ndarray
    trades: list[TradeRecord]
    exposed_bars: int
    fees: float
    final_position: float


def simulate_targets(
    bars: Bars, targets: np.ndarray, settings: BacktestSettings, *, strategy_id: str = ""
) -> TargetRun:
    """``targets[i]`` is the signed share of equity to hold after bar i's close (0 = flat)."""
    n = len(bars)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.shape != (n,):
        raise ValueError(f"expected {n} targets, one per bar, got shape {targets.shape}")
    if np.isnan(targets).any():
        raise ValueError(f"target exposure is NaN at bar {int(np.flatnonzero(np.isnan(targets))[0])}")
    sizes = np.abs(targets[targets != 0])
    if sizes.size and (sizes != sizes[0]).any():
        # the event path trades the difference when only the size changes; here a change closes
        # and reopens, so the two paths agree only while every position has the same size
        raise ValueError("vectorised targets must use a single exposure size (long +x, short -x, flat 0)")
    fee, lot = settings.fee, settings.lot_size
    cash, size, entry, entry_fee, entry_bar, entry_ts = settings.cash, 0.0, 0.0, 0.0, 0, 0
    starts, seg_cash, seg_size, seg_entry = [0], [cash], [0.0], [0.0]
    trades: list[TradeRecord] = []
    fees = 0.0
    changes = np.flatnonzero(np.diff(targets, prepend=0.0) != 0)
    changes = changes[changes < n - 1]
    # plain Python numbers for the loop: indexing numpy arrays one element at a time is slow
    fill_bars = (changes + 1).tolist()
    for bar, price, when, target in zip(fill_bars, bars.open[changes + 1].tolist(), bars.ts[changes + 1].tolist(),
                                        targets[changes].tolist(), strict=True):
        if size != 0.0:
            exit_fee = abs(size) * price * fee
            gross = size * (price - entry)
            cash += gross - exit_fee
            fees += exit_fee
            trades.append(TradeRecord(
                bars.symbol, "long" if size > 0 else "short", abs(size), entry_bar, bar, entry_ts, when, entry, price,
                gross - exit_fee - entry_fee, entry_fee + exit_fee, strategy_id,
            ))
            size = 0.0
        if target != 0.0:
            units = math.floor(cash * abs(target) / (price * (1.0 + fee)) / lot)
            if units > 0:
                size = math.copysign(units * lot, target)
                entry, entry_bar, entry_ts = price, bar, when
                entry_fee = abs(size) * price * fee
                cash -= entry_fee
                fees += entry_fee
        seg_cash.append(cash)
        seg_size.append(size)
        seg_entry.append(entry)
    starts.extend(fill_bars)
    lengths = np.diff(np.append(np.asarray(starts), n))
    held = np.repeat(np.asarray(seg_size), lengths)
    equity = np.repeat(np.asarray(seg_cash), lengths) + held * (bars.close - np.repeat(np.asarray(seg_entry), lengths))
    return TargetRun(equity, trades, int(np.count_nonzero(held)), fees, size)


def run_fast(
    strategy_cls: Any, bars: Bars, params: dict[str, Any], settings: BacktestSettings, *, strategy_id: str = ""
) -> BacktestResult:
    """Backtest a strategy class through its ``vector_targets`` (see the module docstring)."""
    started = time.perf_counter()
    params = strategy_cls.validate_params(params)
    targets = strategy_cls.vector_targets(bars, params)
    run = simulate_targets(bars, targets, settings, strategy_id=strategy_id or strategy_cls.name)
    metrics = compute_metrics(
        run.equity, bars.ts, run.trades, step_ms=bars.step_ms, start_equity=settings.cash,
        exposed_bars=run.exposed_bars, fees=run.fees,
    )
    return BacktestResult(
        strategy=strategy_cls.name, params=dict(params), symbol=bars.symbol, timeframe=bars.timeframe,
        engine="fast", metrics=metrics, ts=bars.ts, equity=run.equity, trades=run.trades,
        final_position=run.final_position, elapsed_s=time.perf_counter() - started,
    )
