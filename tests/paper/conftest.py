"""Fixtures for the paper venue: a venue on a simulated clock, stepped by hand."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from core.clock import SimClock
from core.config import PaperVenueConfig
from core.events import Event, EventBus, ExecutionReported
from core.models import Order, OrderRequest, OrderStatus, OrderType, Side
from exchanges.paper.venue import PaperVenue

STEP_MS = 100


class Harness:
    """A venue, its bus, everything it published, and helpers to step and to order."""

    def __init__(self, venue: PaperVenue, clock: SimClock, bus: EventBus) -> None:
        self.venue = venue
        self.clock = clock
        self.bus = bus
        self.events: list[Event] = []
        self.statuses: dict[str, OrderStatus] = {}
        bus.add_listener((Event,), self._record)
        venue.attach(bus)

    def step(self, n: int = 1, ms: int = STEP_MS) -> None:
        for _ in range(n):
            self.clock.advance(ms)
            self.venue.step()

    def step_until(self, done: Callable[[], bool], limit: int = 5000) -> int:
        for i in range(limit):
            if done():
                return i
            self.step()
        raise AssertionError(f"condition not reached in {limit} steps")

    def _record(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, ExecutionReported):
            self.statuses[event.report.client_order_id] = event.report.status

    def status_of(self, client_order_id: str) -> OrderStatus | None:
        """The status in the latest report published for an order."""
        return self.statuses.get(client_order_id)

    def of(self, kind: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, kind)]


def make_order(symbol: str, side: Side, size: str, type: OrderType = OrderType.LIMIT, **fields: Any) -> Order:
    prices = ("price", "trigger_price", "trailing_offset")
    values = {k: Decimal(v) if k in prices else v for k, v in fields.items()}
    request = OrderRequest(venue="paper", symbol=symbol, side=side, type=type, size=Decimal(size), **values)
    return Order.from_request(request, 0)


@pytest.fixture
def make_venue(clock: SimClock, tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    venues: list[PaperVenue] = []

    def make(path: Path | None = None, history: dict[str, int] | None = None, **config: Any) -> Harness:
        venue = PaperVenue("paper", PaperVenueConfig(**config), clock, path or tmp_path / "paper.sqlite", history)
        venues.append(venue)
        return Harness(venue, clock, EventBus())

    yield make
    for venue in venues:
        venue.close()
