"""Optional LLM agent: asks any OpenAI-compatible chat endpoint for a view on the market.

Off by default. The model sees a structured summary of numbers (returns, volatility, RSI, ADX,
regime, funding), never free text from the internet, and must answer with a small JSON object;
anything else is "no data", not a guess. The API key comes from the environment, is registered
for redaction and is sent only in the Authorization header.
"""

from __future__ import annotations

import json
import logging
import os
import re
from typing import Any

import aiohttp

from agents.base import Agent, AnalysisContext, clip01, json_safe
from agents.technicals import MIN_CANDLES, technicals, too_few
from core.models import AgentOpinion, Direction
from core.redact import redact, register_secret

log = logging.getLogger(__name__)

SYSTEM_PROMPT = (
    "You are a cautious crypto market analyst. You receive a JSON summary of one market. "
    "Answer with one JSON object and nothing else: "
    '{"direction": "buy" | "sell" | "hold", "strength": 0..1, "confidence": 0..1, '
    '"rationale": "one sentence"}. Say hold with low confidence when the data is unclear.'
)
_JSON_OBJECT = re.compile(r"\{.*\}", re.DOTALL)


class LLMAgent(Agent):
    name = "llm"
    min_candles = MIN_CANDLES

    def __init__(
        self,
        url: str,
        model: str,
        api_key_env: str = "OPENTRADE_LLM_API_KEY",
        timeout_s: float = 30.0,
    ) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"LLM endpoint must start with http:// or https:// (got {url!r})")
        self.endpoint = url.rstrip("/") + "/chat/completions"
        self.model = model
        self.timeout_s = timeout_s  # also the coordinator's limit for this agent: models are slow
        self._api_key = os.environ.get(api_key_env) or None
        register_secret(self._api_key)

    async def analyze(self, context: AnalysisContext) -> AgentOpinion:
        summary = market_summary(context)
        if summary is None:
            return self.no_data(too_few(context), context.data_age_ms())
        try:
            reply = await self._ask(summary)
            return self._parse(reply, summary, context)
        except LLMError as exc:
            log.warning("llm agent: %s", exc)
            return self.no_data(str(exc), context.data_age_ms())

    async def _ask(self, summary: dict[str, Any]) -> str:
        headers = {"Content-Type": "application/json"}
        if self._api_key:
            headers["Authorization"] = f"Bearer {self._api_key}"
        body = {
            "model": self.model,
            "temperature": 0,
            "messages": [
                {"role": "system", "content": SYSTEM_PROMPT},
                {"role": "user", "content": json.dumps(summary)},
            ],
        }
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout_s)
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.post(self.endpoint, json=body, headers=headers) as response,
            ):
                text = await response.text()
                if response.status != 200:
                    raise LLMError(f"{self.endpoint}: HTTP {response.status}: {redact(text[:200])}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise LLMError(redact(f"{self.endpoint}: {type(exc).__name__}: {exc}")) from None
        try:
            content = json.loads(text)["choices"][0]["message"]["content"]
        except (json.JSONDecodeError, KeyError, IndexError, TypeError):
            raise LLMError(f"{self.endpoint}: not an OpenAI-style chat completion") from None
        if not isinstance(content, str):
            raise LLMError(f"{self.endpoint}: the reply has no text content")
        return content

    def _parse(self, content: str, summary: dict[str, Any], context: AnalysisContext) -> AgentOpinion:
        match = _JSON_OBJECT.search(content)
        try:
            answer = json.loads(match.group(0)) if match else None
        except json.JSONDecodeError:
            answer = None
        if not isinstance(answer, dict):
            raise LLMError("the model's reply holds no JSON object")
        try:
            direction = Direction(str(answer.get("direction", "")).lower())
            strength = float(answer.get("strength", 0.0))
            confidence = float(answer.get("confidence", 0.0))
        except (ValueError, TypeError):
            raise LLMError(f"the model's reply is not a valid view: {redact(json.dumps(answer))[:200]}") from None
        rationale = str(answer.get("rationale", "")).strip()[:300] or "no reason given"
        return AgentOpinion(
            agent=self.name,
            direction=direction,
            strength=clip01(strength),
            confidence=clip01(confidence),
            rationale=f"{self.model}: {rationale}",
            inputs={"summary": summary},
            data_age_ms=context.data_age_ms(),
        )


class LLMError(Exception):
    """The endpoint could not be asked or its answer could not be used."""


def market_summary(context: AnalysisContext) -> dict[str, Any] | None:
    """The numbers the model is shown: enough to reason about, nothing it could be misled by."""
    t = technicals(context)
    if t is None:
        return None
    summary: dict[str, Any] = {
        "symbol": context.symbol,
        "timeframe": t.timeframe,
        "last_close": t.close,
        "return_20_candles": t.momentum,
        "ema20_minus_ema50_in_atr": (t.ema_fast - t.ema_slow) / t.atr if t.atr > 0 else 0.0,
        "rsi14": t.rsi,
        "adx14": t.adx,
        "atr_pct": t.atr_pct,
        "volatility_annualised": t.vol_short,
        "volatility_norm": t.vol_long,
        "bollinger_pct_b": t.bb_pctb,
        "volume_zscore": t.volume_z,
        "drawdown_from_high": t.drawdown,
    }
    if context.funding_rate is not None:
        summary["funding_rate"] = context.funding_rate
    if context.long_short_ratio is not None:
        summary["long_short_ratio"] = context.long_short_ratio
    return {k: json_safe(v) for k, v in summary.items()}
