"""The latest indicator readings of one timeframe, computed once per cycle and shared.

Market, Strategy, Risk and Sentiment all read the same handful of numbers; computing them here,
memoised on the context, keeps a full cycle to one pass over each timeframe's candles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agents.base import YEAR_MS, AnalysisContext, Candles, timeframe_ms
from core import indicators as ta

WINDOW = 400  # candles looked at per timeframe: enough for every warm-up, small enough to be fast
MIN_CANDLES = 60  # the slow EMA (50) plus a few readings
FAST, SLOW = 20, 50


@dataclass(frozen=True, slots=True)
class Technicals:
    timeframe: str
    close: float
    ema_fast: float
    ema_slow: float
    ema_fast_slope: float  # change of the fast EMA over 5 candles, in ATRs
    atr: float
    atr_pct: float
    rsi: float
    macd_hist: float
    adx: float
    plus_di: float
    minus_di: float
    vwap: float
    bb_pctb: float  # 0 at the lower band, 1 at the upper
    bb_width: float  # band width over the middle band
    volume_z: float
    efficiency: float  # Kaufman efficiency ratio over 20 candles
    vol_short: float  # realised volatility of the last 20 candles, annualised
    vol_long: float  # same over the whole window
    price_z: float  # close's z-score over 20 candles
    momentum: float  # log return over 20 candles
    drawdown: float  # from the window's highest close
    candles: int


def too_few(context: AnalysisContext, timeframe: str | None = None) -> str:
    """Why ``technicals`` has nothing for a timeframe, in the words an opinion says it."""
    tf = timeframe or context.primary_timeframe
    if tf is None:
        return "no candles"
    candles = context.series(tf)
    return f"{len(candles) if candles is not None else 0} {tf} candles are too few (need {MIN_CANDLES})"


def technicals(context: AnalysisContext, timeframe: str | None = None) -> Technicals | None:
    """Latest readings for a timeframe (primary by default), or None with too few candles."""
    tf = timeframe or context.primary_timeframe
    if tf is None:
        return None
    return context.memo(f"technicals:{tf}", lambda: _compute(context.series(tf), tf))


def _compute(candles: Candles | None, timeframe: str) -> Technicals | None:
    if candles is None or len(candles) < MIN_CANDLES:
        return None
    c = candles.tail(WINDOW)
    close, high, low, volume = c.close, c.high, c.low, c.volume
    ema_fast = ta.ema(close, FAST)
    ema_slow = ta.ema(close, SLOW)
    atr = ta.last(ta.atr(high, low, close, 14))
    _, _, hist = ta.macd(close)
    adx, plus_di, minus_di = ta.adx(high, low, close, 14)
    mid, upper, lower = ta.bollinger(close, 20, 2.0)
    band = ta.last(upper) - ta.last(lower)
    per_year = YEAR_MS / timeframe_ms(timeframe)
    returns = ta.log_returns(close)
    last = float(close[-1])
    safe_atr = atr if atr > 0 else max(last * 1e-9, 1e-12)
    return Technicals(
        timeframe=timeframe,
        close=last,
        ema_fast=ta.last(ema_fast),
        ema_slow=ta.last(ema_slow),
        ema_fast_slope=float((ema_fast[-1] - ema_fast[-6]) / safe_atr),
        atr=atr,
        atr_pct=atr / last if last else float("nan"),
        rsi=ta.last(ta.rsi(close, 14)),
        macd_hist=ta.last(hist),
        adx=ta.last(adx),
        plus_di=ta.last(plus_di),
        minus_di=ta.last(minus_di),
        vwap=ta.last(ta.vwap(high, low, close, volume, 50)),
        bb_pctb=(last - ta.last(lower)) / band if band > 0 else 0.5,
        bb_width=band / ta.last(mid) if ta.last(mid) else float("nan"),
        volume_z=_finite(ta.last(ta.zscore(volume, 20))),
        efficiency=ta.last(ta.efficiency_ratio(close, 20)),
        vol_short=float(np.nanstd(returns[-20:]) * math.sqrt(per_year)),
        vol_long=float(np.nanstd(returns) * math.sqrt(per_year)),
        price_z=_finite(ta.last(ta.zscore(close, 20))),
        momentum=float(math.log(last / close[-21])) if close[-21] > 0 else 0.0,
        drawdown=float(1.0 - last / np.max(close)),
        candles=len(c),
    )


def _finite(value: float) -> float:
    return value if math.isfinite(value) else 0.0
