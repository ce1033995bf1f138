"""Widgets that draw their lines straight as strips of styled segments.

A widget's ``render`` returns Rich ``Text``, which Textual converts to its own content and then
to strips on every paint: about 0.12 ms a line. The ladder, the tape, the chart and the status
bar repaint every frame while the market streams, and that conversion was most of each frame's
time and most of the garbage that made the collector pause the loop. These widgets describe
each line as pieces of text with a Rich style and build the strips themselves, once per change.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from itertools import pairwise

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.geometry import Region
from textual.strip import Strip
from textual.widget import Widget

from tui.framed_lines import frame_lines

#: a run of text in one style (``None``: the widget's own colours)
Piece = tuple[str, Style | None]
Line = list[Piece]


@lru_cache(maxsize=256)
def style(definition: str) -> Style:
    """A parsed style; the same few definitions are asked for on every line of every frame."""
    return Style.parse(definition)


def styled(text: str, spans: Sequence[tuple[int, int, Style | str]]) -> Line:
    """Cut ``text`` into pieces where ``(start, end, style)`` spans begin and end; where spans
    overlap, later ones win, as with Rich's ``Text.stylize``. Spans are clipped to the text."""
    return [(text[start:end], piece_style) for start, end, piece_style in _pieces(len(text), tuple(spans))]


@lru_cache(maxsize=1024)
def _pieces(size: int, spans: tuple[tuple[int, int, Style | str], ...]) -> list[tuple[int, int, Style | None]]:
    """Where ``styled`` cuts a text of ``size`` characters and each piece's style: the same few
    layouts over and over (a ladder row's depth bar has one per width), which were worked out
    afresh for each row of each frame."""
    cuts = sorted({0, size, *(min(max(point, 0), size) for start, end, _ in spans for point in (start, end))})
    pieces: list[tuple[int, int, Style | None]] = []
    for start, end in pairwise(cuts):
        combined: Style | None = None
        for span_start, span_end, span_style in spans:
            if span_start <= start and end <= span_end and span_style:
                parsed = style(span_style) if isinstance(span_style, str) else span_style
                combined = parsed if combined is None else combined + parsed
        pieces.append((start, end, combined))
    return pieces


def _runs(rows: list[int], width: int) -> list[Region]:
    """Rows (ascending) as regions of consecutive rows: one refresh for a frame's changed lines."""
    regions: list[Region] = []
    start = previous = rows[0]
    for y in rows[1:]:
        if y != previous + 1:
            regions.append(Region(0, start, width, previous - start + 1))
            start = y
        previous = y
    regions.append(Region(0, start, width, previous - start + 1))
    return regions


def line_width(line: Line) -> int:
    return cell_len("".join(text for text, _ in line))


class StripWidget(Widget):
    """Subclasses implement ``draw`` and call ``redraw`` when their data changes. Only the lines
    that differ from what is on screen are repainted, and a line that moved (the tape scrolls)
    keeps its strip, so a frame builds strips for new lines only."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        frame_lines(self)
        self._strips: list[Strip] = []
        self._by_line: dict[tuple[Piece, ...], Strip] = {}
        self._drawn_for: tuple[object, ...] | None = None

    def draw(self) -> list[Line]:
        """The widget's lines at its current size."""
        raise NotImplementedError

    def redraw(self) -> None:
        """Draw now and repaint the lines that changed; everything when the size, the theme or
        the widget's colours changed since the last draw."""
        drawn_for = self._drawing_context()
        if drawn_for != self._drawn_for:
            self._drawn_for = None
            self.refresh()
            return
        before = self._strips
        self._draw_strips()
        width = self.size.width
        changed = [y for y, strip in enumerate(self._strips) if y >= len(before) or strip is not before[y]]
        changed.extend(range(len(self._strips), len(before)))
        if changed:
            self.refresh(*_runs(changed, width))

    def _drawing_context(self) -> tuple[object, ...]:
        return (self.size, self.visual_style.rich_style, self.app.theme)

    def _draw_strips(self) -> None:
        base = self.visual_style.rich_style
        previous, self._by_line = self._by_line, {}
        strips = []
        for line in self.draw():
            key = tuple(line)
            strip = previous.get(key) or Strip([Segment(text, base + piece_style if piece_style else base)
                                                for text, piece_style in line if text])
            self._by_line[key] = strip
            strips.append(strip)
        self._strips = strips

    def render_lines(self, crop: Region) -> list[Strip]:
        """Draws again first when the size, the theme or the widget's colours changed since the
        last draw: checked once for the lines painted, not for each line."""
        drawn_for = self._drawing_context()
        if drawn_for != self._drawn_for:
            self._drawn_for = drawn_for
            self._by_line = {}
            self._draw_strips()
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.visual_style.rich_style)

    def render(self) -> Text:
        """The same lines as Rich text, for text selection and for tests that read the widget."""
        return Text("\n").join(Text.assemble(*((text, style or "") for text, style in line)) for line in self.draw())
