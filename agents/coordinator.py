"""Coordinator: asks every agent at once, fuses their views, lets Risk decide, emits a Signal.

1. Every analyst runs concurrently with a timeout (the agent's own ``timeout_s`` or the
   default; measured on the Clock, so a test can time one out by advancing a simulated clock). A late or failing agent becomes a "no data"
   opinion carrying the reason; it never stalls or breaks the decision.
2. Fusion: each agent with data votes ``direction x strength`` with weight ``w x calibrated
   confidence``; the score is the votes' sum over the weights of the agents that had data, so an
   unsure agent pulls toward holding and an agent without data has no say at all.
3. Conflict: when the weaker side carries a large share of the stronger side's weight, the
   coordinator holds rather than pick a side of a split team.
4. Risk runs last on the proposal (price, stops from ATR multiples) and approves, scales or
   vetoes it; the Signal carries what Risk allowed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from agents.base import Agent, AnalysisContext, Proposal, direction_of, json_safe, no_data_opinion
from agents.calibration import Calibration
from agents.risk_agent import RiskAgent, RiskVerdict
from agents.technicals import technicals
from core.events import AgentDecision, EventBus, SignalGenerated
from core.models import AgentOpinion, Direction, Signal
from core.ports import Clock
from core.redact import redact

log = logging.getLogger(__name__)

AGENT_ORDER = ("market", "forecast", "strategy", "risk", "onchain", "sentiment", "macro", "llm")
DEFAULT_WEIGHTS: dict[str, float] = {
    "market": 0.30,
    "forecast": 0.20,
    "strategy": 0.20,
    "onchain": 0.10,
    "sentiment": 0.10,
    "macro": 0.10,
    "llm": 0.10,
}
_SIGN = {Direction.BUY: 1.0, Direction.SELL: -1.0, Direction.HOLD: 0.0}


@dataclass(frozen=True, slots=True)
class FusionSettings:
    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_WEIGHTS))
    threshold: float = 0.15  # |score| needed to act
    conflict_limit: float = 0.6  # weaker side / stronger side at which the team is split
    stop_atr: float = 2.0
    take_profit_atr: float = 3.0
    timeout_s: float = 5.0

    def __post_init__(self) -> None:
        if any(w < 0 for w in self.weights.values()):
            raise ValueError("agent weights must not be negative")
        if not 0 < self.threshold < 1:
            raise ValueError("the fusion threshold must be between 0 and 1")
        if self.stop_atr <= 0 or self.take_profit_atr <= 0:
            raise ValueError("stop and take-profit distances must be positive ATR multiples")
        if self.timeout_s <= 0:
            raise ValueError("the agent timeout must be positive")


@dataclass
class Decision:
    """One analysis of one symbol: every opinion, how it was weighed, the signal, the verdict."""

    symbol: str
    timeframe: str | None
    created_ms: int
    opinions: list[AgentOpinion]
    weights: dict[str, float]
    score: float
    conflict: float
    signal: Signal
    verdict: RiskVerdict
    rationale: str

    def opinion(self, agent: str) -> AgentOpinion | None:
        return next((o for o in self.opinions if o.agent == agent), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "symbol": self.symbol,
            "timeframe": self.timeframe,
            "created_ms": self.created_ms,
            "signal": self.signal.model_dump(mode="json"),
            "opinions": [
                {
                    "agent": o.agent,
                    "direction": o.direction.value,
                    "strength": o.strength,
                    "confidence": o.confidence,
                    "rationale": o.rationale,
                    "has_data": o.has_data,
                    "data_age_ms": o.data_age_ms,
                    "weight": self.weights.get(o.agent, 0.0),
                    "inputs": json_safe(o.inputs),
                }
                for o in self.opinions
            ],
            "weights": dict(self.weights),
            "score": round(self.score, 6),
            "conflict": round(self.conflict, 6),
            "rationale": self.rationale,
            "risk": self.verdict.to_dict(),
        }


@dataclass(frozen=True, slots=True)
class Fusion:
    direction: Direction
    score: float
    confidence: float
    conflict: float
    weights: dict[str, float]
    rationale: str


class Coordinator:
    def __init__(
        self,
        analysts: Sequence[Agent],
        risk: RiskAgent,
        clock: Clock,
        settings: FusionSettings | None = None,
        calibrations: Mapping[str, Calibration] | None = None,
        bus: EventBus | None = None,
    ) -> None:
        names = [a.name for a in analysts]
        if len(set(names)) != len(names) or risk.name in names:
            raise ValueError(f"agent names must be unique: {', '.join([*names, risk.name])}")
        self.analysts = list(analysts)
        self.risk = risk
        self.clock = clock
        self.settings = settings or FusionSettings()
        self.calibrations = dict(calibrations or {})
        self.bus = bus

    @property
    def min_candles(self) -> int:
        """Candles of the primary timeframe every agent needs to have a view."""
        return max(agent.min_candles for agent in [*self.analysts, self.risk])

    async def decide(self, context: AnalysisContext) -> Decision:
        opinions = list(await asyncio.gather(*(self._consult(a, context) for a in self.analysts)))
        fusion = self.fuse(opinions)
        proposal = self._proposal(context, fusion, opinions)
        context.proposal = proposal
        verdict = self.risk.assess(context)
        risk_opinion = self.risk.opinion_for(verdict, context)
        signal = self._signal(context, fusion, proposal, verdict, opinions)
        ordered = sorted([*opinions, risk_opinion], key=_order_key)
        decision = Decision(
            symbol=context.symbol,
            timeframe=context.primary_timeframe,
            created_ms=signal.generated_time,
            opinions=ordered,
            weights=fusion.weights,
            score=fusion.score,
            conflict=fusion.conflict,
            signal=signal,
            verdict=verdict,
            rationale=fusion.rationale,
        )
        if self.bus is not None:
            self.bus.publish(AgentDecision(context.symbol, tuple(ordered), signal, verdict.to_dict()))
            self.bus.publish(SignalGenerated(signal))
        return decision

    async def _consult(self, agent: Agent, context: AnalysisContext) -> AgentOpinion:
        timeout = getattr(agent, "timeout_s", None) or self.settings.timeout_s
        task = asyncio.ensure_future(agent.analyze(context))
        timer = asyncio.ensure_future(self.clock.sleep(timeout))
        try:
            await asyncio.wait({task, timer}, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            task.cancel()
            raise
        finally:
            timer.cancel()
        if not task.done():
            task.cancel()
            log.warning("%s agent timed out on %s", agent.name, context.symbol)
            return no_data_opinion(agent.name, f"timed out after {timeout:g} s")
        try:
            opinion = task.result()
        except Exception as exc:
            message = redact(f"{type(exc).__name__}: {exc}")
            log.warning("%s agent failed on %s: %s", agent.name, context.symbol, message)
            return no_data_opinion(agent.name, f"failed: {message}")
        if not isinstance(opinion, AgentOpinion) or opinion.agent != agent.name:
            return no_data_opinion(agent.name, "failed: the agent returned something other than its opinion")
        return opinion

    def fuse(self, opinions: Sequence[AgentOpinion]) -> Fusion:
        weights: dict[str, float] = {}
        votes = {Direction.BUY: 0.0, Direction.SELL: 0.0}
        agreeing = {Direction.BUY: 0.0, Direction.SELL: 0.0, Direction.HOLD: 0.0}
        total = 0.0
        for o in opinions:
            weight = self.settings.weights.get(o.agent, 0.0) if o.has_data else 0.0
            calibrate = self.calibrations.get(o.agent)
            confidence = calibrate(o.confidence) if calibrate else o.confidence
            weights[o.agent] = weight
            total += weight
            if o.direction in votes:
                votes[o.direction] += weight * confidence * o.strength
            agreeing[o.direction] += weight * confidence
        if total <= 0:
            return Fusion(Direction.HOLD, 0.0, 0.0, 0.0, weights, "no agent had data")
        score = (votes[Direction.BUY] - votes[Direction.SELL]) / total
        strong, weak = max(votes.values()), min(votes.values())
        conflict = weak / strong if strong > 0 else 0.0
        direction = direction_of(score, self.settings.threshold)
        if direction is not Direction.HOLD and conflict >= self.settings.conflict_limit:
            rationale = (f"split team: buy weight {votes[Direction.BUY]:.3f} against sell weight "
                         f"{votes[Direction.SELL]:.3f}; holding")
            direction = Direction.HOLD
        elif direction is Direction.HOLD:
            rationale = f"score {score:+.3f} inside the +/-{self.settings.threshold:g} band: holding"
        else:
            rationale = f"score {score:+.3f}: {direction.value}"
        confidence = agreeing[direction] / total * (1.0 - conflict)
        return Fusion(direction, score, min(1.0, confidence), conflict, weights, rationale)

    def _proposal(self, context: AnalysisContext, fusion: Fusion, opinions: Sequence[AgentOpinion]) -> Proposal:
        t = technicals(context)
        if t is None or fusion.direction is Direction.HOLD or t.atr <= 0:
            price = t.close if t is not None else 0.0
            return Proposal(Direction.HOLD, 0.0, fusion.confidence, price, None, None, tuple(opinions))
        sign = _SIGN[fusion.direction]
        return Proposal(
            direction=fusion.direction,
            strength=min(1.0, abs(fusion.score)),
            confidence=fusion.confidence,
            price=t.close,
            stop_loss=t.close - sign * self.settings.stop_atr * t.atr,
            take_profit=t.close + sign * self.settings.take_profit_atr * t.atr,
            opinions=tuple(opinions),
        )

    def _signal(
        self,
        context: AnalysisContext,
        fusion: Fusion,
        proposal: Proposal,
        verdict: RiskVerdict,
        opinions: Sequence[AgentOpinion],
    ) -> Signal:
        now = self.clock.now_ms()
        if proposal.direction is Direction.HOLD or verdict.vetoed:
            return Signal(instrument_id=context.symbol, direction=Direction.HOLD, strength=0.0,
                          confidence=round(fusion.confidence, 4), generated_time=now, source="coordinator")
        return Signal(
            instrument_id=context.symbol,
            direction=proposal.direction,
            strength=round(min(1.0, proposal.strength * verdict.scale), 4),
            confidence=round(fusion.confidence, 4),
            target_price=_target(proposal, opinions),
            stop_loss=proposal.stop_loss,
            take_profit=proposal.take_profit,
            generated_time=now,
            source="coordinator",
            size_fraction=round(min(1.0, verdict.size_fraction), 6),
        )


def _target(proposal: Proposal, opinions: Sequence[AgentOpinion]) -> float | None:
    """The forecast's price when the forecast agrees with the trade, else the take-profit."""
    forecast = next((o for o in opinions if o.agent == "forecast" and o.has_data), None)
    if forecast is not None and forecast.direction is proposal.direction:
        target = forecast.inputs.get("target_price")
        if isinstance(target, float | int):
            return float(target)
    return proposal.take_profit


def _order_key(opinion: AgentOpinion) -> tuple[int, str]:
    try:
        return AGENT_ORDER.index(opinion.agent), opinion.agent
    except ValueError:
        return len(AGENT_ORDER), opinion.agent
