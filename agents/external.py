"""The shared shape of the On-chain, Sentiment and Macro agents.

Each has an optional outside provider and, where exchange data can honestly stand in, proxies.
Every piece of evidence is labelled with where it came from; the opinion is the
confidence-weighted mean of the evidence. With no evidence at all the agent says "no data".
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from agents.base import Agent, AnalysisContext, clip01, scored_opinion
from agents.providers import DataProvider, ProviderData, ProviderError
from core.models import AgentOpinion

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Evidence:
    name: str
    score: float  # bullish-positive, [-1, 1]
    confidence: float
    note: str
    flags: Mapping[str, Any] = field(default_factory=dict)  # facts the Risk agent acts on


class ExternalAgent(Agent):
    """Subclasses implement ``from_provider`` and, where they have any, ``proxies``."""

    def __init__(self, provider: DataProvider | None = None, max_age_ms: int = 6 * 3_600_000) -> None:
        self.provider = provider
        self.max_age_ms = max_age_ms

    def from_provider(self, data: ProviderData) -> list[Evidence]:
        """Evidence from the provider's document: its score, and the metrics the agent knows."""
        if data.score is None:
            return []
        confidence = data.confidence if data.confidence is not None else 0.5
        note = data.summary or f"score {data.score:+.2f}"
        return [Evidence("provider", data.score, confidence, f"{self.provider_label()}: {note}")]

    def proxies(self, context: AnalysisContext) -> list[Evidence]:
        return []

    def provider_label(self) -> str:
        return self.provider.name if self.provider is not None else "provider"

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        evidence: list[Evidence] = []
        problems: list[str] = []
        data_age: int | None = None
        if self.provider is not None:
            data, problem = await self._fetch(context)
            if problem:
                problems.append(problem)
            if data is not None:
                data_age = data.age_ms(context.now_ms)
                evidence.extend(self.from_provider(data))
        evidence.extend(self.proxies(context))
        if not evidence:
            return self.no_data("; ".join(problems), data_age)
        if data_age is None:
            data_age = context.data_age_ms()
        return self.opinion(evidence, problems, data_age)

    async def _fetch(self, context: AnalysisContext) -> tuple[ProviderData | None, str | None]:
        assert self.provider is not None
        try:
            data = await self.provider.fetch(context.symbol)
        except ProviderError as exc:
            log.warning("%s agent: %s", self.name, exc)
            return None, str(exc)
        if data is None:
            return None, f"{self.provider_label()} has nothing for {context.symbol}"
        age = data.age_ms(context.now_ms)
        if age is not None and age > self.max_age_ms:
            return None, f"{self.provider_label()} data is stale ({age / 3_600_000:.1f} h old)"
        return data, None

    def opinion(self, evidence: list[Evidence], problems: list[str], data_age: int | None) -> AgentOpinion:
        total = sum(e.confidence for e in evidence)
        score = sum(e.score * e.confidence for e in evidence) / total if total > 0 else 0.0
        confidence = clip01(sum(e.confidence**2 for e in evidence) / total) if total > 0 else 0.0
        notes = [e.note for e in evidence] + [f"unavailable: {p}" for p in problems]
        inputs: dict[str, Any] = {e.name: {"score": e.score, "confidence": e.confidence} for e in evidence}
        flags: dict[str, Any] = {}
        for e in evidence:
            flags = {**e.flags, **flags}  # the provider's evidence comes first and wins
        inputs |= flags
        return scored_opinion(self.name, score, confidence, "; ".join(notes), inputs, data_age)
