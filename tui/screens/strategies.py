"""The Strategies screen: each strategy's state and performance; start, stop, edit its
parameters, and see its orders and signals. Works with whatever the strategy engine exposes,
including nothing at all, and says so while the app is still starting the strategies.

A strategy trading the agents' signals (one with a ``confidence_threshold``) that holds nothing
says why it is idle in its Note: no signal yet, the agents lack data, they say hold, the risk
agent vetoed, or the signal is below the strategy's thresholds."""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from core.config import AgentsConfig
from core.events import AgentDecision
from core.models import Direction
from tui.changes import Changes
from tui.format import fmt_money, fmt_time
from tui.screens.base import OpenTradeScreen
from tui.screens.edit_params import EditParamsScreen
from tui.widgets.tables import selected_key, sync_rows

STATE_STYLE = {"running": "bold green", "error": "bold red", "stopped": "dim"}


def idle_reason(info: Any, decisions: Mapping[str, AgentDecision], agents: AgentsConfig, default_venue: str) -> str:
    """Why a running signal-following strategy without a position does nothing, '' otherwise."""
    params = info.params
    if info.state != "running" or "confidence_threshold" not in params or info.positions:
        return ""
    if not agents.enabled:
        return "idle: no signals, the agents are off (agents.enabled: false)"
    analysed = agents.venue or default_venue
    if analysed != info.venue:
        return f"idle: no signals, the agents analyse {analysed}, not {info.venue}"
    latest = [decisions[s] for s in info.symbols if s in decisions]
    if not latest:
        return "idle: no agent signal yet"
    decision = max(latest, key=lambda d: d.signal.generated_time)
    signal, with_data = decision.signal, sum(1 for o in decision.opinions if o.has_data)
    if not with_data:
        return f"idle: the agents lack data (0 of {len(decision.opinions)} have data on {decision.symbol})"
    if decision.verdict.get("action") == "veto":
        reasons = decision.verdict.get("reasons") or ["no reason given"]
        return f"idle: the risk agent vetoed {decision.symbol}: {reasons[0]}"
    if signal.direction is Direction.HOLD:
        return f"idle: the agents say hold on {decision.symbol} ({with_data} of {len(decision.opinions)} have data)"
    direction = signal.direction.value.upper()
    if signal.confidence < params["confidence_threshold"]:
        return (f"idle: {direction} {decision.symbol} at confidence {signal.confidence:.2f}, "
                f"below its {params['confidence_threshold']:.2f}")
    if signal.strength < params.get("min_strength", 0.0):
        return f"idle: {direction} {decision.symbol} at strength {signal.strength:.2f}, below its {params['min_strength']:.2f}"
    return ""


class StrategiesScreen(OpenTradeScreen):
    TITLE_TEXT = "Strategies"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "start_stop", "Start/stop", id="strategies-toggle"),
        Binding("e", "edit", "Edit params", id="strategies-edit"),
    ]

    def compose_body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="strategies", cursor_type="row", zebra_stripes=True)
        table.add_columns("Strategy", "Kind", "State", "Venue", "Symbols", "PnL", "Fees", "Orders", "Refused", "Note")
        yield table
        with VerticalScroll(id="strategy-detail-box"):
            yield Static("", id="strategy-detail")

    def _infos(self) -> list[Any]:
        return self.session.strategies() or []

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        if not (changes.everything or changes.orders or changes.positions or changes.signals or changes.decisions):
            return
        infos = self._infos()
        rows = {}
        for info in infos:
            rows[info.strategy_id] = (
                info.strategy_id, info.kind, Text(info.state, style=STATE_STYLE.get(info.state, "")), info.venue,
                ", ".join(info.symbols), fmt_money(info.pnl, sign=True), fmt_money(info.fees),
                str(info.orders_sent), str(info.orders_refused), self._note(info),
            )
        sync_rows(self.query_one("#strategies", DataTable), rows)
        if self.session.strategies() is None:
            # The app attaches the strategies a moment after its first screen.
            self.query_one("#strategy-detail", Static).update("Starting the strategies…")
            return
        if not infos:
            self.query_one("#strategy-detail", Static).update(
                "No strategies are loaded. Configure them under 'strategies:' in the config file."
            )
            return
        self._show_detail()

    def _note(self, info: Any) -> Text:
        """The error that stopped a strategy, else why it is idle."""
        if info.last_error:
            return Text(info.last_error, style="bold red")
        decisions = {d.symbol: d for d in self.session.latest_decisions()}
        return Text(idle_reason(info, decisions, self.session.agents, self.session.default_venue), style="yellow")

    def _selected(self) -> Any | None:
        key = selected_key(self.query_one("#strategies", DataTable))
        return next((info for info in self._infos() if info.strategy_id == key), None)

    @on(DataTable.RowHighlighted)
    def _show_detail(self) -> None:
        info = self._selected()
        if info is None:
            return
        params = ", ".join(f"{k}={v}" for k, v in info.params.items()) or "none"
        table = Table(title="Recent signals", expand=True, title_justify="left")
        for column in ("Time", "Direction", "Strength", "Confidence", "Source"):
            table.add_column(column)
        for signal in info.recent_signals[-8:]:
            table.add_row(fmt_time(signal.generated_time), signal.direction.value, f"{signal.strength:.2f}",
                          f"{signal.confidence:.2f}", signal.source)
        orders = [o for o in self.session.open_orders() if o.strategy_id == info.strategy_id]
        order_table = Table(title="Open orders", expand=True, title_justify="left")
        for column in ("Symbol", "Side", "Type", "Size", "Price", "Status"):
            order_table.add_column(column)
        for o in orders:
            order_table.add_row(o.symbol, o.side.value, o.type.value, str(o.size), str(o.price or "-"), o.status.value)

        self.query_one("#strategy-detail", Static).update(
            Group(f"[b]{info.strategy_id}[/b] params: {params}", self._note(info), table, order_table)
        )

    def action_start_stop(self) -> None:
        info = self._selected()
        if info is None:
            self.notify("No strategy selected.", severity="warning")
            return
        self._toggle(info.strategy_id, info.state == "running")

    @work(group="strategies", exit_on_error=False, name="starting/stopping the strategy")
    async def _toggle(self, strategy_id: str, running: bool) -> None:
        if running:
            await self.session.stop_strategy(strategy_id)
        else:
            await self.session.start_strategy(strategy_id)
        self.notify(f"{strategy_id} {'stopped' if running else 'started'}")
        self.refresh_view(Changes.all())

    def action_edit(self) -> None:
        info = self._selected()
        if info is None:
            self.notify("No strategy selected.", severity="warning")
            return
        self._edit(info.strategy_id, dict(info.params))

    @work(group="strategies", exit_on_error=False, name="editing parameters")
    async def _edit(self, strategy_id: str, params: dict[str, Any]) -> None:
        applied = await self.app.push_screen_wait(
            EditParamsScreen(strategy_id, params, partial(self.session.set_strategy_params, strategy_id))
        )
        if applied:
            self.notify(f"{strategy_id}: parameters updated")
            self.refresh_view(Changes.all())
