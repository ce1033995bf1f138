"""The Market agent reads a perpetual's funding and open interest (the data service's readings):
they weigh on its confidence, never its direction."""

from __future__ import annotations

import pytest

from agents.base import Candles
from agents.market import MarketAgent
from tests.agents.conftest import context_for


async def test_open_interest_growing_with_the_move_confirms_it_and_shrinking_doubts_it(uptrend: Candles) -> None:
    plain = await MarketAgent().analyze(context_for(uptrend))
    growing = await MarketAgent().analyze(context_for(uptrend, open_interest=[80_000.0, 84_000.0, 88_000.0]))
    shrinking = await MarketAgent().analyze(context_for(uptrend, open_interest=[88_000.0, 80_000.0]))
    assert growing.direction is plain.direction and growing.strength == plain.strength
    assert growing.confidence == pytest.approx(min(1.0, plain.confidence * 1.15))
    assert shrinking.confidence == pytest.approx(plain.confidence * 0.8)
    assert growing.inputs["open_interest_change"] == pytest.approx(0.1)
    assert "open interest +10.0%: new money behind the move" in growing.rationale
    assert "positions closing" in shrinking.rationale


async def test_funding_paid_by_the_side_it_would_join_is_a_crowded_trade(uptrend: Candles, downtrend: Candles) -> None:
    plain = await MarketAgent().analyze(context_for(uptrend))
    crowded = await MarketAgent().analyze(context_for(uptrend, funding_rate=0.0008))  # longs pay 0.08%
    paid_to_longs = await MarketAgent().analyze(context_for(uptrend, funding_rate=-0.0008))
    assert crowded.confidence == pytest.approx(plain.confidence * 0.7) and "longs crowded" in crowded.rationale
    assert paid_to_longs.confidence == pytest.approx(plain.confidence)
    assert paid_to_longs.inputs["funding_rate"] == -0.0008 and "funding -0.0800%" in paid_to_longs.rationale
    short_crowded = await MarketAgent().analyze(context_for(downtrend, funding_rate=-0.0008))
    assert "shorts crowded" in short_crowded.rationale
