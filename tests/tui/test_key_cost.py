"""What a key costs on the Trade screen: changing the ticket's side repaints the select and the
button, without laying out the screen again (every widget placed anew, before the frame that
shows the new side)."""

from __future__ import annotations

from typing import Any

import pytest
from textual.widgets import Input, Select

from core.models import Side
from tests.tui.conftest import count_layouts, settle, wait_ready
from tui.widgets.order_ticket import OrderTicket


async def test_changing_the_side_shows_it_without_a_layout(make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.screen
        layouts = count_layouts(screen, monkeypatch)
        ticket = screen.query_one(OrderTicket)
        for side in (Side.SELL, Side.BUY, Side.SELL):
            ticket.set_side(side)
            await settle(pilot)
            assert ticket.side is side
            assert str(screen.query_one("#side", Select).query_one("#label").render()) == side.value.capitalize()
            assert str(screen.query_one("#submit").render()) == f"Place {side.value.upper()} LIMIT"
        assert layouts == []


async def test_moving_the_focus_repaints_the_field_not_the_whole_screen(make_app: Any,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """b, s and Escape move the focus in and out of the size field: the field shows it (its
    cursor), and the rest of the screen is not cut and sent to the terminal again."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.screen
        compositor = screen._compositor
        full_frames: list[object] = []
        render_full_update = compositor.render_full_update

        def counted(*args: Any, **kwargs: Any) -> Any:
            full_frames.append(args)
            return render_full_update(*args, **kwargs)

        monkeypatch.setattr(compositor, "render_full_update", counted)
        size = screen.query_one("#size", Input)
        resting = size.render_line(0)
        for key, focused in (("s", size), ("escape", None), ("b", size), ("escape", None)):
            await pilot.press(key)
            await settle(pilot)
            assert screen.focused is focused
            assert (size.render_line(0) != resting) is (focused is size)
        assert full_frames == []
