"""The Risk agent's veto, scaling and sizing rules, one at a time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from agents.base import AnalysisContext, Candles, Proposal
from agents.risk_agent import RiskAgent
from core.config import RiskConfig
from core.models import AgentOpinion, Direction, Position, PositionSide
from tests.agents.conftest import context_for, make_candles


@pytest.fixture
def calm() -> Candles:
    return make_candles(n=300, drift=0.001, vol=0.004, seed=12)


def proposal_for(candles: Candles, direction: Direction = Direction.BUY, confidence: float = 0.6,
                 strength: float = 1.0, opinions: tuple[AgentOpinion, ...] = ()) -> Proposal:
    price = candles.last_close
    sign = 1 if direction is Direction.BUY else -1
    return Proposal(direction, strength, confidence, price, price * (1 - sign * 0.02), price * (1 + sign * 0.03),
                    opinions)


def assess(candles: Candles, proposal: Proposal | None = None, **kwargs: Any) -> tuple[Any, AnalysisContext]:
    context = context_for(candles, **kwargs)
    context.proposal = proposal if proposal is not None else proposal_for(candles)
    return RiskAgent().assess(context), context


def position(symbol: str, notional: float, side: PositionSide = PositionSide.LONG) -> Position:
    return Position(venue="paper", symbol=symbol, side=side, size=Decimal(str(notional / 100)), entry_price=Decimal(100))


def test_a_normal_proposal_is_approved_within_the_position_limit(calm: Candles) -> None:
    verdict, context = assess(calm)
    assert verdict.action == "approve", verdict.reasons
    assert verdict.size_fraction == pytest.approx(0.10)
    assert verdict.notional == Decimal("1000.00")
    assert verdict.size == (Decimal("1000.00") / Decimal(str(calm.last_close))).quantize(Decimal("0.00000001"), "ROUND_DOWN")
    opinion = RiskAgent().opinion_for(verdict, context)
    assert opinion.agent == "risk" and opinion.direction is Direction.BUY and opinion.strength == 1.0
    assert opinion.inputs["verdict"]["action"] == "approve"


def test_extreme_volatility_is_vetoed_and_a_moderate_shock_scaled() -> None:
    extreme = make_candles(n=300, vol=0.004, seed=13, shock_from=285, shock_vol=0.06)
    verdict, context = assess(extreme)
    assert verdict.vetoed and "volatility shock" in verdict.reasons[0]
    opinion = RiskAgent().opinion_for(verdict, context)
    assert opinion.direction is Direction.HOLD and opinion.rationale.startswith("veto: volatility shock")
    moderate = make_candles(n=300, vol=0.004, seed=13, shock_from=285, shock_vol=0.009)
    scaled, _ = assess(moderate)
    assert scaled.action == "scale" and 0 < scaled.scale < 1
    assert any("its norm: scaled down" in r for r in scaled.reasons)


def test_volatility_targeting_shrinks_the_share_of_a_wild_market() -> None:
    wild = make_candles(n=300, vol=0.03, seed=14)  # ~280% annualised, steady (no shock)
    verdict, _ = assess(wild)
    assert verdict.action == "scale"
    assert verdict.size_fraction == pytest.approx(verdict.checks["volatility_target_cap"], rel=1e-6)
    assert verdict.checks["volatility_target_cap"] < 0.03


def test_drawdown_scales_then_vetoes(calm: Candles) -> None:
    scaled, _ = assess(calm, equity=Decimal(9500), equity_peak=Decimal(10000))
    assert scaled.action == "scale" and scaled.size_fraction == pytest.approx(0.05)
    vetoed, _ = assess(calm, equity=Decimal(8900), equity_peak=Decimal(10000))
    assert vetoed.vetoed and "emergency stop" in vetoed.reasons[0]
    skipped, _ = assess(calm)
    assert skipped.checks["drawdown"].startswith("skipped")


def test_daily_loss_at_the_reducing_threshold_vetoes(calm: Candles) -> None:
    verdict, _ = assess(calm, daily_pnl=Decimal(-600))
    assert verdict.vetoed and "day's loss" in verdict.reasons[0]


def test_position_count_and_exposure_limits(calm: Candles) -> None:
    full = [position(s, 500) for s in ("ETH/USDT", "SOL/USDT", "XRP/USDT")]
    vetoed, _ = assess(calm, positions=full)
    assert vetoed.vetoed and "3 positions open" in vetoed.reasons[0]
    crowded = [position("ETH/USDT", 3500)]
    capped, _ = assess(calm, positions=crowded, risk=RiskConfig(max_total_exposure_pct=0.40))
    assert capped.size_fraction == pytest.approx(0.05)
    own = [position("BTC/USDT", 1200)]
    symbol_capped, _ = assess(calm, positions=own)
    assert symbol_capped.size_fraction == pytest.approx(0.03)


def test_a_correlated_holding_halves_the_size(calm: Candles) -> None:
    held = [position("ETH/USDT", 500)]
    verdict, _ = assess(calm, positions=held, peer_closes={"ETH/USDT": calm.close * 20})
    assert verdict.checks["correlation"]["ETH/USDT"] == pytest.approx(1.0)
    assert verdict.size_fraction == pytest.approx(0.05)
    hedge, _ = assess(calm, positions=[position("ETH/USDT", 500, PositionSide.SHORT)],
                      peer_closes={"ETH/USDT": calm.close * 20})
    assert hedge.size_fraction == pytest.approx(0.10)
    unknown, _ = assess(calm, positions=held)
    assert unknown.checks["correlation"]["ETH/USDT"].startswith("unknown")


def test_no_edge_means_no_trade(calm: Candles) -> None:
    verdict, _ = assess(calm, proposal=proposal_for(calm, confidence=0.0))
    assert verdict.vetoed and verdict.reasons[0].startswith("no edge: Kelly")
    modest, _ = assess(calm, proposal=proposal_for(calm, confidence=0.1))
    kelly = modest.checks["kelly"]
    assert modest.size_fraction == pytest.approx(0.5 * kelly)


def test_the_loss_at_the_stop_is_capped(calm: Candles) -> None:
    verdict, _ = assess(calm, equity=Decimal(1_000_000))
    assert verdict.size_fraction == pytest.approx(250 / (1_000_000 * 0.02))
    assert verdict.notional == Decimal("12500.00")


def test_macro_event_vetoes_and_extreme_sentiment_halves(calm: Candles) -> None:
    macro = AgentOpinion(agent="macro", direction=Direction.HOLD, strength=0, confidence=0.9,
                         inputs={"risk_event": "FOMC rate decision"})
    vetoed, _ = assess(calm, proposal=proposal_for(calm, opinions=(macro,)))
    assert vetoed.vetoed and vetoed.reasons[0] == "macro risk event: FOMC rate decision"
    mood = AgentOpinion(agent="sentiment", direction=Direction.HOLD, strength=0, confidence=0.3,
                        inputs={"extreme": "greed"})
    halved, _ = assess(calm, proposal=proposal_for(calm, opinions=(mood,)))
    assert halved.size_fraction == pytest.approx(0.05)


def test_nothing_to_check_without_a_proposal(calm: Candles) -> None:
    context = context_for(calm)
    verdict = RiskAgent().assess(context)
    assert verdict.action == "none"
    opinion = RiskAgent().opinion_for(verdict, context)
    assert opinion.direction is Direction.HOLD and opinion.rationale == "no trade proposed"


async def test_analyze_is_assess_then_opinion(calm: Candles) -> None:
    context = context_for(calm)
    context.proposal = proposal_for(calm, direction=Direction.SELL)
    opinion = await RiskAgent().analyze(context)
    assert opinion.direction is Direction.SELL
    assert opinion.inputs["verdict"]["direction"] == "sell"
