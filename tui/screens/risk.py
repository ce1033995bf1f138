"""The Risk screen: every limit as a gauge, the daily loss against its limit, the risk state,
alerts as they happen, and the emergency stop and its reset."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Label, Static

from core.events import RiskAlert
from core.models import RiskState
from tui.changes import Changes
from tui.format import fmt_money, fmt_time
from tui.screens.base import OpenTradeScreen
from tui.widgets.gauge import Gauges

MAX_ALERT_ROWS = 200


class RiskScreen(OpenTradeScreen):
    TITLE_TEXT = "Risk"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "app.reset_risk", "Reset risk", id="risk-reset"),
        Binding("S", "app.emergency_stop", "Emergency stop", id="risk-emergency-stop"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="risk-state")
        yield Label("Limits", classes="section")
        yield Gauges(id="gauges")
        yield Label("Alerts", classes="section")
        table: DataTable[str | Text] = DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        table.add_columns("Time", "Level", "Rule", "Symbol", "Message")
        yield table

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        engine = self.engine
        usage = engine.risk.limits_usage(engine.open_orders())
        self.query_one(Gauges).show([(u.name, float(u.used), float(u.limit), u.unit, u.fraction) for u in usage])
        state = engine.risk.state
        daily = next((u for u in usage if u.name == "daily loss"), None)
        daily_text = f"daily loss {fmt_money(daily.used)} of {fmt_money(daily.limit)} {daily.unit}" if daily else ""
        style = {RiskState.ACTIVE: "$success", RiskState.REDUCING: "$warning"}.get(state, "$error")
        explanation = {
            RiskState.ACTIVE: "trading normally",
            RiskState.REDUCING: "only orders that reduce exposure pass",
            RiskState.HALTED: "nothing passes until you reset (r)",
        }[state]
        self.query_one("#risk-state", Static).update(
            f"Risk state [b {style}]{state.value.upper()}[/] — {explanation}.  {daily_text}.  Emergency stop: ctrl+k"
        )
        if changes.any_risk():
            self._show_alerts(engine.recent_alerts())

    def _show_alerts(self, alerts: list[RiskAlert]) -> None:
        table = self.query_one("#alerts", DataTable)
        table.clear()
        styles = {"critical": "bold red", "warning": "yellow"}
        for alert in reversed(alerts[-MAX_ALERT_ROWS:]):
            table.add_row(fmt_time(alert.ts), Text(alert.level, style=styles.get(alert.level, "")), alert.rule,
                          alert.symbol or "", alert.message)
