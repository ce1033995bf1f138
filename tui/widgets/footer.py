"""The footer of every screen and dialog: the keys that work now, those that work everywhere
first (the emergency stop stays in sight on an 80-column terminal), the command palette's key
at the right end, as Textual's footer shows them and in its theme colours; a click on a key
presses it.

Textual's footer is a row of widgets, one per key. Moving into a text field and out of it takes
the single-letter keys away and gives them back (b, s and Escape on the Trade screen), and
showing other key widgets lays the whole screen out again: 10-25 ms of the loop here with the
market streaming, for each such key. This footer is one widget of a fixed size that draws its
keys as one line of text: another set of keys repaints that line and lays nothing out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget

DIM = Style(dim=True)
#: the command palette's key is set off from the others by this edge
EDGE = "▏"


@dataclass(frozen=True)
class OfferedKey:
    """A key as the footer shows it."""

    key: str
    key_display: str
    description: str
    action: str
    enabled: bool = True
    palette: bool = False

    def pieces(self) -> tuple[str, str]:
        """The key's text and its description's, padded as Textual's footer pads them."""
        if self.palette:
            return self.key_display, f" {self.description} "
        if not self.description:
            return self.key_display, ""
        return f" {self.key_display} ", f"{self.description} "

    @property
    def width(self) -> int:
        key, description = self.pieces()
        return cell_len(key) + cell_len(description) + (len(EDGE) if self.palette else 0)


class KeysFooter(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "footer-key--key", "footer-key--description", "footer-key--edge", "footer-key--hover",
    }
    DEFAULT_CSS = """
    KeysFooter {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .footer-key--key { color: $footer-key-foreground; background: $footer-key-background; text-style: bold; }
        .footer-key--description { color: $footer-description-foreground; background: $footer-description-background; }
        .footer-key--edge { color: $foreground 20%; }
        .footer-key--hover { color: $footer-key-foreground; background: $block-hover-background; }
    }
    """

    def __init__(self) -> None:
        super().__init__()
        #: the keys offered now, in the order shown (the palette's last)
        self.keys: list[OfferedKey] = []
        #: where each key shown sits: (first column, column after it, key)
        self.spans: list[tuple[int, int, OfferedKey]] = []
        self._hovered: OfferedKey | None = None

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._bindings_changed)
        self._show(self._offered())

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _bindings_changed(self, screen: Screen[Any]) -> None:
        if screen is self.screen and screen.app.app_focus and self.is_attached:
            self._show(self._offered())

    def _offered(self) -> list[OfferedKey]:
        """One key per action (the first bound), the priority ones (emergency stop, quit) first,
        where a narrow terminal does not cut them off; then the palette's."""
        active = self.screen.active_bindings
        by_action: dict[str, tuple[Any, bool]] = {}
        for _, binding, enabled, _ in active.values():
            if binding.show:
                by_action.setdefault(binding.action, (binding, enabled))
        app = self.app
        keys = [OfferedKey(binding.key, app.get_key_display(binding), binding.description, binding.action, enabled)
                for binding, enabled in by_action.values()]
        keys.sort(key=lambda key: not active[key.key].binding.priority)
        palette = active.get(app.COMMAND_PALETTE_BINDING) if app.ENABLE_COMMAND_PALETTE else None
        if palette is not None:
            keys.append(OfferedKey(palette.binding.key, app.get_key_display(palette.binding),
                                  palette.binding.description, palette.binding.action, palette.enabled, palette=True))
        return keys

    def _show(self, keys: list[OfferedKey]) -> None:
        if keys != self.keys:
            self.keys = keys
            self.refresh()

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        base = self.visual_style.rich_style
        # A key's own colours alone: the footer's (or a pointed key's) show where they are transparent.
        key_style = self.get_component_rich_style("footer-key--key", partial=True)
        description_style = self.get_component_rich_style("footer-key--description", partial=True)
        hover_style = self.get_component_rich_style("footer-key--hover")
        palette = next((key for key in self.keys if key.palette), None)
        room = width - (palette.width if palette else 0)
        segments: list[Segment] = []
        spans: list[tuple[int, int, OfferedKey]] = []
        x = 0

        def add(key: OfferedKey, room: int) -> None:
            nonlocal x
            around = base + hover_style if key == self._hovered else base
            dim = DIM if not key.enabled else None
            start = x
            if key.palette:
                segments.append(Segment(EDGE, base + self.get_component_rich_style("footer-key--edge")))
                x += len(EDGE)
            for text, style in zip(key.pieces(), (key_style, description_style), strict=True):
                text = text[:max(0, room - x)]
                if text:
                    segments.append(Segment(text, Style.chain(around, style, dim) if dim else around + style))
                    x += cell_len(text)
            spans.append((start, x, key))

        for key in self.keys:
            if not key.palette and x < room:
                add(key, room)
        if palette is not None and width - palette.width >= x:
            if width - palette.width > x:
                segments.append(Segment(" " * (width - palette.width - x), base))
                x = width - palette.width
            add(palette, width)
        self.spans = spans
        return Strip(segments).adjust_cell_length(width, base) if y == 0 else Strip.blank(width, base)

    def key_at(self, x: int) -> OfferedKey | None:
        return next((key for start, end, key in self.spans if start <= x < end), None)

    def on_mouse_down(self, event: events.MouseDown) -> None:
        key = self.key_at(event.x)
        if key is None:
            return
        if key.enabled:
            self.app.simulate_key(key.key)
        else:
            self.app.bell()

    def on_mouse_move(self, event: events.MouseMove) -> None:
        key = self.key_at(event.x)
        if key != self._hovered:
            self._hovered = key
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hovered is not None:
            self._hovered = None
            self.refresh()
