"""A Select that shows its value on one line of a fixed-height row.

Textual's Select lays out the whole screen whenever its value changes, in case the new label
needs another size: on the Trade screen b and s change the ticket's side, and that layout (every
widget of the screen placed again, 5-10 ms here under a streaming market) came before the frame
that shows the new side. In the ticket's one-line rows the label's size never changes, so the
new value is painted without a layout.
"""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType
from textual.app import ComposeResult
from textual.widgets import Select, Static
from textual.widgets._select import NoSelection, SelectCurrent, SelectOverlay


class _OneLineCurrent(SelectCurrent):
    def update(self, label: RenderableType | NoSelection) -> None:
        self.label = label
        self.has_value = label is not Select.NULL
        self.query_one("#label", Static).update(self.placeholder if isinstance(label, NoSelection) else label,
                                                layout=False)


class OneLineSelect(Select[Any]):
    """For a Select in a row one line high."""

    def compose(self) -> ComposeResult:
        yield _OneLineCurrent(self.prompt)
        yield SelectOverlay(type_to_search=self._type_to_search).data_bind(compact=Select.compact)
