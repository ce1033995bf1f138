"""Typed messages between widgets and screens.

Market data does not travel as messages: the app drains the bus on its render clock and
marks what changed (``tui.changes``), which coalesces bursts by construction, so nothing here
needs ``can_replace``. What remains are intents that must each arrive exactly once.
"""

from __future__ import annotations

from textual.message import Message

from core.models import OrderRequest
from tui.ticket import Preview


class OrderSubmitted(Message):
    """A valid order request from the ticket; never coalesced, never repeated."""

    def __init__(self, request: OrderRequest, preview: Preview | None) -> None:
        super().__init__()
        self.request = request
        self.preview = preview
