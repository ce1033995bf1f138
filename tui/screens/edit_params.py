"""The strategy parameter editor: one field per declared parameter, typed like its current
value; the strategy engine validates the whole set and its message is shown in the dialog."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Input, Label, Static

from tui.numbers import parse_number
from tui.screens.dialog import Dialog

Apply = Callable[[dict[str, Any]], Awaitable[Any]]


def parse_value(text: str, current: Any) -> Any:
    """Parse ``text`` as the type of ``current``; ValueError with a readable message if it is not."""
    text = text.strip()
    if isinstance(current, bool):
        lowered = text.lower()
        if lowered in ("true", "yes", "on", "1"):
            return True
        if lowered in ("false", "no", "off", "0"):
            return False
        raise ValueError(f"'{text}' is not true or false")
    if isinstance(current, int | float | Decimal):
        value = parse_number(text, positive=False)  # NumberError is a ValueError with the message
        if isinstance(current, int):
            if value != value.to_integral_value():
                raise ValueError(f"'{text}' is not a whole number")
            return int(value)
        return float(value) if isinstance(current, float) else value
    return text


class EditParamsScreen(Dialog[bool]):
    HELP_TITLE = "Strategy parameters"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="params-cancel"),
        Binding("ctrl+y", "submit", "Apply", id="params-apply"),
    ]
    DEFAULT_CSS = """
    EditParamsScreen { align: center middle; }
    EditParamsScreen #dialog { width: 70; height: 80%; border: thick $primary; background: $surface; padding: 0 1; }
    EditParamsScreen .error { color: $error; height: auto; }
    EditParamsScreen #buttons { height: auto; align: center middle; }
    """

    def __init__(self, name: str, params: dict[str, Any], apply: Apply) -> None:
        super().__init__()
        self.strategy_name = name
        self.params = params
        self.apply = apply

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Parameters of {self.strategy_name}")
            with VerticalScroll():
                for key, value in self.params.items():
                    yield Label(key)
                    yield Input(str(value), id=f"param-{key}")
                    yield Static("", classes="error", id=f"error-{key}")
            yield Static("", classes="error", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Apply", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted)
    def action_submit(self) -> None:
        changes: dict[str, Any] = {}
        problems = False
        for key, current in self.params.items():
            text = self.query_one(f"#param-{key}", Input).value
            try:
                value = parse_value(text, current)
            except ValueError as exc:
                self.query_one(f"#error-{key}", Static).update(f"↳ {exc}")
                problems = True
                continue
            self.query_one(f"#error-{key}", Static).update("")
            if value != current:
                changes[key] = value
        if not problems:
            if changes:
                self._apply(changes)
            else:
                self.query_one("#form-error", Static).update("nothing changed")

    @work(exclusive=True, exit_on_error=False)
    async def _apply(self, changes: dict[str, Any]) -> None:
        try:
            await self.apply(changes)
        except (ValueError, KeyError) as exc:
            self.query_one("#form-error", Static).update(f"↳ {exc}")
            return
        self.dismiss(True)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(False)
