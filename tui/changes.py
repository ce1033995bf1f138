"""What changed since the last frame, as the screens read it.

The app drains its bus subscription once per frame into one ``Changes`` (``tui.feed``) and
hands it to the visible screen; a burst of a thousand book updates becomes one flag, so
rendering cost follows the frame rate and not the market's message rate. The screens draw
their first frame from ``Changes.all()`` before any event exists, so this module names no
event class at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.events import OrderFilled, OrderRejected, RiskAlert

Market = tuple[str, str]


@dataclass
class Changes:
    everything: bool = False
    books: set[Market] = field(default_factory=set)
    trades: set[Market] = field(default_factory=set)
    tickers: set[Market] = field(default_factory=set)
    candles: set[Market] = field(default_factory=set)
    orders: bool = False
    positions: bool = False
    risk: bool = False
    decisions: bool = False
    signals: bool = False
    funding: bool = False  # a funding payment recorded
    fills: list[OrderFilled] = field(default_factory=list)
    alerts: list[RiskAlert] = field(default_factory=list)
    rejections: list[OrderRejected] = field(default_factory=list)

    @classmethod
    def all(cls) -> Changes:
        return cls(everything=True)

    def market(self, venue: str, symbol: str) -> bool:
        """Did anything about this market change?"""
        key = (venue, symbol)
        return self.everything or key in self.books or key in self.trades or key in self.tickers or key in self.candles

    def any_orders(self) -> bool:
        return self.everything or self.orders

    def any_positions(self) -> bool:
        return self.everything or self.positions

    def any_risk(self) -> bool:
        return self.everything or self.risk
