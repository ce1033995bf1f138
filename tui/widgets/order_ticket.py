"""The order ticket: every order field, inline messages next to the fields, a live preview.

The rules live in ``tui.ticket``; this widget only gathers text, shows what the rules say,
and posts ``OrderSubmitted`` when the form is valid. Enter in any field or the button submits.

On a perpetual the leverage field holds the leverage the order will be sent at, never a
placeholder: the open position's, or the configured default, and the line says which.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from core.ledger import MAINTENANCE_MARGIN_RATE
from core.models import Instrument, OrderType, Side, TimeInForce
from tui.format import fmt_money, show_price, show_size
from tui.messages import OrderSubmitted
from tui.ticket import FIELDS_FOR_TYPE, TicketForm, TicketResult, parse_ticket
from tui.widgets.one_line_select import OneLineSelect

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


NUMBER_KEYS = frozenset("0123456789.-")
NOT_READY = "refused, the engine is starting; nothing was sent"


class OrderTicket(VerticalScroll):
    DEFAULT_CSS = """
    OrderTicket { height: 1fr; padding: 0 1; }
    OrderTicket .row { height: 1; }
    OrderTicket .row Label { width: 8; }
    OrderTicket .row Input { width: 1fr; }
    OrderTicket .row Select { width: 1fr; }
    OrderTicket .error { color: $error; height: auto; display: none; }
    OrderTicket .error.-shown { display: block; }
    OrderTicket #preview { height: auto; color: $text-muted; }
    OrderTicket .row #leverage { width: 6; }
    OrderTicket #leverage-source { width: 1fr; color: $text-muted; padding-left: 1; }
    OrderTicket #submit { width: 100%; min-width: 10; }
    OrderTicket Checkbox { width: 1fr; }
    OrderTicket #ticket-title { text-style: bold; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.instrument: Instrument | None = None
        self.venue = ""
        self.mark: Decimal | None = None
        self.maintenance_margin_rate = MAINTENANCE_MARGIN_RATE
        self._preview_lines = 0
        self._submit_tried = False
        self._left: Widget | None = None
        self._after_field = False
        self._offered_leverage = self._leverage_source = self._shown_source = ""

    def compose(self) -> ComposeResult:
        yield Label("Order ticket", id="ticket-title")
        with Horizontal(classes="row"):
            yield Label("Side")
            yield OneLineSelect([("Buy", Side.BUY), ("Sell", Side.SELL)], value=Side.BUY, allow_blank=False, compact=True, id="side")
        with Horizontal(classes="row"):
            yield Label("Type")
            yield OneLineSelect([(label, kind) for kind, label in TYPE_LABELS.items()], value=OrderType.LIMIT,
                                allow_blank=False, compact=True, id="type")
        with Horizontal(classes="row"):
            yield Label("Size")
            yield Input(placeholder="amount", compact=True, id="size")
            yield OneLineSelect([("base", False), ("quote", True)], value=False, allow_blank=False, compact=True, id="unit")
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
            yield Input(compact=True, id="leverage")
            yield Static("", id="leverage-source")
        yield Static(classes="error", id="leverage-error")
        with Horizontal(classes="row", id="tif-row"):
            yield Label("TIF")
            yield OneLineSelect([(tif.value, tif) for tif in TimeInForce], value=TimeInForce.GTC, allow_blank=False,
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

    def set_market(self, venue: str, instrument: Instrument, maintenance_margin_rate: Decimal) -> None:
        """A new market starts with the size in its base currency; the first market, which comes
        once the engine is ready, keeps the unit chosen while it started."""
        in_quote = bool(self._choice("unit", False)) if self.instrument is None else False
        self.venue, self.instrument = venue, instrument
        self.maintenance_margin_rate = maintenance_margin_rate
        self._submit_tried = False
        self.query_one("#ticket-title", Label).update(f"Order ticket · {instrument.symbol}")
        self.query_one("#leverage-row").display = instrument.is_perpetual
        self.query_one("#reduce_only").display = instrument.is_perpetual
        self.query_one("#unit", Select).set_options([(instrument.base, False), (instrument.quote, True)])
        self.query_one("#unit", Select).value = in_quote
        self._offered_leverage = ""
        self.query_one("#leverage", Input).value = ""
        self.refresh_preview()

    def offer_leverage(self, leverage: int, source: str) -> None:
        """The leverage an order would be sent at and where it comes from. It fills the field
        unless the trader has typed another value there since it was last offered."""
        field = self.query_one("#leverage", Input)
        text = str(leverage)
        if field.value.strip() in ("", self._offered_leverage) and field.value != text:
            field.value = text
        self._offered_leverage, self._leverage_source = text, source
        self._show_leverage_source()

    def _show_leverage_source(self) -> None:
        typed = self.query_one("#leverage", Input).value.strip().rstrip("xX")
        label = self._leverage_source if typed == self._offered_leverage else "typed"
        if label != self._shown_source:
            self._shown_source = label
            self.query_one("#leverage-source", Static).update(label, layout=False)

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
        self._submit_tried = False
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
        if self.instrument is None:  # only while the engine starts: the first market comes with it
            return TicketResult(errors={"form": NOT_READY})
        return parse_ticket(self.form(), self.instrument, self.venue, self.mark, self.maintenance_margin_rate)

    _errors_found: list[Static] | None = None

    @property
    def _error_lines(self) -> list[Static]:
        """The line under each field (and the form's) for its message, found once the ticket
        is composed: the preview shows them on every frame the mark moves, and a query walks
        the whole ticket (a fifth of the CPU of drawing the Trade screen's frame)."""
        if not self._errors_found:
            self._errors_found = list(self.query(".error").results(Static))
        return self._errors_found

    def show_errors(self, errors: dict[str, str]) -> None:
        for widget in self._error_lines:
            name = (widget.id or "").removesuffix("-error")
            message = errors.get(name, "")
            text = f"  ↳ {message}" if message else ""
            if widget.content != text:
                widget.update(text)
                widget.set_class(bool(message), "-shown")

    def refresh_preview(self) -> None:
        """Re-check while typing: show problems with what has been typed, not with empty fields,
        until a submit has asked for them; then a new mark must not wipe the "required" it showed.
        Called on every frame the mark moves: an unchanged preview is not repainted, which would
        make the compositor redraw the whole ticket column with the market beside it."""
        result = self.evaluate()
        if self._submit_tried:
            self.show_errors(result.errors)
        else:
            typed = {name for name in INPUT_FIELDS if self.query_one(f"#{name}", Input).value.strip()}
            self.show_errors({field: message for field, message in result.errors.items()
                              if field in typed or (message != "required" and field != "form")})
        text = self._preview_text(result)
        preview = self.query_one("#preview", Static)
        if text == preview.content:
            return
        lines = text.count("\n") + 1
        preview.update(text, layout=lines != self._preview_lines)
        self._preview_lines = lines

    def _preview_text(self, result: TicketResult) -> str:
        instrument, preview, request = self.instrument, result.preview, result.request
        if instrument is None or preview is None or request is None:
            return "Notional -  Fee -\nMargin -\nLiq -" if instrument is not None and instrument.is_perpetual \
                else "Notional -  Fee -\nSize -"
        lines = [f"Notional {fmt_money(preview.notional)}  Fee {fmt_money(preview.fee)}"]
        size = f"Size {show_size(instrument, preview.size)} {instrument.base}"
        if instrument.is_perpetual:
            lines.append(f"Margin {fmt_money(preview.margin)} at {request.leverage}x")
            lines.append(f"Liq {show_price(instrument, preview.liquidation)}  {size}")
        else:
            lines.append(size)
        return "\n".join(lines)

    def _show_fields_for(self, order_type: OrderType) -> None:
        needed = FIELDS_FOR_TYPE[order_type]
        for name in OPTIONAL_FIELDS:
            self.query_one(f"#{name}-row").display = name in needed
        self.query_one("#post_only").display = order_type is OrderType.LIMIT
        self.query_one("#tif-row").display = order_type is not OrderType.MARKET

    def _update_button(self) -> None:
        form = self.form()
        button = self.query_one("#submit", Button)
        button.label = f"Place {form.side.value.upper()} {TYPE_LABELS[form.type].upper()}"
        button.variant = "success" if form.side is Side.BUY else "error"

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._left = event.widget

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._after_field = isinstance(self._left, Input) and not isinstance(event.widget, Input)
        self._left = None

    def on_key(self, event: events.Key) -> None:
        """A number typed just after leaving one of the ticket's fields (Tab from the size lands
        on its unit list) is a size or price meant for a field, not the app's screen keys: typing
        0.01, Tab, 59000 landed on the Agents screen with 9000 typed there. It rings the bell
        instead. Arriving on the ticket's lists any other way (at start, by Escape), the number
        keys still switch screens."""
        if self._after_field and event.character is not None and event.character in NUMBER_KEYS:
            event.stop()
            event.prevent_default()
            self.app.bell()

    @on(Select.Changed)
    def _select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "type":
            self._show_fields_for(OrderType(str(event.value)))
        self._update_button()
        self.refresh_preview()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self, event: Input.Changed | Checkbox.Changed) -> None:
        if isinstance(event, Input.Changed) and event.input.id == "leverage":
            self._show_leverage_source()
        self.refresh_preview()

    @on(Input.Submitted)
    @on(Button.Pressed, "#submit")
    def submit(self) -> None:
        self._submit_tried = True
        result = self.evaluate()
        self.show_errors(result.errors)
        if self.instrument is None:
            self.notify(f"The order: {NOT_READY}.", title="Order refused", severity="error")
        elif result.request is not None:
            self.post_message(OrderSubmitted(result.request, result.preview))
