"""The footer of every screen and dialog: Textual's, with the keys that work everywhere first
(the emergency stop stays in sight on an 80-column terminal), without rebuilding identical keys
and without the leak each rebuild causes."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class KeysFooter(Footer):
    """Textual's footer rebuilds its keys whenever the screen's bindings are refreshed, which
    happens on every screen switch even when the keys stay the same. Each rebuild also leaves
    the old keys registered as watchers of the footer's ``compact`` setting (Textual issue
    #6666), so every switch kept about a dozen dead widgets alive: the app grew by 0.3 MB a
    second while a trader flipped between screens. This footer rebuilds only when the keys it
    would show have changed, and lets go of the old keys when it does."""

    _shown: tuple[Any, ...] | None = None

    def _keys(self) -> tuple[Any, ...]:
        return tuple((binding, enabled, tooltip)
                     for _, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show)

    def compose(self) -> ComposeResult:
        keys = list(super().compose())
        self._shown = self._keys() if keys else None
        # Priority keys (emergency stop, quit) act even inside a text field: they come first,
        # where a narrow terminal does not cut them off.
        active = self.screen.active_bindings
        keys.sort(key=lambda widget: not (isinstance(widget, FooterKey) and widget.key in active
                                          and active[widget.key].binding.priority))
        yield from keys

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._shown is not None and screen is self.screen and self._keys() == self._shown:
            return
        super().bindings_changed(screen)

    async def recompose(self) -> None:
        await super().recompose()
        watchers = getattr(self, "__watchers", {}).get("compact")
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]
