"""The market selector: type a few letters, fuzzy matching narrows the list, Enter picks.
Each market shows its last price and how it moved over the day."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.content import Content
from textual.fuzzy import Matcher
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from core.models import Ticker
from themes.registry import up_down
from tui.format import fmt_price
from tui.screens.dialog import Dialog

Market = tuple[str, str]
HOUR_MS = 3_600_000
NAME_WIDTH = 34
LAST_WIDTH = 14
CHANGE_WIDTH = 14


@dataclass(frozen=True)
class MarketRow:
    venue: str
    symbol: str
    mode: str
    price_decimals: int
    ticker: Ticker | None


def day_change(ticker: Ticker | None) -> tuple[Decimal, str] | None:
    """The last price's change in percent since the ticker's reference price, and the span
    that covers: "24h", or less while the venue knows less of the day (a paper market seeds
    ten hours of history). None when the venue gave no reference."""
    if ticker is None or ticker.last is None or not ticker.reference_price or ticker.reference_ts is None:
        return None
    change = (ticker.last - ticker.reference_price) / ticker.reference_price * 100
    span_ms = ticker.ts - ticker.reference_ts
    hours = span_ms // HOUR_MS
    span = "24h" if hours >= 24 else f"{hours}h" if hours else f"{span_ms // 60_000}m"
    return change, span


class MarketSelectorScreen(Dialog[Market | None]):
    HELP_TITLE = "Market selector"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="market-cancel"),
        Binding("down", "move(1)", "Next", show=False, id="market-next"),
        Binding("up", "move(-1)", "Previous", show=False, id="market-previous"),
    ]
    DEFAULT_CSS = """
    MarketSelectorScreen { align: center middle; }
    MarketSelectorScreen #selector {
        width: 70; max-width: 100%; height: 20; max-height: 90%; border: round $primary; background: $surface;
    }
    MarketSelectorScreen OptionList { height: 1fr; }
    """

    def __init__(self, markets: list[MarketRow], current: Market) -> None:
        super().__init__()
        self.markets = markets
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="selector"):
            yield Label("Market (type to search, Enter to choose)")
            yield Input(placeholder="e.g. eth or btc perp", id="query")
            yield OptionList(id="markets")

    def on_mount(self) -> None:
        self._fill("")

    @staticmethod
    def _market_name(row: MarketRow) -> str:
        kind = "perp" if ":" in row.symbol else "spot"
        return f"{row.symbol}  {kind}  {row.venue}{'  LIVE' if row.mode == 'live' else ''}"

    def _prompt(self, row: MarketRow, matcher: Matcher | None) -> Content:
        """The name (what the search matches, its matched letters highlighted), then the last
        price and the day's change in the theme's up and down colours."""
        name = self._market_name(row)
        shown = matcher.highlight(name) if matcher else Content(name)
        last = row.ticker.last if row.ticker is not None else None
        moved = day_change(row.ticker)
        up, down = up_down(self.app.current_theme)
        change = ("-", "") if moved is None else (f"{moved[0]:+.2f}% {moved[1]}", up if moved[0] >= 0 else down)
        return Content.assemble(shown.pad_right(max(1, NAME_WIDTH - len(name))),
                                fmt_price(last, row.price_decimals).rjust(LAST_WIDTH),
                                (change[0].rjust(CHANGE_WIDTH), change[1]))

    def _fill(self, query: str) -> None:
        options = self.query_one("#markets", OptionList)
        options.clear_options()
        matcher = Matcher(query) if query else None
        scored = []
        for index, row in enumerate(self.markets):
            score = matcher.match(self._market_name(row)) if matcher else 1.0
            if score > 0:
                scored.append((-score, index, row))
        scored.sort(key=lambda item: item[:2])
        for _, _, row in scored:
            options.add_option(Option(self._prompt(row, matcher), id=f"{row.venue}|{row.symbol}"))
        if options.option_count:
            current = f"{self.current[0]}|{self.current[1]}"
            ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
            options.highlighted = ids.index(current) if not query and current in ids else 0

    @on(Input.Changed, "#query")
    def _search(self, event: Input.Changed) -> None:
        self._fill(event.value.strip())

    def action_move(self, delta: int) -> None:
        options = self.query_one("#markets", OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + delta) % options.option_count

    @on(Input.Submitted, "#query")
    def _choose_highlighted(self) -> None:
        options = self.query_one("#markets", OptionList)
        if options.highlighted is None:
            self.notify("No market matches.", severity="warning")
            return
        self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id:
            venue, symbol = option_id.split("|", 1)
            self.dismiss((venue, symbol))

    def action_cancel(self) -> None:
        self.dismiss(None)
