"""The Trade screen: order ticket, chart, order book ladder and trades tape for one market.

Until the engine is ready the screen shows its starting state: the ticket takes what is typed,
the market view says what is awaited, and whatever needs the engine (sending, the book's price)
is refused with a message. Submitting is guarded: while one order is on its way (including its confirmation dialog),
another submit is ignored, so a double press never sends two orders. The whole pre-trade check
runs before any confirmation is asked: a refusal shows at once, and the dialog only asks about
an order that would be accepted (the placement checks again, as things move meanwhile).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, Static

from core.models import Instrument, Order, OrderRequest, Side
from tui.changes import Changes
from tui.format import fmt_money, perpetual_line, show_price, show_size
from tui.messages import OrderSubmitted
from tui.screens.base import OpenTradeScreen
from tui.screens.confirm import ConfirmScreen
from tui.ticket import Preview, confirmation_reasons, describe
from tui.widgets.order_book import OrderBookLadder
from tui.widgets.order_ticket import OrderTicket
from tui.widgets.price_chart import PriceChart
from tui.widgets.trades_tape import TradesTape


class TradeScreen(OpenTradeScreen):
    TITLE_TEXT = "Trade"
    #: Nothing has the focus when the screen shows, until b, s, o or Tab gives it: the resting
    #: state Escape returns to. ``None`` would take the app's "*", the ticket's scroll box, whose
    #: focus restyled the ticket's 68 widgets before the first frame (21 ms of CPU) and repainted
    #: all of it on each return from another screen, for no visible change.
    AUTO_FOCUS = ""
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("m,slash", "app.choose_market", "Market", id="trade-market"),
        Binding("b", "side('buy')", "Buy", id="trade-buy"),
        Binding("s", "side('sell')", "Sell", id="trade-sell"),
        Binding("o", "focus_ticket", "Ticket", show=False, id="trade-ticket"),
        Binding("left_square_bracket", "timeframe(-1)", "Timeframe -", show=False, id="trade-timeframe-down"),
        Binding("right_square_bracket", "timeframe(1)", "Timeframe +", show=False, id="trade-timeframe-up"),
        Binding("v", "chart_mode", "Candles/line", show=False, id="trade-chart-mode"),
        Binding("minus", "grouping(-1)", "Group -", show=False, id="trade-group-down"),
        Binding("plus,equals_sign", "grouping(1)", "Group +", show=False, id="trade-group-up"),
        Binding("p", "take_price", "Price from book", show=False, id="trade-take-price"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sending = False
        self.shown_market: tuple[str, str] | None = None
        self._own_orders_text = ""
        self._perpetual_text = ""

    def compose_body(self) -> ComposeResult:
        with Horizontal(id="trade-body"):
            with Vertical(id="left-column"):
                yield OrderTicket(id="ticket")
                yield Static("", id="own-orders")
            with Vertical(id="market-view"):
                yield Static("", id="market-line")
                yield Static("", id="perpetual-line")
                yield PriceChart(id="chart")
                with Horizontal(id="book-and-tape"):
                    yield OrderBookLadder(id="book")
                    yield TradesTape(id="tape")

    def show_starting(self) -> None:
        super().show_starting()
        self.query_one("#market-line", Static).update(
            "[b]Engine starting…[/b] opening the storage, connecting to the venue")

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        session = self.session
        venue, symbol = self.ot_app.market
        if (venue, symbol) != self.shown_market:
            self.shown_market = (venue, symbol)
            instrument = session.instrument(venue, symbol)
            self.query_one(OrderTicket).set_market(venue, instrument, session.maintenance_margin_rate)
            changes = Changes.all()
        if changes.market(venue, symbol) or changes.any_orders() or changes.any_positions():
            self._draw_book(venue, symbol)
            self._draw_tape(venue, symbol)
            self._draw_chart(venue, symbol)

    def _draw_book(self, venue: str, symbol: str) -> None:
        session = self.session
        instrument = session.instrument(venue, symbol)
        own_orders = session.open_orders(venue, symbol)
        self.query_one(OrderBookLadder).show(session.book(venue, symbol), instrument, own_orders,
                                             session.levels(venue, symbol))
        self._show_own_orders(own_orders, instrument)
        mark = session.mark(venue, symbol)
        ticket = self.query_one(OrderTicket)
        ticket.set_mark(mark)
        if instrument.is_perpetual:
            ticket.offer_leverage(*session.leverage_in_use(venue, symbol))
        ticker = session.ticker(venue, symbol)
        last = ticker.last if ticker and ticker.last is not None else mark
        position = session.position(venue, symbol)
        held = f"  position {position.side.value} {show_size(instrument, position.size)}" if position else ""
        line = self.query_one("#market-line", Static)
        text = (f"[b]{symbol}[/b] on {venue}  last {show_price(instrument, last)}  mark {show_price(instrument, mark)}"
                f"  open orders {len(own_orders)}{held}")
        if text != line.content:
            line.update(text, layout=False)
        self._draw_perpetual(venue, symbol)

    def _draw_perpetual(self, venue: str, symbol: str) -> None:
        """Funding and open interest under the market line, for perpetuals only: the one place
        this screen reads the data service's figures."""
        line = self.query_one("#perpetual-line", Static)
        instrument = self.session.instrument(venue, symbol)
        line.display = instrument.is_perpetual
        if instrument.is_perpetual:
            stats = self.session.market_stats(venue, symbol)
            text = perpetual_line(stats, instrument, self.session.now_ms())
            if text != self._perpetual_text:
                self._perpetual_text = text
                line.update(text)

    def _draw_tape(self, venue: str, symbol: str) -> None:
        self.query_one(TradesTape).show(self.session.trades(venue, symbol), self.session.instrument(venue, symbol))

    def _draw_chart(self, venue: str, symbol: str) -> None:
        chart = self.query_one(PriceChart)
        chart.show(symbol, self.session.candles(venue, symbol, chart.timeframe), self.session.levels(venue, symbol))

    def _show_own_orders(self, orders: list[Order], instrument: Instrument) -> None:
        lines = [f"[b]My orders[/b] ({len(orders)})  [dim]2: manage[/dim]"]
        for order in orders[:6]:
            price = order.price if order.price is not None else order.trigger_price
            shown = show_price(instrument, price) if price is not None else "market"
            colour = "$success" if order.side is Side.BUY else "$error"
            lines.append(f"[{colour}]{order.side.value.upper():<4}[/] {show_size(instrument, order.remaining)} @ {shown} "
                         f"{order.type.value}")
        if len(orders) > 6:
            lines.append(f"… and {len(orders) - 6} more")
        text = "\n".join(lines)
        if text != self._own_orders_text:
            self._own_orders_text = text
            self.query_one("#own-orders", Static).update(text)

    def set_side(self, side: Side) -> None:
        self.query_one(OrderTicket).set_side(side)

    def action_side(self, side: str) -> None:
        """b / s: the side, then the size is what the trader types next."""
        self.set_side(Side(side))
        self.action_focus_ticket()

    def action_focus_ticket(self) -> None:
        self.query_one("#size", Input).focus()

    def action_timeframe(self, delta: int) -> None:
        self.query_one(PriceChart).cycle_timeframe(delta)
        self.draw(Changes.all())

    def action_chart_mode(self) -> None:
        self.query_one(PriceChart).toggle_mode()

    def action_grouping(self, delta: int) -> None:
        self.query_one(OrderBookLadder).change_grouping(delta)

    def action_take_price(self) -> None:
        """Put the touch price of the chosen side into the price field: bid to buy, ask to sell."""
        if self.ot_app.refused_while_starting("The price from the book"):
            return
        venue, symbol = self.ot_app.market
        book = self.session.book(venue, symbol)
        if book is None:
            return
        ticket = self.query_one(OrderTicket)
        price = book.best_bid if ticket.side is Side.BUY else book.best_ask
        if price is not None:
            ticket.fill_price(price)

    @on(OrderSubmitted)
    def _order_submitted(self, message: OrderSubmitted) -> None:
        message.stop()
        if self.sending:
            self.notify("The previous order is still being sent.", severity="warning", timeout=2)
            return
        self.sending = True
        self._send(message.request, message.preview)

    @work(group="orders", exit_on_error=False, name="sending the order")
    async def _send(self, request: OrderRequest, preview: Preview | None) -> None:
        from core.executor import OrderRefused  # with the engine: it is not needed for the first frame

        session = self.session
        ticket = self.query_one(OrderTicket)
        try:
            instrument = session.instrument(request.venue, request.symbol)
            refusal = await session.check_order(request)
            if refusal is not None:
                self._refused(refusal.reason)
                return
            mark = session.mark(request.venue, request.symbol)
            live = session.venue_mode(request.venue) == "live"
            notional = preview.notional if preview else None
            reasons = confirmation_reasons(request, instrument, notional, mark, live, session.trading)
            if reasons:
                body = f"{describe(request, instrument)}.\n"
                if notional is not None:
                    body += f"Notional about {fmt_money(notional)} {instrument.quote}.\n"
                confirmed = await self.app.push_screen_wait(
                    ConfirmScreen("Confirm order", body + "Asking because " + "; ".join(reasons) + ".",
                                  confirm_label="Send order", danger=live)
                )
                if not confirmed:
                    self.notify("Order not sent.")
                    return
            try:
                order = await session.place_order(request)
            except OrderRefused as refused:
                self._refused(refused.reason)
                return
            if order.status.value == "rejected":
                ticket.show_errors({"form": f"rejected by {order.venue}: {order.reason}"})
                self.notify(order.reason or "rejected", title="Order rejected", severity="error")
                return
            ticket.consume()
            ticket.show_errors({})
            self.notify(f"{describe(request, instrument)} → {order.status.value}", title="Order sent", timeout=3)
            self.refresh_view(Changes.all())
        finally:
            self.sending = False

    def _refused(self, reason: str) -> None:
        self.query_one(OrderTicket).show_errors({"form": f"refused: {reason}"})
        self.notify(reason, title="Order refused", severity="error")
