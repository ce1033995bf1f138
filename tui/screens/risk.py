"""The Risk screen: the risk state in the status bar's words, orders today against the daily
cap, every limit that blocks new exposure right now with its reason, every limit as a gauge,
alerts as they happen, and the emergency stop and its reset."""

from __future__ import annotations

from typing import ClassVar

from rich.markup import escape
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
from tui.widgets.status_bar import risk_words

MAX_ALERT_ROWS = 200


class RiskScreen(OpenTradeScreen):
    TITLE_TEXT = "Risk"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "app.reset_risk", "Reset risk", id="risk-reset"),
        Binding("S", "app.emergency_stop", "Emergency stop", id="risk-emergency-stop"),
    ]

    def compose_body(self) -> ComposeResult:
        yield Static("", id="risk-state")
        yield Static("", id="risk-blockers")
        yield Label("Limits", classes="section")
        yield Gauges(id="gauges")
        yield Label("Alerts", classes="section")
        table: DataTable[str | Text] = DataTable(id="alerts", cursor_type="row", zebra_stripes=True)
        table.add_columns("Time", "Level", "Rule", "Symbol", "Message")
        yield table

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        session = self.session
        usage = session.limits_usage()
        self.query_one(Gauges).show([(u.name, float(u.used), float(u.limit), u.unit, u.fraction) for u in usage])
        state = session.risk_state
        blockers = session.blockers()
        words = risk_words(state, [rule for rule, _ in blockers], session.halted_by_person)
        daily = next((u for u in usage if u.name == "daily loss"), None)
        daily_text = f"daily loss {fmt_money(daily.used)} of {fmt_money(daily.limit)} {daily.unit}" if daily else ""
        style = "$success" if words.startswith("ACTIVE — trading") else "$warning" if "exits only" in words else "$error"
        orders_today, max_orders = session.orders_today()
        reset = "  Reset: r" if state is not RiskState.ACTIVE else ""
        self.query_one("#risk-state", Static).update(
            f"Risk state [b {style}]{words}[/].  Orders today {orders_today}/{max_orders}.  "
            f"{daily_text}.  Emergency stop: ctrl+k{reset}"
        )
        self.query_one("#risk-blockers", Static).update(self._blockers_text(blockers))
        if changes.any_risk():
            self._show_alerts(session.recent_alerts())

    @staticmethod
    def _blockers_text(blockers: list[tuple[str, str]]) -> str:
        if not blockers:
            return "Nothing blocks new exposure."
        lines = ["[b]Blocking new exposure[/b] (orders that reduce or close a position still pass, "
                 "unless a person halted trading):"]
        lines += [f"  [b]{escape(rule)}[/b]: {escape(reason)}" for rule, reason in blockers]
        return "\n".join(lines)

    def _show_alerts(self, alerts: list[RiskAlert]) -> None:
        table = self.query_one("#alerts", DataTable)
        table.clear()
        styles = {"critical": "bold red", "warning": "yellow"}
        for alert in reversed(alerts[-MAX_ALERT_ROWS:]):
            table.add_row(fmt_time(alert.ts), Text(alert.level, style=styles.get(alert.level, "")), alert.rule,
                          alert.symbol or "", alert.message)
