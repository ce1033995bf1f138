"""The footer shows the keys of the current screen and follows changes to them; moving in and
out of a text field changes its keys without laying the screen out; a click on a key presses it."""

from __future__ import annotations

import gc
from typing import Any, ClassVar

import pytest
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType

from tests.tui.conftest import count_layouts, settle, wait_ready
from tui.widgets.footer import KeysFooter


def shown_actions(footer: KeysFooter) -> list[str]:
    """The actions of the keys on screen (one cut off by a narrow terminal is not)."""
    return [key.action for _, _, key in footer.spans]


def seen(footer: KeysFooter) -> str:
    return footer.render_line(0).text


async def test_switching_screens_back_and_forth_keeps_one_footer_a_screen_showing_its_keys(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        for key in ("2", "1") * 2:
            await pilot.press(key)
            await settle(pilot, rounds=1)
        gc.collect()
        before = sum(isinstance(o, KeysFooter) for o in gc.get_objects())
        for key in ("2", "1") * 5:
            await pilot.press(key)
            await settle(pilot, rounds=1)
        gc.collect()
        assert sum(isinstance(o, KeysFooter) for o in gc.get_objects()) == before
        assert "app.choose_market" in shown_actions(app.screen.query_one(KeysFooter))


class ArmableApp(App[None]):
    """A screen whose "fire" key is offered only while armed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "arm", "Arm"), Binding("f", "fire", "Fire"),
                                             Binding("q", "quit", "Quit", priority=True)]
    armed = False
    fired = 0

    def compose(self) -> ComposeResult:
        yield KeysFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.armed if action == "fire" else True

    def action_arm(self) -> None:
        self.armed = True
        self.refresh_bindings()

    def action_fire(self) -> None:
        self.armed = False
        self.fired += 1
        self.refresh_bindings()


async def test_the_footer_follows_a_key_coming_and_going_priority_keys_first() -> None:
    app = ArmableApp()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        footer = app.query_one(KeysFooter)
        assert shown_actions(footer)[:2] == ["quit", "arm"] and "fire" not in shown_actions(footer)
        assert seen(footer).startswith(" q Quit  a Arm ")
        await pilot.press("a")
        await pilot.pause()
        assert "fire" in shown_actions(footer) and " f Fire " in seen(footer)
        await pilot.press("f")
        await pilot.pause()
        assert "fire" not in shown_actions(footer) and "Fire" not in seen(footer)


async def test_a_click_on_a_key_presses_it() -> None:
    app = ArmableApp()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        footer = app.query_one(KeysFooter)
        [(start, _, _)] = [span for span in footer.spans if span[2].action == "arm"]
        await pilot.click(KeysFooter, offset=(start + 1, 0))
        await pilot.pause()
        assert app.armed
        [(start, _, _)] = [span for span in footer.spans if span[2].action == "fire"]
        await pilot.click(KeysFooter, offset=(start + 1, 0))
        await pilot.pause()
        assert app.fired == 1 and not app.armed


async def test_a_pointer_over_a_key_highlights_it_until_it_leaves() -> None:
    app = ArmableApp()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()
        footer = app.query_one(KeysFooter)
        plain = footer.render_line(0)
        [(start, end)] = [(start, end) for start, end, key in footer.spans if key.action == "arm"]
        await pilot.hover(KeysFooter, offset=(start + 1, 0))
        await pilot.pause()
        hovered = footer.render_line(0)
        assert hovered.text == plain.text and hovered != plain
        assert hovered.crop(end, 60) == plain.crop(end, 60) and hovered.crop(0, start) == plain.crop(0, start)
        await pilot.hover(KeysFooter, offset=(end + 10, 0))
        await pilot.pause()
        assert footer.render_line(0) == plain


async def test_in_and_out_of_a_text_field_the_footer_shows_its_keys_without_laying_the_screen_out(
        make_app: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The size field takes the letter keys away (b, s, m, ?), Escape gives them back. A footer of
    key widgets laid the whole Trade screen out each time (10-25 ms with the market streaming)."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        screen = app.screen
        footer = screen.query_one(KeysFooter)
        layouts = count_layouts(screen, monkeypatch)
        before = seen(footer)
        await pilot.press("s")
        await settle(pilot)
        inside = seen(footer)
        assert "side('sell')" not in shown_actions(footer) and "Sell" not in inside
        assert "emergency_stop" in shown_actions(footer)
        await pilot.press("escape")
        await settle(pilot)
        assert "side('sell')" in shown_actions(footer) and seen(footer) == before
        await pilot.press("b")
        await settle(pilot)
        assert seen(footer) == inside
        await pilot.press("escape")
        await settle(pilot)
        assert seen(footer) == before
        assert layouts == []
