"""The modify dialog: new price and/or size for a resting order, checked against the
instrument and then by the whole pre-trade check before the dialog closes, so a refused change
is shown in the dialog and the cancel-replace is only sent when it would be accepted."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Input, Label, Static

from core.models import Instrument, Order
from tui.format import show_size
from tui.numbers import NumberError, parse_number
from tui.screens.dialog import Dialog

Change = tuple[Decimal | None, Decimal | None]
ChangeCheck = Callable[[Change], str | None]


def parse_change(order: Order, instrument: Instrument, price_text: str, size_text: str) -> tuple[Change | None, dict[str, str]]:
    """The (price, size) to send, None for an unchanged one, or the problem with each field."""
    errors: dict[str, str] = {}
    values: dict[str, Decimal | None] = {"price": None, "size": None}
    for name, text, current in (("price", price_text, order.price), ("size", size_text, order.size)):
        try:
            value = parse_number(text)
        except NumberError as exc:
            errors[name] = str(exc)
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
    EditOrderScreen #dialog { width: 64; max-width: 100%; height: auto; border: thick $primary; background: $surface; padding: 1 2; }
    EditOrderScreen #title { text-style: bold; }
    EditOrderScreen #order-id { color: $text-muted; }
    EditOrderScreen .error { color: $error; height: auto; }
    EditOrderScreen #buttons { height: auto; align: center middle; margin-top: 1; }
    """

    def __init__(self, order: Order, instrument: Instrument, check: ChangeCheck | None = None) -> None:
        """``check``: the pre-trade verdict on a change, a refusal's reason or None."""
        super().__init__()
        self.order = order
        self.instrument = instrument
        self.check = check

    def compose(self) -> ComposeResult:
        order = self.order
        with Vertical(id="dialog"):
            yield Static(f"Modify {order.side.value.upper()} {order.type.value} {order.symbol}", id="title")
            yield Static(f"order {order.client_order_id}", id="order-id")
            yield Label("Price")
            yield Input(str(order.price or ""), id="price")
            yield Static("", classes="error", id="price-error")
            yield Label(f"Size ({self.instrument.base}, filled {show_size(self.instrument, order.filled_size)})")
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
        if change is not None and self.check is not None:
            refusal = self.check(change)
            if refusal is not None:
                change, errors = None, {"form": f"refused: {refusal}"}
        for name in ("price", "size", "form"):
            message = errors.get(name, "")
            self.query_one(f"#{name}-error", Static).update(f"↳ {message}" if message else "")
        if change is not None:
            self.dismiss(change)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
