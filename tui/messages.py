"""Typed messages between widgets, screens and the app.

Market data does not travel as messages: the app drains the bus on its render clock and
marks what changed (see ``tui.app``), which coalesces bursts by construction. These are the
intents and notices that must each arrive, plus one coalescing notice for the market selector.
"""

from __future__ import annotations

from textual.message import Message

from core.models import OrderRequest
from tui.ticket import Preview


class MarketSelected(Message):
    """The trader picked a market; a newer choice replaces a queued one."""

    def __init__(self, venue: str, symbol: str) -> None:
        super().__init__()
        self.venue = venue
        self.symbol = symbol

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, MarketSelected)


class OrderSubmitted(Message):
    """A valid order request from the ticket; never coalesced, never repeated."""

    def __init__(self, request: OrderRequest, preview: Preview | None) -> None:
        super().__init__()
        self.request = request
        self.preview = preview
