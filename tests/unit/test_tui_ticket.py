"""The order ticket's rules without the widgets: parsing, per-field messages, preview and
when a confirmation is required."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.clock import SimClock
from core.config import TradingConfig
from core.models import ContractType, Fill, Instrument, OrderType, Side, TimeInForce
from core.portfolio import Portfolio
from tui.numbers import NumberError, parse_number
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
    assert parse_ticket(TicketForm(size="0.01", price="100"), PERP, "paper", MARK).errors["leverage"] == "required"
    result = parse_ticket(TicketForm(size="0.01", price="60000", leverage="5x"), PERP, "paper", MARK)
    assert result.request is not None and result.request.leverage == 5
    assert result.preview is not None
    assert result.preview.margin == Decimal(120)
    assert result.preview.liquidation == Decimal(60000) * Decimal("0.8") / Decimal("0.995")
    short = parse_ticket(TicketForm(side=Side.SELL, size="0.01", price="60000", leverage="3"), PERP, "paper", MARK)
    assert short.request is not None and short.request.leverage == 3
    assert short.preview is not None and short.preview.liquidation is not None and short.preview.liquidation > MARK


@pytest.mark.parametrize(("side", "leverage"), [(Side.BUY, "3"), (Side.SELL, "7"), (Side.BUY, "1")])
def test_the_preview_is_what_the_engine_books_for_the_same_order(clock: SimClock, side: Side, leverage: str) -> None:
    rate = Decimal("0.004")
    result = parse_ticket(TicketForm(side=side, size="0.25", price="60000", leverage=leverage), PERP, "paper", MARK, rate)
    assert result.request is not None and result.preview is not None
    portfolio = Portfolio(clock, maintenance_margin_rate=rate)
    portfolio.register_instrument(PERP)
    position = portfolio.apply_fill(
        Fill(fill_id="f1", client_order_id=result.request.client_order_id, venue="paper", symbol=PERP.symbol,
             side=side, price=Decimal(60000), size=Decimal("0.25")),
        result.request.leverage,
    )
    assert position is not None and position.leverage == int(leverage)
    assert (result.preview.margin, result.preview.liquidation) == (position.margin, position.liquidation_price)


def test_numbers_mean_one_thing() -> None:
    for typed, message in (("1,5", "use a dot as the decimal separator"), ("1,000", "use a dot as the decimal separator"),
                           ("1 000", "thousands separator"), ("1_000", "thousands separator"),
                           ("1'000", "thousands separator"), ("inf", "is infinite"), ("-Infinity", "is infinite"),
                           ("nan", r"not a number \(nan\)"), ("1e999999", "too large"), ("1e-999999", "decimal places"),
                           ("1e99999999999999999999999", "out of range"), ("-1", "negative"), ("0", "greater than 0"),
                           ("١٢", "not a number"), ("0x10", "not a number")):
        with pytest.raises(NumberError, match=message):
            parse_number(typed)
    assert [parse_number(t) for t in ("1.5", ".5", "2.", "+3", "1e-3")] == [Decimal("1.5"), Decimal("0.5"), 2, 3, Decimal("0.001")]
    assert parse_number("-1.5", positive=False) == Decimal("-1.5")
    result = parse_ticket(TicketForm(size="1,5", price="60,000.00"), SPOT, "paper", MARK)
    assert result.request is None
    assert "use a dot" in result.errors["size"] and "use a dot" in result.errors["price"]


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
    assert confirmation_reasons(near, SPOT, Decimal(600), MARK, False, trading) == []
    assert confirmation_reasons(near, SPOT, Decimal(600), MARK, True, trading) == ["this is a LIVE order with real money"]
    far = parse_ticket(TicketForm(size="0.1", price="50000"), SPOT, "paper", MARK).request
    assert far is not None
    reasons = confirmation_reasons(far, SPOT, Decimal(5000), MARK, False, trading)
    assert any("above 1,000" in r for r in reasons) and any("16.7% from the mark 60,000.00" in r for r in reasons)
    assert describe(far, SPOT) == "BUY LIMIT 0.1000 BTC/USDT at 50,000.00 USDT GTC on paper"


def test_a_market_order_is_described_without_a_time_in_force_and_with_its_leverage() -> None:
    market = parse_ticket(TicketForm(size="0.01", type=OrderType.MARKET), SPOT, "paper", MARK).request
    assert market is not None and describe(market, SPOT) == "BUY MARKET 0.0100 BTC/USDT on paper"
    perp = parse_ticket(TicketForm(side=Side.SELL, size="0.01", type=OrderType.MARKET, leverage="3"), PERP, "paper", MARK)
    assert perp.request is not None
    assert describe(perp.request, PERP) == "SELL MARKET 0.0100 BTC/USDT:USDT at 3x leverage on paper"


def test_modify_dialog_checks_price_and_size() -> None:
    request = parse_ticket(TicketForm(size="0.01", price="59990"), SPOT, "paper", MARK).request
    assert request is not None
    from core.models import Order

    order = Order.from_request(request, 0)
    assert parse_change(order, SPOT, "59980", "0.01") == ((Decimal(59980), None), {})
    assert parse_change(order, SPOT, "59990", "0.01")[1] == {"form": "nothing changed"}
    assert "tick" in parse_change(order, SPOT, "59980.001", "0.01")[1]["price"]
    assert "not a number" in parse_change(order, SPOT, "59980", "x")[1]["size"]
    assert "use a dot" in parse_change(order, SPOT, "59980", "0,02")[1]["size"]
    assert "is infinite" in parse_change(order, SPOT, "inf", "0.01")[1]["price"]


def test_strategy_parameter_values_keep_their_type() -> None:
    assert parse_value("0.5", 0.7) == 0.5
    assert parse_value("12", 10) == 12
    assert parse_value("yes", False) is True
    assert parse_value("1.5", Decimal(1)) == Decimal("1.5")
    with pytest.raises(ValueError, match="whole number"):
        parse_value("1.5", 10)
    for typed, current in (("0,5", 0.7), ("1_000", 10), ("nan", Decimal(1)), ("inf", 0.7)):
        with pytest.raises(ValueError, match="comma|separator|nan|infinite"):
            parse_value(typed, current)
    with pytest.raises(ValueError, match="true or false"):
        parse_value("maybe", True)
