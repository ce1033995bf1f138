"""Binance USDⓈ-M futures: funding and mark/index prices from ``/fapi/v1/premiumIndex``, open
interest from ``/fapi/v1/openInterest``, amends with ``PUT /fapi/v1/order`` (Binance's Modify
Order, which keeps the order's id), one-way positions with ``/fapi/v1/positionSide/dual`` and
each market's margin type with ``/fapi/v1/marginType``."""

from __future__ import annotations

from core.perpetuals import MarginMode
from exchanges.perps.venue import PerpetualVenue

# Binance's answer when the account already has the asked position mode.
POSITION_MODE_UNCHANGED = '"code":-4059'


class BinanceUsdmVenue(PerpetualVenue):
    async def _set_position_mode(self) -> None:
        import ccxt  # noqa: PLC0415 - already loaded with the exchange

        async def one_way() -> None:
            try:
                await self.exchange.set_position_mode(False)
            except ccxt.ExchangeError as exc:
                if POSITION_MODE_UNCHANGED not in str(exc).replace(" ", ""):
                    raise

        await self._read("set position mode", one_way)

    async def _set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        # ccxt answers Binance's "No need to change margin type" (-4046) as a success itself.
        await self._read("set margin mode", lambda: self.exchange.set_margin_mode(mode, symbol))
