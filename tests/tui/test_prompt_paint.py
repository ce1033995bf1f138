"""A key's effect is painted once its handlers are done, without waiting for the screen's frame
tick (``tui.prompt_paint``). The screen's ticks are stopped in these tests, so what reaches the
terminal was painted by ``paint_now``; the first test fails if the Textual internals that
module relies on change (it then needs reading again against Textual's ``screen.py``)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from textual import events
from textual.app import App, ComposeResult
from textual.screen import Screen
from textual.widgets import Static

from tests.tui.conftest import wait_ready
from tui.prompt_paint import needs_paint, paint_now
from tui.widgets.order_book import OrderBookLadder

#: turns of the loop a key gets to be handled and painted (each message hop takes one or two)
TURNS = 500


class OneLine(App[None]):
    def compose(self) -> ComposeResult:
        yield Static("before", id="line")


def without_ticks(screen: Screen[Any], monkeypatch: pytest.MonkeyPatch) -> None:
    """The screen's update timer never ticks again: it only paints when told to."""
    timer = screen._update_timer  # noqa: SLF001
    timer.pause()
    monkeypatch.setattr(timer, "resume", lambda: None)


def recording_paints(app: App[Any], monkeypatch: pytest.MonkeyPatch) -> list[object]:
    painted: list[object] = []
    display = app._display  # noqa: SLF001

    def recorded(screen: Screen[Any], renderable: Any) -> None:
        if renderable is not None:
            painted.append(renderable)
        display(screen, renderable)

    monkeypatch.setattr(app, "_display", recorded)
    return painted


async def test_the_textual_internals_prompt_paint_uses_are_there() -> None:
    app = OneLine()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        for flag in ("_layout_required", "_scroll_required", "_repaint_required", "_recompose_required"):
            assert isinstance(getattr(screen, flag), bool), f"Screen.{flag} is gone"
        assert isinstance(screen._dirty_widgets, set)  # noqa: SLF001
        assert isinstance(app._batch_count, int)  # noqa: SLF001
        timer = screen._update_timer  # noqa: SLF001
        assert timer._callback == screen._on_timer_update, "the frame tick no longer calls Screen._on_timer_update"  # noqa: SLF001


async def test_paint_now_paints_what_the_next_tick_would(monkeypatch: pytest.MonkeyPatch) -> None:
    app = OneLine()
    async with app.run_test() as pilot:
        await pilot.pause()
        screen = app.screen
        without_ticks(screen, monkeypatch)
        painted = recording_paints(app, monkeypatch)
        line = app.query_one("#line", Static)
        line.update("after")
        for _ in range(TURNS):
            if needs_paint(screen):
                break
            await asyncio.sleep(0)
        assert needs_paint(screen) and painted == [], "the change waits for a tick that does not come"
        with app.batch_update():
            assert not paint_now(screen), "a batch update holds paints back"
        assert paint_now(screen)
        assert len(painted) == 1 and "after" in str(line.render())
        assert not needs_paint(screen) and not paint_now(screen), "nothing is left to paint"


async def test_a_key_on_the_trade_screen_is_painted_without_the_frame_tick(make_app: Any,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        render_clock = next(timer for timer in app._timers if timer.name == "render-clock")  # noqa: SLF001
        render_clock.pause()
        screen = app.screen
        without_ticks(screen, monkeypatch)
        painted = recording_paints(app, monkeypatch)
        ladder = screen.query_one(OrderBookLadder)
        key = events.Key("plus", "+")
        key.set_sender(app)
        app.post_message(key)
        for _ in range(TURNS):
            await asyncio.sleep(0)
            if painted and app.keys_idle:
                break
        assert ladder.grouping_index == 1
        assert painted, "the new grouping was painted once the key was handled"
        assert not needs_paint(screen)
        render_clock.resume()
