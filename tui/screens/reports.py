"""Reports: each strategy's and the account's performance over the day, the week, the month
or all the history (core/reports.py works the figures out from the stored fills through the one
ledger). One column per strategy and the total, one row per figure, so that a narrow terminal
still shows every figure."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.widgets import DataTable, Static

from core.reports import FIGURES, PERIODS, Report, build_report, contract_sizes, notes, span_text
from tui.changes import Changes
from tui.screens.base import OpenTradeScreen

if TYPE_CHECKING:
    from core.models import Instrument
    from core.session import Session


async def read_report(session: Session, period: str) -> Report:
    """Everything this screen reads of the engine, in one place: the stored fills and funding
    payments, the marks, the contract sizes and the loaded strategies, in this process or
    through a gateway."""

    def instrument(venue: str, symbol: str) -> Instrument | None:
        return next((found for found in session.instruments(venue) if found.symbol == symbol), None)

    fills = await session.all_fills()
    return build_report(fills, period, session.now_ms(), mark=session.mark, contract_size=contract_sizes(instrument),
                        strategies=[info.strategy_id for info in session.strategies() or []],
                        funding=await session.all_funding())


class ReportsScreen(OpenTradeScreen):
    TITLE_TEXT = "Reports"
    AUTO_FOCUS = "DataTable"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "period('day')", "Day", id="reports-day"),
        Binding("w", "period('week')", "Week", id="reports-week"),
        Binding("m", "period('month')", "Month", id="reports-month"),
        Binding("a", "period('all')", "All", id="reports-all"),
        Binding("r", "reload", "Reload", id="reports-reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.period = "all"
        self.report: Report | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("", id="report-period")
        table: DataTable[str | Text] = DataTable(id="report", cursor_type="row", zebra_stripes=True)
        yield table
        yield Static("", id="report-notes")

    def refresh_view(self, changes: Changes) -> None:
        super().refresh_view(changes)
        if changes.everything or changes.fills or changes.funding:
            self._load()

    def action_period(self, period: str) -> None:
        self.period = period
        self._load()

    def action_reload(self) -> None:
        self._load()

    @work(group="report", exclusive=True, exit_on_error=False, name="working out the report")
    async def _load(self) -> None:
        self.show(await read_report(self.session, self.period))

    def show(self, report: Report) -> None:
        self.report = report
        chosen = Text()
        for period in PERIODS:
            style = "reverse bold" if period == report.period else "dim"
            chosen.append(f" {period[0]} {period} ", style=style)
        chosen.append(f"  {span_text(report)}")
        self.query_one("#report-period", Static).update(chosen)
        columns = [*report.strategies, *([report.total] if report.total is not None else [])]
        table = self.query_one("#report", DataTable)
        table.clear(columns=True)
        table.add_columns("", *(column.name for column in columns))
        for label, cell in FIGURES:
            table.add_row(label, *(Text(cell(column), justify="right") for column in columns), key=label)
        self.query_one("#report-notes", Static).update("\n".join(notes(report)))

    def resting_focus(self) -> DataTable[str | Text]:
        return self.query_one("#report", DataTable)
