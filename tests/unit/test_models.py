"""The order state machine, request validation against instruments, rounding."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pydantic import ValidationError

from core.models import (
    LEGAL_TRANSITIONS,
    ContractType,
    IllegalTransition,
    Instrument,
    Order,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    new_client_order_id,
)

D = Decimal
BTC = Instrument(
    venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=D("0.1"), lot_size=D("0.0001"),
    min_size=D("0.0001"), min_notional=D("5"),
)
PERP = BTC.model_copy(update={"symbol": "BTC/USDT:USDT", "contract_type": ContractType.LINEAR_PERPETUAL, "max_leverage": 20})


def order(**kw: object) -> Order:
    request = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=D("0.01"), price=D("50000"), **kw)  # type: ignore[arg-type]
    return Order.from_request(request, 1)


def test_happy_path_transitions() -> None:
    o = order()
    for status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED, OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED):
        o.transition(status, 2)
    assert o.status is OrderStatus.FILLED and not o.is_open


@pytest.mark.parametrize("terminal", [s for s in OrderStatus if s.is_terminal])
def test_terminal_states_allow_nothing(terminal: OrderStatus) -> None:
    assert LEGAL_TRANSITIONS[terminal] == frozenset()
    o = order()
    o.transition(terminal, 2)
    for target in OrderStatus:
        with pytest.raises(IllegalTransition):
            o.transition(target, 3)


def test_illegal_transition_names_the_order() -> None:
    o = order()
    o.transition(OrderStatus.OPEN, 2)
    with pytest.raises(IllegalTransition, match=r"open -> pending_new is not allowed"):
        o.transition(OrderStatus.PENDING_NEW, 3)
    with pytest.raises(IllegalTransition):
        o.transition(OrderStatus.REJECTED, 3)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"type": OrderType.LIMIT}, "needs a price"),
        ({"type": OrderType.STOP_MARKET}, "needs a trigger price"),
        ({"type": OrderType.STOP_LIMIT, "price": D(1)}, "needs a trigger price"),
        ({"type": OrderType.TRAILING_STOP}, "needs a trailing offset"),
        ({"type": OrderType.MARKET, "price": D(1)}, "takes no price"),
        ({"type": OrderType.MARKET, "post_only": True}, "post-only applies to limit orders only"),
        ({"type": OrderType.LIMIT, "price": D(1), "post_only": True, "time_in_force": TimeInForce.IOC}, "must be GTC"),
        ({"type": OrderType.LIMIT, "price": D(-1)}, "price must be greater than 0"),
    ],
)
def test_inconsistent_requests_are_refused(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=D(1), **fields)


def test_size_must_be_positive() -> None:
    with pytest.raises(ValidationError, match="greater than 0"):
        OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=D(0), type=OrderType.MARKET)


def test_validation_against_instrument() -> None:
    request = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=D("0.00005"), price=D("50000.05"))
    problems = request.validate_for(BTC)
    assert "size 0.00005 is not a multiple of the lot size 0.0001" in problems
    assert "price 50000.05 is not a multiple of the tick size 0.1" in problems
    small = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=D("0.0001"), price=D("40000"))
    assert small.validate_for(BTC) == ["notional 4.00 USDT is below the minimum 5 USDT"]
    levered = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.BUY, size=D("0.001"), price=D("40000"), leverage=5)
    assert levered.validate_for(BTC) == ["leverage 5x exceeds BTC/USDT's maximum 1x"]
    reduce = OrderRequest(venue="paper", symbol="BTC/USDT", side=Side.SELL, size=D("0.001"), price=D("40000"), reduce_only=True)
    assert reduce.validate_for(BTC) == ["reduce-only applies to perpetual contracts only"]
    assert reduce.model_copy(update={"symbol": PERP.symbol}).validate_for(PERP) == []


def test_rounding_happens_at_the_edge() -> None:
    assert BTC.round_price(D("50000.06")) == D("50000.1")
    assert BTC.round_size(D("0.00019")) == D("0.0001")
    assert BTC.price_decimals == 1 and BTC.size_decimals == 4


def test_client_order_ids_are_unique() -> None:
    ids = {order().client_order_id for _ in range(1000)}
    assert len(ids) == 1000


def test_client_order_ids_follow_each_other() -> None:
    """Each id sorts after the one before (the database's indexes take them at one edge) and
    keeps the 24 hex digits venues that take hex ids are sent."""
    ids = [new_client_order_id() for _ in range(1000)]
    assert ids == sorted(ids)  # unless the 40-bit sequence wraps inside these 1,000: odds 1 in 10^9
    assert all(re.fullmatch(r"ot-[0-9a-f]{24}", coid) for coid in ids)


def test_an_order_from_a_request_has_its_fields_and_only_its_fields() -> None:
    """``from_request`` lays a request's fields over the order's without looking them up: a field
    a request has and an order has not would end in the order's dict unseen."""
    assert set(OrderRequest.model_fields) <= set(Order.model_fields)
    made = order(stop_loss=D("45000"))
    assert list(made.__dict__) == list(Order.model_fields)
    assert made == Order.model_validate(made.model_dump())
    made.transition(OrderStatus.OPEN, 2, "accepted")
    assert made == Order.model_validate(made.model_dump()) and made.model_fields_set >= {"status", "updated_ts", "reason"}
