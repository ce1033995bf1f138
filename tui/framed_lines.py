"""A strip widget's rows framed by its border at the cost of a list, not of Textual's whole path.

Textual makes each row a widget draws into the row on screen in the widget's ``StylesCache``
(``render_line``): for a content row that means working out the border's colours and cells on
either side, the padding, the tint, the opacity and the hatch, about 0.1 ms a row here. The order
book ladder and the trades tape, both in a border, build some 25 new rows a frame under a
streaming market (a row per trade printed, a row per level whose size moved), and that was the
largest part of painting them. Every content row of a widget is framed alike, so
``FramedLines`` has Textual make the first content row of a paint, finds the widget's line in
it, and frames the other rows of that paint with the same segments before and after: the same
row Textual would make. Rows of the border, of the padding above and below, and every row of a
widget with an outline, a tint, a hatch or some transparency are Textual's as before.

This is the one place that reaches into Textual's ``StylesCache`` (``textual._styles_cache``)
for it: ``render`` and ``render_line`` and their arguments, ``get_inner_outer`` and the widget's
``_styles_cache``. tests/tui/test_framed_lines.py fails if Textual reshapes them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual._styles_cache import StylesCache
from textual.color import Color
from textual.css.styles import StylesBase
from textual.geometry import Size, Spacing
from textual.strip import Strip

#: the segments before and after the widget's line in a content row; None: Textual makes each row
Frame = tuple[list[Segment], list[Segment]] | None


class FramedLines(StylesCache):
    def __init__(self) -> None:
        super().__init__()
        #: the rows framed here this paint, from and to (exclusive): none until a paint says
        self._rows = (0, 0)
        self._inner: Style | None = None
        self._content_width = 0
        self._frame: Frame = None
        self._frame_found = False

    def render(self, styles: StylesBase, size: Size, base_background: Color, background: Color,
               render_content_line: Callable[[int], Strip], *args: Any, **kwargs: Any) -> list[Strip]:
        content_size: Size = kwargs.get("content_size") or size
        plain = (kwargs.get("opacity", 1.0) == 1.0 and styles.text_opacity == 1.0 and not styles.tint.a
                 and not any(edge for edge, _ in styles.outline)
                 and not (styles.has_rule("hatch") and styles.hatch != "none"))
        gutter = styles.gutter
        self._rows = (gutter.top, min(size.height - gutter.bottom, gutter.top + content_size.height)) if plain else (0, 0)
        self._inner = self.get_inner_outer(base_background, background)[0].rich_style
        self._content_width = content_size.width
        self._frame, self._frame_found = None, False
        return super().render(styles, size, base_background, background, render_content_line, *args, **kwargs)

    def render_line(self, styles: StylesBase, y: int, size: Size, content_size: Size, padding: Spacing,
                    base_background: Color, background: Color, render_content_line: Callable[[int], Strip],
                    *args: Any) -> Strip:
        top, bottom = self._rows
        if not top <= y < bottom:
            return super().render_line(styles, y, size, content_size, padding, base_background, background,
                                       render_content_line, *args)
        line = render_content_line(y - top).adjust_cell_length(self._content_width, self._inner)
        if self._frame_found:
            if self._frame is not None:
                before, after = self._frame
                return Strip([*before, *line._segments, *after], size.width)  # noqa: SLF001
            return super().render_line(styles, y, size, content_size, padding, base_background, background,
                                       lambda _: line, *args)
        made = super().render_line(styles, y, size, content_size, padding, base_background, background,
                                   lambda _: line, *args)
        self._frame, self._frame_found = _frame(made, line), True
        return made


def _frame(made: Strip, line: Strip) -> Frame:
    """The segments around ``line`` in the row Textual ``made`` of it, if it is there unchanged."""
    segments, inside = made._segments, line._segments  # noqa: SLF001
    for start in range(len(segments) - len(inside) + 1):
        if segments[start:start + len(inside)] == inside:
            before, after = segments[:start], segments[start + len(inside):]
            if Segment.get_line_length([*before, *after]) + line.cell_length == made.cell_length:
                return before, after
    return None


def frame_lines(widget: Any) -> None:
    """Give ``widget`` (a Textual widget, just built) a ``FramedLines`` for its styles cache."""
    widget._styles_cache = FramedLines()  # noqa: SLF001
