"""The optional LLM agent against a fake local endpoint, and building the team from the config."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agents.base import Candles
from agents.forecast import ForecastAgent
from agents.llm import LLMAgent
from agents.providers import FileJsonProvider, HttpJsonProvider
from agents.team import build_analysts, build_coordinator
from core.clock import SimClock
from core.config import parse_config
from core.models import Direction
from tests.agents.conftest import context_for, make_candles

KEY = "sk-local-test-key-0123456789"


@pytest.fixture
def candles() -> Candles:
    return make_candles(n=300, drift=0.002, vol=0.004, seed=41)


@pytest.fixture
async def chat() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """An OpenAI-compatible /v1/chat/completions that answers what the test puts in ``state``."""
    state: dict[str, Any] = {"content": "", "status": 200, "requests": []}

    async def completions(request: web.Request) -> web.Response:
        state["requests"].append({"headers": dict(request.headers), "body": await request.json()})
        if state["status"] != 200:
            return web.json_response({"error": "overloaded"}, status=state["status"])
        return web.json_response({"choices": [{"message": {"role": "assistant", "content": state["content"]}}]})

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}/v1", state
    await runner.cleanup()


async def test_llm_view_is_parsed_and_the_key_sent_but_never_logged(
    chat: tuple[str, dict[str, Any]], candles: Candles, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    url, state = chat
    monkeypatch.setenv("OPENTRADE_LLM_API_KEY", KEY)
    state["content"] = 'Sure.\n```json\n{"direction": "BUY", "strength": 0.6, "confidence": 0.4, "rationale": "trend intact"}\n```'
    agent = LLMAgent(url, "local-model")
    with caplog.at_level(logging.DEBUG):
        opinion = await agent.analyze(context_for(candles, funding_rate=0.0001))
    assert opinion.direction is Direction.BUY and opinion.strength == 0.6 and opinion.confidence == 0.4
    assert opinion.rationale == "local-model: trend intact"
    request = state["requests"][0]
    assert request["headers"]["Authorization"] == f"Bearer {KEY}"
    assert request["body"]["model"] == "local-model" and request["body"]["temperature"] == 0
    summary = json.loads(request["body"]["messages"][1]["content"])
    assert summary["symbol"] == "BTC/USDT" and summary["funding_rate"] == 0.0001 and "rsi14" in summary
    assert KEY not in caplog.text and KEY not in json.dumps(opinion.model_dump(mode="json"))


async def test_llm_failures_are_no_data(chat: tuple[str, dict[str, Any]], candles: Candles) -> None:
    url, state = chat
    agent = LLMAgent(url, "local-model")
    state["content"] = "I think it will go up!"
    opinion = await agent.analyze(context_for(candles))
    assert not opinion.has_data and opinion.rationale == "no data: the model's reply holds no JSON object"
    state["content"] = '{"direction": "moon", "strength": 1}'
    opinion = await agent.analyze(context_for(candles))
    assert not opinion.has_data and "not a valid view" in opinion.rationale
    state["status"] = 503
    opinion = await agent.analyze(context_for(candles))
    assert not opinion.has_data and "HTTP 503" in opinion.rationale
    assert "Authorization" not in state["requests"][0]["headers"]  # no key configured: none sent


def test_llm_is_off_by_default_and_built_when_enabled() -> None:
    assert [a.name for a in build_analysts(parse_config("").agents)] == [
        "market", "forecast", "strategy", "onchain", "sentiment", "macro"]
    config = parse_config("agents:\n  llm:\n    enabled: true\n    url: http://127.0.0.1:1/v1\n    model: m\n")
    llm = build_analysts(config.agents)[-1]
    assert isinstance(llm, LLMAgent) and llm.endpoint == "http://127.0.0.1:1/v1/chat/completions"


def test_team_builds_providers_and_falls_back_from_kronos(tmp_path: Path) -> None:
    config = parse_config(
        "agents:\n"
        "  onchain:\n    url: http://127.0.0.1:1/onchain/{base}\n"
        f"  sentiment:\n    path: {tmp_path / 'mood.json'}\n    max_age: 60\n"
        "  kronos:\n    enabled: true\n    module: no_such_kronos_module\n"
        "  weights:\n    market: 1.0\n"
    ).agents
    analysts = {a.name: a for a in build_analysts(config)}
    assert isinstance(analysts["onchain"].provider, HttpJsonProvider)  # type: ignore[attr-defined]
    assert isinstance(analysts["sentiment"].provider, FileJsonProvider)  # type: ignore[attr-defined]
    assert analysts["sentiment"].max_age_ms == 60_000  # type: ignore[attr-defined]
    forecast = analysts["forecast"]
    assert isinstance(forecast, ForecastAgent) and forecast.note.startswith("Kronos unavailable: ")
    coordinator = build_coordinator(config, SimClock())
    assert coordinator.settings.weights == {"market": 1.0}


async def test_fallback_note_reaches_the_opinion(candles: Candles) -> None:
    config = parse_config("agents:\n  kronos:\n    enabled: true\n    module: no_such_kronos_module\n").agents
    forecast = next(a for a in build_analysts(config) if a.name == "forecast")
    opinion = await forecast.analyze(context_for(make_candles(n=600, seed=42)))
    assert "Kronos unavailable" in opinion.rationale and "built-in model used" in opinion.rationale
