"""The Agents screen: the latest decision for each symbol, the coordinator's verdict, each
analysis agent's opinion with its rationale, and the history of decisions from the audit log.

An agent without data abstains: it is counted apart ("3/5 agree, 2 no data"), its view reads
"no data" with the reason, and a decision no agent had data for reads NO DATA, not HOLD."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from core.events import AgentDecision
from core.models import AgentOpinion, Direction
from tui.changes import Changes
from tui.format import fmt_time
from tui.screens.base import OpenTradeScreen
from tui.widgets.tables import selected_key, sync_rows

HISTORY_ROWS = 200


def team_count(opinions: Sequence[AgentOpinion], direction: Direction) -> str:
    """How the team stands: who agrees among the agents with data, and who abstained."""
    voting = [o for o in opinions if o.has_data]
    if not voting:
        return f"0 of {len(opinions)} agents have data"
    agree = f"{sum(1 for o in voting if o.direction == direction)}/{len(voting)} agree"
    abstained = len(opinions) - len(voting)
    return f"{agree}, {abstained} no data" if abstained else agree


def signal_label(direction: str, had_data: Sequence[bool]) -> str:
    """The signal as the tables show it: NO DATA when no agent had any (the coordinator's HOLD
    then means nothing was known, not that holding was judged best)."""
    return "NO DATA" if had_data and not any(had_data) else direction.upper()


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
        self.decisions = {d.symbol: d for d in self.session.latest_decisions()}
        rows = {}
        for symbol, decision in sorted(self.decisions.items()):
            signal = decision.signal
            verdict = ", ".join(f"{k}={v}" for k, v in list(decision.verdict.items())[:3])
            label = signal_label(signal.direction.value, [o.has_data for o in decision.opinions])
            rows[symbol] = (symbol, fmt_time(signal.generated_time), Text(label),
                            f"{signal.strength:.2f}", f"{signal.confidence:.2f}",
                            team_count(decision.opinions, signal.direction), verdict)
        sync_rows(self.query_one("#decisions", DataTable), rows)
        self._show_details()
        self._load_history()

    @work(group="agents-history", exclusive=True, exit_on_error=False, name="loading decision history")
    async def _load_history(self) -> None:
        """Every decision is in the audit log; the newest first."""
        entries = await self.session.audit_entries(kind="agent_decision", limit=HISTORY_ROWS)
        rows = {}
        for entry in sorted(entries, key=lambda e: e.seq, reverse=True):
            signal, risk = entry.payload.get("signal", {}), entry.payload.get("risk", {})
            verdict = str(risk.get("action", ""))
            had_data = [bool(o.get("has_data", True)) for o in entry.payload.get("opinions", [])]
            rows[str(entry.seq)] = (fmt_time(entry.ts), str(entry.payload.get("symbol", "")),
                                    signal_label(str(signal.get("direction", "")), had_data),
                                    f"{float(signal.get('strength', 0)):.2f}",
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
        if any(o.has_data for o in decision.opinions):
            title = f"{decision.symbol}: coordinator says {decision.signal.direction.value.upper()}"
        else:
            title = f"{decision.symbol}: no view, none of the {len(decision.opinions)} agents has data"
        table = Table(title=title, expand=True, title_justify="left")
        for column in ("Agent", "View", "Strength", "Confidence", "Data age", "Rationale"):
            table.add_column(column, overflow="fold")
        for opinion in decision.opinions:
            if not opinion.has_data:
                table.add_row(opinion.agent, Text("no data", style="dim"), "-", "-", "-", opinion.rationale)
                continue
            age = f"{opinion.data_age_ms / 1000:.0f}s" if opinion.data_age_ms is not None else "-"
            table.add_row(opinion.agent, opinion.direction.value, f"{opinion.strength:.2f}", f"{opinion.confidence:.2f}",
                          age, opinion.rationale)
        self.query_one("#opinions", Static).update(table)
