"""Risk agent: the last word on the coordinator's proposal.

It sizes the trade as a share of equity and then applies every limit it knows. Each check
either caps the share, scales it down or vetoes the trade, and says why:

* volatility targeting: the share shrinks as realised volatility rises above the target;
* a volatility shock (short-term volatility several times its norm) scales down or vetoes;
* capped Kelly: the win probability implied by the confidence and the reward/risk of the stop
  and take-profit give the Kelly share, halved (by default) and capped by the position limit;
  no edge means no trade;
* drawdown from the equity peak and the day's loss against the configured limits;
* the number of open positions, per-symbol and total exposure;
* correlation with the symbols already held;
* the loss at the stop against the largest loss an order may risk;
* a macro risk event pauses new trades; extreme sentiment halves the size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, Decimal
from typing import Any

import numpy as np

from agents.base import Agent, AnalysisContext, Proposal, clip01, json_safe
from agents.technicals import MIN_CANDLES, technicals, too_few
from core.models import AgentOpinion, Direction, PositionSide
from core.risk.sizing import equity_share, kelly_fraction

# The win probability the Kelly formula sees: zero confidence is break-even at a 1.5 reward/risk.
BASE_WIN_PROBABILITY = 0.4
CONFIDENCE_TO_PROBABILITY = 0.3
CORRELATION_WINDOW = 100
KELLY_EPSILON = 1e-9  # break-even computed in floating point is not an edge


class Action:
    APPROVE = "approve"
    SCALE = "scale"
    VETO = "veto"
    NONE = "none"


@dataclass
class RiskVerdict:
    action: str
    direction: Direction
    requested_fraction: float = 0.0
    size_fraction: float = 0.0
    notional: Decimal = Decimal(0)
    size: Decimal = Decimal(0)
    reasons: list[str] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        return clip01(self.size_fraction / self.requested_fraction) if self.requested_fraction > 0 else 0.0

    @property
    def vetoed(self) -> bool:
        return self.action == Action.VETO

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "direction": self.direction.value,
            "scale": round(self.scale, 4),
            "requested_fraction": round(self.requested_fraction, 6),
            "size_fraction": round(self.size_fraction, 6),
            "notional": str(self.notional),
            "size": str(self.size),
            "reasons": list(self.reasons),
            "checks": json_safe(self.checks),
        }


class _Sizing:
    """Accumulates caps and scale factors with their reasons."""

    def __init__(self, requested: float) -> None:
        self.fraction = requested
        self.reasons: list[str] = []
        self.veto: str | None = None

    def cap(self, limit: float, reason: str) -> None:
        if limit < self.fraction:
            self.fraction = max(0.0, limit)
            self.reasons.append(reason)

    def scale(self, factor: float, reason: str) -> None:
        if factor < 1.0:
            self.fraction *= max(0.0, factor)
            self.reasons.append(reason)

    def refuse(self, reason: str) -> None:
        if self.veto is None:
            self.veto = reason


class RiskAgent(Agent):
    name = "risk"
    min_candles = MIN_CANDLES

    def __init__(
        self,
        target_volatility: float = 0.6,
        shock_ratio: float = 1.5,
        veto_ratio: float = 3.0,
        kelly_fraction: float = 0.5,
        min_fraction: float = 0.001,
    ) -> None:
        """``target_volatility`` is annualised; ``shock_ratio`` and ``veto_ratio`` compare the
        last 20 candles' volatility with the window's."""
        self.target_volatility = target_volatility
        self.shock_ratio = shock_ratio
        self.veto_ratio = veto_ratio
        self.kelly_fraction = kelly_fraction
        self.min_fraction = min_fraction

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        return self.opinion_for(self.assess(context), context)

    def opinion_for(self, verdict: RiskVerdict, context: AnalysisContext) -> AgentOpinion:
        age = context.data_age_ms()
        if technicals(context) is None:
            return self.no_data(f"{too_few(context)} to measure volatility", age)
        if verdict.action == Action.NONE:
            text = "; ".join(verdict.reasons) or "nothing to check"
            return AgentOpinion(agent=self.name, direction=Direction.HOLD, strength=0.0, confidence=1.0,
                                rationale=text, inputs={"verdict": verdict.to_dict()}, data_age_ms=age)
        if verdict.vetoed:
            rationale = "veto: " + "; ".join(verdict.reasons)
        else:
            share = f"{verdict.size_fraction:.2%} of equity ({verdict.notional} notional)"
            rationale = f"{verdict.action} to {share}" + (": " + "; ".join(verdict.reasons) if verdict.reasons else "")
        return AgentOpinion(
            agent=self.name,
            direction=Direction.HOLD if verdict.vetoed else verdict.direction,
            strength=round(0.0 if verdict.vetoed else verdict.scale, 4),
            confidence=1.0,
            rationale=rationale,
            inputs={"verdict": verdict.to_dict()},
            data_age_ms=age,
        )

    def assess(self, context: AnalysisContext) -> RiskVerdict:
        proposal = context.proposal
        if proposal is None or proposal.direction is Direction.HOLD:
            return RiskVerdict(Action.NONE, Direction.HOLD, reasons=["no trade proposed"])
        limits = context.risk
        requested = limits.max_position_pct * clip01(proposal.strength)
        sizing = _Sizing(requested)
        checks: dict[str, Any] = {}
        self._check_account(context, proposal, sizing, checks)
        self._check_market(context, proposal, sizing, checks)
        self._check_kelly(proposal, sizing, checks, limits.max_position_pct)
        self._check_order_loss(context, proposal, sizing, checks)
        self._check_opinions(proposal, sizing)
        if sizing.veto is None and sizing.fraction < self.min_fraction:
            sizing.refuse(f"size {sizing.fraction:.3%} of equity is below the {self.min_fraction:.2%} minimum")
        if sizing.veto is not None:
            return RiskVerdict(Action.VETO, proposal.direction, requested, 0.0,
                               reasons=[sizing.veto, *sizing.reasons], checks=checks)
        notional = (context.equity * Decimal(str(round(sizing.fraction, 8)))).quantize(Decimal("0.01"), ROUND_DOWN)
        size = (notional / Decimal(str(proposal.price))).quantize(Decimal("0.00000001"), ROUND_DOWN)
        action = Action.SCALE if sizing.fraction < requested * 0.999 else Action.APPROVE
        return RiskVerdict(action, proposal.direction, requested, sizing.fraction, notional, size,
                           sizing.reasons, checks)

    def _check_account(self, context: AnalysisContext, proposal: Proposal, sizing: _Sizing, checks: dict[str, Any]) -> None:
        limits = context.risk
        equity = float(context.equity)
        if equity <= 0:
            sizing.refuse("no equity to size against")
            return
        if context.equity_peak is not None and context.equity_peak > 0:
            drawdown = max(0.0, 1.0 - equity / float(context.equity_peak))
            checks["drawdown"] = drawdown
            if drawdown >= limits.emergency_stop_loss:
                sizing.refuse(f"drawdown {drawdown:.1%} reached the emergency stop {limits.emergency_stop_loss:.0%}")
            else:
                sizing.scale(1.0 - drawdown / limits.emergency_stop_loss,
                             f"drawdown {drawdown:.1%} of {limits.emergency_stop_loss:.0%} allowed: scaled")
        else:
            checks["drawdown"] = "skipped: no equity peak given"
        if context.daily_pnl is not None:
            loss = max(0.0, -float(context.daily_pnl) / equity)
            checks["daily_loss"] = loss
            if loss >= limits.max_daily_loss_pct * limits.reducing_at_loss_fraction:
                sizing.refuse(f"day's loss {loss:.1%} is at the reducing threshold of the {limits.max_daily_loss_pct:.0%} limit")
        side = PositionSide.LONG if proposal.direction is Direction.BUY else PositionSide.SHORT
        others = {p.symbol for p in context.positions if p.symbol != context.symbol and p.size > 0}
        checks["open_positions"] = len(others)
        own = [p for p in context.positions if p.symbol == context.symbol and p.size > 0]
        adds_to_own = any(p.side is side for p in own)
        if len(others) >= limits.max_open_positions and not own:
            sizing.refuse(f"{len(others)} positions open, the limit is {limits.max_open_positions}")
        total = sum(float(p.notional) for p in context.positions) / equity
        mine = sum(float(p.notional) for p in own if p.side is side) / equity
        checks["total_exposure"], checks["symbol_exposure"] = total, mine
        room_total = limits.max_total_exposure_pct - total
        room_symbol = limits.max_symbol_exposure_pct - mine if adds_to_own or not own else limits.max_symbol_exposure_pct
        if room_total <= 0:
            sizing.refuse(f"total exposure {total:.0%} is at the {limits.max_total_exposure_pct:.0%} limit")
        sizing.cap(room_total, f"capped by the total exposure limit ({total:.1%} used)")
        if room_symbol <= 0:
            sizing.refuse(f"{context.symbol} exposure {mine:.0%} is at the {limits.max_symbol_exposure_pct:.0%} limit")
        sizing.cap(room_symbol, f"capped by the {context.symbol} exposure limit ({mine:.1%} used)")
        self._check_correlation(context, side, sizing, checks)

    def _check_correlation(self, context: AnalysisContext, side: PositionSide, sizing: _Sizing, checks: dict[str, Any]) -> None:
        candles = context.series()
        held = {p.symbol: p.side for p in context.positions if p.symbol != context.symbol and p.size > 0}
        if not held:
            return
        if candles is None:
            checks["correlation"] = "skipped: no candles"
            return
        mine = np.diff(np.log(candles.close[-CORRELATION_WINDOW - 1 :]))
        correlations: dict[str, float | str] = {}
        for symbol, their_side in held.items():
            closes = context.peer_closes.get(symbol)
            if closes is None:
                correlations[symbol] = "unknown: no prices"
                continue
            theirs = np.diff(np.log(np.asarray(closes, dtype=np.float64)[-CORRELATION_WINDOW - 1 :]))
            n = min(len(mine), len(theirs))
            if n < 10 or np.std(mine[-n:]) == 0 or np.std(theirs[-n:]) == 0:
                correlations[symbol] = "unknown: too little data"
                continue
            corr = float(np.corrcoef(mine[-n:], theirs[-n:])[0, 1])
            correlations[symbol] = corr
            same_bet = (corr > 0) == (their_side is side)
            if abs(corr) >= context.risk.max_correlation and same_bet:
                sizing.scale(0.5, f"{corr:+.2f} correlated with the {their_side.value} {symbol}: same bet twice, halved")
        checks["correlation"] = correlations

    def _check_market(self, context: AnalysisContext, proposal: Proposal, sizing: _Sizing, checks: dict[str, Any]) -> None:
        t = technicals(context)
        if t is None:
            sizing.refuse("no candles to measure volatility")
            return
        ratio = t.vol_short / t.vol_long if t.vol_long > 0 else 1.0
        checks |= {"volatility": t.vol_short, "volatility_norm": t.vol_long, "volatility_ratio": ratio}
        if ratio >= self.veto_ratio:
            sizing.refuse(f"volatility shock: {ratio:.1f}x its norm (veto at {self.veto_ratio:.1f}x)")
        elif ratio >= self.shock_ratio:
            sizing.scale(self.shock_ratio / ratio, f"volatility {ratio:.1f}x its norm: scaled down")
        if t.vol_short > 0:
            share = equity_share("volatility_target", volatility=t.vol_short, target_volatility=self.target_volatility)
            target_cap = context.risk.max_position_pct * min(1.0, share)
            checks["volatility_target_cap"] = target_cap
            sizing.cap(target_cap, f"volatility {t.vol_short:.0%} above the {self.target_volatility:.0%} target")

    def _check_kelly(self, proposal: Proposal, sizing: _Sizing, checks: dict[str, Any], max_fraction: float) -> None:
        if proposal.stop_loss is None or proposal.take_profit is None:
            checks["kelly"] = "skipped: no stop or take-profit"
            return
        risk = abs(proposal.price - proposal.stop_loss)
        reward = abs(proposal.take_profit - proposal.price)
        if risk <= 0 or reward <= 0:
            checks["kelly"] = "skipped: stop or take-profit at the price"
            return
        b = reward / risk
        p = BASE_WIN_PROBABILITY + CONFIDENCE_TO_PROBABILITY * clip01(proposal.confidence)
        kelly = kelly_fraction(p, b)
        checks |= {"win_probability": p, "reward_risk": b, "kelly": kelly}
        if kelly <= KELLY_EPSILON:
            sizing.refuse(f"no edge: Kelly {kelly:+.3f} at win probability {p:.0%} and reward/risk {b:.2f}")
            return
        sizing.cap(min(max_fraction, self.kelly_fraction * kelly),
                   f"capped Kelly ({self.kelly_fraction:g} x {kelly:.3f})")

    def _check_order_loss(self, context: AnalysisContext, proposal: Proposal, sizing: _Sizing, checks: dict[str, Any]) -> None:
        equity = float(context.equity)
        if proposal.stop_loss is None or equity <= 0 or proposal.price <= 0:
            return
        stop_distance = abs(proposal.price - proposal.stop_loss) / proposal.price
        if stop_distance > 0:
            cap = float(context.risk.max_order_loss) / (equity * stop_distance)
            checks["order_loss_cap"] = cap
            sizing.cap(cap, f"loss at the stop limited to {context.risk.max_order_loss}")

    def _check_opinions(self, proposal: Proposal, sizing: _Sizing) -> None:
        for opinion in proposal.opinions:
            event = opinion.inputs.get("risk_event")
            if event:
                sizing.refuse(f"macro risk event: {event}")
            extreme = opinion.inputs.get("extreme")
            if extreme:
                sizing.scale(0.5, f"extreme {extreme} in sentiment: halved")

