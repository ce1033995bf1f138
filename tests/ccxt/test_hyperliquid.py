"""The Hyperliquid venue against the fake server in Hyperliquid's formats: funding every hour,
mark and oracle prices, open interest, amends as one signed batchModify action, the margin
mode set with the leverage, our client order ids as Hyperliquid's 128-bit cloids."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import Order, OrderStatus, OrderType, Side, TimeInForce
from core.perpetuals import AmendRefused, supports
from core.ports import Capability, VenueError
from tests.ccxt.fakes import install_hyperliquid

PERP = "BTC/USDC:USDC"
COID = "ot-0123456789abcdef01234567"
CLOID = "0x6f742d000123456789abcdef01234567"


def resting(size: str = "0.01", price: str = "41000", **kw: object) -> Order:
    return Order(client_order_id=COID, venue="hyperliquid", symbol=PERP, side=Side.BUY, type=OrderType.LIMIT,
                 size=Decimal(size), price=Decimal(price), **kw)


async def test_funding_is_hourly_with_mark_and_oracle_prices(server, make_perp, clock) -> None:
    install_hyperliquid(server)
    venue = make_perp("hyperliquid", mode="paper")
    await venue.load_instruments()
    clock.advance(1_234_567)  # 00:20:34.567 of the simulated day
    funding = await venue.fetch_funding(PERP)
    assert funding is not None and (funding.rate, funding.interval_hours) == (0.0000125, 1)
    assert funding.next_ts == 1_704_067_200_000 + 3_600_000  # the next whole hour, by the venue's clock
    assert (funding.mark_price, funding.index_price) == (Decimal("42013"), Decimal("42003"))


async def test_open_interest_of_the_asked_market(server, make_perp) -> None:
    install_hyperliquid(server)
    venue = make_perp("hyperliquid", mode="paper", markets=[PERP, "ETH/USDC:USDC"])
    await venue.load_instruments()
    assert await venue.fetch_open_interest("ETH/USDC:USDC") == 462317.3476


async def test_our_client_order_id_travels_as_a_cloid_and_comes_back(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid")
    await venue.load_instruments()
    ack = await venue.create_order(resting())
    assert fake.actions("order")[0]["orders"][0]["c"] == CLOID
    assert ack.client_order_id == COID and ack.status is OrderStatus.OPEN
    found = await venue.fetch_order(COID, PERP)
    assert found is not None and found.venue_order_id == "77738308"


async def test_amend_is_one_batch_modify_and_no_cancel(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid")
    await venue.load_instruments()
    assert supports(venue, Capability.AMEND)
    ack = await venue.create_order(resting())
    amended = await venue.amend_order(resting(venue_order_id=ack.venue_order_id), price=Decimal("41500"), size=Decimal("0.02"))
    [modify] = fake.actions("batchModify")
    assert modify["modifies"][0]["oid"] == 77738308
    assert {k: modify["modifies"][0]["order"][k] for k in ("p", "s", "b", "c")} == {"p": "41500", "s": "0.02", "b": True, "c": CLOID}
    assert fake.actions("cancelByCloid") == [] and len(fake.actions("order")) == 1
    assert (amended.price, amended.size) == (Decimal("41500"), Decimal("0.02"))
    assert amended.report.client_order_id == COID and amended.report.venue_order_id == "77738309"
    assert fake.orders[CLOID]["limitPx"] == "41500"


async def test_an_amend_without_the_exchange_id_looks_it_up_first(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid")
    await venue.load_instruments()
    await venue.create_order(resting())
    await venue.amend_order(resting(), price=Decimal("41200"))
    assert fake.actions("batchModify")[0]["modifies"][0]["oid"] == 77738308


async def test_a_refused_amend_says_why_and_the_order_stays_as_it_was(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    fake.margin_cap = Decimal(1000)
    venue = make_perp("hyperliquid")
    await venue.load_instruments()
    ack = await venue.create_order(resting())
    with pytest.raises(AmendRefused) as refused:
        await venue.amend_order(resting(venue_order_id=ack.venue_order_id), size=Decimal("0.5"))
    message = str(refused.value)
    assert message.startswith(f"hyperliquid: hyperliquid refused the amend of {COID}: insufficient funds: ")
    assert "Insufficient margin to place order." in message and message.endswith("; the order is open: 0.01 @ 41000")
    assert fake.orders[CLOID]["sz"] == "0.01" and fake.orders[CLOID]["status"] == "open"


async def test_margin_mode_is_set_with_the_configured_leverage(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid", margin_mode="isolated", leverage=5)
    await venue.load_instruments()
    modes = await venue.apply_account_modes()
    [update] = fake.actions("updateLeverage")
    assert (update["asset"], update["isCross"], update["leverage"]) == (0, False, 5)
    assert modes.describe() == "one-way positions, isolated margin"


async def test_a_margin_mode_switch_the_exchange_refuses_is_worded(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    fake.positions.add(0)
    venue = make_perp("hyperliquid", margin_mode="isolated", leverage=5)
    await venue.load_instruments()
    with pytest.raises(VenueError, match=r"^hyperliquid: could not set BTC/USDC:USDC to isolated margin on hyperliquid: "
                                         r".*Cannot switch leverage type with open position"):
        await venue.apply_account_modes()


async def test_an_order_leverage_keeps_the_configured_margin_mode(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid", margin_mode="isolated", leverage=5)
    await venue.load_instruments()
    await venue.create_order(resting(leverage=3))
    [update] = fake.actions("updateLeverage")
    assert (update["isCross"], update["leverage"]) == (False, 3)


async def test_an_order_leverage_without_a_margin_mode_is_refused_before_sending(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid")
    await venue.load_instruments()
    with pytest.raises(VenueError, match="Hyperliquid sets leverage together with the margin mode: set margin_mode"):
        await venue.create_order(resting(leverage=3))
    assert fake.actions("updateLeverage") == [] and fake.actions("order") == []


async def test_a_market_order_is_bounded_from_the_book_mid(server, make_perp) -> None:
    fake = install_hyperliquid(server)
    venue = make_perp("hyperliquid")
    await venue.load_instruments()
    market = Order(client_order_id=COID, venue="hyperliquid", symbol=PERP, side=Side.BUY, type=OrderType.MARKET,
                   size=Decimal("0.01"), time_in_force=TimeInForce.IOC)
    refused = await venue.create_order(market)
    assert refused.status is OrderStatus.REJECTED
    assert refused.reason == f"no price for {PERP} yet to bound a market order's slippage; wait for the book"
    assert fake.actions("order") == []
    venue._on_book(PERP, {"bids": [[42012.0, 1.5]], "asks": [[42013.0, 2.0]], "timestamp": None, "nonce": None})
    await venue.create_order(market.model_copy(update={"client_order_id": "ot-0123456789abcdef01234568"}))
    [sent] = fake.actions("order")[0]["orders"]
    assert (sent["p"], sent["t"]) == ("44113", {"limit": {"tif": "Ioc"}})  # mid 42012.5 and ccxt's 5% bound
