"""At 80x24 nothing essential is cut: the status bar, every field of the ticket and its button,
own orders on the Trade screen, and the emergency stop key on every screen."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from textual.geometry import Region
from textual.widgets import Static

from core.clock import SimClock
from core.models import OrderRequest, OrderType, Side
from tests.tui.conftest import advance, settle, wait_ready
from tui.app import OpenTradeApp
from tui.widgets.footer import KeysFooter
from tui.widgets.order_ticket import OrderTicket
from tui.widgets.status_bar import StatusBar
from tui.widgets.strips import line_width

WIDTH, HEIGHT = 80, 24


async def test_the_emergency_stop_key_is_in_sight_on_every_screen(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await wait_ready(pilot)
        for screen_key in "1234567":
            await pilot.press(screen_key)
            await settle(pilot)
            footer = app.screen.query_one(KeysFooter)
            [(start, end)] = [(start, end) for start, end, key in footer.spans if key.action == "emergency_stop"]
            assert start < end <= WIDTH, f"screen {screen_key}: columns {start}-{end}"
            assert "E-STOP" in footer.render_line(0).text[start:end]


async def place_limit(app: OpenTradeApp, symbol: str) -> None:
    book = app.engine.market.book("paper", symbol)
    assert book is not None and book.best_bid is not None
    instrument = app.engine.instrument("paper", symbol)
    await app.engine.place_order(OrderRequest(venue="paper", symbol=symbol, side=Side.BUY, type=OrderType.LIMIT,
                                              size=Decimal("0.01"), price=instrument.round_price(book.best_bid * Decimal("0.99"))))


@pytest.mark.parametrize(("symbol", "order_type"), [("BTC/USDT", "limit"), ("BTC/USDT:USDT", "stop_limit")],
                         ids=["spot-limit", "perpetual-stop-limit"])
async def test_the_trade_screen_cuts_nothing_essential(make_app: Any, clock: SimClock, symbol: str,
                                                       order_type: str) -> None:
    app = make_app()
    async with app.run_test(size=(WIDTH, HEIGHT)) as pilot:
        await wait_ready(pilot)
        await app.select_market("paper", symbol)
        await advance(pilot, clock, 2)
        await place_limit(app, symbol)
        ticket = app.screen.query_one(OrderTicket)
        ticket.query_one("#type").value = OrderType(order_type)
        await advance(pilot, clock, 1)
        body = Region(0, 1, WIDTH, HEIGHT - 2)  # between the status bar and the footer

        bar = app.screen.query_one(StatusBar)
        [line] = bar.draw()
        assert line_width(line) <= WIDTH and line[-1][0].strip(), "the line fits, down to the clock at its end"

        assert ticket.max_scroll_y == 0, "nothing of the ticket is scrolled out of sight"
        fields = [w for w in ticket.query(".row, Checkbox, #preview, #submit") if w.display]
        expected = {"submit", "price-row"} | ({"trigger-row", "leverage-row", "reduce_only"} if ":" in symbol else set())
        assert expected <= {w.id for w in fields}
        for widget in fields:
            assert ticket.region.contains_region(widget.region) and body.contains_region(widget.region), widget

        own = app.screen.query_one("#own-orders", Static)
        assert own.display and body.contains_region(own.region)
        shown = str(own.content).splitlines()
        assert shown[0].startswith("[b]My orders[/b] (1)") and "BUY" in shown[1]
        assert own.content_region.height >= len(shown), "the title and the order line are on screen"
