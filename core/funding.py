"""Funding payments on perpetual positions: each recorded once, as a row and an event.

A venue settles funding on the account's positions, not on a strategy's. Where it tells at once
(the paper venue publishes ``FundingReported`` at each settlement), the payment is recorded
then; where it keeps a history instead (``FundingHistory``: an exchange's income records, the
paper venue's own list), the engine reads what came after the last payment on record, at each
reconciliation and every ``POLL_SECONDS`` (on the engine's monitoring round, beside it rather
than in its way: a slow exchange does not delay a risk check). Both paths end in ``Storage.record_funding``, keyed
by venue, market and funding time, so a payment seen by both, or again after a restart, is one
row, and ``FundingPaid`` is published only for a payment new to the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

from core.events import Event, EventBus, FundingPaid, FundingReported
from core.models import FundingPayment
from core.ports import Capability, Clock, FundingHistory, VenueError
from core.redact import redact

log = logging.getLogger(__name__)

POLL_SECONDS = 300.0  # funding is paid every one to eight hours: a few minutes late is soon enough


class FundingStore(Protocol):
    async def record_funding(self, payment: FundingPayment) -> bool: ...

    async def load_funding(
        self, *, venue: str | None = None, symbol: str | None = None, since_ms: int | None = None,
        until_ms: int | None = None, limit: int | None = None,
    ) -> list[FundingPayment]: ...


class FundingRecorder:
    def __init__(self, store: FundingStore, bus: EventBus, venues: Mapping[str, object], clock: Clock) -> None:
        self._store = store
        self._bus = bus
        self._venues = venues
        self._clock = clock
        self._next_poll_ms = clock.now_ms() + int(POLL_SECONDS * 1000)  # the start's reconciliation reads first

    async def record(self, payment: FundingPayment) -> bool:
        """Store the payment and publish FundingPaid, unless it is on record already."""
        new = await self._store.record_funding(payment)
        if new:
            self._bus.publish(FundingPaid(payment))
            log.info("%s %s funding %s %s at %d", payment.venue, payment.symbol, payment.amount, payment.currency,
                     payment.ts)
        return new

    async def on_reported(self, event: Event) -> None:
        assert isinstance(event, FundingReported)
        await self.record(event.payment)

    async def catch_up(self, venue_name: str) -> int:
        """Record the venue's payments since the last one on record; how many were new. A venue
        that cannot be read now is tried again at the next poll."""
        venue = self._venues.get(venue_name)
        if not isinstance(venue, FundingHistory) or not venue.supports(Capability.FUNDING_PAYMENTS):
            return 0
        last = await self._store.load_funding(venue=venue_name, limit=1)
        try:  # from the last funding time on record: another market's payment then may not be
            payments = await venue.fetch_funding_payments(last[-1].ts if last else None)
        except VenueError as exc:
            log.warning("funding history of %s not read: %s", venue_name, redact(str(exc)))
            return 0
        return sum([await self.record(payment) for payment in payments])

    def due(self) -> bool:
        """Whether ``POLL_SECONDS`` have passed since the last poll began; if so, the next one
        is counted from now, so two rounds never poll at once."""
        now = self._clock.now_ms()
        if now < self._next_poll_ms:
            return False
        self._next_poll_ms = now + int(POLL_SECONDS * 1000)
        return True

    async def poll(self) -> None:
        """Catch up with every venue that keeps a history."""
        for name in self._venues:
            await self.catch_up(name)
