"""Positions & Orders: open positions, open orders, order history and fills, one filter for
all four tables; cancel, modify, close, cancel all and close all."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, TabbedContent, TabPane

from core.models import Fill, Order, Position, PositionSide, Side
from themes.registry import up_down
from tui.changes import Changes
from tui.format import fmt_money, fmt_num, fmt_price, fmt_time
from tui.screens.filtering import FilteredTabsScreen
from tui.screens.confirm import ConfirmScreen
from tui.screens.edit_order import EditOrderScreen
from tui.widgets.tables import sync_rows, selected_key

HISTORY_ROWS = 200
COLUMNS = {
    "positions": ("Venue", "Symbol", "Side", "Size", "Entry", "Mark", "uPnL", "Liq", "Lev"),
    "orders": ("Symbol", "Side", "Type", "Size", "Filled", "Price", "Trigger", "Status", "TIF", "Id"),
    "history": ("Time", "Symbol", "Side", "Type", "Size", "Filled", "Avg", "Status", "Reason"),
    "fills": ("Time", "Symbol", "Side", "Price", "Size", "Fee", "Liq.", "Order"),
}


def _num(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,}"


class PositionsScreen(FilteredTabsScreen):
    TITLE_TEXT = "Positions & Orders"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_order", "Cancel order", id="positions-cancel"),
        Binding("e", "modify_order", "Modify", id="positions-modify"),
        Binding("x", "close_position", "Close pos.", id="positions-close"),
        Binding("C", "app.cancel_all", "Cancel all", id="positions-cancel-all"),
        Binding("X", "app.close_all", "Close all", id="positions-close-all"),
        Binding("f", "focus_filter", "Filter", id="positions-filter"),
        Binding("p", "show_tab('positions')", "Positions tab", show=False, id="positions-tab-positions"),
        Binding("o", "show_tab('orders')", "Open orders tab", show=False, id="positions-tab-orders"),
        Binding("h", "show_tab('history')", "History tab", show=False, id="positions-tab-history"),
        Binding("l", "show_tab('fills')", "Fills tab", show=False, id="positions-tab-fills"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.history: list[Order] = []
        self.fill_rows: list[Fill] = []

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: symbol, side, status, venue… (f)", id="filter", compact=True)
        with TabbedContent(id="tabs"):
            for name, title in (("positions", "p Positions"), ("orders", "o Open orders"), ("history", "h History"),
                                ("fills", "l Fills")):
                with TabPane(title, id=f"tab-{name}"):
                    table: DataTable[str | Text] = DataTable(id=f"table-{name}", cursor_type="row", zebra_stripes=True)
                    table.add_columns(*COLUMNS[name])
                    yield table

    def _keep(self, cells: tuple[str | Text, ...]) -> bool:
        needle = self.filter_text.lower()
        return not needle or any(needle in str(cell).lower() for cell in cells)

    def _table(self, name: str) -> DataTable[str | Text]:
        return self.query_one(f"#table-{name}", DataTable)

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        engine = self.engine
        up, down = up_down(self.app.current_theme)
        if changes.any_positions() or changes.tickers or changes.everything:
            rows = {}
            for position in engine.portfolio.positions():
                cells = self._position_cells(position, up, down)
                if self._keep(cells):
                    rows[f"{position.venue}|{position.symbol}"] = cells
            sync_rows(self._table("positions"), rows)
        if changes.any_orders():
            rows = {}
            for order in engine.open_orders():
                cells = self._order_cells(order, up, down)
                if self._keep(cells):
                    rows[order.client_order_id] = cells
            sync_rows(self._table("orders"), rows)
            self._load_history()

    def _decimals(self, venue: str, symbol: str) -> int:
        return self.engine.instrument(venue, symbol).price_decimals

    def _position_cells(self, p: Position, up: str, down: str) -> tuple[str | Text, ...]:
        pnl_style = up if p.unrealized_pnl >= 0 else down
        side_style = up if p.side is PositionSide.LONG else down
        decimals = self._decimals(p.venue, p.symbol)
        return (p.venue, p.symbol, Text(p.side.value, style=side_style), _num(p.size),
                fmt_price(p.entry_price, decimals), fmt_price(p.mark_price, decimals),
                Text(fmt_money(p.unrealized_pnl, sign=True), style=pnl_style),
                fmt_price(p.liquidation_price, decimals), f"{p.leverage}x")

    @staticmethod
    def _order_cells(o: Order, up: str, down: str) -> tuple[str | Text, ...]:
        return (o.symbol, Text(o.side.value, style=up if o.side is Side.BUY else down), o.type.value, _num(o.size),
                _num(o.filled_size), _num(o.price), _num(o.trigger_price), o.status.value, o.time_in_force.value,
                o.client_order_id)

    @work(group="history", exclusive=True, exit_on_error=False, name="loading order history")
    async def _load_history(self) -> None:
        engine = self.engine
        self.history = await engine.order_history(limit=HISTORY_ROWS)
        self.fill_rows = await engine.fills(limit=HISTORY_ROWS)
        self._show_history()

    def _show_history(self) -> None:
        up, down = up_down(self.app.current_theme)
        rows: dict[str, tuple[str | Text, ...]] = {}
        for o in reversed(self.history):
            cells = (fmt_time(o.created_ts), o.symbol, Text(o.side.value, style=up if o.side is Side.BUY else down),
                     o.type.value, _num(o.size), _num(o.filled_size), fmt_price(o.avg_price, self._decimals(o.venue, o.symbol)),
                     o.status.value, o.reason or "")
            if self._keep(cells):
                rows[o.client_order_id] = cells
        sync_rows(self._table("history"), rows)
        fill_rows: dict[str, tuple[str | Text, ...]] = {}
        for f in reversed(self.fill_rows):
            fill_cells = (fmt_time(f.ts), f.symbol, Text(f.side.value, style=up if f.side is Side.BUY else down),
                          _num(f.price), _num(f.size), fmt_num(f.fee, 4), f.liquidity.value, f.client_order_id)
            if self._keep(fill_cells):
                fill_rows[f.fill_id] = fill_cells
        sync_rows(self._table("fills"), fill_rows)


    def _selected_order(self) -> Order | None:
        key = selected_key(self._table("orders"))
        order = next((o for o in self.engine.open_orders() if o.client_order_id == key), None)
        if order is None:
            self.notify("Select an open order first (tab Open orders).", severity="warning")
        return order

    def action_cancel_order(self) -> None:
        self.action_show_tab("orders")
        order = self._selected_order()
        if order is not None:
            self._cancel(order)

    @work(group="orders", exit_on_error=False, name="canceling the order")
    async def _cancel(self, order: Order) -> None:
        if self.engine.venue_mode(order.venue) == "live" and not await self.app.push_screen_wait(
            ConfirmScreen("Cancel live order", f"Cancel {order.side.value} {order.size} {order.symbol} at {order.price} on {order.venue}?",
                          confirm_label="Cancel order", danger=True)
        ):
            return
        result = await self.engine.cancel_order(order.client_order_id)
        self.notify(f"{order.symbol} {order.client_order_id}: {result.status.value}", title="Cancel")

    def action_modify_order(self) -> None:
        self.action_show_tab("orders")
        order = self._selected_order()
        if order is not None:
            self._modify(order)

    @work(group="orders", exit_on_error=False, name="modifying the order")
    async def _modify(self, order: Order) -> None:
        instrument = self.engine.instrument(order.venue, order.symbol)
        change = await self.app.push_screen_wait(EditOrderScreen(order, instrument))
        if change is None:
            return
        price, size = change
        if self.engine.venue_mode(order.venue) == "live" and not await self.app.push_screen_wait(
            ConfirmScreen("Modify live order", f"Replace {order.client_order_id}: price {price or order.price}, size {size or order.size} on {order.venue}.",
                          confirm_label="Modify", danger=True)
        ):
            return
        new = await self.engine.modify_order(order.client_order_id, price=price, size=size)
        self.notify(f"{new.symbol} now {new.size} at {new.price} ({new.status.value})", title="Modified")

    def action_close_position(self) -> None:
        self.action_show_tab("positions")
        key = selected_key(self._table("positions"))
        if key is None:
            self.notify("No position selected.", severity="warning")
            return
        venue, symbol = key.split("|", 1)
        self._close(venue, symbol)

    @work(group="orders", exit_on_error=False, name="closing the position")
    async def _close(self, venue: str, symbol: str) -> None:
        position = self.engine.portfolio.position(venue, symbol)
        if position is None:
            return
        if self.engine.venue_mode(venue) == "live" and not await self.app.push_screen_wait(
            ConfirmScreen("Close live position", f"Send a market order to close {position.side.value} {position.size} {symbol} on {venue}.",
                          confirm_label="Close position", danger=True)
        ):
            return
        order = await self.engine.close_position(venue, symbol)
        status = order.status.value if order else "nothing to close"
        self.notify(f"Close {symbol}: {status}", title="Close position")
