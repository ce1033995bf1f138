"""The booked-fills journal: which fills the saved accounting state already holds.

The portfolio's accounting state (today's starting equity, the drawdown peak, spot holdings)
is saved together with the most recent fills it holds, in one write, so that after a restart
each fill on record is booked exactly once: those written after the last save (a crash between
writing a fill and booking it) are booked at start-up, those the state holds are not booked again.
"""

from __future__ import annotations

import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Container
from typing import Any, Protocol

from core.models import Fill
from core.portfolio import Portfolio
from core.portfolio_state import AccountingStateError

log = logging.getLogger(__name__)

BOOKED_FILLS_KEPT = 100
STATE_KEY = "portfolio"

AuditFn = Callable[[str, dict[str, Any]], Awaitable[Any]]


class JournalStore(Protocol):
    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...

    async def load_fills(self, *, venue: str | None = None, since_ms: int | None = None) -> list[Fill]: ...


def split_accounting(saved: str) -> tuple[str, list[tuple[int, str]] | None]:
    """(accounting state text, the fills it holds); None for a state saved before fills were
    kept with it, whose booked fills are unknown."""
    try:
        data = json.loads(saved)
    except ValueError:
        return saved, None
    if isinstance(data, dict) and isinstance(data.get("state"), str) and isinstance(data.get("fills"), list):
        return data["state"], [(int(ts), str(fill_id)) for ts, fill_id in data["fills"]]
    return saved, None


class FillJournal:
    def __init__(self, store: JournalStore, portfolio: Portfolio, audit: AuditFn) -> None:
        self._store = store
        self._portfolio = portfolio
        self._audit = audit
        self._booked: deque[tuple[int, str]] = deque(maxlen=BOOKED_FILLS_KEPT)
        self._known = True  # False after restoring a state saved without its fills

    def booked(self, fill: Fill) -> None:
        """A fill the portfolio has just booked."""
        self._booked.append((fill.ts, fill.fill_id))

    async def restore(self) -> None:
        """Today's starting equity, the drawdown peak and spot holdings outlive a restart, so a
        restart never hands out a fresh daily-loss allowance."""
        saved = await self._store.get_state(STATE_KEY)
        if saved:
            state, booked = split_accounting(saved)
            if booked is None:
                self._known = False
            else:
                self._booked.extend(booked)
            try:
                self._portfolio.restore_accounting(state)
            except AccountingStateError as exc:
                log.error("saved accounting state ignored: %s", exc)
                await self._audit("accounting_state_unreadable", {"error": str(exc)})

    async def save(self) -> None:
        """The state and the fills it holds, in one write: a crash between two writes would
        make a fill look booked when it is not, or booked twice."""
        text = json.dumps({"state": self._portfolio.accounting_state(), "fills": list(self._booked)})
        await self._store.set_state(STATE_KEY, text)

    async def book_unbooked(self, venue: str, markets: Container[tuple[str, str]]) -> None:
        """Fills written after the accounting state was last saved (a crash between writing a
        fill and booking it, or before the next save) are booked now, so spot positions,
        realized PnL and fees match the fills on record. The saved state lists the most recent
        fills it already holds; older fills were booked before those. ``markets``: the
        (venue, symbol) pairs the portfolio knows."""
        if not self._known:
            return
        booked = {fill_id for _, fill_id in self._booked}
        since = min((ts for ts, _ in self._booked), default=None)
        for fill in await self._store.load_fills(venue=venue, since_ms=since):
            if fill.fill_id not in booked and (fill.venue, fill.symbol) in markets:
                self._portfolio.apply_fill(fill)
                self.booked(fill)
                log.info("fill %s of %s booked at start-up (written before the last stop)", fill.fill_id, fill.client_order_id)
