"""The recent trades tape: newest first, coloured by the aggressor's side."""

from __future__ import annotations

from core.models import Instrument, Side, Trade
from themes.registry import up_down
from tui.format import compact_size, fmt_time
from tui.widgets.strips import Line, StripWidget, style


class TradesTape(StripWidget):
    DEFAULT_CSS = """
    TradesTape { height: 1fr; min-width: 24; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trades: list[Trade] = []
        self.instrument: Instrument | None = None
        #: the line of each trade on the tape (by identity), for the time, decimals and colours it was written with
        self._trade_lines: dict[int, tuple[Trade, Line]] = {}
        self._lines_for: tuple[object, ...] | None = None

    def show(self, trades: list[Trade], instrument: Instrument | None) -> None:
        self.trades, self.instrument = trades, instrument
        self.redraw()

    def draw(self) -> list[Line]:
        """A trade's line is written once: on each frame the tape scrolls by the few trades
        printed since the last, and the others keep the lines they had."""
        height = max(self.size.height, 2)
        with_time = self.size.width >= 27
        up, down = up_down(self.app.current_theme)
        lines: list[Line] = [[(("Time     " if with_time else "") + f"{'Price':>10} {'Size':>7}", style("bold"))]]
        decimals = self.instrument.price_decimals if self.instrument else 2
        written_for = (with_time, decimals, up, down)
        known = self._trade_lines if written_for == self._lines_for else {}
        self._lines_for, self._trade_lines = written_for, {}
        for trade in reversed(self.trades[-(height - 1):]):
            written = known.get(id(trade))
            if written is None or written[0] is not trade:
                colour = style(up if trade.side is Side.BUY else down)
                written = (trade, [(f"{fmt_time(trade.ts):<8} " if with_time else "", None),
                                   (f"{trade.price:>10,.{decimals}f}", colour), (f" {compact_size(trade.size):>7}", None)])
            self._trade_lines[id(trade)] = written
            lines.append(written[1])
        if len(lines) == 1:
            lines.append([("no trades yet", style("dim"))])
        return lines
