"""What a perpetuals venue can do beyond the ``ExchangeAdapter`` port: amending an order in
place, and the account's position and margin modes (its funding, open interest, mark and index
prices are read through ``core.ports.DerivativesFeed``, as the data service reads any venue's).

These are optional: the generic ccxt venue and the paper venue have none of them, the dedicated
venues (Hyperliquid, Binance USDⓈ-M) have what their exchange offers. Whoever wants one asks
``supports(venue, Capability.X)`` first: the port's own record of capabilities
(``core.ports.Capability``), and a type that reaches the methods below.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Literal, Protocol, TypeGuard, runtime_checkable

from pydantic import BaseModel, ConfigDict

from core.models import ExecutionReport, Order
from core.ports import Capability, VenueError

PositionMode = Literal["one_way", "hedge"]
MarginMode = Literal["cross", "isolated"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)


class Amendment(_Model):
    """An order changed in place: the exchange's report, and the price and total size now
    resting there (after rounding to the market's precision)."""

    report: ExecutionReport
    price: Decimal | None
    size: Decimal


class AmendRefused(VenueError):
    """The exchange refused an amend; ``current`` is the order as the exchange holds it after
    the refusal (looked up, not assumed), or None when it could not be looked up."""

    def __init__(self, message: str, current: Amendment | None) -> None:
        super().__init__(message)
        self.current = current


class AccountModes(_Model):
    """How the account holds positions at the exchange, as set from the configuration; None
    where the configuration leaves the exchange's own setting alone."""

    position_mode: PositionMode
    margin_mode: MarginMode | None

    def describe(self) -> str:
        margin = f"{self.margin_mode} margin" if self.margin_mode else "margin mode as set on the exchange"
        return f"{self.position_mode.replace('_', '-')} positions, {margin}"


@runtime_checkable
class PerpetualVenue(Protocol):
    """The optional part of a venue; ``supports`` says which of it a given venue offers."""

    def supports(self, capability: Capability) -> bool: ...

    async def amend_order(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Amendment:
        """Change a resting order's price and/or total size in place. A refusal raises
        ``VenueError`` with the exchange's reason, and the order stays as it was."""
        ...

    @property
    def account_modes(self) -> AccountModes | None: ...


def supports(venue: object, capability: Capability) -> TypeGuard[PerpetualVenue]:
    """Whether ``venue`` offers the perpetuals ``capability``, as a venue with those methods."""
    return isinstance(venue, PerpetualVenue) and venue.supports(capability)


def account_modes(venue: object) -> str | None:
    """The venue's position and margin modes in words, once it has set them."""
    if not supports(venue, Capability.ACCOUNT_MODES):
        return None
    modes = venue.account_modes
    return modes.describe() if modes is not None else None
