"""On-chain agent: flows and network activity from a provider, open interest as a proxy.

Real on-chain data (exchange net flows, active addresses) needs an outside source; configure
one and its score is used as given. Without one, the only honest stand-in from exchange data is
open interest, labelled as a proxy: money entering the market along with the move confirms it,
money leaving says the move is covering rather than conviction.
"""

from __future__ import annotations

import math

import numpy as np

from agents.base import AnalysisContext
from agents.external import Evidence, ExternalAgent

OI_SCALE = 0.05  # a 5% change in open interest over the window is a clear inflow
OI_CONFIDENCE = 0.35
OI_MIN_POINTS = 2


class OnChainAgent(ExternalAgent):
    name = "onchain"

    def proxies(self, context: AnalysisContext) -> list[Evidence]:
        candles = context.series()
        oi = context.open_interest
        if oi is None or len(oi) < OI_MIN_POINTS or candles is None or len(candles) < 2:
            return []
        values = np.asarray(oi, dtype=np.float64)
        if values[0] <= 0 or not np.all(np.isfinite(values)):
            return []
        oi_change = float(values[-1] / values[0] - 1.0)
        span = min(len(values), len(candles))
        price_change = float(candles.close[-1] / candles.close[-span] - 1.0)
        direction = 1.0 if price_change >= 0 else -1.0
        if oi_change > 0:
            score = direction * math.tanh(oi_change / OI_SCALE)
            note = f"open interest {oi_change:+.1%} with price {price_change:+.1%}: new money behind the move"
        else:
            score = 0.0
            note = f"open interest {oi_change:+.1%} with price {price_change:+.1%}: positions closing, no conviction"
        return [Evidence("open_interest", score, OI_CONFIDENCE, f"proxy (exchange data, not on-chain): {note}")]
