"""The modify dialog: new price and/or size for a resting order, checked against the
instrument before the cancel-replace is sent."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from core.models import Instrument, Order
from tui.screens.dialog import Dialog

Change = tuple[Decimal | None, Decimal | None]


def parse_change(order: Order, instrument: Instrument, price_text: str, size_text: str) -> tuple[Change | None, dict[str, str]]:
    """The (price, size) to send, None for an unchanged one, or the problem with each field."""
    errors: dict[str, str] = {}
    values: dict[str, Decimal | None] = {"price": None, "size": None}
    for name, text, current in (("price", price_text, order.price), ("size", size_text, order.size)):
        text = text.strip().replace(",", "")
        if not text:
            errors[name] = "required"
            continue
        try:
            value = Decimal(text)
        except InvalidOperation:
            errors[name] = f"'{text}' is not a number"
            continue
        problem = (instrument.price_problem(value) if name == "price"
                   else instrument.size_problem(value, order.price))
        if problem:
            errors[name] = problem
        elif name == "size" and value <= order.filled_size:
            errors[name] = f"must be above the filled {order.filled_size}"
        elif value != current:
            values[name] = value
    if errors:
        return None, errors
    if values["price"] is None and values["size"] is None:
        return None, {"form": "nothing changed"}
    return (values["price"], values["size"]), {}


class EditOrderScreen(Dialog[Change | None]):
    HELP_TITLE = "Modify order"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="edit-cancel"),
        Binding("ctrl+y", "apply", "Modify", id="edit-apply"),
    ]
    DEFAULT_CSS = """
    EditOrderScreen { align: center middle; }
    EditOrderScreen #dialog { width: 60; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    EditOrderScreen .error { color: $error; height: auto; }
    EditOrderScreen #buttons { height: auto; align: center middle; margin-top: 1; }
    """

    def __init__(self, order: Order, instrument: Instrument) -> None:
        super().__init__()
        self.order = order
        self.instrument = instrument

    def compose(self) -> ComposeResult:
        order = self.order
        with Vertical(id="dialog"):
            yield Label(f"Modify {order.side.value.upper()} {order.type.value} {order.symbol} ({order.client_order_id})")
            yield Label("Price")
            yield Input(str(order.price or ""), id="price")
            yield Static("", classes="error", id="price-error")
            yield Label(f"Size ({self.instrument.base}, filled {order.filled_size})")
            yield Input(str(order.size), id="size")
            yield Static("", classes="error", id="size-error")
            yield Static("", classes="error", id="form-error")
            with Horizontal(id="buttons"):
                yield Button("Modify", variant="primary", id="apply")
                yield Button("Cancel", id="cancel")

    @on(Button.Pressed, "#apply")
    @on(Input.Submitted)
    def action_apply(self) -> None:
        change, errors = parse_change(self.order, self.instrument, self.query_one("#price", Input).value,
                                      self.query_one("#size", Input).value)
        for name in ("price", "size", "form"):
            message = errors.get(name, "")
            self.query_one(f"#{name}-error", Static).update(f"↳ {message}" if message else "")
        if change is not None:
            self.dismiss(change)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
