"""Strategy agent: which regime the market is in and which strategy family fits it.

Volatile (short-term volatility well above its own norm) comes first: no family trades that
well, so the agent holds. Trending needs both a strong ADX and an efficient path; the agent then
sides with the trend. Otherwise the market is ranging and mean reversion fits: the agent leans
against a stretched price and holds near the middle.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from agents.base import Agent, AnalysisContext, clip01, scored_opinion
from agents.technicals import MIN_CANDLES, technicals, too_few
from core.models import AgentOpinion


class Regime(StrEnum):
    TRENDING = "trending"
    RANGING = "ranging"
    VOLATILE = "volatile"


FAMILIES = {
    Regime.TRENDING: "trend_following",
    Regime.RANGING: "mean_reversion",
    Regime.VOLATILE: "stand_aside",
}


class StrategyAgent(Agent):
    name = "strategy"
    min_candles = MIN_CANDLES

    def __init__(
        self,
        trend_adx: float = 25.0,
        trend_efficiency: float = 0.3,
        volatile_ratio: float = 1.8,
        stretch_z: float = 2.0,
    ) -> None:
        self.trend_adx = trend_adx
        self.trend_efficiency = trend_efficiency
        self.volatile_ratio = volatile_ratio
        self.stretch_z = stretch_z

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        t = technicals(context)
        if t is None:
            return self.no_data(too_few(context), context.data_age_ms())
        vol_ratio = t.vol_short / t.vol_long if t.vol_long > 0 else 1.0
        inputs: dict[str, Any] = {"adx": t.adx, "efficiency": t.efficiency, "vol_ratio": vol_ratio, "price_z": t.price_z}
        if vol_ratio >= self.volatile_ratio:
            regime, score = Regime.VOLATILE, 0.0
            confidence = clip01((vol_ratio - 1.0) / self.volatile_ratio)
            why = f"volatility {vol_ratio:.1f}x its norm: no family trades this well"
        elif t.adx >= self.trend_adx and t.efficiency >= self.trend_efficiency:
            regime = Regime.TRENDING
            up = t.plus_di >= t.minus_di
            score = (1.0 if up else -1.0) * clip01(0.5 * t.adx / 50.0 + 0.5 * t.efficiency)
            confidence = clip01(0.5 + 0.5 * (t.adx - self.trend_adx) / self.trend_adx) * clip01(2 * t.efficiency)
            why = f"ADX {t.adx:.0f} and efficiency {t.efficiency:.2f}: a {'rising' if up else 'falling'} trend"
        else:
            regime = Regime.RANGING
            stretch = t.price_z / self.stretch_z
            score = -stretch if abs(stretch) >= 1.0 else 0.0
            confidence = clip01(1.0 - t.adx / 50.0) * (0.6 if score else 0.3)
            why = (
                f"ADX {t.adx:.0f}, efficiency {t.efficiency:.2f}: ranging; price z-score {t.price_z:+.1f}"
                + (", stretched: fade it" if score else ", near the middle: wait")
            )
        family = FAMILIES[regime]
        inputs |= {"regime": regime.value, "family": family}
        rationale = f"regime {regime.value} -> {family}: {why}"
        return scored_opinion(self.name, score, confidence, rationale, inputs, context.data_age_ms())
