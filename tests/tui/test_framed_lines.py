"""A strip widget's rows framed by ``tui.framed_lines`` are the rows Textual makes itself, in a
border, with padding, tinted or not. The first test fails if the Textual internals that module
relies on change."""

from __future__ import annotations

import inspect

import pytest
from textual._styles_cache import StylesCache
from textual.app import App, ComposeResult
from textual.color import Color
from textual.geometry import Region

from tui.framed_lines import FramedLines
from tui.widgets.strips import Line, StripWidget, style


class Rows(StripWidget):
    def draw(self) -> list[Line]:
        return [[(f"row {y} ", style("bold")), ("price", style("green")), (" " * (y % 3), None)] for y in range(6)]


class OneWidget(App[None]):
    CSS = "Rows { border: round $panel-lighten-2; padding: 0 1; height: 8; width: 24; }"

    def compose(self) -> ComposeResult:
        yield Rows(id="rows")


def test_the_textual_internals_framed_lines_uses_are_there() -> None:
    parameters = list(inspect.signature(StylesCache.render_line).parameters)
    assert parameters[:9] == ["self", "styles", "y", "size", "content_size", "padding", "base_background",
                              "background", "render_content_line"], "StylesCache.render_line takes other arguments"
    parameters = list(inspect.signature(StylesCache.render).parameters)
    assert parameters[:6] == ["self", "styles", "size", "base_background", "background", "render_content_line"]
    inner, _ = StylesCache.get_inner_outer(StylesCache(), Color(0, 0, 0), Color(10, 20, 30))
    assert inner.rich_style is not None


@pytest.mark.parametrize("css", ["", "border: none; padding: 0;", "tint: red 20%;", "opacity: 50%;"])
async def test_the_rows_are_textuals(css: str) -> None:
    app = OneWidget()
    async with app.run_test(size=(40, 12)) as pilot:
        widget = app.query_one(Rows)
        if css:
            widget.set_styles(css)
        await pilot.pause()
        assert isinstance(widget._styles_cache, FramedLines)  # noqa: SLF001
        whole = Region(0, 0, *widget.region.size)
        widget._styles_cache.clear()  # noqa: SLF001  (the app's paint made them already)
        framed = widget.render_lines(whole)
        plain = css in ("", "border: none; padding: 0;")
        assert (widget._styles_cache._frame is not None) is plain, "plain rows are framed, the others Textual's"  # noqa: SLF001
        widget._styles_cache = StylesCache()  # noqa: SLF001
        textuals = widget.render_lines(whole)
        assert [list(row) for row in framed] == [list(row) for row in textuals]
        assert "row 3 price" in framed[4 if "border: none" not in css else 3].text
