"""The Binance USDⓈ-M venue against the fake server in Binance's formats: funding, mark and
index prices, open interest, amends as one Modify Order request, account modes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.events import EventBus
from core.models import Order, OrderStatus, OrderType, Side
from core.perpetuals import AmendRefused, account_modes, supports
from core.ports import Capability, VenueError
from tests.ccxt.fakes import install_binanceusdm

PERP = "BTC/USDT:USDT"


def resting(size: str = "0.01", price: str = "41000") -> Order:
    return Order(client_order_id="ot-0123456789abcdef01234567", venue="binanceusdm", symbol=PERP,
                 side=Side.BUY, type=OrderType.LIMIT, size=Decimal(size), price=Decimal(price))


async def test_funding_carries_the_next_funding_time_and_mark_and_index(server, make_perp) -> None:
    install_binanceusdm(server)
    venue = make_perp("binanceusdm", mode="paper")
    await venue.load_instruments()
    funding = await venue.fetch_funding(PERP)
    assert funding is not None and (funding.rate, funding.next_ts) == (0.0001, 1704096000000)
    assert (funding.mark_price, funding.index_price) == (Decimal("42012.3"), Decimal("42003.18234043"))
    assert server.calls("GET", "/fapi/v1/premiumIndex")[0].params["symbol"] == "BTCUSDT"


async def test_open_interest_in_base_units(server, make_perp) -> None:
    install_binanceusdm(server)
    venue = make_perp("binanceusdm", mode="paper")
    await venue.load_instruments()
    assert await venue.fetch_open_interest(PERP) == 81234.567


async def test_amend_is_one_modify_request_and_no_cancel(server, make_perp) -> None:
    orders, _ = install_binanceusdm(server)
    venue = make_perp("binanceusdm")
    await venue.load_instruments()
    assert supports(venue, Capability.AMEND)
    assert venue.supports(Capability.LIVE_CONFIRMATION), "a live dedicated venue still waits for the go-ahead"
    ack = await venue.create_order(resting())
    amended = await venue.amend_order(resting().model_copy(update={"venue_order_id": ack.venue_order_id}),
                                      price=Decimal("41500.04"), size=Decimal("0.02"))
    modify = server.calls("PUT", "/fapi/v1/order")
    assert len(modify) == 1 and server.calls("DELETE", "/fapi/v1/order") == []
    assert len(server.calls("POST", "/fapi/v1/order")) == 1
    sent = modify[0].params
    assert (sent["price"], sent["quantity"], sent["side"]) == ("41500", "0.02", "BUY")
    assert (amended.price, amended.size) == (Decimal("41500"), Decimal("0.02"))
    assert amended.report.status is OrderStatus.OPEN and amended.report.venue_order_id == ack.venue_order_id
    assert orders.orders["ot-0123456789abcdef01234567"]["origQty"] == "0.02"


async def test_a_refused_amend_says_why_and_the_order_stays_as_it_was(server, make_perp) -> None:
    orders, _ = install_binanceusdm(server)
    orders.margin_cap = Decimal(1000)
    venue = make_perp("binanceusdm")
    await venue.load_instruments()
    ack = await venue.create_order(resting())
    with pytest.raises(AmendRefused) as refused:
        await venue.amend_order(resting().model_copy(update={"venue_order_id": ack.venue_order_id}), size=Decimal("0.5"))
    message = str(refused.value)
    assert message.startswith("binanceusdm: binanceusdm refused the amend of ot-0123456789abcdef01234567: ")
    assert "Margin is insufficient." in message and message.endswith("; the order is open: 0.01 @ 41000")
    assert refused.value.current is not None and refused.value.current.size == Decimal("0.01")
    assert orders.orders["ot-0123456789abcdef01234567"]["origQty"] == "0.01"


async def test_an_amend_below_the_minimum_is_not_sent(server, make_perp) -> None:
    install_binanceusdm(server)
    venue = make_perp("binanceusdm")
    await venue.load_instruments()
    with pytest.raises(VenueError, match="amend of ot-0123456789abcdef01234567 not sent: notional .* below .*; the order is unchanged"):
        await venue.amend_order(resting(size="0.01"), size=Decimal("0.001"))
    assert server.calls("PUT", "/fapi/v1/order") == []


async def test_account_set_to_one_way_and_the_configured_margin_mode(server, make_perp) -> None:
    _, account = install_binanceusdm(server)
    venue = make_perp("binanceusdm", margin_mode="isolated")
    await venue.load_instruments()
    modes = await venue.apply_account_modes()
    assert server.calls("POST", "/fapi/v1/positionSide/dual")[0].params["dualSidePosition"] == "false"
    margin = server.calls("POST", "/fapi/v1/marginType")
    assert [(r.params["symbol"], r.params["marginType"]) for r in margin] == [("BTCUSDT", "ISOLATED")]
    assert (account.dual_side, account.margin_types) == (False, {"BTCUSDT": "ISOLATED"})
    assert venue.account_modes == modes and account_modes(venue) == "one-way positions, isolated margin"
    await venue.apply_account_modes()  # already so: Binance's "no need to change" is not an error
    assert venue.account_modes == modes


async def test_margin_mode_left_alone_when_not_configured(server, make_perp) -> None:
    install_binanceusdm(server)
    venue = make_perp("binanceusdm")
    await venue.load_instruments()
    modes = await venue.apply_account_modes()
    assert server.calls("POST", "/fapi/v1/marginType") == []
    assert modes.describe() == "one-way positions, margin mode as set on the exchange"


async def test_a_margin_mode_the_exchange_refuses_stops_the_start_with_its_reason(server, make_perp) -> None:
    _, account = install_binanceusdm(server)
    account.positions.add("BTCUSDT")
    venue = make_perp("binanceusdm", margin_mode="isolated")
    await venue.load_instruments()
    with pytest.raises(VenueError, match=r"^binanceusdm: could not set BTC/USDT:USDT to isolated margin on binanceusdm: "
                                         r".*Margin type cannot be changed if there exists position"):
        await venue.apply_account_modes()
    assert venue.account_modes is None


async def test_a_refused_mode_stops_a_live_start_before_any_stream(server, make_perp) -> None:
    _, account = install_binanceusdm(server)
    account.positions.add("BTCUSDT")
    venue = make_perp("binanceusdm", margin_mode="isolated")
    with pytest.raises(VenueError, match="could not set BTC/USDT:USDT to isolated margin"):
        await venue.start(EventBus())
    assert venue.connection_state == "disconnected"
    assert server.calls("GET", "/fapi/v1/depth") == [] and server.calls("GET", "/fapi/v1/openOrders") == []


async def test_paper_mode_reads_market_data_but_neither_amends_nor_sets_modes(server, make_perp) -> None:
    install_binanceusdm(server)
    venue = make_perp("binanceusdm", mode="paper")
    assert supports(venue, Capability.FUNDING) and supports(venue, Capability.OPEN_INTEREST)
    assert not supports(venue, Capability.AMEND) and not supports(venue, Capability.ACCOUNT_MODES)
    assert not venue.supports(Capability.LIVE_CONFIRMATION)
    assert account_modes(venue) is None
