"""Market agent: technical analysis across timeframes, plus the order book's imbalance and, on
a perpetual, what its funding and open interest say about the move.

Each timeframe gets a bullish-positive score from trend (EMA spread and slope in ATRs), MACD,
RSI momentum and the distance to VWAP; ADX and the agreement of those components set the
confidence. Timeframes are averaged, and disagreement between them lowers the confidence.
Funding and open interest (the data service's readings) weigh on the confidence, not the
direction: open interest growing with the move is new money behind it, shrinking is positions
closing; a funding rate beyond 0.05% paid by the side the score would join is a crowded trade.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from agents.base import Agent, AnalysisContext, clip01, scored_opinion
from agents.technicals import FAST, MIN_CANDLES, SLOW, Technicals, technicals, too_few
from core.models import AgentOpinion, OrderBook

COMPONENT_WEIGHTS = {"trend": 0.35, "slope": 0.2, "macd": 0.2, "rsi": 0.15, "vwap": 0.1}
BOOK_WEIGHT = 0.1
BOOK_LEVELS = 10
CROWDED_FUNDING = 0.0005  # per funding interval, paid by the side the score would join
CROWDED_FACTOR = 0.7
OI_GROWING_FACTOR = 1.15
OI_SHRINKING_FACTOR = 0.8


def timeframe_score(t: Technicals) -> tuple[float, float, dict[str, float]]:
    """Score in [-1, 1], confidence in [0, 1] and the components of one timeframe."""
    atr = t.atr if t.atr > 0 else 1e-12
    components = {
        "trend": math.tanh((t.ema_fast - t.ema_slow) / atr / 2.0),
        "slope": math.tanh(t.ema_fast_slope),
        "macd": math.tanh(t.macd_hist / atr * 2.0),
        "rsi": max(-1.0, min(1.0, (t.rsi - 50.0) / 25.0)) if math.isfinite(t.rsi) else 0.0,
        "vwap": math.tanh((t.close - t.vwap) / atr / 2.0),
    }
    score = sum(COMPONENT_WEIGHTS[k] * v for k, v in components.items())
    sign = np.sign(score)
    agreement = sum(COMPONENT_WEIGHTS[k] for k, v in components.items() if np.sign(v) == sign and sign != 0)
    trend_strength = clip01(t.adx / 40.0) if math.isfinite(t.adx) else 0.0
    confidence = agreement * (0.4 + 0.6 * trend_strength)
    return score, confidence, components


def book_imbalance(book: OrderBook, levels: int = BOOK_LEVELS) -> float | None:
    """(bid size - ask size) / total over the top levels; positive when buyers are heavier."""
    bids = sum(float(size) for _, size in book.bids[:levels])
    asks = sum(float(size) for _, size in book.asks[:levels])
    total = bids + asks
    return (bids - asks) / total if total > 0 else None


class MarketAgent(Agent):
    name = "market"
    min_candles = MIN_CANDLES

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        readings = [t for tf in context.timeframes if (t := technicals(context, tf)) is not None]
        if not readings:
            return self.no_data(too_few(context), context.data_age_ms())
        scores: list[float] = []
        confidences: list[float] = []
        parts: list[str] = []
        inputs: dict[str, Any] = {}
        for t in readings:
            score, confidence, components = timeframe_score(t)
            scores.append(score)
            confidences.append(confidence)
            parts.append(_describe(t, score))
            inputs[t.timeframe] = {
                "score": score, "confidence": confidence, **components,
                "rsi_value": t.rsi, "adx": t.adx, "atr_pct": t.atr_pct,
                "bb_pctb": t.bb_pctb, "volume_z": t.volume_z,
            }
        score = float(np.mean(scores))
        signs = np.sign(scores)
        cross_agreement = float(np.mean(signs == np.sign(score))) if score else 0.0
        confidence = float(np.mean(confidences)) * cross_agreement
        if context.order_book is not None:
            imbalance = book_imbalance(context.order_book)
            if imbalance is not None:
                score = (1 - BOOK_WEIGHT) * score + BOOK_WEIGHT * imbalance
                inputs["book_imbalance"] = imbalance
                parts.append(f"book imbalance {imbalance:+.2f} ({'bids' if imbalance >= 0 else 'asks'} heavier)")
        confidence = clip01(confidence * derivatives_view(context, score, parts, inputs))
        return scored_opinion(self.name, score, confidence, "; ".join(parts), inputs, context.data_age_ms())


def derivatives_view(context: AnalysisContext, score: float, parts: list[str], inputs: dict[str, object]) -> float:
    """The factor funding and open interest put on the confidence (1 without them); their
    readings go into ``inputs`` and a note each into ``parts``."""
    factor = 1.0
    side = "longs" if score >= 0 else "shorts"
    oi = [v for v in context.open_interest or () if math.isfinite(v) and v > 0]
    if len(oi) >= 2:
        change = oi[-1] / oi[0] - 1.0
        inputs["open_interest_change"] = change
        if change > 0:
            factor *= OI_GROWING_FACTOR
            parts.append(f"open interest {change:+.1%}: new money behind the move")
        elif change < 0:
            factor *= OI_SHRINKING_FACTOR
            parts.append(f"open interest {change:+.1%}: positions closing")
    rate = context.funding_rate
    if rate is not None and math.isfinite(rate):
        inputs["funding_rate"] = rate
        paid_by_our_side = rate if score >= 0 else -rate
        if paid_by_our_side > CROWDED_FUNDING:
            factor *= CROWDED_FACTOR
            parts.append(f"funding {rate * 100:+.4f}%: {side} crowded")
        else:
            parts.append(f"funding {rate * 100:+.4f}%")
    return factor


def _describe(t: Technicals, score: float) -> str:
    trend = "up" if t.ema_fast > t.ema_slow else "down"
    spread = abs(t.ema_fast - t.ema_slow) / t.atr if t.atr > 0 else 0.0
    regime = "trending" if t.adx >= 25 else "weak trend"
    volume = f", volume z {t.volume_z:+.1f}" if abs(t.volume_z) >= 1 else ""
    return (
        f"{t.timeframe} score {score:+.2f}: EMA{FAST} {'above' if trend == 'up' else 'below'} "
        f"EMA{SLOW} by {spread:.1f} ATR, MACD hist {'+' if t.macd_hist >= 0 else '-'}, "
        f"RSI {t.rsi:.0f}, ADX {t.adx:.0f} {regime}{volume}"
    )
