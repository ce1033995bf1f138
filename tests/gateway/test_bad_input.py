"""Whatever a client sends, the answer is JSON with a 4xx status and a reason: never a 5xx,
never a traceback. Bodies are generated (hypothesis) in every shape, including the fields of
the real requests with values of every kind."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.engine import TradingEngine
from tests.gateway.conftest import Api

SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=30)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4),
                      max_leaves=12)
FIELDS = ["venue", "symbol", "side", "type", "size", "price", "trigger_price", "trailing_offset", "time_in_force",
          "post_only", "reduce_only", "leverage", "take_profit", "stop_loss", "client_order_id", "operations",
          "action", "request", "params", "note", "reason", "count", "strategy_id", "op", "topics"]
NEAR_MISS = st.dictionaries(st.sampled_from(FIELDS), VALUES | st.sampled_from(
    ["paper", "BTC/USDT", "buy", "sell", "limit", "market", "0.01", "-1", "1e400", "NaN", "GTC", "cancel", "place"]),
    max_size=8)
NUMBERS = st.sampled_from(["0.01", "-1", "0", "1e400", "NaN", "Infinity", "-Infinity", "60000", "1e-20", "", "1,5"]) | \
    st.decimals(allow_nan=True, allow_infinity=True).map(str) | st.floats() | st.integers()
ORDERISH = st.fixed_dictionaries(
    {"venue": st.sampled_from(["paper", "kraken", ""]), "symbol": st.sampled_from(["BTC/USDT", "BTC/USDT:USDT", "ETH/USDT", ""]),
     "side": st.sampled_from(["buy", "sell", "hold"]), "size": NUMBERS},
    optional={"type": st.sampled_from(["limit", "market", "stop_market", "stop_limit", "take_profit", "trailing_stop", "x"]),
              "price": NUMBERS, "trigger_price": NUMBERS, "trailing_offset": NUMBERS, "leverage": st.integers(),
              "take_profit": NUMBERS, "stop_loss": NUMBERS, "time_in_force": st.sampled_from(["GTC", "IOC", "FOK", "x"]),
              "post_only": st.booleans(), "reduce_only": st.booleans(), "client_order_id": st.text(max_size=40)})
PARAMS = st.fixed_dictionaries(
    {"params": st.dictionaries(st.sampled_from(["fast", "slow", "invest", "x"]), VALUES | NUMBERS, min_size=1)},
    optional={"note": VALUES})
OPERATION = st.fixed_dictionaries({"action": st.sampled_from(["place", "cancel", "modify", "x"])}, optional={
    "request": ORDERISH, "client_order_id": st.text(max_size=20), "price": NUMBERS, "size": NUMBERS})
CLOSE = st.fixed_dictionaries({"symbol": st.sampled_from(["BTC/USDT", "nope"])}, optional={"venue": VALUES, "size": NUMBERS})
CHANGE = st.fixed_dictionaries({}, optional={"price": NUMBERS, "size": NUMBERS, "venue": VALUES, "symbol": VALUES})
SHAPED = {
    "/orders": ORDERISH, "/orders/check": ORDERISH, "/orders/ot-1": CHANGE, "/orders/cancel-all": CHANGE,
    "/orders/batch": st.fixed_dictionaries({"operations": st.lists(OPERATION, max_size=3)}), "/positions/close": CLOSE,
    "/strategies/sma/params": PARAMS, "/strategies/nope/start": CHANGE,
}
COMMANDS = [("POST", "/orders"), ("POST", "/orders/check"), ("PATCH", "/orders/ot-1"), ("DELETE", "/orders/ot-1"),
            ("POST", "/orders/cancel-all"), ("POST", "/orders/batch"), ("POST", "/positions/close"),
            ("PATCH", "/strategies/sma/params"), ("POST", "/strategies/nope/start")]
READS = ["/orders/history", "/fills", "/audit", "/book", "/trades", "/candles", "/balances", "/orders"]
QUERIES = st.dictionaries(
    st.sampled_from(["symbol", "venue", "limit", "depth", "status", "since_ms", "until_ms", "before_seq", "timeframe", "x"]),
    st.sampled_from(["BTC/USDT", "paper", "open", "1m", "0", "-1", "1e9", "", "99999999999999999999999"])
    | st.text(max_size=12) | st.integers().map(str), max_size=4)


def well_formed(status: int, body: Any, text: str) -> bool:
    return (status < 500 and "Traceback" not in text and
            (status < 400 or (isinstance(body, dict) and isinstance(body.get("reason"), str) and body.get("error"))))


async def send(api: Api, method: str, path: str, **options: Any) -> tuple[int, Any, str]:
    async with api.session.request(method, api.url + path, headers=api.headers("boss"), **options) as response:
        text = await response.text()
        return response.status, await response.json(content_type=None) if text else None, text


FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FUZZ
@given(data=st.data())
async def test_any_body_gets_an_answer_with_a_reason_never_a_5xx(api: Api, engine: TradingEngine, data: st.DataObject) -> None:
    method, path = data.draw(st.sampled_from(COMMANDS))
    body = data.draw(SHAPED.get(path, VALUES) | VALUES | NEAR_MISS)
    status, parsed, text = await send(api, method, path, json=body)
    assert well_formed(status, parsed, text), (method, path, body, status, text)


@FUZZ
@given(path=st.sampled_from(READS), query=QUERIES)
async def test_any_query_gets_an_answer_with_a_reason_never_a_5xx(
    api: Api, engine: TradingEngine, path: str, query: dict[str, str]
) -> None:
    status, parsed, text = await send(api, "GET", path, params=query)
    assert well_formed(status, parsed, text), (path, query, status, text)


async def test_malformed_requests_are_refused_with_a_reason(api: Api) -> None:
    for data, reason in ((b"{", "invalid json"), (b"\xff\xfe", "invalid json"), (b"[]", "input should be an object")):
        reply = await api.call("POST", "/orders", "trader", data=data, headers={"Content-Type": "application/json"})
        assert reply.status == 400 and reason in reply.body["reason"].lower(), reply.text
    reply = await api.call("GET", "/orders?limit=1&limit=2")
    assert reply.body["reason"] == "query parameter limit is given more than once"
    reply = await api.call("GET", "/status?verbose=1")
    assert reply.status == 400 and "takes no query parameters" in reply.body["reason"]
    reply = await api.call("POST", "/orders", "trader", json={"venue": "paper", "symbol": "BTC/USDT", "side": "buy",
                                                              "size": "0.01", "stop_los": "1"})
    assert reply.status == 400 and "stop_los: extra inputs are not permitted" in reply.body["reason"]


async def test_numbers_too_large_to_check_are_refused_not_a_crash(api: Api) -> None:
    base = {"venue": "paper", "symbol": "BTC/USDT", "side": "buy", "size": "0.01", "price": "60000"}
    for field in ("price", "size", "stop_loss"):
        reply = await api.call("POST", "/orders", "trader", json=base | {field: "1e400"})
        assert (reply.status, reply.body["rule"]) == (422, "validation"), reply.text
        assert f"{field.replace('_', ' ')} 1E+400 is above the largest accepted, 1,000,000,000,000,000" in reply.body["reason"]


async def test_an_oversized_body_is_refused_before_it_is_read(api: Api, engine: TradingEngine) -> None:
    limit = api.gateway.config.max_body_bytes
    reply = await api.call("POST", "/orders", "trader", data=b'{"note": "' + b"x" * limit + b'"}',
                           headers={"Content-Type": "application/json"})
    assert (reply.status, reply.body) == (413, {"error": "too_large", "reason": f"the request body is larger than {limit} bytes"})
    assert engine.open_orders() == []
