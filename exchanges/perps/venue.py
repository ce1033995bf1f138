"""What the dedicated perpetuals venues add to the generic ccxt venue: funding, open interest,
mark and index prices, amending an order in place, and the account's position and margin
modes set from the configuration (``PerpVenueConfig``) when the venue starts live.

Each exchange's own details (how it says "nothing to change", what it needs beside the margin
mode) are in its subclass; everything else is ccxt's unified calls, so the request, its
signature and the parsing of the answer are ccxt's.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, ClassVar

from core.config import PerpVenueConfig
from core.events import EventBus
from core.models import Funding, Order, OrderType
from core.perpetuals import (
    AccountModes,
    Amendment,
    AmendRefused,
    MarginMode,
)
from core.ports import Capability, VenueError
from exchanges.ccxt import mapping
from exchanges.ccxt.errors import AMBIGUOUS, classify, describe
from exchanges.ccxt.venue import CcxtVenue

log = logging.getLogger(__name__)

PERPETUALS = frozenset({Capability.FUNDING, Capability.OPEN_INTEREST, Capability.MARK_PRICE, Capability.AMEND,
                        Capability.ACCOUNT_MODES})
# Capabilities that act on the account: a paper venue simulates its account inside the app.
LIVE_ONLY = frozenset({Capability.AMEND, Capability.ACCOUNT_MODES})


class PerpetualVenue(CcxtVenue):
    #: ccxt options the exchange needs here, under the configuration's own ``options``
    DEFAULT_OPTIONS: ClassVar[dict[str, Any]] = {}

    config: PerpVenueConfig

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        """CcxtVenue's arguments, with a ``PerpVenueConfig``; the exchange's default ccxt options
        go under the configured ones (the exchange object is built later, from ``config``)."""
        super().__init__(*args, **kwargs)
        self.config = self.config.model_copy(update={"options": {**self.DEFAULT_OPTIONS, **self.config.options}})
        self._modes: AccountModes | None = None

    def supports(self, capability: Capability) -> bool:
        if capability in PERPETUALS:
            return capability not in LIVE_ONLY or self.mode == "live"
        return super().supports(capability)

    @property
    def account_modes(self) -> AccountModes | None:
        """The modes set at start; None before (and in paper mode, which sets none)."""
        return self._modes

    def _perpetual(self, symbol: str) -> None:
        if not self.instrument(symbol).is_perpetual:
            raise VenueError(f"{self.name}: {symbol} is not a perpetual: it has no funding or open interest")

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self, bus: EventBus) -> None:
        """Live: the account modes first, so that a refused one stops the start before any
        stream runs or order is sent."""
        if self.mode == "live":
            if not self.instruments:
                await self.load_instruments()
            await self.apply_account_modes()
        await super().start(bus)

    async def apply_account_modes(self) -> AccountModes:
        """The configured position mode on the account, and the margin mode on each configured
        market, before any order: an account left in hedge mode would refuse our orders, and a
        margin mode nobody chose would decide how much a loss can take."""
        self._require_credentials()
        try:
            await self._set_position_mode()
        except VenueError as exc:
            raise VenueError(f"{self.name}: could not set one-way positions on {self.config.exchange}: {_reason(exc)}") from None
        margin = self.config.margin_mode
        if margin is not None:
            for symbol in self._perpetual_symbols():
                try:
                    await self._set_margin_mode(symbol, margin)
                except VenueError as exc:
                    raise VenueError(
                        f"{self.name}: could not set {symbol} to {margin} margin on {self.config.exchange}: {_reason(exc)}"
                    ) from None
        self._modes = AccountModes(position_mode=self.config.position_mode, margin_mode=margin)
        log.info("%s: %s on %s", self.name, self._modes.describe(), self.config.exchange)
        return self._modes

    async def _set_position_mode(self) -> None:
        """One-way positions on the account (the only mode the configuration accepts)."""
        raise NotImplementedError

    async def _set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        raise NotImplementedError

    # -- market data ----------------------------------------------------------------------

    async def fetch_funding(self, symbol: str) -> Funding | None:
        self._perpetual(symbol)
        raw = await self._read("fetch funding rate", lambda: self.exchange.fetch_funding_rate(symbol))
        rate = mapping.dec(raw.get("fundingRate"))
        if rate is None:
            return None
        interval = str(raw.get("interval") or "")
        return Funding(
            rate=float(rate), next_ts=self._next_funding_ts(raw),
            interval_hours=int(interval[:-1]) if interval.endswith("h") and interval[:-1].isdigit() else None,
            mark_price=mapping.dec(raw.get("markPrice")), index_price=mapping.dec(raw.get("indexPrice")),
        )

    def _next_funding_ts(self, raw: dict[str, Any]) -> int | None:
        found = raw.get("nextFundingTimestamp") or raw.get("fundingTimestamp")
        return int(found) if found is not None else None

    async def fetch_open_interest(self, symbol: str) -> float | None:
        self._perpetual(symbol)
        raw = await self._read("fetch open interest", lambda: self.exchange.fetch_open_interest(symbol))
        amount = (raw or {}).get("openInterestAmount")
        return float(amount) if amount is not None else None

    # -- amending -------------------------------------------------------------------------

    async def amend_order(self, order: Order, *, price: Decimal | None = None, size: Decimal | None = None) -> Amendment:
        """The exchange's own modify request, sent once: the order keeps its place in our
        books, its client order id and, where the exchange keeps it, its queue position.
        Checked first like a new order (precision, minimums); a refusal raises AmendRefused
        with the order as the exchange still holds it; no answer is resolved by looking the
        order up, never by sending again."""
        if not self.supports(Capability.AMEND):
            raise VenueError(f"{self.name}: paper mode amends nothing at the exchange")
        self._require_confirmed()
        coid = order.client_order_id
        if order.type is not OrderType.LIMIT:
            raise VenueError(f"{self.name}: only limit orders can be amended on {self.config.exchange}, not {order.type.value}")
        if price is None and size is None:
            raise VenueError(f"{self.name}: amend of {coid}: give a new price or size")
        wanted = self.round_order(order.model_copy(update={"price": price or order.price, "size": size or order.size}))
        problem = self.order_problem(wanted)
        if problem is None and wanted.size <= order.filled_size:
            problem = f"size {wanted.size} is not above the {order.filled_size} already filled"
        if problem is not None:
            raise VenueError(f"{self.name}: amend of {coid} not sent: {problem}; the order is unchanged")
        venue_order_id = order.venue_order_id or await self._venue_order_id(order)
        self.caller.check_breaker()
        try:
            raw = await self.exchange.edit_order(
                venue_order_id, order.symbol, "limit", order.side.value, float(wanted.size),
                float(wanted.price) if wanted.price is not None else None, self._amend_params(order),
            )
        except Exception as exc:  # noqa: BLE001 - classified: refused, or unknown outcome
            self.caller.record(exc)
            current = await self._looked_up(order)
            if classify(exc) in AMBIGUOUS and current is not None:
                log.warning("%s: amend %s: %s; the exchange now holds %s @ %s", self.name, coid, describe(exc),
                            current.size, current.price)
                return current
            held = f"; the order {_held(current)}"
            raise AmendRefused(f"{self.name}: {self.config.exchange} refused the amend of {coid}: {describe(exc)}{held}",
                               current) from None
        self.caller.record(None)
        return self._amendment(raw, order, wanted)

    def _amend_params(self, order: Order) -> dict[str, Any]:
        return {"clientOrderId": self._wire(order.client_order_id)}

    async def _venue_order_id(self, order: Order) -> str:
        """The exchange's id of an order known only by our client order id."""
        return str((await self._fetch_raw(order))["id"])

    async def _fetch_raw(self, order: Order) -> dict[str, Any]:
        """ccxt's order structure, looked up by our client order id."""
        params = self._lookup_params(order.client_order_id)
        raw: dict[str, Any] = await self._read("fetch order", lambda: self.exchange.fetch_order(None, order.symbol, params))
        return raw

    def _amendment(self, raw: dict[str, Any], order: Order, wanted: Order) -> Amendment:
        """What the exchange answered, with the asked price and size where its answer omits them."""
        raw = {**raw, "symbol": raw.get("symbol") or order.symbol, "side": raw.get("side") or order.side.value,
               "status": raw.get("status") or "open"}
        if raw.get("id") is None:
            raw["id"] = order.venue_order_id
        report = self.tracker.report(raw, order.client_order_id, self.clock.now_ms())
        return Amendment(report=report, price=mapping.dec(raw.get("price")) or wanted.price,
                         size=mapping.dec(raw.get("amount")) or wanted.size)

    async def _looked_up(self, order: Order) -> Amendment | None:
        """The order as the exchange holds it now; None when it cannot be looked up."""
        try:
            raw = await self._fetch_raw(order)
        except VenueError as exc:
            log.warning("%s: looking up %s after an amend: %s", self.name, order.client_order_id, exc)
            return None
        return self._amendment(raw, order, order)


def _reason(exc: VenueError) -> str:
    """A venue error without the venue's name in front (the caller says which venue)."""
    text = str(exc)
    return text.split(": ", 1)[1] if ": " in text else text


def _held(current: Amendment | None) -> str:
    if current is None:
        return "could not be looked up; the next poll of open orders will show it"
    state = current.report.status.value.replace("_", " ")
    size = f"{current.size.normalize():f}"
    return f"is {state}: {size} @ {current.price.normalize():f}" if current.price is not None else f"is {state}: {size}"
