"""Positions & Orders: open positions (with their stop-loss and take-profit), open orders, order
history and fills (newest first) and balances per venue, one filter for every table; cancel,
modify, close, set the levels, cancel all and close all.

Prices and sizes show at their market's precision. Every action runs the pre-trade check
before it asks for a confirmation: a refusal shows at once, with its reason."""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Input, TabbedContent, TabPane

from core.executor import OrderRefused
from core.models import Balance, Fill, Instrument, Order, Position, PositionSide, ProtectiveLevels, Side
from core.permissions import PermissionDenied
from core.risk.protector import ProtectionRefused
from themes.registry import up_down
from tui.changes import Changes
from tui.format import fmt_money, fmt_num, fmt_time, show_price, show_size
from tui.screens.confirm import ConfirmScreen
from tui.screens.edit_order import EditOrderScreen
from tui.screens.edit_protection import EditProtectionScreen
from tui.screens.filtering import FilteredTabsScreen
from tui.widgets.tables import selected_key, sync_rows

HISTORY_ROWS = 200
ASSET_DECIMALS = 8  # an asset that is no market's base on its venue
#: (tab, key, title); ``l`` sets a position's levels and ``f`` focuses the filter, so the
#: fills tab takes the ``i`` of fIlls.
TABS = (("positions", "p", "Positions"), ("orders", "o", "Open orders"), ("history", "h", "History"),
        ("fills", "i", "Fills"), ("balances", "b", "Balances"))
COLUMNS = {
    "positions": ("Venue", "Symbol", "Side", "Size", "Entry", "Mark", "uPnL", "Liq", "Lev", "SL", "TP", "Levels"),
    "orders": ("Symbol", "Side", "Type", "Size", "Filled", "Price", "Trigger", "Status", "TIF", "Id"),
    "history": ("Time", "Symbol", "Side", "Type", "Size", "Filled", "Avg", "Status", "Reason"),
    "fills": ("Time", "Symbol", "Side", "Price", "Size", "Fee", "Liq.", "Order"),
    "balances": ("Venue", "Asset", "Free", "Locked", "Total", "Value"),
}


def _level_cells(levels: ProtectiveLevels | None, market: Instrument | None, stop_style: str,
                 take_style: str) -> tuple[str | Text, ...]:
    """SL and TP with where each came from (manual, auto, strategy:<id>), and where they live."""
    if levels is None or levels.empty:
        return "-", "-", "none"
    cells: list[str | Text] = []
    for price, source, style in ((levels.stop_loss, levels.stop_loss_source, stop_style),
                                 (levels.take_profit, levels.take_profit_source, take_style)):
        cells.append("-" if price is None else Text.assemble((show_price(market, price), style), f" {source}"))
    return (*cells, levels.placement.label)


class PositionsScreen(FilteredTabsScreen):
    TITLE_TEXT = "Positions & Orders"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "cancel_order", "Cancel order", id="positions-cancel"),
        Binding("e", "modify_order", "Modify", id="positions-modify"),
        Binding("x", "close_position", "Close pos.", id="positions-close"),
        Binding("l", "edit_levels", "Set SL/TP", show=False, id="positions-levels"),
        Binding("C", "app.cancel_all", "Cancel all", id="positions-cancel-all"),
        Binding("X", "app.close_all", "Close all", id="positions-close-all"),
        Binding("f", "focus_filter", "Filter", id="positions-filter"),
        *(Binding(key, f"show_tab('{name}')", f"{title} tab", show=False, id=f"positions-tab-{name}")
          for name, key, title in TABS),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self.history: list[Order] = []
        self.fill_rows: list[Fill] = []

    def compose_body(self) -> ComposeResult:
        yield Input(placeholder="filter: symbol, side, status, venue… (f)", id="filter", compact=True)
        with TabbedContent(id="tabs"):
            for name, key, title in TABS:
                with TabPane(f"{key} {title}", id=f"tab-{name}"):
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
        session = self.session
        up, down = up_down(self.app.current_theme)
        if changes.any_positions() or changes.tickers or changes.everything:
            rows = {}
            for position in session.positions():
                cells = self._position_cells(position, up, down)
                if self._keep(cells):
                    rows[f"{position.venue}|{position.symbol}"] = cells
            sync_rows(self._table("positions"), rows)
            self._show_balances()
        if changes.any_orders():
            rows = {}
            for order in session.open_orders():
                cells = self._order_cells(order, up, down)
                if self._keep(cells):
                    rows[order.client_order_id] = cells
            sync_rows(self._table("orders"), rows)
            self._load_history()

    def _instrument(self, venue: str, symbol: str) -> Instrument | None:
        """The market's instrument; None for one no longer listed (its history still shows)."""
        try:
            return self.session.instrument(venue, symbol)
        except OrderRefused:
            return None

    def _position_cells(self, p: Position, up: str, down: str) -> tuple[str | Text, ...]:
        pnl_style = up if p.unrealized_pnl >= 0 else down
        side_style = up if p.side is PositionSide.LONG else down
        market = self._instrument(p.venue, p.symbol)
        levels = self.session.levels(p.venue, p.symbol)
        return (p.venue, p.symbol, Text(p.side.value, style=side_style), show_size(market, p.size),
                show_price(market, p.entry_price), show_price(market, p.mark_price),
                Text(fmt_money(p.unrealized_pnl, sign=True), style=pnl_style),
                show_price(market, p.liquidation_price), f"{p.leverage}x",
                *_level_cells(levels, market, down, up))

    def _order_cells(self, o: Order, up: str, down: str) -> tuple[str | Text, ...]:
        market = self._instrument(o.venue, o.symbol)
        return (o.symbol, Text(o.side.value, style=up if o.side is Side.BUY else down), o.type.value,
                show_size(market, o.size), show_size(market, o.filled_size), show_price(market, o.price),
                show_price(market, o.trigger_price), o.status.value, o.time_in_force.value, o.client_order_id)

    def _show_balances(self) -> None:
        session = self.session
        rows: dict[str, tuple[str | Text, ...]] = {}
        for venue in session.venue_names:
            for balance in sorted(session.balances(venue), key=lambda b: b.asset):
                cells = self._balance_cells(venue, balance)
                if self._keep(cells):
                    rows[f"{venue}|{balance.asset}"] = cells
        sync_rows(self._table("balances"), rows)

    def _balance_cells(self, venue: str, balance: Balance) -> tuple[str | Text, ...]:
        session = self.session
        if balance.asset == session.quote_currency:
            decimals = 2
        else:
            lots = [i.size_decimals for i in session.instruments(venue) if i.base == balance.asset]
            decimals = max(lots, default=ASSET_DECIMALS)
        value = session.asset_value(venue, balance.asset, balance.total)
        return (venue, balance.asset, fmt_num(balance.free, decimals), fmt_num(balance.used, decimals),
                fmt_num(balance.total, decimals),
                f"{fmt_money(value)} {session.quote_currency}" if value is not None else "no price")

    @work(group="history", exclusive=True, exit_on_error=False, name="loading order history")
    async def _load_history(self) -> None:
        self.history = await self.session.order_history(limit=HISTORY_ROWS)
        self.fill_rows = await self.session.fills(limit=HISTORY_ROWS)
        self._show_history()

    def _show_history(self) -> None:
        up, down = up_down(self.app.current_theme)
        rows: dict[str, tuple[str | Text, ...]] = {}
        for o in reversed(self.history):  # oldest first from the store: newest on top
            market = self._instrument(o.venue, o.symbol)
            cells = (fmt_time(o.created_ts), o.symbol, Text(o.side.value, style=up if o.side is Side.BUY else down),
                     o.type.value, show_size(market, o.size), show_size(market, o.filled_size),
                     show_price(market, o.avg_price), o.status.value, o.reason or "")
            if self._keep(cells):
                rows[o.client_order_id] = cells
        sync_rows(self._table("history"), rows, ordered=True)
        fill_rows: dict[str, tuple[str | Text, ...]] = {}
        for f in reversed(self.fill_rows):
            market = self._instrument(f.venue, f.symbol)
            fill_cells = (fmt_time(f.ts), f.symbol, Text(f.side.value, style=up if f.side is Side.BUY else down),
                          show_price(market, f.price), show_size(market, f.size), fmt_num(f.fee, 4), f.liquidity.value,
                          f.client_order_id)
            if self._keep(fill_cells):
                fill_rows[f.fill_id] = fill_cells
        sync_rows(self._table("fills"), fill_rows, ordered=True)


    def _selected_order(self) -> Order | None:
        key = selected_key(self._table("orders"))
        order = next((o for o in self.session.open_orders() if o.client_order_id == key), None)
        if order is None:
            self.notify("Select an open order first (tab Open orders).", severity="warning")
        return order

    def _refuse(self, reason: str) -> None:
        self.notify(reason, title="Refused", severity="error")

    def action_cancel_order(self) -> None:
        self.action_show_tab("orders")
        order = self._selected_order()
        if order is not None:
            self._cancel(order)

    @work(group="orders", exit_on_error=False, name="canceling the order")
    async def _cancel(self, order: Order) -> None:
        refusal = await self.session.check_cancel()
        if refusal is not None:
            self._refuse(refusal.reason)
            return
        market = self._instrument(order.venue, order.symbol)
        price = f" at {show_price(market, order.price)}" if order.price is not None else ""
        if self.session.venue_mode(order.venue) == "live" and not await self.app.push_screen_wait(
            ConfirmScreen("Cancel live order",
                          f"Cancel {order.side.value} {show_size(market, order.size)} {order.symbol}{price} on {order.venue}?",
                          confirm_label="Cancel order", danger=True)
        ):
            return
        result = await self.session.cancel_order(order.client_order_id)
        self.notify(f"{order.symbol} {order.client_order_id}: {result.status.value}", title="Cancel")

    def action_modify_order(self) -> None:
        self.action_show_tab("orders")
        order = self._selected_order()
        if order is not None:
            self._modify(order)

    @work(group="orders", exit_on_error=False, name="modifying the order")
    async def _modify(self, order: Order) -> None:
        session = self.session
        instrument = session.instrument(order.venue, order.symbol)

        def check(change: tuple[Decimal | None, Decimal | None]) -> str | None:
            refusal = session.check_modify(order.client_order_id, change[0], change[1])
            return None if refusal is None else refusal.reason

        change = await self.app.push_screen_wait(EditOrderScreen(order, instrument, check))
        if change is None:
            return
        price = show_price(instrument, change[0] or order.price)
        size = show_size(instrument, change[1] or order.size)
        if session.venue_mode(order.venue) == "live" and not await self.app.push_screen_wait(
            ConfirmScreen("Modify live order", f"Replace {order.client_order_id}: price {price}, size {size} on {order.venue}.",
                          confirm_label="Modify", danger=True)
        ):
            return
        new = await session.modify_order(order.client_order_id, price=change[0], size=change[1])
        self.notify(f"{new.symbol} now {show_size(instrument, new.size)} at {show_price(instrument, new.price)} "
                    f"({new.status.value})", title="Modified")

    def _selected_position(self) -> tuple[str, str] | None:
        self.action_show_tab("positions")
        key = selected_key(self._table("positions"))
        if key is None:
            self.notify("No position selected.", severity="warning")
            return None
        venue, symbol = key.split("|", 1)
        return venue, symbol

    def action_close_position(self) -> None:
        selected = self._selected_position()
        if selected is not None:
            self._close(*selected)

    def action_edit_levels(self) -> None:
        selected = self._selected_position()
        if selected is not None:
            self._edit_levels(*selected)

    @work(group="orders", exit_on_error=False, name="setting the stop-loss and take-profit")
    async def _edit_levels(self, venue: str, symbol: str) -> None:
        session = self.session
        position = session.position(venue, symbol)
        if position is None:
            return
        if session.holds_protective_orders(venue, symbol):
            where = "exchange: reduce-only orders resting at the exchange, also while the app is closed"
        else:  # an attached app's engine runs in the gateway, on after the app quits
            where = f"engine-side: watched on every mark update, only while the {'engine' if session.attached else 'app'} runs"
        change = await self.app.push_screen_wait(EditProtectionScreen(
            position, session.mark(venue, symbol), session.instrument(venue, symbol),
            session.levels(venue, symbol), where))
        if change is None:
            return
        try:
            levels = await session.set_protection(venue, symbol, stop_loss=change[0], take_profit=change[1])
        except (ProtectionRefused, PermissionDenied) as exc:
            self.notify(str(exc), title="Levels not set", severity="error")
            return
        shown = "none" if levels is None else ", ".join(
            f"{name} {value}" for name, value in (("SL", levels.stop_loss), ("TP", levels.take_profit)) if value is not None)
        self.notify(f"{symbol}: {shown}", title="Stop-loss / take-profit")

    @work(group="orders", exit_on_error=False, name="closing the position")
    async def _close(self, venue: str, symbol: str) -> None:
        session = self.session
        request = session.closing_request(venue, symbol)
        if request is None:
            return
        refusal = await session.check_order(request)
        if refusal is not None:
            self._refuse(refusal.reason)
            return
        instrument = session.instrument(venue, symbol)
        side = "long" if request.side is Side.SELL else "short"
        if session.venue_mode(venue) == "live" and not await self.app.push_screen_wait(
            ConfirmScreen("Close live position",
                          f"Send a market order to close {side} {show_size(instrument, request.size)} {symbol} on {venue}.",
                          confirm_label="Close position", danger=True)
        ):
            return
        order = await session.close_position(venue, symbol)
        status = order.status.value if order else "nothing to close"
        self.notify(f"Close {symbol}: {status}", title="Close position")
