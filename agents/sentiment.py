"""Sentiment agent: the crowd's mood and positioning.

From a provider: its score and a 0-100 ``fear_greed`` metric (alternative.me's index, read
straight from its API, or any source in the providers' shape). From exchange data: a
fear-and-greed style index computed from momentum, volatility and volume (a proxy, labelled as
such and given low confidence, since it restates price action), the funding rate and the
long/short ratio, both read contrarian: a crowded side pays and tends to get squeezed.

How extreme a reading is, ``extremity``, runs from 0 at 50 to 1 at 0 or 100, with 0.8 at 25 and 75,
where alternative.me's "extreme fear" and "extreme greed" bands begin: 88 is 0.90, 10 is 0.96.
At an extreme the agent does not chase the mood; it flags it so the Risk agent sizes down, and an
outside reading's extremity is what the dynamic limits (``dynamic_risk.sentiment_extreme``) act on.
The proxy's extremity is reported apart (``proxy_extremity``): price action alone never cuts the
trader's position limit.
"""

from __future__ import annotations

import math

from agents.base import AnalysisContext
from agents.external import Evidence, ExternalAgent
from agents.providers import ProviderData
from agents.technicals import technicals

EXTREME = 0.8  # extremity from which the mood is extreme: an index of 75 and above, 25 and below
EXTREME_DISTANCE = 25.0  # |index - 50| at which the extremity is EXTREME
FUNDING_SCALE = 0.0003  # 0.03% per funding interval: clearly crowded
PROXY_CONFIDENCE = 0.3
POSITIONING_CONFIDENCE = 0.4


def fear_greed_proxy(momentum: float, vol_short: float, vol_long: float, volume_z: float) -> float:
    """A 0-100 index: rising prices, calm markets and heavy volume read as greed."""
    momentum_part = math.tanh(momentum / 0.05)
    calm_part = math.tanh(1.0 - vol_short / vol_long) if vol_long > 0 else 0.0
    volume_part = math.tanh(volume_z / 2.0) * (1.0 if momentum >= 0 else -1.0)
    return 50.0 + 50.0 * (0.5 * momentum_part + 0.3 * calm_part + 0.2 * volume_part)


def extremity(index: float) -> float:
    """0 for a 0-100 index at 50, EXTREME at 25 or 75, 1 at 0 or 100, linear in between."""
    distance = min(abs(index - 50.0), 50.0)
    if distance <= EXTREME_DISTANCE:
        return EXTREME * distance / EXTREME_DISTANCE
    return EXTREME + (1.0 - EXTREME) * (distance - EXTREME_DISTANCE) / (50.0 - EXTREME_DISTANCE)


def mood_evidence(index: float, label: str, confidence: float, extremity_key: str = "extremity") -> Evidence:
    mood = (index - 50.0) / 50.0
    word = "greed" if mood > 0 else "fear"
    level = round(extremity(index), 4)
    if level >= EXTREME:
        return Evidence("fear_greed", 0.0, confidence, f"{label} {index:.0f}: extreme {word}, not chased",
                        {"extreme": word, extremity_key: level})
    return Evidence("fear_greed", mood, confidence, f"{label} {index:.0f} ({word})", {extremity_key: level})


class SentimentAgent(ExternalAgent):
    name = "sentiment"

    def from_provider(self, data: ProviderData) -> list[Evidence]:
        evidence = super().from_provider(data)
        value = data.metrics.get("fear_greed")
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 100:
            confidence = data.confidence if data.confidence is not None else 0.5
            evidence.append(mood_evidence(float(value), f"{self.provider_label()} fear & greed", confidence))
        return evidence

    def proxies(self, context: AnalysisContext) -> list[Evidence]:
        evidence = []
        t = technicals(context)
        if t is not None:
            index = fear_greed_proxy(t.momentum, t.vol_short, t.vol_long, t.volume_z)
            evidence.append(mood_evidence(index, "fear & greed proxy (price, volatility, volume)", PROXY_CONFIDENCE,
                                          "proxy_extremity"))
        if context.funding_rate is not None:
            rate = context.funding_rate
            side = "longs" if rate > 0 else "shorts"
            evidence.append(
                Evidence("funding", -math.tanh(rate / FUNDING_SCALE), POSITIONING_CONFIDENCE,
                         f"funding {rate * 100:+.4f}%: {side} pay, read contrarian")
            )
        if context.long_short_ratio is not None and context.long_short_ratio > 0:
            ratio = context.long_short_ratio
            evidence.append(
                Evidence("long_short", -math.tanh(math.log(ratio) / math.log(2.0)), POSITIONING_CONFIDENCE,
                         f"long/short ratio {ratio:.2f}, read contrarian")
            )
        return evidence
