"""The status bar on every screen: venue and mode (LIVE in alarm colours), equity, daily PnL,
connection and latency, risk state and the clock. One line, so it fits 80 columns."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.models import RiskState
from themes.registry import up_down
from tui.format import fmt_datetime, fmt_money
from tui.widgets.strips import Line, StripWidget, line_width, style

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


class StatusBar(StripWidget):
    DEFAULT_CSS = """
    StatusBar { height: 1; dock: top; background: $panel; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.status = Status()

    def show(self, status: Status) -> None:
        if status != self.status:
            self.status = status
            self.redraw()

    def draw(self) -> list[Line]:
        """Widest form that fits: on a narrow terminal the screen name, the connection word and
        the time zone go first; mode, equity, PnL, connection, risk and clock always stay."""
        for compact in (0, 1, 2):
            line = self._line(compact)
            if line_width(line) <= self.size.width:
                break
        return [line]

    def _line(self, compact: int) -> Line:
        s = self.status
        theme = self.app.current_theme
        up, down = up_down(theme)
        warning = theme.warning if theme else "yellow"
        error = theme.error if theme else "red"
        live = s.mode == "live"
        line: Line = []

        def add(text: str, definition: str = "") -> None:
            line.append((text, style(definition) if definition else None))

        add(f" {s.mode.upper()} ", f"bold white on {error}" if live else f"bold black on {theme.primary if theme else 'blue'}")
        add(f" {s.venue} ", "bold")
        if s.screen and compact == 0:
            add(f"│ {s.screen} ", "dim")
        add("│ Eq ")
        add(fmt_money(s.equity), "bold")
        add(" │ Day ")
        pnl = s.daily_pnl
        add(fmt_money(pnl, sign=True), up if pnl is None or pnl >= 0 else down)
        add(" │ ")
        conn_colour = {"connected": up, "degraded": warning}.get(s.connection, down)
        add("●", conn_colour)
        latency = f"{s.latency_ms:.0f}ms" if s.latency_ms is not None else ""
        if compact < 2 or s.connection != "connected":
            add(f" {s.connection}")
        add(f" {latency}" if latency else "")
        add(" │ Risk ")
        risk_style = {RiskState.ACTIVE: up, RiskState.REDUCING: f"bold {warning}"}.get(s.risk, f"bold white on {error}")
        add(RISK_LABEL[s.risk], risk_style)
        clock = fmt_datetime(s.now_ms)[11:] if s.now_ms else ""
        if clock and compact < 2:
            clock += " UTC"
        add(" " * max(1, self.size.width - line_width(line) - len(clock) - 1))
        add(clock, "dim")
        return line
