"""The market selector: type a few letters, fuzzy matching narrows the list, Enter picks."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.fuzzy import Matcher
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from tui.screens.dialog import Dialog

Market = tuple[str, str]


class MarketSelectorScreen(Dialog[Market | None]):
    HELP_TITLE = "Market selector"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="market-cancel"),
        Binding("down", "move(1)", "Next", show=False, id="market-next"),
        Binding("up", "move(-1)", "Previous", show=False, id="market-previous"),
    ]
    DEFAULT_CSS = """
    MarketSelectorScreen { align: center middle; }
    MarketSelectorScreen #selector { width: 50; height: 20; max-height: 90%; border: round $primary; background: $surface; }
    MarketSelectorScreen OptionList { height: 1fr; }
    """

    def __init__(self, markets: list[tuple[str, str, str]], current: Market) -> None:
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
    def _label(venue: str, symbol: str, mode: str) -> str:
        kind = "perp" if ":" in symbol else "spot"
        return f"{symbol}  {kind}  {venue}{'  LIVE' if mode == 'live' else ''}"

    def _fill(self, query: str) -> None:
        options = self.query_one("#markets", OptionList)
        options.clear_options()
        matcher = Matcher(query) if query else None
        scored = []
        for venue, symbol, mode in self.markets:
            label = self._label(venue, symbol, mode)
            score = matcher.match(label) if matcher else 1.0
            if score > 0:
                scored.append((-score, label, venue, symbol))
        scored.sort(key=lambda item: item[0])
        for _, label, venue, symbol in scored:
            options.add_option(Option(matcher.highlight(label) if matcher else label, id=f"{venue}|{symbol}"))
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
