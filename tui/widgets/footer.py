"""The footer of every screen and dialog: Textual's, with the keys that work everywhere first
(the emergency stop stays in sight on an 80-column terminal), without rebuilding identical keys
and without the leak each rebuild causes."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

#: sets of keys (one per focus and state of the screen) whose widgets the footer keeps built
KEPT_SETS = 4


class KeysFooter(Footer):
    """Textual's footer rebuilds its keys whenever the screen's bindings are refreshed, which
    happens on every screen switch even when the keys stay the same. Each rebuild also leaves
    the old keys registered as watchers of the footer's ``compact`` setting (Textual issue
    #6666), so every switch kept about a dozen dead widgets alive: the app grew by 0.3 MB a
    second while a trader flipped between screens. This footer rebuilds only when the keys it
    would show have changed, and lets go of the old keys when it does.

    Moving into a text field and out of it takes the single-letter keys away and gives them
    back: a rebuild each time (a dozen widgets mounted, styled and laid out, 20-40 ms of the
    loop on this machine, for every b or s and every Escape on the Trade screen). So the footer
    keeps the keys it built for the last few sets of bindings, and shows the set that applies
    while hiding the others: going back and forth between two sets builds each once."""

    _shown: tuple[Any, ...] | None = None
    #: the widgets built for each set of keys shown, the one shown among them
    _built: dict[tuple[Any, ...], list[Widget]]

    def _keys(self) -> tuple[Any, ...]:
        return tuple((binding, enabled, tooltip)
                     for _, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show)

    def compose(self) -> ComposeResult:
        widgets = self._build()
        self._built = {self._shown: widgets} if self._shown is not None else {}
        yield from widgets

    def _build(self) -> list[Widget]:
        widgets = list(super().compose())
        self._shown = self._keys() if widgets else None
        # Priority keys (emergency stop, quit) act even inside a text field: they come first,
        # where a narrow terminal does not cut them off.
        active = self.screen.active_bindings
        widgets.sort(key=lambda widget: not (isinstance(widget, FooterKey) and widget.key in active
                                             and active[widget.key].binding.priority))
        return widgets

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self._shown is not None and screen is self.screen:
            if self._keys() != self._shown and screen.app.app_focus and self.is_attached:
                self.call_after_refresh(self._show_keys)
            return
        super().bindings_changed(screen)

    def _show_keys(self) -> None:
        """Show the keys built for the bindings as they are now (building them the first time),
        hide the others; after ``KEPT_SETS`` sets, start again from the current one."""
        keys = self._keys()
        if keys == self._shown:
            return
        if keys not in self._built:
            if len(self._built) >= KEPT_SETS or not keys:
                self.call_after_refresh(self.recompose)
                return
            with self._context():  # the keys bind to this footer's settings, as in compose
                self._built[keys] = widgets = self._build()
            self.mount_all(widgets)
        self._shown = keys
        for shown, widgets in self._built.items():
            for widget in widgets:
                widget.display = shown == keys

    async def recompose(self) -> None:
        await super().recompose()
        watchers = getattr(self, "__watchers", {}).get("compact")
        if watchers:
            watchers[:] = [(node, callback) for node, callback in watchers if node.is_attached]
