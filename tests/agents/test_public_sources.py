"""The public-source data providers (agents/public_sources.py), named in the configuration and
loaded through the plugin registry, against fakes on 127.0.0.1 answering in the sources' own
formats: alternative.me's Fear & Greed Index for the Sentiment agent, Glassnode's exchange net
flow for the On-chain agent. Unreachable or without its key, the agent says "no data" at zero
weight."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from agents.onchain import OnChainAgent
from agents.sentiment import SentimentAgent
from agents.team import build_provider
from core.config import AgentSourceConfig
from tests.agents.conftest import context_for, local_source, make_candles

DAY_S = 86_400
TODAY_S = 1_731_542_400  # the day the readings are for (00:00 UTC)
KEY = "gn-test-key-6f1c2d"


@pytest.fixture
async def source() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """Answers ``state["body"]`` and records each request's path, query and API key header."""
    state: dict[str, Any] = {"body": [], "requests": []}

    async def handle(request: web.Request) -> web.Response:
        state["requests"].append((request.path, dict(request.query), request.headers.get("X-Api-Key")))
        return web.Response(text=json.dumps(state["body"]), content_type="application/json")

    async with local_source(handle) as url:
        yield url, state


def context(symbol: str = "BTC/USDT") -> Any:
    """Too few candles for any proxy: what the agent says is the source's alone."""
    found = context_for(make_candles(n=10), symbol=symbol)
    found.now_ms = (TODAY_S + 3600) * 1000
    return found


async def test_fear_and_greed_from_alternative_me(source: tuple[str, dict[str, Any]]) -> None:
    url, state = source
    state["body"] = {"name": "Fear and Greed Index", "data": [
        {"value": "21", "value_classification": "Extreme Fear", "timestamp": str(TODAY_S), "time_until_update": "82800"}],
        "metadata": {"error": None}}
    provider = build_provider("sentiment", AgentSourceConfig(provider="fear_greed", url=f"{url}/fng/?limit=1",
                                                            max_age=90_000))
    opinion = await SentimentAgent(provider, 90_000_000).analyze(context())
    assert opinion.has_data and "fear & greed 21" in opinion.rationale
    assert state["requests"][0][:2] == ("/fng/", {"limit": "1"})


async def test_exchange_net_flow_in_glassnode_format(
    source: tuple[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, state = source
    monkeypatch.setenv("GN_KEY", KEY)
    usual = [1500.0, -800.0, 1200.0, -1000.0, 900.0, -1100.0, 1000.0]  # mean size 1,071
    state["body"] = [{"t": TODAY_S - (7 - i) * DAY_S, "v": v} for i, v in enumerate([*usual, 2142.9])]
    provider = build_provider("onchain", AgentSourceConfig(
        provider="exchange_netflow", url=url + "/v1/metrics/transactions/transfers_volume_exchanges_net?a={base}&i=24h",
        options={"api_key_env": "GN_KEY"}))
    opinion = await OnChainAgent(provider).analyze(context("ETH/USDT"))
    path, query, key = state["requests"][0]
    assert path.endswith("transfers_volume_exchanges_net") and query == {"a": "ETH", "i": "24h"} and key == KEY
    assert opinion.has_data and opinion.direction.value == "sell"
    assert opinion.inputs["provider"]["score"] == pytest.approx(-0.964, abs=1e-3)  # twice the usual inflow
    assert "net +2,143 coins onto exchanges (selling pressure), usual day 1,071" in opinion.rationale
    assert KEY not in opinion.rationale


async def test_unreachable_or_without_its_key_the_agent_has_no_data_and_no_weight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    unreachable = build_provider("sentiment", AgentSourceConfig(provider="fear_greed", url="http://127.0.0.1:9/fng/"))
    opinion = await SentimentAgent(unreachable).analyze(context())
    assert not opinion.has_data and opinion.confidence == 0 and opinion.strength == 0
    assert opinion.rationale.startswith("no data: http://127.0.0.1:9/fng/: ClientConnectorError")
    monkeypatch.delenv("GLASSNODE_API_KEY", raising=False)
    keyless = build_provider("onchain", AgentSourceConfig(provider="exchange_netflow"))
    opinion = await OnChainAgent(keyless).analyze(context())
    assert not opinion.has_data and opinion.confidence == 0
    assert "needs an API key in $GLASSNODE_API_KEY" in opinion.rationale


async def test_a_net_flow_answer_in_another_shape_is_named(source: tuple[str, dict[str, Any]]) -> None:
    url, state = source
    state["body"] = {"result": {"data": []}}
    provider = build_provider("onchain", AgentSourceConfig(provider="exchange_netflow", url=url + "/netflow"))
    opinion = await OnChainAgent(provider).analyze(context())
    assert not opinion.has_data and "expected a JSON list" in opinion.rationale
