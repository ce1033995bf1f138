"""The status bar on every screen: venue and mode (LIVE in alarm colours), equity, daily PnL,
connection and latency, risk state, the limits blocking new exposure, orders today and the
clock; while the engine starts, only that. One line, so it fits 80 columns. ``risk_words`` is how the risk state is said here and
on the Risk screen alike."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from core.models import RiskState
from themes.registry import up_down
from tui.format import fmt_datetime, fmt_money
from tui.widgets.strips import Line, StripWidget, line_width, style

COMPACT_LEVELS = 6


def risk_words(state: RiskState, blockers: Sequence[str], halted_by_person: bool) -> str:
    """The risk state in the words both the status bar and the Risk screen use."""
    if state is RiskState.HALTED and halted_by_person:
        return "HALTED — nothing passes"
    if state is not RiskState.ACTIVE or blockers:
        return f"{state.value.upper()} — exits only"
    return "ACTIVE — trading normally"


@dataclass
class Status:
    venue: str = "-"
    mode: str = "paper"
    equity: Decimal | None = None
    daily_pnl: Decimal | None = None
    connection: str = "connecting"
    latency_ms: float | None = None
    risk: RiskState = RiskState.ACTIVE
    halted_by_person: bool = False
    blockers: tuple[str, ...] = ()
    orders_today: int = 0
    max_orders: int = 0
    now_ms: int = 0
    screen: str = ""
    starting: bool = False


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
        """Widest form that fits: on a narrow terminal "trading normally" and the connection word
        go first, then the screen name and the time zone, then the labels and latency, then the
        names of the blocking limits, then the clock; mode, equity, PnL, the risk state (with
        "exits only" when new exposure is blocked) and orders today always stay."""
        for compact in range(COMPACT_LEVELS):
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

        if s.starting:
            add(" STARTING ", f"bold black on {warning or 'yellow'}")
            if s.screen:
                add(f" │ {s.screen} ", "dim")
            add(" │ ")
            add("●", warning or "yellow")
            add(" engine starting… orders are refused until it is ready")
            return line
        add(f" {s.mode.upper()} ", f"bold white on {error}" if live else f"bold black on {theme.primary if theme else 'blue'}")
        add(f" {s.venue} ", "bold")
        if s.screen and compact < 2:
            add(f"│ {s.screen} ", "dim")
        add("│ Eq " if compact < 3 else "│ ")
        add(fmt_money(s.equity), "bold")
        add(" │ Day " if compact < 3 else " │ ")
        pnl = s.daily_pnl
        add(fmt_money(pnl, sign=True), up if pnl is None or pnl >= 0 else down)
        add(" │ ")
        conn_colour = {"connected": up, "degraded": warning}.get(s.connection, down)
        add("●", conn_colour or "")
        if compact < 1 or s.connection != "connected":
            add(f" {s.connection}")
        if s.latency_ms is not None and compact < 3:
            add(f" {s.latency_ms:.0f}ms")
        add(" │ Risk ")
        words = risk_words(s.risk, s.blockers, s.halted_by_person)
        risk_style = {RiskState.ACTIVE: up, RiskState.REDUCING: f"bold {warning}"}.get(s.risk, f"bold white on {error}")
        if s.risk is RiskState.ACTIVE and s.blockers:
            risk_style = f"bold {warning}"
        add(words if s.blockers or s.risk is not RiskState.ACTIVE or compact < 1 else s.risk.value.upper(), risk_style)
        if s.blockers and compact < 4:
            add(": " + ", ".join(s.blockers), risk_style)
        if s.max_orders:
            full = s.orders_today >= s.max_orders
            add(f" │ orders today {s.orders_today}/{s.max_orders}" if compact < 4 else f" │ orders {s.orders_today}/{s.max_orders}",
                f"bold {warning}" if full else "")
        clock = fmt_datetime(s.now_ms)[11:] if s.now_ms and compact < 5 else ""
        if clock and compact < 2:
            clock += " UTC"
        add(" " * max(1, self.size.width - line_width(line) - len(clock) - 1))
        add(clock, "dim")
        return line
