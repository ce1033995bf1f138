"""Keyboard-only trading on the paper venue: place, see, modify, cancel, fill, close."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import DataTable, Input, Select, Static

from core.clock import SimClock
from core.config import AppConfig
from core.models import OrderRequest, OrderStatus, OrderType, Side
from tests.tui.conftest import SESSIONS, advance, settle, until, wait_ready
from tui.app import OpenTradeApp
from tui.screens.confirm import ConfirmScreen
from tui.screens.edit_order import EditOrderScreen
from tui.widgets.order_book import OrderBookLadder
from tui.widgets.order_ticket import OrderTicket
from tui.widgets.price_chart import AXIS_WIDTH, PriceChart

SYMBOL = "BTC/USDT"


def _app(pilot: Pilot[Any]) -> OpenTradeApp:
    assert isinstance(pilot.app, OpenTradeApp)
    return pilot.app


async def type_ticket(pilot: Pilot[Any], size: str, price: str | None = None) -> None:
    """Fill the ticket with the keyboard: o jumps to the size, tab tab reaches the price."""
    await pilot.press("escape", "o")
    await pilot.press("ctrl+u", *size)
    if price is not None:
        await pilot.press("tab", "tab", "ctrl+u", *price)


async def choose_market_type(pilot: Pilot[Any]) -> None:
    """Pick Market in the ticket's type list with the keyboard."""
    app = _app(pilot)
    await pilot.press("escape")
    app.screen.query_one("#type").focus()
    for key in ("enter", "up", "enter"):
        await pilot.pause()
        await pilot.press(key)
    assert str(app.screen.query_one("#type").value) == OrderType.MARKET.value  # type: ignore[attr-defined]


def resting_buy_price(app: OpenTradeApp) -> Decimal:
    book = app.engine.market.book("paper", SYMBOL)
    assert book is not None and book.best_bid is not None
    tick = app.engine.instrument("paper", SYMBOL).tick_size
    return book.best_bid - 100 * tick


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_limit_order_by_keyboard_shows_in_book_and_open_orders_then_modify_and_cancel(
    make_app: Any, clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 3)
        price = resting_buy_price(app)
        await type_ticket(pilot, "0.01", str(price))
        await pilot.press("enter")
        await settle(pilot)

        orders = app.engine.open_orders("paper", SYMBOL)
        assert len(orders) == 1
        order = orders[0]
        assert (order.type, order.price, order.size) == (OrderType.LIMIT, price, Decimal("0.01"))
        ladder = app.screen.query_one(OrderBookLadder)
        assert [o.client_order_id for o in ladder.own_orders] == [order.client_order_id]
        assert "◆" in ladder.render().plain

        await pilot.press("escape", "2")
        await settle(pilot)
        assert app.current_mode == "positions"
        await pilot.press("e")
        await settle(pilot)
        assert isinstance(app.screen, EditOrderScreen)
        new_price = price - 50 * app.engine.instrument("paper", SYMBOL).tick_size
        await pilot.press("ctrl+u", *str(new_price), "enter")
        await settle(pilot)
        [modified] = app.engine.open_orders("paper", SYMBOL)
        assert modified.price == new_price
        assert modified.client_order_id != order.client_order_id
        table = app.screen.query_one("#table-orders", DataTable)
        assert [str(k.value) for k in table.rows] == [modified.client_order_id]

        await pilot.press("c")
        await settle(pilot)
        assert app.engine.open_orders() == []
        assert table.row_count == 0


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_market_order_fills_shows_position_then_close(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 3)
        await choose_market_type(pilot)
        await type_ticket(pilot, "0.01")
        await pilot.press("enter")
        await advance(pilot, clock, 1)

        position = app.engine.portfolio.position("paper", SYMBOL)
        assert position is not None and position.size == Decimal("0.01")
        await pilot.press("escape", "2")
        await settle(pilot)
        table = app.screen.query_one("#table-positions", DataTable)
        assert [str(k.value) for k in table.rows] == [f"paper|{SYMBOL}"]

        await pilot.press("x")
        await advance(pilot, clock, 1)
        assert app.engine.portfolio.position("paper", SYMBOL) is None
        assert table.row_count == 0


async def test_invalid_input_gets_a_message_next_to_the_field_and_nothing_is_sent(
    make_app: Any, clock: SimClock
) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await type_ticket(pilot, "abc", "60000.123")
        await pilot.press("enter")
        await settle(pilot)
        size_error = str(app.screen.query_one("#size-error", Static).render())
        price_error = str(app.screen.query_one("#price-error", Static).render())
        assert "'abc' is not a number" in size_error
        assert "tick" in price_error
        assert app.engine.open_orders() == []
        assert await app.engine.order_history() == []


async def test_double_submit_sends_one_order(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await type_ticket(pilot, "0.01", str(resting_buy_price(app)))
        await pilot.press("enter", "enter")
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert len(app.engine.open_orders()) == 1
        assert "required" in str(app.screen.query_one("#size-error", Static).render())


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_the_chart_opens_with_the_venues_history(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await until(pilot, lambda: len(app.session.candles("paper", "BTC/USDT", "1m")) >= 100, "the venue's history")
        await advance(pilot, clock, 1)
        chart = app.screen.query_one(PriceChart)
        columns = chart.size.width - AXIS_WIDTH
        assert len(chart.candles) >= columns, "a full chart, not the minute since the start"
        body = chart.render().plain.splitlines()[1:]
        assert all(any(line[column] != " " for line in body) for column in range(columns)), "a candle in every column"


async def test_a_number_typed_past_the_size_field_stays_in_the_ticket(make_app: Any, clock: SimClock) -> None:
    """Tab from the size goes to its unit list: the price typed next must not switch screens."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await pilot.press("b", *"0.01", "tab")
        assert isinstance(app.focused, Select)
        await pilot.press(*"59000")
        await settle(pilot)
        assert app.current_mode == "trade" and isinstance(app.focused, Select)
        assert app.screen.query_one("#size", Input).value == "0.01"
        await pilot.press("tab", *"59000")
        assert app.screen.query_one("#price", Input).value == "59000"
        await pilot.press("escape", "2")
        await settle(pilot)
        assert app.current_mode == "positions", "outside the ticket the number keys still switch screens"


async def test_a_missing_price_stays_named_while_the_market_moves(make_app: Any, clock: SimClock) -> None:
    """Each new mark re-checks the ticket; it must not wipe the "required" that Enter asked for."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await type_ticket(pilot, "0.01")
        await pilot.press("enter")
        await settle(pilot)
        ticket = app.screen.query_one(OrderTicket)
        mark = ticket.mark
        await advance(pilot, clock, 5)
        assert ticket.mark != mark, "the mark moved"
        assert "required" in str(app.screen.query_one("#price-error", Static).render())
        assert app.engine.open_orders() == []


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_large_order_asks_for_confirmation(make_app: Any, clock: SimClock) -> None:
    config = AppConfig()
    config.trading.confirm_notional_above = Decimal(500)
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        price = resting_buy_price(app)
        await type_ticket(pilot, "0.01", str(price))
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        body = str(app.screen.query_one("#body", Static).render())
        assert f"BUY LIMIT 0.01000 {SYMBOL} at {price:,} USDT GTC on paper" in body and "above 500" in body
        await pilot.press("escape")
        await settle(pilot)
        assert await app.engine.order_history() == []

        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+y")
        await settle(pilot)
        [order] = app.engine.open_orders()
        assert order.status is OrderStatus.OPEN and order.size == Decimal("0.01")


@pytest.mark.parametrize("session_kind", SESSIONS)
async def test_emergency_stop_and_reset_need_confirmation(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        await type_ticket(pilot, "0.01", str(resting_buy_price(app)))
        await pilot.press("enter")
        await settle(pilot)
        assert len(app.engine.open_orders()) == 1

        await pilot.press("ctrl+k")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("escape")
        await settle(pilot)
        assert app.engine.risk.state.value == "active" and len(app.engine.open_orders()) == 1

        await pilot.press("ctrl+k")
        await settle(pilot)
        assert "cancels 1 open order" in str(app.screen.query_one("#body", Static).render())
        await pilot.press("ctrl+y")
        await advance(pilot, clock, 1)
        assert app.engine.risk.state.value == "halted"
        assert app.engine.open_orders() == []

        await pilot.press("escape", "4")
        await settle(pilot)
        assert app.current_mode == "risk"
        assert "HALTED" in str(app.screen.query_one("#risk-state", Static).render())
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert app.engine.risk.state.value == "active"
        for widget in app.query(Input):
            assert widget.value == "" or widget.id in ("size", "price")


async def test_cancel_all_and_close_all_say_what_they_do_and_need_confirmation(make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 2)
        price = resting_buy_price(app)
        for offset in (0, 1):  # three 0.005 BTC buys, working ones included, stay within the 1,000 USDT cap
            await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.LIMIT,
                                                      size=Decimal("0.005"), price=price - offset))
        await app.engine.place_order(OrderRequest(venue="paper", symbol=SYMBOL, side=Side.BUY, type=OrderType.MARKET,
                                                  size=Decimal("0.005")))
        await advance(pilot, clock, 1)
        assert len(app.engine.open_orders()) == 2 and app.engine.portfolio.position("paper", SYMBOL) is not None

        await pilot.press("2", "C")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "Cancel all 2 open order(s)" in str(app.screen.query_one("#body", Static).render())
        await pilot.press("ctrl+y")
        await settle(pilot)
        assert app.engine.open_orders() == []

        await pilot.press("X")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "close 1 position(s): long 0.00500 BTC/USDT" in str(app.screen.query_one("#body", Static).render())
        await pilot.press("ctrl+y")
        await advance(pilot, clock, 1)
        assert app.engine.portfolio.positions() == []


async def test_a_tripped_breaker_is_reset_from_the_risk_screen_by_an_admin_only(make_app: Any, clock: SimClock) -> None:
    from core.config import PermissionsConfig
    from core.risk.breakers import BreakerLevel

    config = AppConfig(permissions=PermissionsConfig(profile="desk", profiles={"desk": "trade"}))
    app = make_app(config)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        breakers = app.engine.guard.breakers
        breakers.trip(BreakerLevel.ACCOUNT, "drill", "account", "a drill")
        await settle(pilot)
        await pilot.press("4", "r")
        await settle(pilot)
        assert isinstance(app.screen, ConfirmScreen)
        assert "breaker account: a drill" in str(app.screen.query_one("#body", Static).render())
        await pilot.press("ctrl+y")
        await settle(pilot, 4)
        assert breakers.tripped, "a trade-level profile cannot reset a breaker"
        assert any("admin" in n.message.lower() or "not allowed" in (n.title or "").lower() for n in app._notifications)
