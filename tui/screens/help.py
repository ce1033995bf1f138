"""The help screen: every key, grouped by where it works."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import Static

from tui.screens.dialog import Dialog


class HelpScreen(Dialog[None]):
    HELP_TITLE = "Help"
    AUTO_FOCUS = "VerticalScroll"  # no field: the keys scroll the list
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "dismiss", "Close", id="help-close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen VerticalScroll { width: 90; max-width: 100%; height: 90%; border: round $primary; background: $surface; padding: 0 1; }
    """

    def __init__(self, sections: list[tuple[str, list[tuple[str, str]]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
        table.add_column("key", style="bold", width=18)
        table.add_column("action")
        table.add_row("[b]OpenTrade keys[/b]", "ctrl+p opens the command palette: every action, searchable. Esc closes this.")
        for title, rows in self.sections:
            table.add_row("", "")
            table.add_row(f"[u]{title}[/u]", "")
            for key, description in rows:
                table.add_row(key, description)
        with VerticalScroll():
            yield Static(table)

    async def action_dismiss(self, result: None = None) -> None:
        self.dismiss(result)
