"""The order ticket's rules without the widgets: parsing, per-field messages, preview and
when a confirmation is required."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.config import TradingConfig
from core.models import ContractType, Instrument, OrderType, Side, TimeInForce
from tui.screens.edit_order import parse_change
from tui.screens.edit_params import parse_value
from tui.ticket import TicketForm, confirmation_reasons, describe, parse_ticket

SPOT = Instrument(venue="paper", symbol="BTC/USDT", base="BTC", quote="USDT", tick_size=Decimal("0.01"),
                  lot_size=Decimal("0.0001"), min_size=Decimal("0.0001"), min_notional=Decimal(5),
                  taker_fee=Decimal("0.001"), maker_fee=Decimal("0.0005"))
PERP = SPOT.model_copy(update={"symbol": "BTC/USDT:USDT", "contract_type": ContractType.LINEAR_PERPETUAL,
                               "max_leverage": 10})
MARK = Decimal(60000)


def test_limit_order_parses_with_preview() -> None:
    result = parse_ticket(TicketForm(size="0.01", price="59000.5"), SPOT, "paper", MARK)
    assert result.errors == {}
    assert result.request is not None
    assert (result.request.side, result.request.type, result.request.size, result.request.price) == (
        Side.BUY, OrderType.LIMIT, Decimal("0.01"), Decimal("59000.5"))
    assert result.preview is not None
    assert result.preview.notional == Decimal("590.005")
    assert result.preview.fee == Decimal("0.590005")
    assert result.preview.liquidation is None


@pytest.mark.parametrize(
    ("form", "field", "message"),
    [
        (TicketForm(size="abc", price="100"), "size", "'abc' is not a number"),
        (TicketForm(size="-1", price="100"), "size", "greater than 0"),
        (TicketForm(size="0.00001", price="60000"), "size", "lot size"),
        (TicketForm(size="0.0001", price="100"), "size", "below the minimum"),
        (TicketForm(size="0.01", price="60000.001"), "price", "tick 0.01"),
        (TicketForm(size="0.01", price=""), "price", "required"),
        (TicketForm(size="0.01", type=OrderType.STOP_MARKET), "trigger", "required"),
        (TicketForm(size="0.01", type=OrderType.TRAILING_STOP), "trail", "required"),
        (TicketForm(size="0.01", price="100", leverage="3"), "leverage", "without leverage"),
        (TicketForm(size="0.01", price="100", reduce_only=True), "reduce_only", "perpetuals only"),
        (TicketForm(size="0.01", type=OrderType.MARKET, post_only=True), "post_only", "limit orders only"),
        (TicketForm(size="0.01", price="100", post_only=True, time_in_force=TimeInForce.IOC), "post_only", "GTC"),
        (TicketForm(size="0.01", price="100", take_profit="1.001"), "take_profit", "tick"),
    ],
)
def test_bad_fields_get_a_message_and_no_request(form: TicketForm, field: str, message: str) -> None:
    result = parse_ticket(form, SPOT, "paper", MARK)
    assert result.request is None
    assert message in result.errors[field]


def test_perpetual_leverage_limits_and_liquidation_preview() -> None:
    assert "at most 10x" in parse_ticket(TicketForm(size="0.01", price="100", leverage="20"), PERP, "paper", MARK).errors["leverage"]
    result = parse_ticket(TicketForm(size="0.01", price="60000", leverage="5x"), PERP, "paper", MARK)
    assert result.request is not None and result.request.leverage == 5
    assert result.preview is not None
    assert result.preview.margin == Decimal(120)
    assert result.preview.liquidation == Decimal("48300.00")
    short = parse_ticket(TicketForm(side=Side.SELL, size="0.01", price="60000"), PERP, "paper", MARK, default_leverage=3)
    assert short.request is not None and short.request.leverage == 3
    assert short.preview is not None and short.preview.liquidation is not None and short.preview.liquidation > MARK


def test_size_in_quote_converts_at_the_price_rounding_down_to_the_lot() -> None:
    result = parse_ticket(TicketForm(size="1000", size_in_quote=True, type=OrderType.MARKET), SPOT, "paper", MARK)
    assert result.request is not None and result.request.size == Decimal("0.0166")
    tiny = parse_ticket(TicketForm(size="1", size_in_quote=True, type=OrderType.MARKET), SPOT, "paper", MARK)
    assert "less than one lot" in tiny.errors["size"]
    blind = parse_ticket(TicketForm(size="100", size_in_quote=True, type=OrderType.MARKET), SPOT, "paper", None)
    assert "no price yet" in blind.errors["size"]


def test_confirmation_reasons() -> None:
    trading = TradingConfig(confirm_notional_above=Decimal(1000), confirm_distance_pct=0.02)
    near = parse_ticket(TicketForm(size="0.01", price="59990"), SPOT, "paper", MARK).request
    assert near is not None
    assert confirmation_reasons(near, Decimal(600), MARK, False, trading) == []
    assert confirmation_reasons(near, Decimal(600), MARK, True, trading) == ["this is a LIVE order with real money"]
    far = parse_ticket(TicketForm(size="0.1", price="50000"), SPOT, "paper", MARK).request
    assert far is not None
    reasons = confirmation_reasons(far, Decimal(5000), MARK, False, trading)
    assert any("above 1,000" in r for r in reasons) and any("16.7% from the mark" in r for r in reasons)
    assert describe(far, "USDT") == "BUY LIMIT 0.1 BTC/USDT at 50000 USDT GTC on paper"


def test_modify_dialog_checks_price_and_size() -> None:
    request = parse_ticket(TicketForm(size="0.01", price="59990"), SPOT, "paper", MARK).request
    assert request is not None
    from core.models import Order

    order = Order.from_request(request, 0)
    assert parse_change(order, SPOT, "59980", "0.01") == ((Decimal(59980), None), {})
    assert parse_change(order, SPOT, "59990", "0.01")[1] == {"form": "nothing changed"}
    assert "tick" in parse_change(order, SPOT, "59980.001", "0.01")[1]["price"]
    assert "not a number" in parse_change(order, SPOT, "59980", "x")[1]["size"]


def test_strategy_parameter_values_keep_their_type() -> None:
    assert parse_value("0.5", 0.7) == 0.5
    assert parse_value("12", 10) == 12
    assert parse_value("yes", False) is True
    assert parse_value("1.5", Decimal(1)) == Decimal("1.5")
    with pytest.raises(ValueError, match="whole number"):
        parse_value("1.5", 10)
    with pytest.raises(ValueError, match="true or false"):
        parse_value("maybe", True)
