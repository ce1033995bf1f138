"""On-chain, Sentiment and Macro agents: providers (file, HTTP on 127.0.0.1), proxies, no data."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from agents.base import AnalysisContext, Candles
from agents.macro import MacroAgent
from agents.onchain import OnChainAgent
from agents.providers import FileJsonProvider, HttpJsonProvider, ProviderError, parse_document
from agents.sentiment import SentimentAgent, extremity, fear_greed_proxy
from core.models import Direction
from tests.agents.conftest import context_for, local_source, make_candles


@pytest.fixture
def candles() -> Candles:
    return make_candles(n=300, drift=0.0, vol=0.004, seed=21)


def write(path: Path, document: Any) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, dict[str, Any]]]:
    """A local JSON source; tests set what it answers in ``state``."""
    state: dict[str, Any] = {"status": 200, "body": {}, "paths": []}

    async def handle(request: web.Request) -> web.Response:
        state["paths"].append(request.path)
        body = state["body"]
        text = body if isinstance(body, str) else json.dumps(body)
        return web.Response(status=state["status"], text=text, content_type="application/json")

    async with local_source(handle) as url:
        yield url, state


async def test_without_providers_or_exchange_data_they_say_no_data() -> None:
    empty = context_for(make_candles(n=10))
    for agent in (OnChainAgent(), SentimentAgent(), MacroAgent()):
        opinion = await agent.analyze(empty)
        assert not opinion.has_data, agent.name
        assert opinion.direction is Direction.HOLD and opinion.strength == 0 and opinion.confidence == 0
        assert opinion.rationale == "no data"


async def test_macro_has_no_proxy_and_says_so(candles: Candles) -> None:
    opinion = await MacroAgent().analyze(context_for(candles, funding_rate=0.001, open_interest=[1, 2]))
    assert not opinion.has_data and opinion.rationale == "no data"


async def test_file_provider_feeds_the_agent_with_symbol_overrides(tmp_path: Path, candles: Candles) -> None:
    now = int(candles.ts[-1]) + 3_600_000
    path = write(tmp_path / "onchain.json", {
        "ts": now - 60_000, "score": -0.2, "summary": "market-wide",
        "symbols": {"BTC": {"score": 0.8, "confidence": 0.7, "summary": "exchange outflows"}},
    })
    opinion = await OnChainAgent(FileJsonProvider(path, "glassnode export")).analyze(context_for(candles))
    assert opinion.direction is Direction.BUY and opinion.strength == 0.8 and opinion.confidence == 0.7
    assert opinion.rationale == "glassnode export: exchange outflows"
    assert opinion.data_age_ms == 60_000
    eth = await OnChainAgent(FileJsonProvider(path)).analyze(context_for(candles, symbol="ETH/USDT"))
    assert eth.direction is Direction.SELL and eth.confidence == 0.5


async def test_stale_or_malformed_files_are_no_data_with_the_reason(tmp_path: Path, candles: Candles) -> None:
    now = int(candles.ts[-1]) + 3_600_000
    stale = write(tmp_path / "stale.json", {"ts": now - 10 * 3_600_000, "score": 0.5})
    opinion = await MacroAgent(FileJsonProvider(stale, "macro file")).analyze(context_for(candles))
    assert not opinion.has_data and "stale (10.0 h old)" in opinion.rationale
    broken = tmp_path / "broken.json"
    broken.write_text('{"score": 0.5,\n oops}', encoding="utf-8")
    opinion = await MacroAgent(FileJsonProvider(broken)).analyze(context_for(candles))
    assert not opinion.has_data and f"{broken}:2: not valid JSON" in opinion.rationale
    bad_score = write(tmp_path / "bad.json", {"score": 3})
    opinion = await MacroAgent(FileJsonProvider(bad_score)).analyze(context_for(candles))
    assert "'score' must be a number in [-1, 1] (got 3)" in opinion.rationale
    missing = await MacroAgent(FileJsonProvider(tmp_path / "absent.json")).analyze(context_for(candles))
    assert "no such file" in missing.rationale


def test_document_shape_is_checked() -> None:
    assert parse_document({"summary": "nothing usable"}, "BTC/USDT", "src") is None
    with pytest.raises(ProviderError, match="expected a JSON object"):
        parse_document([1, 2], "BTC/USDT", "src")
    with pytest.raises(ProviderError, match="'ts' must be an integer"):
        parse_document({"score": 0.1, "ts": "yesterday"}, "BTC/USDT", "src")
    with pytest.raises(ProviderError, match="'metrics' must be an object"):
        parse_document({"metrics": [1]}, "BTC/USDT", "src")


async def test_http_provider_against_a_local_server(server: tuple[str, dict[str, Any]], candles: Candles) -> None:
    url, state = server
    now = int(candles.ts[-1]) + 3_600_000
    state["body"] = {"ts": now, "metrics": {"fear_greed": 30}, "confidence": 0.6}
    provider = HttpJsonProvider(url + "/sentiment/{base}", name="feargreed")
    opinion = await SentimentAgent(provider).analyze(context_for(candles))
    assert state["paths"] == ["/sentiment/BTC"]
    assert "feargreed fear & greed 30 (fear)" in opinion.rationale
    assert "proxy" in opinion.rationale  # the exchange-data proxy is reported beside it
    assert opinion.has_data


async def test_http_errors_become_no_data(server: tuple[str, dict[str, Any]], candles: Candles) -> None:
    url, state = server
    state["status"] = 503
    opinion = await MacroAgent(HttpJsonProvider(url + "/macro")).analyze(context_for(candles))
    assert not opinion.has_data and opinion.rationale == f"no data: {url}/macro: HTTP 503"
    state["status"], state["body"] = 200, "not json"
    opinion = await MacroAgent(HttpJsonProvider(url + "/macro")).analyze(context_for(candles))
    assert "not valid JSON" in opinion.rationale
    with pytest.raises(ValueError, match="http"):
        HttpJsonProvider("ftp://example")


async def test_unreachable_host_is_no_data(candles: Candles) -> None:
    opinion = await MacroAgent(HttpJsonProvider("http://127.0.0.1:9/x", timeout_s=2)).analyze(context_for(candles))
    assert not opinion.has_data and "ClientConnectorError" in opinion.rationale


async def test_macro_risk_event_is_flagged_for_risk(tmp_path: Path, candles: Candles) -> None:
    path = write(tmp_path / "macro.json", {"metrics": {"risk_event": "US CPI release"}, "confidence": 0.9})
    opinion = await MacroAgent(FileJsonProvider(path, "calendar")).analyze(context_for(candles))
    assert opinion.direction is Direction.HOLD and opinion.has_data
    assert opinion.inputs["risk_event"] == "US CPI release"
    assert "pause new trades" in opinion.rationale


async def test_sentiment_reads_crowded_positioning_contrarian(candles: Candles) -> None:
    crowded_long = await SentimentAgent().analyze(context_for(candles, funding_rate=0.001, long_short_ratio=3.0))
    assert crowded_long.direction is Direction.SELL
    assert "longs pay, read contrarian" in crowded_long.rationale
    crowded_short = await SentimentAgent().analyze(context_for(candles, funding_rate=-0.001, long_short_ratio=0.3))
    assert crowded_short.direction is Direction.BUY


async def test_fear_greed_proxy_and_its_extremes() -> None:
    assert fear_greed_proxy(0.2, 0.3, 0.6, 2.0) > 80
    assert fear_greed_proxy(-0.2, 1.2, 0.6, 2.0) < 20
    assert fear_greed_proxy(0.0, 0.6, 0.6, 0.0) == 50
    calming = make_candles(n=300, drift=0.01, vol=0.006, seed=22, shock_from=260, shock_vol=0.001)
    volume = calming.volume.copy()
    volume[-1] = 400.0  # a rising, calming market on heavy volume: greed
    rally = Candles(calming.ts, calming.open, calming.high, calming.low, calming.close, volume)
    opinion = await SentimentAgent().analyze(context_for(rally))
    assert opinion.inputs["extreme"] == "greed"
    assert "extreme greed, not chased" in opinion.rationale
    assert opinion.direction is Direction.HOLD


async def test_open_interest_proxy_is_labelled(candles: Candles) -> None:
    rising = make_candles(n=300, drift=0.003, vol=0.003, seed=23)
    inflow = await OnChainAgent().analyze(context_for(rising, open_interest=[100.0, 104.0, 110.0]))
    assert inflow.direction is Direction.BUY
    assert inflow.rationale.startswith("proxy (exchange data, not on-chain): open interest +10.0%")
    outflow = await OnChainAgent().analyze(context_for(rising, open_interest=[110.0, 100.0]))
    assert outflow.direction is Direction.HOLD and "no conviction" in outflow.rationale


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize(("day", "index", "extreme"), [
    ("2024-11-14", 88, "greed"),
    ("2025-02-27", 10, "fear"),
    ("2025-01-10", 50, None),
])
async def test_recorded_fear_and_greed_readings_are_as_extreme_as_they_read(
    day: str, index: int, extreme: str | None
) -> None:
    """alternative.me's own answers, read as the API gives them: 88 and 10 are extreme (at least
    0.8, the dynamic limit's default), 50 is not extreme at all."""
    path = FIXTURES / f"fng-{day}.json"
    reading = json.loads(path.read_text())["data"][0]
    now = int(reading["timestamp"]) * 1000 + 2 * 3_600_000
    opinion = await SentimentAgent(FileJsonProvider(path, "alternative.me")).analyze(
        AnalysisContext(symbol="BTC/USDT", now_ms=now, candles={}))
    assert opinion.has_data and opinion.data_age_ms == 2 * 3_600_000
    assert f"alternative.me fear & greed {index}" in opinion.rationale
    if extreme is None:
        assert opinion.inputs["extremity"] == 0.0 and "extreme" not in opinion.inputs
    else:
        assert opinion.inputs["extremity"] >= 0.8 and opinion.inputs["extreme"] == extreme
        assert opinion.direction is Direction.HOLD, "an extreme is flagged, not chased"


def test_extremity_scale() -> None:
    assert [extremity(i) for i in (50, 25, 75, 0, 100)] == [0.0, 0.8, 0.8, 1.0, 1.0]
    assert round(extremity(88), 3) == 0.904 and extremity(60) < 0.5


def test_the_fear_and_greed_api_errors_and_bad_rows_are_named() -> None:
    with pytest.raises(ProviderError, match="the index reports an error: rate limited"):
        parse_document({"data": [], "metadata": {"error": "rate limited"}}, "BTC/USDT", "fng")
    with pytest.raises(ProviderError, match="data entry 1 needs a numeric value and timestamp"):
        parse_document({"data": [{"value": "high", "timestamp": "1731542400"}]}, "BTC/USDT", "fng")
    with pytest.raises(ProviderError, match=r"data entry 1: value must be in \[0, 100\] \(got 180\)"):
        parse_document({"data": [{"value": "180", "timestamp": "1731542400"}]}, "BTC/USDT", "fng")
    assert parse_document({"data": [], "metadata": {"error": None}}, "BTC/USDT", "fng") is None
