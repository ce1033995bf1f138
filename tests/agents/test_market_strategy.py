"""Market and Strategy agents on candles whose character is known."""

from __future__ import annotations

from decimal import Decimal

import pytest

from agents.base import Candles
from agents.market import MarketAgent, book_imbalance
from agents.strategy_agent import StrategyAgent
from core.models import Direction, OrderBook
from tests.agents.conftest import context_for, make_candles


async def test_market_buys_an_uptrend_and_sells_a_downtrend(uptrend: Candles, downtrend: Candles) -> None:
    up = await MarketAgent().analyze(context_for(uptrend))
    down = await MarketAgent().analyze(context_for(downtrend))
    assert up.direction is Direction.BUY and up.strength > 0.5 and up.confidence > 0.5
    assert down.direction is Direction.SELL and down.strength > 0.5
    assert "EMA20 above EMA50" in up.rationale and "RSI" in up.rationale and "ADX" in up.rationale
    assert up.inputs["1h"]["adx"] > 25
    assert up.has_data and up.data_age_ms == 0


async def test_market_holds_a_flat_market(flat: Candles) -> None:
    opinion = await MarketAgent().analyze(context_for(flat))
    assert opinion.direction is Direction.HOLD
    assert opinion.strength < 0.15


async def test_market_without_enough_candles_says_no_data() -> None:
    opinion = await MarketAgent().analyze(context_for(make_candles(n=30)))
    assert not opinion.has_data and opinion.direction is Direction.HOLD
    assert opinion.strength == 0 and opinion.confidence == 0
    assert opinion.rationale.startswith("no data")


async def test_market_timeframes_that_disagree_lower_confidence(uptrend: Candles, downtrend: Candles) -> None:
    agree = await MarketAgent().analyze(context_for(uptrend))
    mixed_ctx = context_for(uptrend)
    mixed_ctx.candles = {"1h": uptrend, "4h": make_candles(drift=-0.006, vol=0.004, seed=5, step_ms=4 * 3_600_000)}
    mixed = await MarketAgent().analyze(mixed_ctx)
    assert set(mixed.inputs) >= {"1h", "4h"}
    assert mixed.confidence < agree.confidence


async def test_order_book_imbalance_moves_the_score(flat: Candles) -> None:
    bids = [(Decimal(99), Decimal(50))]
    asks = [(Decimal(101), Decimal(1))]
    book = OrderBook(venue="paper", symbol="BTC/USDT", ts=0, bids=bids, asks=asks)
    assert book_imbalance(book) > 0.9
    plain = await MarketAgent().analyze(context_for(flat))
    with_book = await MarketAgent().analyze(context_for(flat, order_book=book))
    assert "bids heavier" in with_book.rationale
    expected = 0.9 * plain.inputs["1h"]["score"] + 0.1 * with_book.inputs["book_imbalance"]
    assert with_book.strength == pytest.approx(abs(expected), abs=1e-3)
    assert expected > plain.inputs["1h"]["score"]


async def test_strategy_sees_a_trend_and_picks_trend_following(uptrend: Candles, downtrend: Candles) -> None:
    up = await StrategyAgent().analyze(context_for(uptrend))
    down = await StrategyAgent().analyze(context_for(downtrend))
    assert up.inputs["regime"] == "trending" and up.inputs["family"] == "trend_following"
    assert up.direction is Direction.BUY and down.direction is Direction.SELL


async def test_strategy_stands_aside_in_a_volatility_shock() -> None:
    shocked = make_candles(n=300, vol=0.003, seed=6, shock_from=285, shock_vol=0.04)
    opinion = await StrategyAgent().analyze(context_for(shocked))
    assert opinion.inputs["regime"] == "volatile" and opinion.inputs["family"] == "stand_aside"
    assert opinion.direction is Direction.HOLD


async def test_strategy_fades_a_stretched_range(flat: Candles) -> None:
    close = flat.close.copy()
    close[-1] = close[-21:-1].mean() + 3 * close[-21:-1].std()
    stretched = Candles(flat.ts, flat.open, flat.high.clip(min=close), flat.low, close, flat.volume)
    opinion = await StrategyAgent().analyze(context_for(stretched))
    assert opinion.inputs["regime"] == "ranging" and opinion.inputs["family"] == "mean_reversion"
    assert opinion.direction is Direction.SELL
    assert "fade" in opinion.rationale


async def test_strategy_without_candles_says_no_data() -> None:
    opinion = await StrategyAgent().analyze(context_for(make_candles(n=20)))
    assert not opinion.has_data and opinion.direction is Direction.HOLD
