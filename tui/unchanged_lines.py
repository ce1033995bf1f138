"""A widget that did not change since its last paint hands the compositor the same lines again.

When anything on the screen changes, Textual's compositor asks every widget that overlaps the
changed rows' bounding box for all its lines (``Widget.render_lines``), and each widget's
``StylesCache`` goes through them one by one: is the row dirty, take it from its cache, look up
the line filters' result for it in the line's own cache. On the Trade screen under a streaming
market that box is most of the screen on every frame (the status bar at the top, the ladder and
the tape below), so some forty widgets, most of them unchanged (the ticket's fields, the
containers around them), were walked row by row on each paint. ``install`` has the styles cache
keep the lines of its last render and return that same list when it is asked again for the same
rows with the same sizes, colours, filters and styles and nothing was marked dirty or cleared
since: exactly the lines it would have built again.

This is the one place that reaches into Textual's ``StylesCache`` (``textual._styles_cache``)
for it: ``render`` and its arguments, ``set_dirty``, ``clear`` and ``_dirty_lines``.
tests/tui/test_unchanged_lines.py fails if Textual reshapes them.
"""

from __future__ import annotations

from typing import Any

from textual._styles_cache import StylesCache
from textual.strip import Strip

_textual_render = StylesCache.render
_textual_set_dirty = StylesCache.set_dirty
_textual_clear = StylesCache.clear

#: the attribute of a styles cache holding its last render: (the widget's styles, what else it was
#: rendered with, the lines)
_LAST = "_opentrade_last_render"


def _render(self: StylesCache, styles: Any, size: Any, base_background: Any, background: Any,
            render_content_line: Any, filters: Any, *args: Any, **kwargs: Any) -> list[Strip]:
    rendered_with = (size, base_background, background, tuple(filters), args, tuple(kwargs.items()))
    last: tuple[Any, tuple[Any, ...], list[Strip]] | None = getattr(self, _LAST, None)
    if last is not None and not self._dirty_lines and last[0] is styles and last[1] == rendered_with:  # noqa: SLF001
        return last[2]
    lines = _textual_render(self, styles, size, base_background, background, render_content_line, filters,
                            *args, **kwargs)
    setattr(self, _LAST, (styles, rendered_with, lines))
    return lines


def _set_dirty(self: StylesCache, *regions: Any) -> None:
    setattr(self, _LAST, None)
    _textual_set_dirty(self, *regions)


def _clear(self: StylesCache) -> None:
    setattr(self, _LAST, None)
    _textual_clear(self)


def install() -> None:
    """Idempotent: each ``OpenTradeApp`` installs it as it is built."""
    StylesCache.render = _render  # type: ignore[method-assign]
    StylesCache.set_dirty = _set_dirty  # type: ignore[method-assign]
    StylesCache.clear = _clear  # type: ignore[method-assign]
