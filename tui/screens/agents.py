"""The Agents screen: the latest decision for each symbol, the coordinator's verdict, each
analysis agent's opinion with its rationale, and the history of decisions from the audit log."""

from __future__ import annotations

from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from core.events import AgentDecision
from tui.changes import Changes
from tui.format import fmt_time
from tui.screens.base import OpenTradeScreen
from tui.widgets.tables import selected_key, sync_rows

HISTORY_ROWS = 200


class AgentsScreen(OpenTradeScreen):
    TITLE_TEXT = "Agents"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "details", "Details", show=False, id="agents-details"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.decisions: dict[str, AgentDecision] = {}

    def compose_body(self) -> ComposeResult:
        table: DataTable[str | Text] = DataTable(id="decisions", cursor_type="row", zebra_stripes=True)
        table.add_columns("Symbol", "Time", "Signal", "Strength", "Confidence", "Agents", "Verdict")
        yield table
        with VerticalScroll(id="opinions-box"):
            yield Static("No agent decisions yet: agents publish them as they analyse the markets.", id="opinions")
        history: DataTable[str | Text] = DataTable(id="history", cursor_type="row", zebra_stripes=True)
        history.add_columns("History", "Symbol", "Signal", "Strength", "Confidence", "Risk")
        yield history

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        if not (changes.everything or changes.decisions):
            return
        self.decisions = {d.symbol: d for d in self.engine.latest_decisions()}
        rows = {}
        for symbol, decision in sorted(self.decisions.items()):
            signal = decision.signal
            agreeing = sum(1 for o in decision.opinions if o.direction == signal.direction)
            verdict = ", ".join(f"{k}={v}" for k, v in list(decision.verdict.items())[:3])
            rows[symbol] = (symbol, fmt_time(signal.generated_time), Text(signal.direction.value.upper()),
                            f"{signal.strength:.2f}", f"{signal.confidence:.2f}",
                            f"{agreeing}/{len(decision.opinions)} agree", verdict)
        sync_rows(self.query_one("#decisions", DataTable), rows)
        self._show_details()
        self._load_history()

    @work(group="agents-history", exclusive=True, exit_on_error=False, name="loading decision history")
    async def _load_history(self) -> None:
        """Every decision is in the audit log; the newest first."""
        entries = await self.engine.db.audit_entries(kind="agent_decision", limit=HISTORY_ROWS)
        rows = {}
        for entry in sorted(entries, key=lambda e: e.seq, reverse=True):
            signal, risk = entry.payload.get("signal", {}), entry.payload.get("risk", {})
            verdict = str(risk.get("action", ""))
            rows[str(entry.seq)] = (fmt_time(entry.ts), str(entry.payload.get("symbol", "")),
                                    str(signal.get("direction", "")).upper(), f"{float(signal.get('strength', 0)):.2f}",
                                    f"{float(signal.get('confidence', 0)):.2f}", verdict)
        sync_rows(self.query_one("#history", DataTable), rows)

    @on(DataTable.RowHighlighted)
    def action_details(self) -> None:
        self._show_details()

    def _show_details(self) -> None:
        key = selected_key(self.query_one("#decisions", DataTable))
        decision = self.decisions.get(key or "")
        if decision is None:
            return
        table = Table(title=f"{decision.symbol}: coordinator says {decision.signal.direction.value.upper()}",
                      expand=True, title_justify="left")
        for column in ("Agent", "View", "Strength", "Confidence", "Data age", "Rationale"):
            table.add_column(column, overflow="fold")
        for opinion in decision.opinions:
            age = "no data" if not opinion.has_data else (f"{opinion.data_age_ms / 1000:.0f}s" if opinion.data_age_ms is not None else "-")
            table.add_row(opinion.agent, opinion.direction.value, f"{opinion.strength:.2f}", f"{opinion.confidence:.2f}",
                          age, opinion.rationale)
        self.query_one("#opinions", Static).update(table)
