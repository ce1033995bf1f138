"""The text filter shared by the screens that list rows in tabs (Positions & Orders, Log)."""

from __future__ import annotations

from textual import on
from textual.widgets import DataTable, Input, TabbedContent

from tui.changes import Changes
from tui.screens.base import OpenTradeScreen


class FilteredTabsScreen(OpenTradeScreen):
    """A screen with an ``Input#filter`` above tabs of DataTables; typing re-filters every tab."""

    filter_text = ""

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.refresh_view(Changes.all())

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.query_one(TabbedContent).active_pane.query_one(DataTable).focus()  # type: ignore[union-attr]
