"""A partial paint with the visible widgets narrowed to those in its dirty regions
(``tui.painted_widgets``) sends the terminal what Textual's own sends, and asks the others for
no lines. The first test fails if the Textual internals that module relies on change."""

from __future__ import annotations

import inspect
from collections.abc import Callable

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
    #middle { background: $boost; margin: 0 2; }
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


def paint(compositor: Compositor, dirty: set[Region], monkeypatch: pytest.MonkeyPatch,
          render: Callable[[Compositor], ChopsUpdate | None]) -> tuple[ChopsUpdate | None, list[str]]:
    """``render`` of the ``dirty`` regions, and the widgets it asked for lines."""
    asked: list[str] = []
    original = Widget.render_lines

    def recording(widget: Widget, crop: Region) -> list[Strip]:
        asked.append(widget.id or type(widget).__name__)
        return original(widget, crop)

    monkeypatch.setattr(Widget, "render_lines", recording)
    compositor._dirty_regions = set(dirty)  # noqa: SLF001
    update = render(compositor)
    monkeypatch.undo()
    return update, asked


async def test_a_partial_paint_sends_what_textual_sends_and_asks_only_the_widgets_that_show(
        monkeypatch: pytest.MonkeyPatch) -> None:
    install()
    app = Panels()
    async with app.run_test(size=(50, 16)) as pilot:
        await pilot.pause()
        compositor = app.screen._compositor  # noqa: SLF001
        top, middle, bottom = (app.query_one(f"#{name}", Static) for name in ("top", "middle", "bottom"))
        top.update("top, changed")
        bottom.update("bottom, changed")
        await pilot.pause()
        # a row of the top widget's text and a part of the bottom one: the box around them holds
        # the middle widget and the left one's right edge; the containers are behind them
        inside = {Region(top.region.x + 1, top.region.y + 1, 12, 1), Region(bottom.region.x, bottom.region.y + 1, 8, 2)}
        # the middle widget's row with its margin on either side: there the container shows
        around = {Region(middle.region.x - 2, middle.region.y + 1, middle.region.width + 4, 1)}
        for dirty, shown in ((inside, {"top", "bottom"}), (around, {"middle", "right"})):
            narrowed, narrowed_asked = paint(compositor, dirty, monkeypatch, Compositor.render_partial_update)
            whole, asked = paint(compositor, dirty, monkeypatch, _textual_render_partial_update)
            assert isinstance(narrowed, ChopsUpdate) and isinstance(whole, ChopsUpdate)
            assert narrowed.render_segments(app.console) == whole.render_segments(app.console)
            assert set(narrowed_asked) == shown and len(asked) > len(narrowed_asked), (narrowed_asked, asked)
        update, _ = paint(compositor, inside, monkeypatch, Compositor.render_partial_update)
        assert update is not None and "top, chang" in update.render_segments(app.console), "the new text is painted"
        assert len(compositor.visible_widgets) == len(app.screen.query("*")) + 1, "the full map is back"
        assert {widget for layer in compositor.layers_visible for widget, _, _ in layer} == set(compositor.visible_widgets)
