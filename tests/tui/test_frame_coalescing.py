"""Market updates reach the Trade screen once per frame, the latest state winning: however many
book updates, trades and marks arrive between two frames, the next frame shows the last of each,
and a text that did not change is not repainted."""

from __future__ import annotations

import asyncio
from typing import Any

from textual.widgets import Select, Static

from core.clock import SimClock
from core.models import OrderType
from tests.tui.conftest import advance, settle, wait_ready
from tui.app import OpenTradeApp
from tui.format import show_price
from tui.widgets.order_book import OrderBookLadder
from tui.widgets.order_ticket import OrderTicket
from tui.widgets.trades_tape import TradesTape


async def many_updates_without_a_frame(app: OpenTradeApp, clock: SimClock, ticks: int) -> None:
    """Simulator ticks back to back, the render clock held off: they all land in one frame."""
    frames = app.frames
    render_clock = next(timer for timer in app._timers if timer.name == "render-clock")  # noqa: SLF001
    render_clock.pause()
    try:
        for _ in range(ticks):
            clock.advance(100)
            for _ in range(4):
                await asyncio.sleep(0)
    finally:
        render_clock.resume()
    assert app.frames == frames


async def test_many_updates_between_two_frames_show_the_last_book_trade_mark_and_preview(
        make_app: Any, clock: SimClock) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 1)
        screen = app.screen
        screen.query_one("#type", Select).value = OrderType.MARKET  # previewed at the mark
        await pilot.press("b", *"0.01")
        await settle(pilot)
        venue, symbol = app.market
        session = app.session
        instrument = session.instrument(venue, symbol)
        market_line = screen.query_one("#market-line", Static)
        shown_before = str(market_line.content)

        await many_updates_without_a_frame(app, clock, 30)
        app.render_frame()
        await pilot.pause()

        book = session.book(venue, symbol)
        assert book is not None and book.best_bid is not None
        assert screen.query_one(OrderBookLadder).book is book
        ladder = str(screen.query_one(OrderBookLadder).render())
        assert f"{book.best_bid:,.{instrument.price_decimals}f}" in ladder
        assert screen.query_one(TradesTape).trades[-1] == session.trades(venue, symbol)[-1]
        mark = session.mark(venue, symbol)
        assert f"mark {show_price(instrument, mark)}" in str(market_line.content) != shown_before
        ticket = screen.query_one(OrderTicket)
        assert ticket.mark == mark
        preview = str(screen.query_one("#preview", Static).content)
        assert preview == ticket._preview_text(ticket.evaluate()) and "Notional -" not in preview


async def test_a_frame_that_changes_nothing_in_the_ticket_preview_does_not_repaint_it(
        make_app: Any, clock: SimClock) -> None:
    """With no size typed the preview says the same whatever the mark: the mark moving on every
    frame repainted it, and with it the whole ticket column beside the market."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 1)
        screen = app.screen
        preview = screen.query_one("#preview", Static)
        ticket = screen.query_one(OrderTicket)
        drawn, mark = preview.visual, ticket.mark
        await advance(pilot, clock, 2)
        assert ticket.mark != mark
        assert preview.visual is drawn


async def test_frames_with_the_mark_moving_do_not_search_the_ticket_for_its_message_lines(
        make_app: Any, clock: SimClock, monkeypatch: Any) -> None:
    """The preview is worked out on every frame the mark moves, and with it the message under
    each field: the lines are found once, not by a walk of the whole ticket each frame (a fifth
    of the CPU of drawing the Trade screen's frame). A message still shows where it belongs."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        await advance(pilot, clock, 1)
        ticket = app.screen.query_one(OrderTicket)
        searches: list[object] = []
        query = ticket.query

        def counted(selector: Any = None) -> Any:
            searches.append(selector)
            return query(selector)

        monkeypatch.setattr(ticket, "query", counted)
        mark = ticket.mark
        await advance(pilot, clock, 3)
        assert ticket.mark != mark and searches == []
        await pilot.press("b", *"abc")
        await settle(pilot)
        assert "↳" in str(app.screen.query_one("#size-error", Static).content)
