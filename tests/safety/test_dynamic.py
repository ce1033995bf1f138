"""Dynamic risk: volatility-adaptive limits, extreme sentiment and macro-event pauses."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from agents.base import AnalysisContext
from agents.providers import FileJsonProvider
from agents.sentiment import SentimentAgent
from core.clock import SimClock
from core.config import ConfigError, DynamicRiskConfig, parse_config
from core.engine import OrderRefused
from core.events import AgentDecision, TickerUpdated
from core.models import AgentOpinion, Direction, Side, Signal, Ticker
from core.risk.dynamic import CalendarError, load_calendar
from tests.safety.conftest import SPOT, EngineFactory, limit, market

D = Decimal
START = 1_704_067_200_000  # 2024-01-01T00:00:00Z, the SimClock's start


def calendar(tmp_path: Path, text: str, name: str = "macro.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_calendar_file_errors_are_clear(tmp_path: Path) -> None:
    cases = {
        "- {name: CPI, time: tomorrow}\n": "event 1: time 'tomorrow' is not ISO 8601",
        "name: CPI\n": "the calendar must be a list of events",
        "- {name: CPI, time: '2024-01-01T12:00:00Z', before: 5}\n": "event 1: unknown key(s) before",
        "- {time: '2024-01-01T12:00:00Z'}\n": "event 1: needs a name",
        "- {name: CPI, time: '2024-01-01T12:00:00Z', after_minutes: -1}\n": "after_minutes must be a number of minutes",
        "- [unclosed\n": "not valid YAML",
    }
    for text, message in cases.items():
        with pytest.raises(CalendarError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_calendar(calendar(tmp_path, text))
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(tmp_path / "missing.yaml")
    events = load_calendar(calendar(tmp_path, '[{"name": "FOMC", "time": "2024-01-01T00:10:00+00:00"}]', "m.json"))
    assert [(e.name, e.start_ms, e.end_ms) for e in events] == [("FOMC", START - 20 * 60_000, START + 70 * 60_000)]


async def test_new_positions_pause_around_a_macro_event(make_engine: EngineFactory, clock: SimClock, tmp_path: Path) -> None:
    path = calendar(tmp_path, "- {name: FOMC, time: '2024-01-01T00:30:00Z', before_minutes: 10, after_minutes: 20}\n")
    engine = await make_engine(dynamic_risk=DynamicRiskConfig(macro_calendar=path))
    await engine.place_order(market(size="0.1"))
    clock.advance(25 * 60_000)
    engine.venues["paper"].step()  # type: ignore[attr-defined]
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine))
    assert refused.value.rule == "macro_event" and "'FOMC' until 2024-01-01 00:50 UTC" in refused.value.reason
    assert (await engine.place_order(market(side=Side.SELL, size="0.05"))).status.value == "filled", "reducing passes"
    clock.advance(30 * 60_000)
    engine.venues["paper"].step()  # type: ignore[attr-defined]
    assert (await engine.place_order(limit(engine))).is_open


def decision(extremity: float) -> AgentDecision:
    opinion = AgentOpinion(agent="sentiment", direction=Direction.HOLD, strength=0, confidence=0.5,
                           inputs={"extremity": extremity})
    return decided(opinion)


def decided(opinion: AgentOpinion) -> AgentDecision:
    signal = Signal(instrument_id=SPOT, direction=Direction.HOLD, strength=0, confidence=0)
    return AgentDecision(SPOT, (opinion,), signal)


async def test_extreme_sentiment_cuts_the_position_limit(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine(dynamic_risk=DynamicRiskConfig(sentiment_extreme=0.8, sentiment_size_factor=0.5,
                                                              sentiment_max_age=600))
    # Limit without the cut: min(50,000, 50% of ~100k equity) = 50,000; cut: 25,000 (~0.41 BTC at ~60k).
    engine.bus.publish(decision(0.6))
    assert engine.guard.dynamic.size_factor("paper", SPOT) == (1.0, None)
    engine.bus.publish(decision(0.9))
    assert engine.guard.dynamic.size_factor("paper", SPOT) == (0.5, "sentiment is extreme")
    with pytest.raises(OrderRefused) as refused:
        await engine.place_order(limit(engine, size="0.5"))
    assert refused.value.rule == "dynamic_size" and "sentiment is extreme" in refused.value.reason
    assert (await engine.place_order(limit(engine, size="0.3"))).is_open
    clock.advance(601_000)
    assert engine.guard.dynamic.size_factor("paper", SPOT) == (1.0, None), "an old reading no longer counts"


@pytest.mark.parametrize(("day", "cut"), [("2024-11-14", True), ("2025-02-27", True), ("2025-01-10", False)])
async def test_recorded_extreme_readings_cut_the_limit_at_the_default_threshold(
    make_engine: EngineFactory, clock: SimClock, day: str, cut: bool
) -> None:
    """Fear and greed 88 and 10, as alternative.me published them, reach the default 0.8; 50 does
    not. Before, the cut read the opinion's strength, which an extreme reading leaves near 0."""
    path = Path(__file__).parents[1] / "agents" / "fixtures" / f"fng-{day}.json"
    engine = await make_engine()
    now = int(json.loads(path.read_text())["data"][0]["timestamp"]) * 1000 + 3_600_000
    opinion = await SentimentAgent(FileJsonProvider(path, "alternative.me")).analyze(
        AnalysisContext(symbol=SPOT, now_ms=now, candles={}))
    engine.bus.publish(decided(opinion))
    expected = (0.5, "sentiment is extreme") if cut else (1.0, None)
    assert engine.guard.dynamic.size_factor("paper", SPOT) == expected


async def test_volatility_above_target_shrinks_the_limit(make_engine: EngineFactory, clock: SimClock) -> None:
    engine = await make_engine(dynamic_risk=DynamicRiskConfig(target_volatility=0.5, min_size_factor=0.25))
    dynamic = engine.guard.dynamic
    for i in range(40):  # calm: 1 bp a minute
        clock.advance(60_000)
        price = D(100) * (D("1.0001") if i % 2 else D(1))
        engine.bus.publish(TickerUpdated(Ticker(venue="paper", symbol="CALM/USDT", ts=clock.now_ms(), mark=price)))
    calm = dynamic.volatility("paper", "CALM/USDT")
    assert calm is not None and calm < 0.5
    assert dynamic.size_factor("paper", "CALM/USDT") == (1.0, None)
    for i in range(40):  # wild: 2% a minute
        clock.advance(60_000)
        price = D(100) * (D("1.02") if i % 2 else D(1))
        engine.bus.publish(TickerUpdated(Ticker(venue="paper", symbol="WILD/USDT", ts=clock.now_ms(), mark=price)))
    wild = dynamic.volatility("paper", "WILD/USDT")
    assert wild is not None and wild > 1
    factor, why = dynamic.size_factor("paper", "WILD/USDT")
    assert 0.25 <= factor < 0.5 and why is not None and "above the 50% target" in why


def test_dynamic_risk_config_is_checked(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="dynamic_risk.min_size_factor"):
        parse_config("dynamic_risk:\n  min_size_factor: 0\n")
