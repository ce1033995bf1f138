"""Funding, open interest and long/short ratio of perpetuals through ccxt's unified methods
(fetchFundingRate, fetchFundingRateHistory, fetchOpenInterest, fetchLongShortRatioHistory), so
every exchange ccxt gives them for has them, with no code of its own. A spot market, or an
exchange without the method, answers None (or nothing) without a request.

The funding a live account was paid or charged comes from fetchFundingHistory (an exchange's
income records: Binance's ``/fapi/v1/income?incomeType=FUNDING_FEE``), market by market, a
page at a time; those records give the amount and the time, not the rate, price or position."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from core.models import Funding, FundingPayment, FundingRate, Instrument
from exchanges.ccxt import mapping

T = TypeVar("T")
RATIO_PERIOD = "1h"  # the long/short ratio's window: one every exchange with the method offers
PAYMENTS_PAGE = 1000  # Binance's largest income page


class DerivativesReads:
    """Mixed into the ccxt venue, whose exchange, market lookup and retrying reads it uses."""

    if TYPE_CHECKING:
        exchange: Any
        name: str
        mode: str
        config: Any

        def _require_credentials(self) -> None: ...

        def instrument(self, symbol: str) -> Instrument: ...

        async def _read(self, what: str, fn: Callable[[], Awaitable[T]]) -> T: ...

    def _offers(self, symbol: str, method: str) -> bool:
        return self.instrument(symbol).is_perpetual and bool(self.exchange.has.get(method))

    async def fetch_funding(self, symbol: str) -> Funding | None:
        if not self._offers(symbol, "fetchFundingRate"):
            return None
        raw = await self._read("fetch funding rate", lambda: self.exchange.fetch_funding_rate(symbol))
        if raw.get("fundingRate") is None:
            return None
        # the time of the payment the rate is for: 'fundingTimestamp' in ccxt's unified form,
        # 'nextFundingTimestamp' being the one after it where an exchange gives both
        next_ts = raw.get("fundingTimestamp") or raw.get("nextFundingTimestamp")
        return Funding(rate=float(raw["fundingRate"]), next_ts=int(next_ts) if next_ts else None)

    async def fetch_funding_history(self, symbol: str, since: int | None = None) -> list[FundingRate]:
        if not self._offers(symbol, "fetchFundingRateHistory"):
            return []
        raw = await self._read("fetch funding history", lambda: self.exchange.fetch_funding_rate_history(symbol, since))
        return [FundingRate(ts=int(item["timestamp"]), rate=float(item["fundingRate"])) for item in raw
                if item.get("timestamp") is not None and item.get("fundingRate") is not None]

    def _pays_funding(self) -> bool:
        """``Capability.FUNDING_PAYMENTS``: a live account on an exchange that lists its funding."""
        return self.mode == "live" and bool(self.exchange.has.get("fetchFundingHistory"))

    async def fetch_funding_payments(self, since: int | None = None) -> list[FundingPayment]:
        if not self._pays_funding():
            return []
        self._require_credentials()
        found: list[FundingPayment] = []
        for symbol in self.config.markets:
            if self.instrument(symbol).is_perpetual:
                found.extend(await self._funding_paid(symbol, since))
        return sorted(found, key=lambda paid: (paid.ts, paid.symbol))

    async def _funding_paid(self, symbol: str, since: int | None) -> list[FundingPayment]:
        quote = self.instrument(symbol).quote
        found: list[FundingPayment] = []
        while True:
            page = await self._read("fetch funding payments",
                                    partial(self.exchange.fetch_funding_history, symbol, since, PAYMENTS_PAGE))
            stamped = [item for item in page if item.get("timestamp") is not None and item.get("amount") is not None]
            found.extend(FundingPayment(venue=self.name, symbol=symbol, ts=int(item["timestamp"]),
                                        amount=mapping.dec0(item["amount"]), currency=str(item.get("code") or quote))
                         for item in stamped)
            if len(page) < PAYMENTS_PAGE or not stamped:
                return found
            since = max(int(item["timestamp"]) for item in stamped) + 1

    async def fetch_open_interest(self, symbol: str) -> float | None:
        if not self._offers(symbol, "fetchOpenInterest"):
            return None
        raw = await self._read("fetch open interest", lambda: self.exchange.fetch_open_interest(symbol))
        amount = raw.get("openInterestAmount")
        return float(amount) if amount is not None else None

    async def fetch_long_short_ratio(self, symbol: str) -> float | None:
        if not self._offers(symbol, "fetchLongShortRatioHistory"):
            return None
        raw = await self._read("fetch long/short ratio", lambda: self.exchange.fetch_long_short_ratio_history(
            symbol, RATIO_PERIOD, None, 1))
        ratios = [item["longShortRatio"] for item in raw if item.get("longShortRatio") is not None]
        return float(ratios[-1]) if ratios else None
