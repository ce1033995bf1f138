"""The confirmation dialog for sensitive operations: it says exactly what will happen and,
for the most dangerous ones, asks for a word (the venue name) to be typed."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from tui.screens.dialog import Dialog


class ConfirmScreen(Dialog[bool]):
    HELP_TITLE = "Confirmation dialog"
    #: the typed word when one is asked for, else Cancel: Enter alone never confirms
    AUTO_FOCUS = "#typed, #cancel"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="confirm-cancel"),
        Binding("ctrl+y", "confirm", "Confirm", id="confirm-accept"),
    ]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen #dialog { width: 70; max-width: 95%; height: auto; border: thick $warning; background: $surface; padding: 1 2; }
    ConfirmScreen #dialog.-danger { border: thick $error; }
    ConfirmScreen #title { text-style: bold; width: 100%; content-align: center middle; }
    ConfirmScreen #body { margin: 1 0; }
    ConfirmScreen #typed-error { color: $error; height: auto; }
    ConfirmScreen #buttons { height: auto; align: center middle; }
    ConfirmScreen Button { margin: 0 1; }
    """

    def __init__(self, title: str, body: str, *, confirm_label: str = "Confirm", require_text: str | None = None,
                 danger: bool = False) -> None:
        super().__init__()
        self.title_text = title
        self.body = body
        self.confirm_label = confirm_label
        self.require_text = require_text
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog", classes="-danger" if self.danger else ""):
            yield Label(self.title_text, id="title")
            yield Static(self.body, id="body")
            if self.require_text is not None:
                yield Input(placeholder=f"type {self.require_text}", id="typed")
                yield Static("", id="typed-error")
            with Horizontal(id="buttons"):
                yield Button(self.confirm_label, variant="error" if self.danger else "primary", id="confirm")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#confirm")
    @on(Input.Submitted, "#typed")
    def action_confirm(self) -> None:
        if self.require_text is not None:
            typed = self.query_one("#typed", Input).value.strip()
            if typed != self.require_text:
                self.query_one("#typed-error", Static).update(f"type exactly '{self.require_text}' to confirm")
                return
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
