"""The recent trades tape: newest first, coloured by the aggressor's side."""

from __future__ import annotations

from rich.text import Text
from textual.widget import Widget

from core.models import Instrument, Side, Trade
from themes.registry import up_down
from tui.format import compact_size, fmt_time


class TradesTape(Widget):
    DEFAULT_CSS = """
    TradesTape { height: 1fr; min-width: 24; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.trades: list[Trade] = []
        self.instrument: Instrument | None = None

    def show(self, trades: list[Trade], instrument: Instrument | None) -> None:
        self.trades, self.instrument = trades, instrument
        self.refresh()

    def render(self) -> Text:
        height = max(self.size.height, 2)
        with_time = self.size.width >= 27
        up, down = up_down(self.app.current_theme)
        lines = [Text(("Time     " if with_time else "") + f"{'Price':>10} {'Size':>7}", style="bold")]
        decimals = self.instrument.price_decimals if self.instrument else 2
        for trade in reversed(self.trades[-(height - 1):]):
            colour = up if trade.side is Side.BUY else down
            line = Text(f"{fmt_time(trade.ts):<8} " if with_time else "")
            line.append(f"{trade.price:>10,.{decimals}f}", style=colour)
            line.append(f" {compact_size(trade.size):>7}")
            lines.append(line)
        if len(lines) == 1:
            lines.append(Text("no trades yet", style="dim"))
        return Text("\n").join(lines)
