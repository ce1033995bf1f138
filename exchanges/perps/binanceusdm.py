"""Binance USDⓈ-M futures: funding and mark/index prices from ``/fapi/v1/premiumIndex``, open
interest from ``/fapi/v1/openInterest``, amends with ``PUT /fapi/v1/order`` (Binance's Modify
Order, which keeps the order's id), one-way positions with ``/fapi/v1/positionSide/dual`` and
each market's margin type with ``/fapi/v1/marginType``."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from core.perpetuals import MarginMode
from exchanges.perps.venue import PerpetualVenue

# Binance's answers when the account already is as asked (ccxt raises them as ExchangeError).
POSITION_MODE_UNCHANGED = -4059  # "No need to change position side."
MARGIN_TYPE_UNCHANGED = -4046  # "No need to change margin type."


class BinanceUsdmVenue(PerpetualVenue):
    async def _set_position_mode(self) -> None:
        await self._set("set position mode", lambda: self.exchange.set_position_mode(False), POSITION_MODE_UNCHANGED)

    async def _set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        await self._set("set margin mode", lambda: self.exchange.set_margin_mode(mode, symbol), MARGIN_TYPE_UNCHANGED)

    async def _set(self, what: str, call: Callable[[], Awaitable[Any]], unchanged: int) -> None:
        """An account setting, where Binance's "no need to change" means it already is so."""
        import ccxt  # noqa: PLC0415 - already loaded with the exchange

        async def attempt() -> None:
            try:
                await call()
            except ccxt.ExchangeError as exc:
                if f'"code":{unchanged}' not in str(exc).replace(" ", ""):
                    raise

        await self._read(what, attempt)
