"""A partial paint with the visible widgets narrowed to those in its dirty regions
(``tui.painted_widgets``) sends the terminal what Textual's own sends, and asks the others for
no lines. The first test fails if the Textual internals that module relies on change."""

from __future__ import annotations

import inspect

import pytest
from textual._compositor import ChopsUpdate, Compositor
from textual.app import App, ComposeResult
from textual.containers import Horizontal, Vertical
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

from tui.painted_widgets import _textual_render_partial_update, install


class Panels(App[None]):
    CSS = """
    #left { width: 14; border: round green; }
    #right Static { height: 1fr; border: solid $panel-lighten-2; padding: 0 1; }
    #middle { background: $boost; }
    """

    def compose(self) -> ComposeResult:
        with Horizontal():
            yield Static("left", id="left")
            with Vertical(id="right"):
                yield Static("top", id="top")
                yield Static("middle", id="middle")
                yield Static("bottom", id="bottom")


def test_the_textual_internals_painted_widgets_uses_are_there() -> None:
    assert list(inspect.signature(Compositor.render_partial_update).parameters) == ["self"]
    compositor = Compositor()
    assert isinstance(compositor._dirty_regions, set)  # noqa: SLF001
    assert compositor._visible_widgets is None and compositor._layers_visible is None  # noqa: SLF001
    assert isinstance(Compositor.visible_widgets, property) and isinstance(Compositor.cuts, property)


async def test_a_partial_paint_sends_what_textual_sends_and_asks_only_the_painted_widgets(
        monkeypatch: pytest.MonkeyPatch) -> None:
    install()
    app = Panels()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor  # noqa: SLF001
        top, bottom = app.query_one("#top", Static), app.query_one("#bottom", Static)
        top.update("top, changed")
        bottom.update("bottom, changed")
        # a row of the top widget's text and a part of the bottom one: the box around them
        # holds the middle widget and the left one's right edge
        dirty = {Region(top.region.x + 1, top.region.y + 1, 12, 1), Region(bottom.region.x, bottom.region.y + 1, 8, 2)}
        asked: list[str] = []
        original = Widget.render_lines

        def recording(widget: Widget, crop: Region) -> list[Strip]:
            asked.append(widget.id or type(widget).__name__)
            return original(widget, crop)

        monkeypatch.setattr(Widget, "render_lines", recording)
        compositor._dirty_regions = set(dirty)  # noqa: SLF001
        narrowed = compositor.render_partial_update()
        narrowed_asked, asked[:] = list(asked), []
        compositor._dirty_regions = set(dirty)  # noqa: SLF001
        whole = _textual_render_partial_update(compositor)
        monkeypatch.undo()
        assert isinstance(narrowed, ChopsUpdate) and isinstance(whole, ChopsUpdate)
        assert narrowed.render_segments(app.console) == whole.render_segments(app.console)
        assert "top, chang" in narrowed.render_segments(app.console), "the new text is painted"
        assert "middle" in asked and "left" in asked, "Textual asks the widgets in the box around the regions"
        assert "middle" not in narrowed_asked and "left" not in narrowed_asked
        assert {"top", "bottom"} <= set(narrowed_asked)
        assert len(compositor.visible_widgets) == len(app.screen.query("*")) + 1, "the full map is back"
        assert {widget for layer in compositor.layers_visible for widget, _, _ in layer} == set(compositor.visible_widgets)
