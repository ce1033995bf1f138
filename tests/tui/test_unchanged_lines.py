"""A widget unchanged since its last paint gives the compositor the same lines again without
building them (``tui.unchanged_lines``); a change, a new size or a restyle builds them anew. The
first test fails if the Textual internals that module relies on change."""

from __future__ import annotations

import inspect

from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.widgets import Static

from tui.unchanged_lines import install


class Lines(App[None]):
    CSS = "#box { border: round green; height: 5; }"

    def compose(self) -> ComposeResult:
        yield Static("first", id="box")


def test_the_textual_internals_unchanged_lines_uses_are_there() -> None:
    parameters = list(inspect.signature(StylesCache.render).parameters)
    assert parameters[:7] == ["self", "styles", "size", "base_background", "background", "render_content_line",
                              "filters"], "StylesCache.render takes other arguments"
    cache = StylesCache()
    assert isinstance(cache._dirty_lines, set)  # noqa: SLF001
    for method in ("set_dirty", "clear"):
        assert callable(getattr(cache, method)), f"StylesCache.{method} is gone"


async def test_lines_are_built_again_only_after_a_change() -> None:
    install()
    app = Lines()
    async with app.run_test(size=(30, 8)) as pilot:
        await pilot.pause()
        box = app.query_one("#box", Static)
        whole = Region(0, 0, *box.region.size)
        first = box.render_lines(whole)
        assert box.render_lines(whole) is first, "unchanged: the same lines"
        assert box.render_lines(Region(0, 1, whole.width, 2)) is not first, "other rows: built"

        box.update("second")
        changed = box.render_lines(whole)
        assert changed is not first
        assert "second" in changed[1].text and "first" in first[1].text

        box.styles.border = ("heavy", "red")
        assert box.render_lines(whole)[0].text != changed[0].text, "restyled: built with the new border"
