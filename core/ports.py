"""The interfaces the middle layer implements and the core depends on.

The core never imports a venue or an agent; the composition root in ``tui/`` passes concrete
objects that satisfy these protocols.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from core.models import (
    Balance,
    Candle,
    ExecutionReport,
    Funding,
    FundingPayment,
    FundingRate,
    Instrument,
    Order,
    OrderBook,
    Position,
)

if TYPE_CHECKING:
    from core.events import EventBus


@runtime_checkable
class Clock(Protocol):
    def now_ms(self) -> int: ...

    async def sleep(self, seconds: float) -> None: ...


class VenueError(Exception):
    """A venue refused or failed a request. ``retryable`` tells the executor whether to retry."""

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


class OrderNotFound(VenueError):
    pass


class Capability(StrEnum):
    """What only some venues do; callers ask ``ExchangeAdapter.supports`` instead of probing.
    The perpetuals features are used through ``core.perpetuals``."""

    #: new orders are refused until a person has typed the go-ahead (``confirm_live``): a live exchange
    LIVE_CONFIRMATION = "live_confirmation"
    FUNDING = "funding"  # fetch_funding: current rate and next funding time
    OPEN_INTEREST = "open_interest"  # fetch_open_interest
    MARK_PRICE = "mark_price"  # fetch_funding carries the mark and index prices
    AMEND = "amend"  # amend_order: one native request, not cancel-and-replace
    ACCOUNT_MODES = "account_modes"  # position and margin mode set from the configuration
    FUNDING_PAYMENTS = "funding_payments"  # fetch_funding_payments: the account's funding history


@runtime_checkable
class ExchangeAdapter(Protocol):
    """One venue: its markets, account and order entry, and the market data it streams.

    ``start`` connects and begins publishing market data (OrderBookUpdated, TradePrinted,
    TickerUpdated) and execution reports (ExecutionReported) on the bus. ``create_order`` returns
    the venue's acknowledgement; fills that follow arrive as ExecutionReported events.
    """

    name: str
    mode: str  # "paper" | "live"

    async def start(self, bus: EventBus) -> None: ...

    async def stop(self) -> None: ...

    async def load_instruments(self) -> list[Instrument]: ...

    async def subscribe(self, symbols: list[str]) -> None: ...

    async def fetch_balances(self) -> list[Balance]: ...

    async def fetch_positions(self) -> list[Position]: ...

    async def fetch_open_orders(self) -> list[ExecutionReport]: ...

    async def fetch_order(self, client_order_id: str, symbol: str) -> ExecutionReport | None: ...

    async def create_order(self, order: Order) -> ExecutionReport: ...

    async def cancel_order(self, client_order_id: str, symbol: str) -> ExecutionReport: ...

    def supports(self, capability: Capability) -> bool:
        """Whether this venue has ``capability``."""
        ...

    def confirm_live(self) -> None:
        """A person typed the go-ahead for real money: a venue that ``supports``
        ``LIVE_CONFIRMATION`` sends new orders from now on; any other has nothing to confirm."""
        ...

    def holds_protective_orders(self, symbol: str) -> bool:
        """Whether reduce-only stop-market and take-profit orders for ``symbol`` rest at the
        venue itself, tracked by client order id, and so keep protecting a position while the
        app is closed. Where not, the engine watches stop-losses and take-profits itself."""
        ...

    async def fetch_order_book(self, symbol: str, depth: int = 20) -> OrderBook: ...

    async def fetch_ohlcv(
        self, symbol: str, timeframe: str = "1m", since: int | None = None, limit: int = 500
    ) -> list[Candle]: ...


@runtime_checkable
class DerivativesFeed(Protocol):
    """What a venue may tell of its perpetual markets beyond prices. A venue implements it
    when it can ask; each call answers None (or nothing) for a market or figure it has not."""

    async def fetch_funding(self, symbol: str) -> Funding | None: ...

    async def fetch_funding_history(self, symbol: str, since: int | None = None) -> list[FundingRate]: ...

    async def fetch_open_interest(self, symbol: str) -> float | None:
        """Contracts open, in the base currency."""

    async def fetch_long_short_ratio(self, symbol: str) -> float | None:
        """Accounts long per account short, over the venue's latest hour."""


@runtime_checkable
class FundingHistory(Protocol):
    """A venue that can list the funding its account was paid or charged (``supports``
    ``FUNDING_PAYMENTS``): the engine records each payment once (``core.funding``)."""

    def supports(self, capability: Capability) -> bool: ...

    async def fetch_funding_payments(self, since: int | None = None) -> list[FundingPayment]:
        """The payments at or after ``since`` on the venue's perpetual markets, oldest first."""
        ...


class Notifier(Protocol):
    name: str

    async def send(self, title: str, body: str, level: str = "info") -> None: ...


class Service(Protocol):
    """Something that runs beside the engine (agent scheduler, strategy engine): started after
    the venues, stopped before them."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...
