"""A labelled bar for one risk limit: how much of it is used, coloured by how close it is."""

from __future__ import annotations

from rich.text import Text
from textual.geometry import Size
from textual.widget import Widget

from themes.registry import up_down


def gauge_text(name: str, used: float, limit: float, unit: str, fraction: float, width: int,
               colours: tuple[str, str, str]) -> Text:
    ok, warn, bad = colours
    fraction = max(0.0, fraction)
    label = f"{name[:22]:<22} "
    figures = f" {f'{used:,.2f}/{limit:,.2f} {unit}'.rstrip():>28}"
    bar_width = max(5, width - len(label) - len(figures) - 7)
    filled = min(bar_width, int(round(min(fraction, 1.0) * bar_width)))
    colour = ok if fraction < 0.7 else warn if fraction < 0.9 else bad
    text = Text(label)
    text.append("█" * filled, style=colour)
    text.append("░" * (bar_width - filled), style="dim")
    text.append(f" {fraction:>5.0%}", style=f"bold {colour}")
    text.append(figures)
    return text


class Gauges(Widget):
    """Every limit's gauge, one per line."""

    DEFAULT_CSS = """
    Gauges { height: auto; min-height: 3; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rows: list[tuple[str, float, float, str, float]] = []

    def show(self, rows: list[tuple[str, float, float, str, float]]) -> None:
        if rows != self.rows:
            self.rows = rows
            self.refresh(layout=True)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return max(1, len(self.rows))

    def render(self) -> Text:
        theme = self.app.current_theme
        up, down = up_down(theme)
        colours = (up, theme.warning if theme and theme.warning else "yellow", down)
        if not self.rows:
            return Text("no limits reported", style="dim")
        return Text("\n").join(
            gauge_text(name, used, limit, unit, fraction, self.size.width, colours)
            for name, used, limit, unit, fraction in self.rows
        )
