"""The status bar on every screen: venue and mode (LIVE in alarm colours), equity, daily PnL,
connection and latency, risk state and the clock. One line, so it fits 80 columns."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from rich.text import Text
from textual.widget import Widget

from core.models import RiskState
from themes.registry import up_down
from tui.format import fmt_datetime, fmt_money

RISK_LABEL = {RiskState.ACTIVE: "normal", RiskState.REDUCING: "warning", RiskState.HALTED: "HALTED"}


@dataclass
class Status:
    venue: str = "-"
    mode: str = "paper"
    equity: Decimal | None = None
    daily_pnl: Decimal | None = None
    connection: str = "connecting"
    latency_ms: float | None = None
    risk: RiskState = RiskState.ACTIVE
    now_ms: int = 0
    screen: str = ""


class StatusBar(Widget):
    DEFAULT_CSS = """
    StatusBar { height: 1; dock: top; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.status = Status()

    def show(self, status: Status) -> None:
        if status != self.status:
            self.status = status
            self.refresh()

    def render(self) -> Text:
        """Widest form that fits: on a narrow terminal the screen name, the connection word and
        the time zone go first; mode, equity, PnL, connection, risk and clock always stay."""
        for compact in (0, 1, 2):
            text = self._line(compact)
            if text.cell_len <= self.size.width:
                break
        return text

    def _line(self, compact: int) -> Text:
        s = self.status
        theme = self.app.current_theme
        up, down = up_down(theme)
        warning = theme.warning if theme else "yellow"
        error = theme.error if theme else "red"
        live = s.mode == "live"
        text = Text()
        text.append(f" {s.mode.upper()} ", style=f"bold white on {error}" if live else f"bold black on {theme.primary if theme else 'blue'}")
        text.append(f" {s.venue} ", style="bold")
        if s.screen and compact == 0:
            text.append(f"│ {s.screen} ", style="dim")
        text.append("│ Eq ")
        text.append(fmt_money(s.equity), style="bold")
        text.append(" │ Day ")
        pnl = s.daily_pnl
        text.append(fmt_money(pnl, sign=True), style=up if pnl is None or pnl >= 0 else down)
        text.append(" │ ")
        conn_colour = {"connected": up, "degraded": warning}.get(s.connection, down)
        text.append("●", style=conn_colour)
        latency = f"{s.latency_ms:.0f}ms" if s.latency_ms is not None else ""
        if compact < 2 or s.connection != "connected":
            text.append(f" {s.connection}")
        text.append(f" {latency}" if latency else "")
        text.append(" │ Risk ")
        risk_style = {RiskState.ACTIVE: up, RiskState.REDUCING: f"bold {warning}"}.get(s.risk, f"bold white on {error}")
        text.append(RISK_LABEL[s.risk], style=risk_style)
        clock = fmt_datetime(s.now_ms)[11:] if s.now_ms else ""
        if clock and compact < 2:
            clock += " UTC"
        pad = max(1, self.size.width - text.cell_len - len(clock) - 1)
        text.append(" " * pad)
        text.append(clock, style="dim")
        return text
