"""A partial paint asks for lines only the widgets that show in the regions it repaints.

To repaint the regions marked dirty since the last frame, Textual's compositor takes the box
around all of them (``render_partial_update``) and asks every widget whose clip overlaps that
box for its lines (``_get_renders``), then keeps only the rows and columns of the dirty regions
(``_render_chops``, ``ChopsUpdate``). On the Trade screen under a streaming market the box is
most of the screen on every frame: the market line at its top and the ladder and tape at its
bottom change, and the chart between them, its frame and the containers were asked for lines
that were all thrown away; a key press that changes the size field and the footer asked the
whole screen. Each answer costs ~0.1 ms even from the widgets' caches (the background colours
walk the widget's ancestors, the styles are read, the lines looked up).

``install`` has a partial paint narrow the compositor's visible widgets, for that paint only, to
those that show in a dirty region: whose visible region overlaps one, where a single widget in
front of them (the compositor's order: a cell is the frontmost widget's) does not cover that
overlap whole, as the ladder covers the containers around it. The others could only fill
cells outside those regions, which the paint does not send, or cells the widgets in front of
them fill, so the paint is the same: the same cells, from the same frontmost widgets. The cuts
(where widgets begin and end on each row) are worked out from every visible widget first, as
the full map has them.

This is the one place that reaches into Textual's ``Compositor`` for it: ``render_partial_update``,
``_dirty_regions``, ``_visible_widgets`` (behind ``visible_widgets``), ``_layers_visible`` (the
widgets on each row, made from the visible widgets when first asked: never from the narrowed
ones) and ``cuts``.
tests/tui/test_painted_widgets.py fails if Textual reshapes them.
"""

from __future__ import annotations

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.widget import Widget

_textual_render_partial_update = Compositor.render_partial_update


def _render_partial_update(self: Compositor) -> ChopsUpdate | None:
    dirty = list(self._dirty_regions)  # noqa: SLF001
    if not dirty:
        return _textual_render_partial_update(self)
    visible = self.visible_widgets
    layers = self._layers_visible  # noqa: SLF001 -- as it stands: not worked out from the narrowed map
    self.cuts  # noqa: B018 -- made from every visible widget, before the map is narrowed
    painted: dict[Widget, tuple[Region, Region]] = {}
    # the visible regions of the widgets before this one (in front of it) in the dirty regions:
    # only those can cover a part of it there
    in_front: list[Region] = []
    for widget, (region, clip) in visible.items():
        shown = region.intersection(clip)
        parts = [part for area in dirty if (part := shown.intersection(area))]
        if not parts:
            continue
        if any(not any(cover.contains_region(part) for cover in in_front) for part in parts):
            painted[widget] = (region, clip)
        in_front.append(shown)
    self._visible_widgets = painted  # noqa: SLF001
    try:
        return _textual_render_partial_update(self)
    finally:
        if self._visible_widgets is painted:  # noqa: SLF001 -- unless the paint invalidated the map
            self._visible_widgets, self._layers_visible = visible, layers  # noqa: SLF001


def install() -> None:
    """Idempotent: each ``OpenTradeApp`` installs it as it is built."""
    Compositor.render_partial_update = _render_partial_update  # type: ignore[method-assign]
