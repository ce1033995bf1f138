"""The text filter and tab keys shared by the screens that list rows in tabs (Positions &
Orders, Log)."""

from __future__ import annotations

from textual import on
from textual.widget import Widget
from textual.widgets import DataTable, Input, TabbedContent

from tui.changes import Changes
from tui.screens.base import OpenTradeScreen


class FilteredTabsScreen(OpenTradeScreen):
    """A screen with an ``Input#filter`` above tabs (``TabPane#tab-NAME``) of DataTables; typing
    re-filters every tab, a key per tab shows it (``show_tab('NAME')``)."""

    filter_text = ""

    @on(Input.Changed, "#filter")
    def _filter(self, event: Input.Changed) -> None:
        self.filter_text = event.value.strip()
        self.refresh_view(Changes.all())

    def action_focus_filter(self) -> None:
        self.query_one("#filter", Input).focus()

    def action_show_tab(self, name: str) -> None:
        self.query_one(TabbedContent).active = f"tab-{name}"
        self.set_focus(self.resting_focus())

    def resting_focus(self) -> Widget | None:
        pane = self.query_one(TabbedContent).active_pane
        return pane.query_one(DataTable) if pane is not None else None
