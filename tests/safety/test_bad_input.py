"""Hostile input: generated order tickets, configuration files and exchange payloads. Each ends
in a clear error (pydantic's ValidationError, ConfigError, OrderRefused) or a valid state; the
engine keeps running and the database stays whole."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from core.clock import SimClock
from core.config import AppConfig, CircuitBreakerConfig, ConfigError, SurveillanceConfig, parse_config
from core.engine import OrderRefused, TradingEngine
from core.events import ExecutionReported
from core.models import ExecutionReport, Order, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from tests.safety.conftest import PERP, SPOT, limit, safety_config, start_engine, until

SETTINGS = settings(max_examples=120, deadline=None, database=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

plausible = st.decimals(min_value=Decimal("0.00001"), max_value=Decimal(200_000), places=5)
odd_decimals = st.one_of(
    st.decimals(allow_nan=True, allow_infinity=True),
    st.sampled_from([Decimal(0), Decimal(-1), Decimal("1e30"), Decimal("-0.001")]),
)
decimals = st.integers(0, 3).flatmap(lambda n: odd_decimals if n == 0 else plausible)
junk = st.one_of(st.none(), st.text(max_size=8), st.integers(), st.floats(), st.booleans(), st.lists(st.integers(), max_size=2))


def field(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly well-typed, sometimes junk: a ticket is invalid for one reason at a time, so the
    ones that pass validation reach the engine's own checks."""
    return st.integers(0, 15).flatmap(lambda n: junk if n == 0 else good)


@st.composite
def tickets(draw: st.DrawFn) -> dict[str, Any]:
    """A coherent limit or market ticket near the market, then some fields bent or broken."""
    kind = draw(st.sampled_from([OrderType.LIMIT, OrderType.MARKET]))
    ticket: dict[str, Any] = {
        "venue": "paper", "symbol": draw(st.sampled_from([SPOT, PERP])), "side": draw(st.sampled_from(list(Side))),
        "type": kind, "size": draw(st.decimals(min_value=Decimal("0.0001"), max_value=Decimal(2), places=4)),
    }
    if kind is OrderType.LIMIT:
        ticket["price"] = draw(st.decimals(min_value=Decimal(50_000), max_value=Decimal(70_000), places=1))
    extras = {
        "venue": st.sampled_from(["paper", "nowhere"]),
        "symbol": st.sampled_from([SPOT, PERP, "DOGE/USDT", ""]),
        "type": st.sampled_from(list(OrderType)),
        "size": decimals, "price": decimals, "trigger_price": decimals, "trailing_offset": decimals,
        "time_in_force": st.sampled_from(list(TimeInForce)),
        "post_only": st.booleans(), "reduce_only": st.booleans(),
        "leverage": st.integers(min_value=-5, max_value=200),
        "take_profit": decimals, "stop_loss": decimals,
        "strategy_id": st.text(max_size=12), "client_order_id": st.text(min_size=1, max_size=40),
    }
    for name in draw(st.lists(st.sampled_from(sorted(extras)), max_size=3, unique=True)):
        ticket[name] = draw(field(extras[name]))
    return ticket


def lenient_config() -> AppConfig:
    """No breaker or surveillance rule in the way: every ticket reaches the checks it targets."""
    return safety_config(
        circuit_breakers=CircuitBreakerConfig(rejection_burst=10_000, max_trades_per_day=1_000_000),
        surveillance=SurveillanceConfig(max_orders_per_minute=100_000, max_strategy_orders_per_minute=100_000,
                                        duplicate_window=0, runaway_orders=1_000_000),
    )


def run_in_engine(home: Path, clock: SimClock, body: Any) -> None:
    """Hypothesis drives a sync function; the engine lives on one loop across all examples."""
    loop = asyncio.new_event_loop()
    try:
        engine = loop.run_until_complete(start_engine(home, clock, lenient_config()))
        try:
            body(loop, engine)
            assert engine.running and all(not t.done() for t in engine._tasks)  # type: ignore[attr-defined]
            assert loop.run_until_complete(engine.db.verify_audit()).ok
            loop.run_until_complete(engine.order_history())
        finally:
            loop.run_until_complete(engine.close())
    finally:
        loop.close()


def test_generated_order_tickets_end_in_an_order_or_a_clear_refusal(isolated_home: Path, clock: SimClock) -> None:
    outcomes: dict[str, int] = {}

    def body(loop: asyncio.AbstractEventLoop, engine: TradingEngine) -> None:
        @SETTINGS
        @given(ticket=tickets())
        def check(ticket: dict[str, Any]) -> None:
            try:
                request = OrderRequest.model_validate(ticket)
            except ValidationError as exc:
                assert exc.errors(), "a validation error names what is wrong"
                outcomes["invalid"] = outcomes.get("invalid", 0) + 1
                return
            try:
                order = loop.run_until_complete(engine.place_order(request))
            except OrderRefused as exc:
                assert exc.reason and exc.rule
                outcomes[exc.rule] = outcomes.get(exc.rule, 0) + 1
                return
            assert isinstance(order, Order) and order.status in OrderStatus
            outcomes["placed"] = outcomes.get("placed", 0) + 1

        check()
        loop.run_until_complete(engine.place_order(limit(engine, offset="0.99", client_order_id="after-the-storm")))

    run_in_engine(isolated_home, clock, body)
    # Every kind of ending is reached: rejected by the model, by the instrument, by risk, or placed.
    assert {"invalid", "validation", "placed", "fat_finger"} <= set(outcomes), outcomes


config_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False), st.text(max_size=10)),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=8,
)
SECTIONS = ["trading", "risk_management", "venues", "circuit_breakers", "surveillance", "permissions",
            "notifications", "dynamic_risk", "strategies", "agents", "storage", "default_venue"]
KEYS = ["max_daily_loss", "account_drawdown_pct", "max_trades_per_day", "profile", "profiles", "channels",
        "paper", "type", "url", "macro_calendar", "duplicate_window", "enabled", "markets", "seed"]
config_docs = st.dictionaries(
    st.sampled_from(SECTIONS),
    st.one_of(config_values, st.dictionaries(st.sampled_from(KEYS), config_values, max_size=4)),
    max_size=4,
)


@SETTINGS
@given(doc=config_docs)
def test_generated_config_files_load_or_fail_with_located_messages(doc: dict[str, Any]) -> None:
    text = yaml.safe_dump(doc)
    try:
        config = parse_config(text, "gen.yaml")
    except ConfigError as exc:
        assert exc.problems and all(p.startswith("gen.yaml") for p in exc.problems)
    else:
        assert isinstance(config, AppConfig)


@SETTINGS
@given(text=st.text(max_size=200))
def test_any_text_as_a_config_file_is_handled(text: str) -> None:
    try:
        parse_config(text, "raw.yaml")
    except ConfigError as exc:
        assert exc.problems


reports = st.fixed_dictionaries(
    {
        "client_order_id": field(st.sampled_from(["known-0", "known-1", "stranger"])),
        "venue": field(st.sampled_from(["paper", "other"])),
        "symbol": field(st.sampled_from([SPOT, PERP, "XRP/USDT"])),
        "status": field(st.sampled_from(list(OrderStatus))),
    },
    optional={
        "filled_size": field(decimals),
        "avg_price": field(decimals),
        "fee": field(decimals),
        "venue_order_id": field(st.text(max_size=6)),
        "reason": field(st.text(max_size=20)),
        "ts": field(st.integers(min_value=-1, max_value=2**62)),
        "fill": st.one_of(st.none(), st.fixed_dictionaries({
            "fill_id": st.text(min_size=1, max_size=6),
            "client_order_id": st.sampled_from(["known-0", "known-1", "stranger"]),
            "venue": st.sampled_from(["paper", "other"]),
            "symbol": st.sampled_from([SPOT, PERP, "XRP/USDT"]),
            "side": st.sampled_from(list(Side)),
            "price": decimals,
            "size": decimals,
        })),
    },
)


def test_generated_exchange_payloads_never_break_the_engine(isolated_home: Path, clock: SimClock) -> None:
    def body(loop: asyncio.AbstractEventLoop, engine: TradingEngine) -> None:
        for i in range(2):
            loop.run_until_complete(engine.place_order(limit(engine, offset=str(Decimal("0.99") - Decimal(i) / 100),
                                                             client_order_id=f"known-{i}")))

        @SETTINGS
        @given(payload=reports)
        def check(payload: dict[str, Any]) -> None:
            try:
                report = ExecutionReport.model_validate(payload)
            except ValidationError as exc:
                assert exc.errors()
                return
            engine.bus.publish(ExecutionReported(report))

        check()
        marker = loop.run_until_complete(engine.place_order(limit(engine, offset="0.975", client_order_id="marker")))
        engine.bus.publish(ExecutionReported(ExecutionReport(client_order_id="marker", venue="paper", symbol=SPOT,
                                                             status=OrderStatus.CANCELED)))
        loop.run_until_complete(until(lambda: marker.status is OrderStatus.CANCELED, "every generated report"))
        for order in loop.run_until_complete(engine.order_history()):
            assert order.filled_size >= 0 and order.status in OrderStatus

    run_in_engine(isolated_home, clock, body)


def test_a_report_whose_fill_names_another_market_is_refused_and_audited(
    isolated_home: Path, clock: SimClock, caplog: pytest.LogCaptureFixture
) -> None:
    def body(loop: asyncio.AbstractEventLoop, engine: TradingEngine) -> None:
        order = loop.run_until_complete(engine.place_order(limit(engine, client_order_id="mine")))
        engine.bus.publish(ExecutionReported(ExecutionReport.model_validate({
            "client_order_id": "mine", "venue": "paper", "symbol": SPOT, "status": "partially_filled",
            "filled_size": "0.001", "fill": {"fill_id": "weird", "client_order_id": "mine", "venue": "paper",
                                             "symbol": "XRP/USDT", "side": "buy", "price": "1", "size": "0.001"},
        })))
        marker = loop.run_until_complete(engine.place_order(limit(engine, offset="0.97", client_order_id="marker")))
        engine.bus.publish(ExecutionReported(ExecutionReport(client_order_id="marker", venue="paper", symbol=SPOT,
                                                             status=OrderStatus.CANCELED)))
        loop.run_until_complete(until(lambda: marker.status is OrderStatus.CANCELED, "the marker"))
        assert order.status is OrderStatus.OPEN and order.filled_size == 0
        assert loop.run_until_complete(engine.fills(client_order_id="mine")) == []
        [refused] = loop.run_until_complete(engine.db.audit_entries(kind="report_refused"))
        assert "fill weird is for mine XRP/USDT" in refused.payload["problem"]

    run_in_engine(isolated_home, clock, body)
    assert any("report for mine refused" in r.getMessage() for r in caplog.records)
