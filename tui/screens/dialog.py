"""What every dialog shares: the focus starts in its first text field, Escape closes it (each
dialog binds it to its own cancel), and a footer shows the dialog's own keys."""

from __future__ import annotations

from typing import ClassVar, TypeVar

from textual import events
from textual.containers import ScrollableContainer
from textual.screen import ModalScreen

from tui.widgets.footer import KeysFooter

ResultT = TypeVar("ResultT")


class Dialog(ModalScreen[ResultT]):
    #: Textual's default ("*") focuses the first focusable widget, which in a scrolling form is
    #: the scroll container: the strategy parameter editor opened with no field to type in.
    AUTO_FOCUS: ClassVar[str | None] = "Input"

    # Textual awaits an async handler; the base classes' own _on_mount is sync, hence the override.
    async def _on_mount(self, event: events.Mount) -> None:  # type: ignore[override]
        await self.mount(KeysFooter())
        self.call_after_refresh(self._show_from_the_top)

    def _show_from_the_top(self) -> None:
        """Focusing the first field before the dialog is laid out scrolls its form past the
        field's label; once laid out, the form starts at its top, where the first field is."""
        for form in self.query(ScrollableContainer):
            form.scroll_home(animate=False)
