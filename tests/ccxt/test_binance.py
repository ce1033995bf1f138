"""Binance through ccxt against the fake server: public data, account, orders by client id."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.models import ContractType, Order, OrderRequest, OrderStatus, OrderType, PositionSide, Side
from core.ports import Capability, VenueError
from tests.ccxt.fakes import install_binance


def limit_order(symbol: str = "BTC/USDT", size: str = "0.01", price: str = "41000", **kw: object) -> Order:
    return Order(client_order_id=kw.pop("client_order_id", "ot-0123456789abcdef01234567"), venue="binance",
                 symbol=symbol, side=kw.pop("side", Side.BUY), type=kw.pop("type", OrderType.LIMIT),
                 size=Decimal(size), price=Decimal(price) if price else None, **kw)


async def test_markets_become_instruments_with_precision_and_limits(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", markets=["BTC/USDT", "BTC/USDT:USDT"])
    instruments = {i.symbol: i for i in await venue.load_instruments()}
    spot, perp = instruments["BTC/USDT"], instruments["BTC/USDT:USDT"]
    assert (spot.tick_size, spot.lot_size, spot.min_size, spot.min_notional) == (
        Decimal("0.01"), Decimal("0.00001"), Decimal("0.00001"), Decimal("5"))
    assert spot.contract_type is ContractType.SPOT
    assert perp.contract_type is ContractType.LINEAR_PERPETUAL
    assert (perp.tick_size, perp.lot_size, perp.min_notional) == (Decimal("0.1"), Decimal("0.001"), Decimal("100"))
    assert (spot.max_leverage, perp.max_leverage) == (1, 20)
    assert server.unknown == []
    await venue.stop()


async def test_markets_are_cached_on_disk_until_too_old(server, make_venue, clock) -> None:
    install_binance(server)
    first = make_venue("binance")
    await first.load_instruments()
    await first.stop()
    calls = len(server.calls("GET", "/api/v3/exchangeInfo"))
    second = make_venue("binance")
    await second.load_instruments()
    await second.stop()
    assert len(server.calls("GET", "/api/v3/exchangeInfo")) == calls
    clock.advance(86_400_001)
    third = make_venue("binance")
    await third.load_instruments()
    await third.stop()
    assert len(server.calls("GET", "/api/v3/exchangeInfo")) == calls + 1


async def test_unknown_market_is_named_with_suggestions(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", markets=["BTC/USDC"])
    with pytest.raises(VenueError, match="no market BTC/USDC on binance.*BTC/USDT"):
        await venue.load_instruments()
    await venue.stop()


async def test_market_order_fill_arrives_in_the_ack(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance")
    await venue.load_instruments()
    ack = await venue.create_order(limit_order(type=OrderType.MARKET, price=""))
    assert ack.status is OrderStatus.FILLED and ack.filled_size == Decimal("0.01")
    assert ack.fill is not None and ack.fill.price == Decimal("42000.01")
    await venue.stop()


async def test_rounding_uses_the_exchange_precision(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", markets=["BTC/USDT", "BTC/USDT:USDT"])
    await venue.load_instruments()
    rounded = venue.round_order(limit_order(size="0.0123456789", price="41000.126"))
    assert rounded.size == Decimal("0.01234") and rounded.price == Decimal("41000.13")
    request = OrderRequest(venue="binance", symbol="BTC/USDT:USDT", side=Side.SELL, type=OrderType.STOP_LIMIT,
                           size=Decimal("0.0129"), price=Decimal("40000.04"), trigger_price=Decimal("40100.06"))
    rounded_request = venue.round_order(request)
    assert isinstance(rounded_request, OrderRequest)
    assert (rounded_request.size, rounded_request.price, rounded_request.trigger_price) == (
        Decimal("0.012"), Decimal("40000.0"), Decimal("40100.1"))
    await venue.stop()


async def test_orders_below_minimums_never_reach_the_exchange(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", markets=["BTC/USDT", "BTC/USDT:USDT"])
    await venue.load_instruments()
    small = await venue.create_order(limit_order(size="0.0001", price="41000"))
    assert small.status is OrderStatus.REJECTED and "notional 4.1 USDT is below binance's minimum 5" in small.reason
    perp = await venue.create_order(limit_order(symbol="BTC/USDT:USDT", size="0.002", price="41000"))
    assert perp.status is OrderStatus.REJECTED and "minimum 100 USDT" in perp.reason
    with pytest.raises(VenueError, match="minimum amount precision"):
        venue.round_order(limit_order(size="0.000001"))
    assert server.calls("POST", "/api/v3/order") == [] and server.calls("POST", "/fapi/v1/order") == []
    await venue.stop()


async def test_unsupported_order_type_is_refused_with_the_feature(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance")
    await venue.load_instruments()
    report = await venue.create_order(limit_order(type=OrderType.TRAILING_STOP, price="", trailing_offset=Decimal("250")))
    assert report.status is OrderStatus.REJECTED
    assert report.reason == ("binance takes trailing stops as a percentage; "
                             "no current price to convert the offset 250 (subscribe to BTC/USDT first)")
    assert server.calls("POST", "/api/v3/order") == []
    await venue.stop()


async def test_an_orders_own_levels_are_not_attached_at_the_exchange(server, make_venue) -> None:
    """Binance takes no attached take-profit/stop-loss: the order goes out alone and the engine
    protects the position it opens (engine-side on Binance, see capabilities)."""
    install_binance(server)
    venue = make_venue("binance", markets=["BTC/USDT", "BTC/USDT:USDT"])
    await venue.load_instruments()
    report = await venue.create_order(limit_order(take_profit=Decimal("45000"), stop_loss=Decimal("40000")))
    assert report.status is OrderStatus.OPEN
    [sent] = server.calls("POST", "/api/v3/order")
    assert not {"takeProfit", "stopLoss", "stopPrice"} & set(sent.params)
    assert not venue.holds_protective_orders("BTC/USDT:USDT") and not venue.holds_protective_orders("BTC/USDT")
    await venue.stop()


async def test_perpetual_order_and_position(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", markets=["BTC/USDT:USDT"])
    await venue.load_instruments()
    ack = await venue.create_order(limit_order(symbol="BTC/USDT:USDT", size="0.01", price="41000", reduce_only=True))
    assert ack.status is OrderStatus.OPEN
    sent = server.calls("POST", "/fapi/v1/order")[0].params
    assert sent["reduceOnly"] == "true" and sent["newClientOrderId"] == "ot-0123456789abcdef01234567"
    [position] = await venue.fetch_positions()
    assert (position.symbol, position.side, position.size) == ("BTC/USDT:USDT", PositionSide.LONG, Decimal("0.015"))
    assert position.entry_price == Decimal("41500") and position.unrealized_pnl == Decimal("7.5")
    await venue.stop()


async def test_leverage_is_set_before_a_perpetual_order(server, make_venue) -> None:
    install_binance(server)
    server.route("POST", "/fapi/v1/leverage", lambda r: {"leverage": int(r.params["leverage"]),
                                                         "maxNotionalValue": "80000000", "symbol": "BTCUSDT"})
    venue = make_venue("binance", markets=["BTC/USDT:USDT"])
    await venue.load_instruments()
    ack = await venue.create_order(limit_order(symbol="BTC/USDT:USDT", size="0.01", price="41000", leverage=5))
    assert ack.status is OrderStatus.OPEN
    [request] = server.calls("POST", "/fapi/v1/leverage")
    assert request.params["leverage"] == "5" and request.params["symbol"] == "BTCUSDT"
    assert request.ts <= server.calls("POST", "/fapi/v1/order")[0].ts


async def test_configured_margin_mode_is_set_once_per_perpetual(server, make_venue) -> None:
    install_binance(server)
    server.route("POST", "/fapi/v1/marginType", lambda _r: {"code": 200, "msg": "success"})
    venue = make_venue("binance", markets=["BTC/USDT:USDT"], options={"marginMode": "isolated"})
    await venue.load_instruments()
    for n in range(2):
        await venue.create_order(limit_order(symbol="BTC/USDT:USDT", size="0.01", price="41000",
                                             client_order_id=f"ot-{n:024d}"))
    [request] = server.calls("POST", "/fapi/v1/marginType")
    assert request.params["marginType"] == "ISOLATED" and request.params["symbol"] == "BTCUSDT"
    assert len(server.calls("POST", "/fapi/v1/order")) == 2


async def test_live_orders_wait_for_the_typed_confirmation(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance")
    venue.live_confirmed = False
    assert venue.supports(Capability.LIVE_CONFIRMATION), "the app asks a live exchange for the go-ahead"
    await venue.load_instruments()
    assert await venue.fetch_balances()
    with pytest.raises(VenueError, match="live trading has not been confirmed"):
        await venue.create_order(limit_order())
    assert server.calls("POST", "/api/v3/order") == []
    venue.confirm_live()
    assert (await venue.create_order(limit_order())).status is OrderStatus.OPEN


async def test_live_mode_without_credentials_says_which_variables_to_set(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance")
    venue._credentials = None
    with pytest.raises(VenueError, match="set OPENTRADE_BINANCE_API_KEY and OPENTRADE_BINANCE_SECRET"):
        await venue.fetch_balances()


async def test_only_configured_markets_are_returned_but_all_are_known(server, make_venue) -> None:
    install_binance(server)
    venue = make_venue("binance", markets=["ETH/USDT"])
    assert [i.symbol for i in await venue.load_instruments()] == ["ETH/USDT"]
    assert venue.instrument("BTC/USDT:USDT").is_perpetual
