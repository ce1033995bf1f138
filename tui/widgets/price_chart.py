"""A price chart drawn with text: candles (body █, wick │) or a line of closes, with a price
axis on the right. The position's stop-loss and take-profit are dashed lines labelled S and T
on the axis; a level above or below the chart's range is labelled at the top or bottom row
with an arrow. Text keeps it readable over SSH and cheap to redraw."""

from __future__ import annotations

from core.models import Candle, ProtectiveLevels
from themes.registry import up_down
from tui.widgets.strips import Line, StripWidget, style

TIMEFRAMES = ("1m", "5m", "15m", "1h")
AXIS_WIDTH = 11


class PriceChart(StripWidget):
    DEFAULT_CSS = """
    PriceChart { height: 1fr; min-height: 5; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.candles: list[Candle] = []
        self.title = ""
        self.timeframe_index = 0
        self.line_mode = False
        self.levels: ProtectiveLevels | None = None

    @property
    def timeframe(self) -> str:
        return TIMEFRAMES[self.timeframe_index]

    def cycle_timeframe(self, delta: int) -> None:
        self.timeframe_index = (self.timeframe_index + delta) % len(TIMEFRAMES)

    def toggle_mode(self) -> None:
        self.line_mode = not self.line_mode
        self.show(self.title, self.candles, self.levels)

    def show(self, title: str, candles: list[Candle], levels: ProtectiveLevels | None = None) -> None:
        """Rows no candle moved across keep their strips: most trades repaint one row or none."""
        self.title, self.candles, self.levels = title, candles, levels
        self.redraw()

    def _level_rows(self, high: float, low: float, step: float, rows: int, up: str, down: str) -> dict[int, tuple[str, str, bool]]:
        """Chart row -> (axis label, colour, inside the range) for each protective level."""
        marked: dict[int, tuple[str, str, bool]] = {}
        if self.levels is None:
            return marked
        for tag, price, colour in (("S", self.levels.stop_loss, down), ("T", self.levels.take_profit, up)):
            if price is None:
                continue
            level = float(price)
            inside = low <= level <= high
            row = min(rows - 1, int((high - level) / step)) if inside else 0 if level > high else rows - 1
            arrow = "" if inside else "↑" if level > high else "↓"
            marked[row] = (f"{tag}{arrow}{level:>{AXIS_WIDTH - 1 - len(arrow)},.2f}", colour, inside)
        return marked

    def draw(self) -> list[Line]:
        width, height = max(self.size.width, AXIS_WIDTH + 5), max(self.size.height, 3)
        kind = "line" if self.line_mode else "candles"
        heading: Line = [(f"{self.title}  {self.timeframe} {kind}", style("bold"))]
        columns = width - AXIS_WIDTH
        candles = self.candles[-columns:]
        if not candles:
            return [heading, [("waiting for trades…", style("dim"))]]
        rows = height - 1
        high = max(c.high for c in candles)
        low = min(c.low for c in candles)
        span = (high - low) or max(abs(high) * 1e-4, 1e-9)
        step = span / rows
        up, down = up_down(self.app.current_theme)
        marked = self._level_rows(high, low, step, rows, up, down)
        # What each cell compares, read once per candle rather than once per cell: the chart is
        # drawn every frame while the market trades, and a cell was a call, a max and a min.
        # (body top, body bottom, low, high, close, colour); in line mode only the close counts
        shapes = [(max(c.open, c.close), min(c.open, c.close), c.low, c.high, c.close,
                   up if c.close >= c.open else down) for c in candles]
        line_mode = self.line_mode
        lines = [heading]
        for row in range(rows):
            top = high - row * step
            bottom = top - step
            level = marked.get(row)
            blank, blank_colour = ("┄", f"dim {level[1]}") if level is not None and level[2] else (" ", "")
            line: Line = []
            run, run_colour = "", ""
            for body_high, body_low, candle_low, candle_high, close, colour in shapes:
                if line_mode:
                    char = "•" if bottom <= close <= top else ""
                elif body_low <= top and body_high >= bottom:
                    char = "█"
                elif candle_low <= top and candle_high >= bottom:
                    char = "│"
                else:
                    char = ""
                if not char:
                    char, colour = blank, blank_colour
                if colour != run_colour and run:
                    line.append((run, style(run_colour) if run_colour else None))
                    run = ""
                run, run_colour = run + char, colour
            pad = blank * (columns - len(candles))
            if pad and blank != " " and run_colour != blank_colour:
                line.append((run, style(run_colour) if run_colour else None))
                run, run_colour = "", blank_colour
            line.append((run + pad, style(run_colour) if run_colour else None))
            if level is not None:
                line.append((level[0], style(f"bold {level[1]}")))
            elif row in (0, rows // 2, rows - 1):
                line.append((f" {top - step / 2:>{AXIS_WIDTH - 1},.2f}", style("dim")))
            lines.append(line)
        return lines
