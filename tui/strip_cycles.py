"""Textual's strips freed when they are dropped, not by the collector's full passes.

A Textual ``Strip`` (one line of a widget, as styled segments) caches what it derives from
itself: its pieces when the compositor cuts a line at the widgets' edges (``divide``), and a
cropped or widened copy (``crop_extend``). When the cut or crop leaves the strip whole, the
result is the strip itself, stored in its own cache: a reference cycle, so a dropped strip is
not freed when its last reference goes but waits for a collection of its generation. The
widgets keep their lines' strips from frame to frame, so most have lived into the oldest
generation by the time they are replaced: under the bench's market about 24,000 objects every
3 s (the strip, its seven caches, its segments) that only a full pass freed, one every ~5 s
holding the loop 30-100 ms. ``install`` makes those two methods return the strip itself without
caching it (nothing to compute there anyway), and the same garbage came to about 1,500 objects.

This is the one place that reaches into Textual's ``Strip`` for it: ``divide`` and
``crop_extend`` and the caches they fill, ``_divide_cache`` and ``_crop_extend_cache``.
tests/tui/test_strip_cycles.py fails if Textual changes them (or stops making the cycle,
when this module can go).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rich.style import Style
from textual.strip import Strip

_textual_divide = Strip.divide
_textual_crop_extend = Strip.crop_extend


def _divide(self: Strip, cuts: Iterable[int]) -> Sequence[Strip]:
    cuts = list(cuts)
    length = self.cell_length
    if [cut for cut in cuts if cut <= length] == [length]:
        return [self]
    return _textual_divide(self, cuts)


def _crop_extend(self: Strip, start: int, end: int, style: Style | None) -> Strip:
    if start <= 0 and end == self.cell_length:
        return self
    return _textual_crop_extend(self, start, end, style)


def install() -> None:
    """Idempotent: each ``OpenTradeApp`` installs it as it is built."""
    Strip.divide = _divide  # type: ignore[method-assign]
    Strip.crop_extend = _crop_extend  # type: ignore[method-assign]
