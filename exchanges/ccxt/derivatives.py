"""Funding, open interest and long/short ratio of perpetuals through ccxt's unified methods
(fetchFundingRate, fetchFundingRateHistory, fetchOpenInterest, fetchLongShortRatioHistory), so
every exchange ccxt gives them for has them, with no code of its own. A spot market, or an
exchange without the method, answers None (or nothing) without a request."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from core.models import Funding, FundingRate, Instrument

T = TypeVar("T")
RATIO_PERIOD = "1h"  # the long/short ratio's window: one every exchange with the method offers


class DerivativesReads:
    """Mixed into the ccxt venue, whose exchange, market lookup and retrying reads it uses."""

    if TYPE_CHECKING:
        exchange: Any

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
