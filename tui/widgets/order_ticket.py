"""The order ticket: every order field, inline messages next to the fields, a live preview.

The rules live in ``tui.ticket``; this widget only gathers text, shows what the rules say,
and posts ``OrderSubmitted`` when the form is valid. Enter in any field or the button submits.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.models import Instrument, OrderType, Side, TimeInForce
from tui.format import fmt_money
from tui.messages import OrderSubmitted
from tui.ticket import FIELDS_FOR_TYPE, TicketForm, TicketResult, parse_ticket

TYPE_LABELS = {
    OrderType.MARKET: "Market",
    OrderType.LIMIT: "Limit",
    OrderType.STOP_MARKET: "Stop",
    OrderType.STOP_LIMIT: "Stop-limit",
    OrderType.TAKE_PROFIT: "Take-profit",
    OrderType.TRAILING_STOP: "Trailing",
}
INPUT_FIELDS = ("size", "price", "trigger", "trail", "take_profit", "stop_loss", "leverage")
OPTIONAL_FIELDS = {"price", "trigger", "trail"}


class OrderTicket(VerticalScroll):
    DEFAULT_CSS = """
    OrderTicket { height: 1fr; padding: 0 1; }
    OrderTicket .row { height: 1; }
    OrderTicket .row Label { width: 8; }
    OrderTicket .row Input { width: 1fr; }
    OrderTicket .row Select { width: 1fr; }
    OrderTicket .error { color: $error; height: auto; display: none; }
    OrderTicket .error.-shown { display: block; }
    OrderTicket #preview { height: 2; color: $text-muted; }
    OrderTicket #submit { width: 100%; min-width: 10; }
    OrderTicket Checkbox { width: 1fr; }
    OrderTicket #ticket-title { text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.instrument: Instrument | None = None
        self.venue = ""
        self.mark: Decimal | None = None
        self.default_leverage = 1

    def compose(self) -> ComposeResult:
        yield Label("Order ticket", id="ticket-title")
        with Horizontal(classes="row"):
            yield Label("Side")
            yield Select([("Buy", Side.BUY), ("Sell", Side.SELL)], value=Side.BUY, allow_blank=False, compact=True, id="side")
        with Horizontal(classes="row"):
            yield Label("Type")
            yield Select([(label, kind) for kind, label in TYPE_LABELS.items()], value=OrderType.LIMIT,
                         allow_blank=False, compact=True, id="type")
        with Horizontal(classes="row"):
            yield Label("Size")
            yield Input(placeholder="amount", compact=True, id="size")
            yield Select([("base", False), ("quote", True)], value=False, allow_blank=False, compact=True, id="unit")
        yield Static(classes="error", id="size-error")
        for name, label, hint in (("price", "Price", "limit price"), ("trigger", "Trigger", "trigger price"),
                                  ("trail", "Trail", "offset"), ("take_profit", "TP", "optional"),
                                  ("stop_loss", "SL", "optional")):
            with Horizontal(classes="row", id=f"{name}-row"):
                yield Label(label)
                yield Input(placeholder=hint, compact=True, id=name)
            yield Static(classes="error", id=f"{name}-error")
        with Horizontal(classes="row", id="leverage-row"):
            yield Label("Lev")
            yield Input(placeholder="1", compact=True, id="leverage")
        yield Static(classes="error", id="leverage-error")
        with Horizontal(classes="row"):
            yield Label("TIF")
            yield Select([(tif.value, tif) for tif in TimeInForce], value=TimeInForce.GTC, allow_blank=False,
                         compact=True, id="tif")
        yield Checkbox("Reduce-only", compact=True, id="reduce_only")
        yield Static(classes="error", id="reduce_only-error")
        yield Checkbox("Post-only", compact=True, id="post_only")
        yield Static(classes="error", id="post_only-error")
        yield Static("", id="preview")
        yield Button("Place order", id="submit", compact=True)
        yield Static(classes="error", id="form-error")

    def on_mount(self) -> None:
        self._show_fields_for(OrderType.LIMIT)
        self._update_button()

    def set_market(self, venue: str, instrument: Instrument, default_leverage: int) -> None:
        self.venue, self.instrument, self.default_leverage = venue, instrument, default_leverage
        self.query_one("#ticket-title", Label).update(f"Order ticket · {instrument.symbol}")
        self.query_one("#leverage-row").display = instrument.is_perpetual
        self.query_one("#reduce_only").display = instrument.is_perpetual
        self.query_one("#unit", Select).set_options([(instrument.base, False), (instrument.quote, True)])
        self.query_one("#unit", Select).value = False
        self.refresh_preview()

    def set_mark(self, mark: Decimal | None) -> None:
        if mark != self.mark:
            self.mark = mark
            self.refresh_preview()

    @property
    def side(self) -> Side:
        return Side(self._choice("side", Side.BUY))

    def set_side(self, side: Side) -> None:
        self.query_one("#side", Select).value = side

    def consume(self) -> None:
        """A sent ticket is spent: clearing the size makes a repeated press ask for a new one."""
        self.query_one("#size", Input).value = ""

    def fill_price(self, price: Decimal) -> None:
        self.query_one("#price", Input).value = str(price)

    def _choice(self, name: str, default: Any) -> Any:
        """A select's value; its default while the select is still being set up."""
        value = self.query_one(f"#{name}", Select).value
        return default if value in (Select.BLANK, Select.NULL) else value

    def form(self) -> TicketForm:
        values = {name: self.query_one(f"#{name}", Input).value for name in INPUT_FIELDS}
        return TicketForm(
            side=Side(self._choice("side", Side.BUY)),
            type=OrderType(self._choice("type", OrderType.LIMIT)),
            size_in_quote=bool(self._choice("unit", False)),
            time_in_force=TimeInForce(self._choice("tif", TimeInForce.GTC)),
            reduce_only=self.query_one("#reduce_only", Checkbox).value,
            post_only=self.query_one("#post_only", Checkbox).value,
            **values,
        )

    def evaluate(self) -> TicketResult:
        if self.instrument is None:
            return TicketResult(errors={"form": "no market selected"})
        return parse_ticket(self.form(), self.instrument, self.venue, self.mark, self.default_leverage)

    def show_errors(self, errors: dict[str, str]) -> None:
        for widget in self.query(".error").results(Static):
            name = (widget.id or "").removesuffix("-error")
            message = errors.get(name, "")
            text = f"  ↳ {message}" if message else ""
            if widget.content != text:
                widget.update(text)
                widget.set_class(bool(message), "-shown")

    def refresh_preview(self) -> None:
        """Re-check while typing: show problems with what has been typed, not with empty fields."""
        result = self.evaluate()
        typed = {name for name in INPUT_FIELDS if self.query_one(f"#{name}", Input).value.strip()}
        self.show_errors({field: message for field, message in result.errors.items()
                          if field in typed or (message != "required" and field != "form")})
        preview = result.preview
        text = "Notional -  Fee -\nMargin -  Liq -"
        if preview is not None and self.instrument is not None:
            liq = fmt_money(preview.liquidation) if preview.liquidation is not None else "-"
            text = (f"Notional {fmt_money(preview.notional)}  Fee {fmt_money(preview.fee)}\n"
                    f"Margin {fmt_money(preview.margin)}  Liq {liq}  ({preview.size} {self.instrument.base})")
        self.query_one("#preview", Static).update(text, layout=False)

    def _show_fields_for(self, order_type: OrderType) -> None:
        needed = FIELDS_FOR_TYPE[order_type]
        for name in OPTIONAL_FIELDS:
            self.query_one(f"#{name}-row").display = name in needed
        self.query_one("#post_only").display = order_type is OrderType.LIMIT

    def _update_button(self) -> None:
        form = self.form()
        button = self.query_one("#submit", Button)
        button.label = f"Place {form.side.value.upper()} {TYPE_LABELS[form.type].upper()}"
        button.variant = "success" if form.side is Side.BUY else "error"

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "type":
            self._show_fields_for(OrderType(str(event.value)))
        self._update_button()
        self.refresh_preview()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self) -> None:
        self.refresh_preview()

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        result = self.evaluate()
        self.show_errors(result.errors)
        if result.request is not None:
            self.post_message(OrderSubmitted(result.request, result.preview))
