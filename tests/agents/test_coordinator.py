"""Coordinator: concurrency with clock-driven timeouts, fusion, conflicts, Risk's word, output."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest

from agents.base import Agent, AnalysisContext, Candles
from agents.calibration import Calibration
from agents.coordinator import Coordinator, FusionSettings
from agents.forecast import ForecastAgent
from agents.macro import MacroAgent
from agents.market import MarketAgent
from agents.onchain import OnChainAgent
from agents.risk_agent import RiskAgent
from agents.sentiment import SentimentAgent
from agents.strategy_agent import StrategyAgent
from core.clock import SimClock
from core.events import AgentDecision, EventBus, SignalGenerated
from core.models import AgentOpinion, Direction
from core.redact import register_secret
from tests.agents.conftest import context_for, make_candles


class Fixed(Agent):
    def __init__(self, name: str, direction: Direction, strength: float = 1.0, confidence: float = 1.0,
                 has_data: bool = True) -> None:
        self.name = name
        self.view = AgentOpinion(agent=name, direction=direction, strength=strength, confidence=confidence,
                                 rationale=f"{name} says {direction.value}", has_data=has_data)

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        return self.view


class Stuck(Agent):
    """Never answers until released: stands in for a hung data source."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.started = asyncio.Event()
        self.cancelled = False

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        self.started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            self.cancelled = True
            raise
        raise AssertionError("unreachable")


class Broken(Agent):
    name = "onchain"

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        raise RuntimeError("upstream said no to key sk-test-SECRET-123")


def team(clock: SimClock, *analysts: Agent, **settings) -> Coordinator:
    return Coordinator(list(analysts), RiskAgent(), clock, FusionSettings(**settings))


@pytest.fixture
def calm() -> Candles:
    return make_candles(n=300, drift=0.001, vol=0.004, seed=31)


def test_fusion_weighs_strength_by_weight_and_confidence(clock: SimClock) -> None:
    coordinator = team(clock)
    fusion = coordinator.fuse([
        Fixed("market", Direction.BUY, 0.8, 0.5).view,
        Fixed("strategy", Direction.BUY, 1.0, 1.0).view,
        Fixed("sentiment", Direction.SELL, 0.5, 0.5).view,
        Fixed("macro", Direction.HOLD, 0.0, 0.0, has_data=False).view,
    ])
    assert fusion.score == pytest.approx((0.3 * 0.5 * 0.8 + 0.2 * 1.0 - 0.1 * 0.5 * 0.5) / 0.6)
    assert fusion.direction is Direction.BUY
    assert fusion.weights["macro"] == 0.0 and fusion.weights["market"] == 0.3
    assert fusion.conflict == pytest.approx(0.025 / 0.32)
    assert fusion.confidence == pytest.approx((0.15 + 0.2) / 0.6 * (1 - 0.025 / 0.32))


def test_a_split_team_holds(clock: SimClock) -> None:
    fusion = team(clock).fuse([
        Fixed("market", Direction.BUY).view,
        Fixed("strategy", Direction.BUY).view,
        Fixed("forecast", Direction.SELL).view,
        Fixed("sentiment", Direction.SELL).view,
    ])
    assert fusion.score == pytest.approx(0.25)  # would be a buy on its own
    assert fusion.conflict == pytest.approx(0.6)
    assert fusion.direction is Direction.HOLD
    assert fusion.rationale.startswith("split team")


def test_no_data_everywhere_holds(clock: SimClock) -> None:
    fusion = team(clock).fuse([Fixed("market", Direction.BUY, 1, 1, has_data=False).view])
    assert fusion.direction is Direction.HOLD and fusion.rationale == "no agent had data"


def test_calibration_can_silence_an_overconfident_agent(clock: SimClock) -> None:
    silenced = Calibration([(0.0, 0.0), (1.0, 0.0)])
    coordinator = Coordinator([], RiskAgent(), clock, calibrations={"market": silenced})
    fusion = coordinator.fuse([Fixed("market", Direction.BUY, 1.0, 0.9).view])
    assert fusion.score == 0.0 and fusion.direction is Direction.HOLD


def test_calibration_fit_is_monotone_and_zero_for_coin_flips() -> None:
    confidences = [i / 100 for i in range(100)]
    correct = [(i % 2 == 0) if i < 50 else (i % 10 != 0) for i in range(100)]
    calibration = Calibration.fit(confidences, correct, bins=4)
    assert calibration(0.1) == pytest.approx(0.0, abs=0.05)
    assert calibration(0.9) == pytest.approx(0.8, abs=0.05)
    ys = [y for _, y in calibration.points]
    assert ys == sorted(ys)
    with pytest.raises(ValueError, match="too few"):
        Calibration.fit([0.5], [True])


async def test_a_stuck_agent_times_out_on_the_clock(clock: SimClock, calm: Candles) -> None:
    stuck = Stuck("macro")
    coordinator = team(clock, Fixed("market", Direction.BUY, 0.9, 0.9), stuck, timeout_s=5)
    task = asyncio.create_task(coordinator.decide(context_for(calm)))
    await stuck.started.wait()
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    clock.advance(4_999)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    clock.advance(1)
    decision = await task
    macro = decision.opinion("macro")
    assert macro is not None and not macro.has_data
    assert macro.rationale == "no data: timed out after 5 s"
    assert stuck.cancelled
    assert decision.weights["macro"] == 0.0
    assert decision.signal.direction is Direction.BUY


async def test_a_failing_agent_becomes_no_data_with_the_error(clock: SimClock, calm: Candles) -> None:
    register_secret("sk-test-SECRET-123")
    decision = await team(clock, Fixed("market", Direction.HOLD, 0, 0.5), Broken()).decide(context_for(calm))
    onchain = decision.opinion("onchain")
    assert onchain is not None and not onchain.has_data
    assert onchain.rationale == "no data: failed: RuntimeError: upstream said no to key ***"


async def test_full_team_on_an_uptrend_emits_a_buy_signal_with_levels(clock: SimClock) -> None:
    uptrend = make_candles(n=800, drift=0.003, vol=0.004, seed=32)
    bus = EventBus()
    seen = bus.subscribe(AgentDecision, SignalGenerated)
    analysts = [MarketAgent(), ForecastAgent(), StrategyAgent(), OnChainAgent(), SentimentAgent(), MacroAgent()]
    coordinator = Coordinator(analysts, RiskAgent(), clock, bus=bus)
    decision = await coordinator.decide(context_for(uptrend))
    signal = decision.signal
    assert signal.direction is Direction.BUY and signal.source == "coordinator"
    assert signal.generated_time == clock.now_ms() and signal.instrument_id == "BTC/USDT"
    price = uptrend.last_close
    assert signal.stop_loss < price < signal.take_profit
    assert signal.take_profit - price == pytest.approx(1.5 * (price - signal.stop_loss))
    assert signal.target_price is not None and signal.target_price > price
    assert 0 < signal.strength <= 1 and 0 < signal.confidence <= 1
    assert [o.agent for o in decision.opinions] == [
        "market", "forecast", "strategy", "risk", "onchain", "sentiment", "macro"]
    assert decision.verdict.action in ("approve", "scale")
    events = seen.drain()
    assert isinstance(events[0], AgentDecision) and events[0].signal is signal
    assert isinstance(events[1], SignalGenerated) and events[1].signal is signal
    payload = json.loads(json.dumps(decision.to_dict()))
    assert set(payload) >= {"signal", "opinions", "risk"}
    assert payload["signal"]["direction"] == "buy"
    assert all({"agent", "direction", "strength", "confidence", "rationale"} <= set(o) for o in payload["opinions"])
    assert payload["risk"]["action"] == decision.verdict.action


async def test_risk_veto_turns_the_signal_into_hold(clock: SimClock) -> None:
    shocked = make_candles(n=300, vol=0.004, seed=33, shock_from=285, shock_vol=0.06)
    decision = await team(clock, Fixed("market", Direction.BUY), Fixed("strategy", Direction.BUY)).decide(
        context_for(shocked))
    assert decision.verdict.vetoed
    assert decision.signal.direction is Direction.HOLD and decision.signal.strength == 0
    assert decision.signal.stop_loss is None
    risk = decision.opinion("risk")
    assert risk is not None and risk.rationale.startswith("veto: volatility shock")


async def test_risk_scaling_scales_the_signal(clock: SimClock, calm: Candles) -> None:
    decision = await team(clock, Fixed("market", Direction.SELL), Fixed("strategy", Direction.SELL)).decide(
        context_for(calm, equity=Decimal(9500), equity_peak=Decimal(10000)))
    assert decision.verdict.action == "scale"
    assert decision.signal.direction is Direction.SELL
    assert decision.verdict.scale == pytest.approx(0.5)
    assert decision.signal.strength == pytest.approx(0.5, abs=1e-3)
    assert decision.signal.stop_loss > calm.last_close > decision.signal.take_profit
    assert decision.signal.size_fraction == pytest.approx(decision.verdict.size_fraction), "the risk agent's size travels"
    assert decision.signal.size_fraction < decision.verdict.requested_fraction


def test_settings_and_names_are_checked(clock: SimClock) -> None:
    with pytest.raises(ValueError, match="negative"):
        FusionSettings(weights={"market": -1})
    with pytest.raises(ValueError, match="unique"):
        Coordinator([MarketAgent(), MarketAgent()], RiskAgent(), clock)


async def test_an_agent_may_ask_for_a_longer_timeout(clock: SimClock, calm: Candles) -> None:
    patient = Stuck("llm")
    patient.timeout_s = 30.0
    task = asyncio.create_task(team(clock, patient, timeout_s=5).decide(context_for(calm)))
    await patient.started.wait()
    clock.advance(5_000)
    for _ in range(5):
        await asyncio.sleep(0)
    assert not task.done()
    clock.advance(25_000)
    decision = await task
    llm = decision.opinion("llm")
    assert llm is not None and llm.rationale == "no data: timed out after 30 s"


def test_calibrations_are_fitted_from_what_followed_each_opinion() -> None:
    from agents.calibration import fit_calibrations

    def view(agent: str, direction: Direction, confidence: float) -> AgentOpinion:
        return AgentOpinion(agent=agent, direction=direction, strength=1.0, confidence=confidence)

    history = []
    for i in range(60):
        # market is right when confident and a coin flip when not; strategy is always wrong
        confident = i % 2 == 0
        market_right = confident or i % 4 == 1
        history.append((view("market", Direction.BUY, 0.9 if confident else 0.2), 0.01 if market_right else -0.01))
        history.append((view("strategy", Direction.SELL, 0.8), 0.01))
    history.append((view("macro", Direction.BUY, 0.9), 0.01))
    history.append((view("sentiment", Direction.HOLD, 0.9), 0.01))
    fitted, skipped = fit_calibrations(history, bins=2)
    assert fitted["market"](0.9) == pytest.approx(1.0) and fitted["market"](0.2) == pytest.approx(0.0)
    assert fitted["strategy"](0.8) == 0.0
    assert "too few" in skipped["macro"] and "sentiment" not in fitted and "sentiment" not in skipped


async def test_a_team_on_too_few_candles_abstains_and_says_how_many_it_needs(clock: SimClock) -> None:
    """Every agent marks its opinion as without data and says why, the risk agent included (it
    answered 'no trade proposed' as if it had looked); the team says how many candles it needs."""
    analysts = [MarketAgent(), ForecastAgent(), StrategyAgent(), OnChainAgent(), SentimentAgent(), MacroAgent()]
    coordinator = Coordinator(analysts, RiskAgent(), clock)
    assert coordinator.min_candles == 314, "the built-in forecast model at horizon 12"
    decision = await coordinator.decide(context_for(make_candles(n=12)))
    assert not any(o.has_data for o in decision.opinions)
    reasons = {o.agent: o.rationale for o in decision.opinions}
    assert reasons["market"] == reasons["strategy"] == "no data: 12 1h candles are too few (need 60)"
    assert reasons["risk"] == "no data: 12 1h candles are too few (need 60) to measure volatility"
    assert "12 candles are too few to train and test the model (need 314)" in reasons["forecast"]
    assert decision.signal.direction is Direction.HOLD and set(decision.weights.values()) == {0.0}
