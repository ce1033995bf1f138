"""Pure parts of the market widgets: price grouping, own-order levels, the change set."""

from __future__ import annotations

from decimal import Decimal

from core.events import OrderBookUpdated, OrderFilled, RiskAlert, TradePrinted
from core.models import Fill, OrderBook, Side, Trade
from themes.registry import builtin_themes, next_theme, theme_names, up_down
from tui.feed import changes_from
from tui.widgets.order_book import group_levels, with_own_levels

D = Decimal


def test_grouping_never_shows_a_better_price_than_its_levels() -> None:
    bids = [(D("100.07"), D(1)), (D("100.03"), D(2)), (D("99.98"), D(4))]
    asks = [(D("100.11"), D(1)), (D("100.19"), D(2)), (D("100.21"), D(3))]
    assert group_levels(bids, D("0.1"), Side.BUY) == [(D("100.0"), D(3)), (D("99.9"), D(4))]
    assert group_levels(asks, D("0.1"), Side.SELL) == [(D("100.2"), D(3)), (D("100.3"), D(3))]


def test_own_orders_missing_from_the_book_get_a_row() -> None:
    bids = [(D(100), D(1)), (D(98), D(1))]
    own = {(Side.BUY, D(99)): D("0.5"), (Side.BUY, D(100)): D("0.2"), (Side.SELL, D(101)): D(1)}
    assert with_own_levels(bids, own, Side.BUY) == [(D(100), D(1)), (D(99), D("0.5")), (D(98), D(1))]


def test_changes_coalesce_market_data_and_keep_every_fill() -> None:
    book = OrderBook(venue="paper", symbol="BTC/USDT", ts=0, bids=[(D(1), D(1))], asks=[])
    trade = Trade(venue="paper", symbol="ETH/USDT", ts=0, price=D(1), size=D(1), side=Side.BUY)
    fills = [OrderFilled(Fill(fill_id=str(i), client_order_id="a", venue="paper", symbol="BTC/USDT", side=Side.BUY,
                              price=D(1), size=D(1))) for i in range(3)]
    changes = changes_from([OrderBookUpdated(book)] * 50 + [TradePrinted(trade)] + fills
                           + [RiskAlert("warning", "daily_loss", "80% used")])
    assert changes.books == {("paper", "BTC/USDT")} and changes.trades == {("paper", "ETH/USDT")}
    assert len(changes.fills) == 3 and changes.orders and changes.positions and changes.risk
    assert changes.market("paper", "BTC/USDT") and not changes.market("paper", "SOL/USDT")


def test_the_changes_name_a_book_without_making_it() -> None:
    """The screen reads the book of the market it shows; the others are never made."""
    made: list[str] = []

    def make(symbol: str) -> OrderBook:
        made.append(symbol)
        return OrderBook(venue="paper", symbol=symbol, ts=0)

    changes = changes_from([OrderBookUpdated.later("paper", s, make, s) for s in ("BTC/USDT", "ETH/USDT")])
    assert changes.books == {("paper", "BTC/USDT"), ("paper", "ETH/USDT")} and made == []


def test_themes_cycle_and_define_up_down_colours() -> None:
    names = theme_names()
    assert {"opentrade-dark", "opentrade-light", "opentrade-high-contrast", "opentrade-colorblind"} <= set(names)
    assert next_theme(names[-1]) == names[0] and next_theme("unknown") == names[0]
    colourblind = next(t for t in builtin_themes() if t.name == "opentrade-colorblind")
    up, down = up_down(colourblind)
    assert (up, down) == ("#56b4e9", "#e69f00")
