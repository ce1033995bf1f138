"""The footer shows the keys of the current screen, follows changes to them, and switching
screens does not keep old footer keys alive."""

from __future__ import annotations

import gc
from typing import Any, ClassVar

from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets._footer import FooterKey

from tests.tui.conftest import settle, wait_ready
from tui.widgets.footer import KeysFooter


def shown_actions(footer: KeysFooter) -> list[str]:
    """The actions of the keys on screen (a key not offered now may be built but hidden)."""
    return [key.action for key in footer.query(FooterKey) if key.display]


def live_footer_keys() -> list[FooterKey]:
    gc.collect()
    return [o for o in gc.get_objects() if isinstance(o, FooterKey)]


async def test_switching_screens_back_and_forth_keeps_no_dead_footer_keys(make_app: Any) -> None:
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        for key in ("2", "1") * 2:
            await pilot.press(key)
            await settle(pilot, rounds=1)
        before = len(live_footer_keys())
        for key in ("2", "1") * 10:
            await pilot.press(key)
            await settle(pilot, rounds=1)
        keys = live_footer_keys()
        assert len(keys) == before
        assert all(key.is_attached for key in keys)
        assert "app.choose_market" in shown_actions(app.screen.query_one(KeysFooter))


class ArmableApp(App[None]):
    """A screen whose "fire" key is offered only while armed."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("a", "arm", "Arm"), Binding("f", "fire", "Fire")]
    armed = False

    def compose(self) -> ComposeResult:
        yield KeysFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.armed if action == "fire" else True

    def action_arm(self) -> None:
        self.armed = True
        self.refresh_bindings()

    def action_fire(self) -> None:
        self.armed = False
        self.refresh_bindings()


async def test_the_footer_follows_a_key_coming_and_going() -> None:
    app = ArmableApp()
    async with app.run_test(size=(60, 5)) as pilot:
        await pilot.pause()

        def shown() -> list[str]:
            return shown_actions(app.query_one(KeysFooter))

        assert "arm" in shown() and "fire" not in shown()
        await pilot.press("a")
        await pilot.pause()
        assert "fire" in shown()
        await pilot.press("f")
        await pilot.pause()
        assert "fire" not in shown()

        for _ in range(10):
            await pilot.press("a", "f")
            await pilot.pause()
        assert all(key.is_attached for key in live_footer_keys())



async def test_in_and_out_of_a_text_field_the_footer_shows_what_a_new_footer_would_and_builds_each_set_once(
        make_app: Any) -> None:
    """The size field takes the letter keys away (b, s, m, ?), Escape gives them back; the footer
    keeps both sets of keys built and shows the one that applies, as a footer built afresh would."""
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        footer = app.screen.query_one(KeysFooter)

        def seen() -> list[str]:
            return [strip.text for strip in footer.render_lines(footer.region.reset_offset)]

        before = seen()
        await pilot.press("s")
        await settle(pilot)
        inside = seen()
        assert "side('sell')" not in shown_actions(footer) and "Sell" not in inside[0]
        await pilot.press("escape")
        await settle(pilot)
        assert "side('sell')" in shown_actions(footer) and seen() == before
        built = set(footer.query(FooterKey))
        await pilot.press("b")
        await settle(pilot)
        assert seen() == inside
        await pilot.press("escape")
        await settle(pilot)
        assert seen() == before
        assert set(footer.query(FooterKey)) == built

        await pilot.press("s")
        await settle(pilot)
        footer.refresh(recompose=True)
        await settle(pilot)
        assert len(footer.query(FooterKey)) < len(built) and seen() == inside
