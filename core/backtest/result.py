"""What a backtest produces and the settings both backtest paths share."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.backtest.metrics import Metrics, TradeRecord

# Above this, sizing in lots overflows; no account is that large.
MAX_CASH = 1e15


@dataclass(frozen=True)
class Slippage:
    """Synthetic depth the event-driven backtester puts around each price it replays.

    ``levels`` price levels per side, ``step_bps`` apart, each holding ``level_notional`` of the
    quote currency (0 = unlimited, so every order fills at the touch). ``half_spread_bps`` moves
    both sides away from the replayed price. A market order larger than the depth walks the
    book and the remainder is canceled: that is where slippage and partial fills come from.
    """

    half_spread_bps: float = 0.0
    levels: int = 1
    step_bps: float = 1.0
    level_notional: float = 0.0


@dataclass(frozen=True)
class BacktestSettings:
    """Account and execution assumptions. ``fee`` is the commission as a fraction of notional;
    ``lot_size`` is the smallest tradable size (1e-8: fractional, like one satoshi)."""

    cash: float = 10_000.0
    fee: float = 0.001
    lot_size: float = 1e-8
    latency_ms: int = 0
    slippage: Slippage = field(default_factory=Slippage)

    def problems(self) -> list[str]:
        """Every setting out of its range, NaN and infinities included: a negative spread or
        depth would pay the strategy for trading, an infinite cash overflows the sizing."""
        found = []
        if not 0 < self.cash <= MAX_CASH:
            found.append(f"cash must be greater than 0 and at most {MAX_CASH:,.0f} (got {self.cash})")
        if not 0 <= self.fee < 0.1:
            found.append(f"fee must be a fraction between 0 and 0.1, e.g. 0.001 for 0.1% (got {self.fee})")
        if not self.lot_size > 0:
            found.append(f"lot size must be greater than 0 (got {self.lot_size})")
        if self.latency_ms < 0:
            found.append(f"latency must not be negative (got {self.latency_ms} ms)")
        slippage = self.slippage
        if not 0 <= slippage.half_spread_bps < 10_000:
            found.append(f"spread must be between 0 and 10000 basis points (got {slippage.half_spread_bps})")
        if not 0 <= slippage.level_notional < math.inf:
            found.append(f"depth must be 0 (unlimited) or a positive amount per level (got {slippage.level_notional})")
        return found


@dataclass
class BacktestResult:
    strategy: str
    params: dict[str, Any]
    symbol: str
    timeframe: str
    engine: str  # "fast" | "event"
    metrics: Metrics
    ts: np.ndarray
    equity: np.ndarray
    trades: list[TradeRecord]
    final_position: float  # signed size still open at the end, marked to the last close
    elapsed_s: float = 0.0
    funding: float = 0.0  # received by the perpetual positions (negative: paid), in the equity curve
    #: with the live pre-trade gate (``--with-risk``): what it refused, by rule, and what tripped
    risk: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """Everything but the curves, JSON-ready: what `opentrade backtest --json` prints."""
        return {
            "strategy": self.strategy,
            "params": self.params,
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "engine": self.engine,
            "bars": int(len(self.ts)),
            **self.metrics.to_dict(),
            "final_position": self.final_position,
            "funding": self.funding,
            "elapsed_s": round(self.elapsed_s, 6),
            **({"risk": self.risk} if self.risk is not None else {}),
        }
