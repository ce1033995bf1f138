"""Every endpoint against a real gateway: 401 without a token, 403 for each level below the one
it needs (audited with the caller's name, and without effect), and its effect for the level
that may."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from core.engine import TradingEngine
from core.models import OrderStatus, RiskState, Side
from core.permissions import Level
from gateway.routes import ENDPOINTS
from tests.gateway.conftest import LEVELS, Api, Reply
from tests.safety.conftest import SPOT, limit, mark, market, until

D = Decimal
HOLDER = {Level.READ_ONLY: "reader", Level.TRADE: "trader", Level.ADMIN: "boss"}

READS = [
    "/health", "/settings", "/status", "/snapshot", "/markets", "/book?symbol=BTC/USDT&depth=3", "/trades?symbol=BTC/USDT",
    "/stats?symbol=BTC/USDT", "/candles?symbol=BTC/USDT&timeframe=1m", "/tickers", "/balances", "/positions", "/orders",
    "/orders/history",
    "/orders/{order}", "/fills", "/funding", "/risk", "/risk/limits", "/risk/breakers", "/risk/alerts", "/strategies",
    "/strategies/sma", "/strategies/sma/versions", "/audit?limit=5", "/audit/verify", "/agents/decisions",
]


async def open_order(engine: TradingEngine) -> dict[str, str]:
    order = await engine.place_order(limit(engine), actor="user")
    return {"order": order.client_order_id}


async def a_position(engine: TradingEngine) -> dict[str, str]:
    await engine.place_order(market(), actor="user")
    await until(lambda: engine.portfolio.position("paper", SPOT) is not None, "the position")
    return {}


async def nothing(engine: TradingEngine) -> dict[str, str]:
    return {}


async def halted(engine: TradingEngine) -> dict[str, str]:
    await engine.emergency_stop("test", actor="user")
    return {}


async def running_strategy(engine: TradingEngine) -> dict[str, str]:
    await engine.strategies.start("sma")
    return {}


def is_open(engine: TradingEngine, ctx: dict[str, str]) -> bool:
    order = engine.orders.track_order(ctx["order"])
    return order is not None and order.is_open


def strategy_state(engine: TradingEngine) -> str:
    return str(engine.strategies.context("sma").state)


@dataclass
class Command:
    method: str
    path: str
    needed: Level
    status: int
    prepare: Callable[[TradingEngine], Awaitable[dict[str, str]]]
    body: Callable[[TradingEngine, dict[str, str]], Any]
    unchanged: Callable[[TradingEngine, dict[str, str]], bool]
    done: Callable[[TradingEngine, dict[str, str], Reply], bool]


def order_body(engine: TradingEngine, ctx: dict[str, str]) -> dict[str, Any]:
    return limit(engine).model_dump(mode="json", exclude={"client_order_id"}) | {"client_order_id": "ot-api-test-1"}


COMMANDS = {
    "place": Command(
        "POST", "/orders", Level.TRADE, 201, nothing, order_body,
        lambda e, c: e.open_orders() == [],
        lambda e, c, r: r.body["client_order_id"] == "ot-api-test-1" and [o.client_order_id for o in e.open_orders()] == ["ot-api-test-1"]),
    "modify": Command(
        "PATCH", "/orders/{order}", Level.TRADE, 200, open_order,
        lambda e, c: {"price": str((mark(e) * D("0.97")).quantize(D(1)))},
        is_open,
        lambda e, c, r: not is_open(e, c) and r.body["status"] == "open" and r.body["client_order_id"] != c["order"]),
    "cancel": Command(
        "DELETE", "/orders/{order}", Level.TRADE, 200, open_order, lambda e, c: None, is_open,
        lambda e, c, r: r.body["status"] == "canceled" and not is_open(e, c)),
    "cancel-all": Command(
        "POST", "/orders/cancel-all", Level.TRADE, 200, open_order, lambda e, c: {}, is_open,
        lambda e, c, r: r.body == {"count": 1} and e.open_orders() == []),
    "batch": Command(
        "POST", "/orders/batch", Level.TRADE, 200, open_order,
        lambda e, c: {"operations": [{"action": "cancel", "client_order_id": c["order"]},
                                     {"action": "cancel", "client_order_id": "ot-nobody"}]},
        is_open,
        lambda e, c, r: r.body["errors"] == [None, "no order ot-nobody"] and r.body["results"][0]["status"] == "canceled"),
    "close": Command(
        "POST", "/positions/close", Level.TRADE, 200, a_position, lambda e, c: {"symbol": SPOT},
        lambda e, c: e.portfolio.position("paper", SPOT) is not None,
        lambda e, c, r: r.body["side"] == "sell" and r.body["status"] == "filled"),
    "protection": Command(
        "PUT", "/positions/protection", Level.TRADE, 200, a_position,
        lambda e, c: {"symbol": SPOT, "stop_loss": str((mark(e) * D("0.9")).quantize(D(1)))},
        lambda e, c: e.protection.levels("paper", SPOT) is None,
        lambda e, c, r: r.body["stop_loss"] is not None and e.protection.levels("paper", SPOT) is not None),
    "close-all": Command(
        "POST", "/positions/close-all", Level.TRADE, 200, a_position, lambda e, c: None,
        lambda e, c: e.portfolio.position("paper", SPOT) is not None,
        lambda e, c, r: r.body == {"count": 1}),
    "emergency-stop": Command(
        "POST", "/risk/emergency-stop", Level.TRADE, 200, open_order, lambda e, c: {"reason": "drill"},
        lambda e, c: e.risk.state is RiskState.ACTIVE and is_open(e, c),
        lambda e, c, r: r.body["state"] == "halted" and e.risk.state is RiskState.HALTED and "drill" in e.risk.state_reason),
    "reset": Command(
        "POST", "/risk/reset", Level.ADMIN, 200, halted, lambda e, c: None,
        lambda e, c: e.risk.state is RiskState.HALTED,
        lambda e, c, r: r.body["state"] == "active" and e.risk.state is RiskState.ACTIVE),
    "strategy-start": Command(
        "POST", "/strategies/sma/start", Level.TRADE, 200, nothing, lambda e, c: None,
        lambda e, c: strategy_state(e) == "stopped",
        lambda e, c, r: r.body["state"] == "running" and strategy_state(e) == "running"),
    "strategy-stop": Command(
        "POST", "/strategies/sma/stop", Level.TRADE, 200, running_strategy, lambda e, c: None,
        lambda e, c: strategy_state(e) == "running",
        lambda e, c, r: r.body["state"] == "stopped" and strategy_state(e) == "stopped"),
    "strategy-params": Command(
        "PATCH", "/strategies/sma/params", Level.ADMIN, 200, nothing, lambda e, c: {"params": {"fast": 7}},
        lambda e, c: e.strategies.context("sma").strategy.params["fast"] == 20,
        lambda e, c, r: r.body["params"]["fast"] == 7 and e.strategies.context("sma").strategy.params["fast"] == 7),
}


def test_every_endpoint_is_tested_here() -> None:
    covered = {("GET", path.split("?")[0].replace("{order}", "{client_order_id}").replace("/sma", "/{strategy_id}"))
               for path in READS}
    covered |= {(c.method, c.path.replace("{order}", "{client_order_id}").replace("/sma", "/{strategy_id}"))
                for c in COMMANDS.values()}
    covered.add(("POST", "/orders/check"))  # test_order_check_is_a_read
    assert {(e.method, e.path) for e in ENDPOINTS} == covered


async def test_reads_need_a_token_and_any_level_may_read(api: Api, engine: TradingEngine) -> None:
    ctx = await open_order(engine)
    for template in READS:
        path = template.format(**ctx)
        assert (await api.call("GET", path, None)).status == 401, path
        reply = await api.call("GET", path, "reader")
        assert reply.status == 200, (path, reply.text)
    assert (await api.call("GET", "/orders", "reader")).body[0]["client_order_id"] == ctx["order"]
    assert (await api.call("GET", f"/orders/{ctx['order']}", "reader")).body["status"] == "open"
    book = (await api.call("GET", "/book?symbol=BTC/USDT&depth=3", "reader")).body
    assert len(book["bids"]) == 3 and len(book["asks"]) == 3
    settings = (await api.call("GET", "/settings", "reader")).body
    assert settings["trading"]["default_leverage"] == engine.config.trading.default_leverage
    assert settings["ui"]["refresh_hz"] == engine.config.ui.refresh_hz
    health = (await api.call("GET", "/health", "trader")).body
    assert (health["actor"], health["level"]) == ("api:trader", "trade")


async def test_positions_carry_their_protective_levels(api: Api, engine: TradingEngine) -> None:
    await a_position(engine)
    [position] = (await api.call("GET", "/positions", "reader")).body
    assert position["levels"] is None, "a manual position has no levels nobody set"
    held = engine.portfolio.position("paper", SPOT)
    assert held is not None and held.mark_price is not None
    stop = engine.instrument("paper", SPOT).round_price(held.mark_price * D("0.9"))
    await engine.protection.set_levels("paper", SPOT, stop, None)
    [position] = (await api.call("GET", "/positions", "reader")).body
    assert (D(position["levels"]["stop_loss"]), position["levels"]["stop_loss_source"]) == (stop, "manual")
    assert position["levels"]["take_profit"] is None and position["levels"]["placement"] == "engine"


async def test_unknown_things_are_404_with_a_reason(api: Api) -> None:
    assert (await api.call("GET", "/orders/ot-nobody")).body == {"error": "not_found", "reason": "no order ot-nobody"}
    assert (await api.call("GET", "/strategies/nope")).status == 404
    assert (await api.call("GET", "/book?symbol=DOGE/USDT")).body["reason"] == "DOGE/USDT is not a market on paper"
    assert (await api.call("GET", "/balances?venue=kraken")).status == 404
    assert (await api.call("GET", "/nowhere")).body == {"error": "not_found", "reason": "no route GET /api/v1/nowhere"}
    assert (await api.call("PUT", "/status")).status == 405


@pytest.mark.parametrize("name", list(COMMANDS))
async def test_command_levels_and_effect(name: str, api: Api, engine: TradingEngine) -> None:
    command = COMMANDS[name]
    ctx = await command.prepare(engine)
    path = command.path.format(**ctx)
    body = command.body(engine, ctx)
    assert (await api.call(command.method, path, None, json=body)).status == 401
    for holder, level in LEVELS.items():
        if level >= command.needed:
            continue
        reply = await api.call(command.method, path, holder, json=body)
        assert reply.status == 403, reply.text
        assert reply.body["error"] == "forbidden"
        assert reply.body["reason"].startswith(f"token '{holder}' is {level.label}: ")
        assert reply.body["reason"].endswith(f"needs the {command.needed.label} level")
        assert command.unchanged(engine, ctx), f"{holder}'s refused {name} changed something"
        refusals = await engine.db.audit_entries(actor=f"api:{holder}")
        assert refusals and refusals[-1].kind in ("permission_denied", "order_refused"), refusals
    reply = await api.call(command.method, path, HOLDER[command.needed], json=body)
    assert reply.status == command.status, reply.text
    assert command.done(engine, ctx, reply), reply.text
    assert await engine.db.audit_entries(actor=f"api:{HOLDER[command.needed]}"), "the audit names the caller"


async def test_order_check_is_a_read(api: Api, engine: TradingEngine) -> None:
    ok = limit(engine).model_dump(mode="json")
    assert (await api.call("POST", "/orders/check", "trader", json=ok)).body == {"ok": True, "reason": None, "rule": None}
    far = limit(engine, offset="0.5").model_dump(mode="json")
    refusal = engine.executor.precheck(limit(engine, offset="0.5"))
    assert refusal is not None
    reason, rule = refusal.reason, refusal.rule
    assert (await api.call("POST", "/orders/check", "trader", json=far)).body == {"ok": False, "reason": reason, "rule": rule}
    assert (await api.call("POST", "/orders/check", "reader", json=ok)).body == {
        "ok": False, "reason": "token 'reader' is read_only: placing orders needs the trade level", "rule": "permission"}
    assert engine.open_orders() == [], "a check places nothing"


async def test_a_refused_order_has_the_apps_reason_and_is_audited_as_the_caller(api: Api, engine: TradingEngine) -> None:
    request = limit(engine, offset="0.5")
    refusal = engine.executor.precheck(request)
    assert refusal is not None
    reason, rule = refusal.reason, refusal.rule
    reply = await api.call("POST", "/orders", "trader", json=request.model_dump(mode="json"))
    assert (reply.status, reply.body) == (422, {"error": "refused", "reason": reason, "rule": rule})
    [refused] = await engine.db.audit_entries(kind="order_refused")
    assert refused.actor == "api:trader" and refused.payload["reason"] == reason


async def test_the_same_client_order_id_never_places_twice(api: Api, engine: TradingEngine) -> None:
    body = limit(engine).model_dump(mode="json") | {"client_order_id": "ot-retry-1"}
    assert (await api.call("POST", "/orders", "trader", json=body)).status == 201
    again = await api.call("POST", "/orders", "trader", json=body)
    assert again.status == 409 and again.body["rule"] == "duplicate_id"
    assert len(engine.open_orders()) == 1


async def test_closing_nothing_is_refused(api: Api) -> None:
    reply = await api.call("POST", "/positions/close", "trader", json={"symbol": SPOT})
    assert (reply.status, reply.body["reason"]) == (422, "nothing to close: no open BTC/USDT position on paper")


async def test_a_sell_through_the_api_books_like_one_from_the_app(api: Api, engine: TradingEngine) -> None:
    await a_position(engine)
    body = market(Side.SELL).model_dump(mode="json")
    reply = await api.call("POST", "/orders", "trader", json=body)
    assert reply.body["status"] == OrderStatus.FILLED.value
    await until(lambda: engine.portfolio.position("paper", SPOT) is None, "the position to close")
    fills = (await api.call("GET", f"/fills?client_order_id={reply.body['client_order_id']}", "reader")).body
    assert [f["side"] for f in fills] == ["sell"]


async def test_audit_pages_back(api: Api, engine: TradingEngine) -> None:
    newest = (await api.call("GET", "/audit?limit=2")).body
    assert len(newest["entries"]) == 2 and newest["next_before_seq"] == newest["entries"][0]["seq"]
    older = (await api.call("GET", f"/audit?limit=2&before_seq={newest['next_before_seq']}")).body
    assert older["entries"][-1]["seq"] == newest["entries"][0]["seq"] - 1
    assert (await api.call("GET", "/audit/verify")).body["ok"] is True
