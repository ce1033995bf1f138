"""Hyperliquid perpetuals: funding, mark and oracle (index) prices and open interest from the
``metaAndAssetCtxs`` info request, amends with the ``batchModify`` action, and each market's
margin mode with the ``updateLeverage`` action, which sets it together with the leverage.

Hyperliquid holds one-way positions only (the configuration refuses hedge mode), signs with a
wallet's private key (the venue's API key is the wallet address, its secret the key), and
funds every hour.
"""

from __future__ import annotations

from typing import Any, ClassVar

from core.models import Order, OrderType
from core.perpetuals import MarginMode
from core.ports import VenueError
from exchanges.ccxt import mapping
from exchanges.perps.venue import PerpetualVenue

HOUR_MS = 3_600_000


class HyperliquidVenue(PerpetualVenue):
    # Perpetuals only: spot and builder-deployed (HIP-3) markets would cost two more requests.
    DEFAULT_OPTIONS: ClassVar[dict[str, Any]] = {"fetchMarkets": {"types": ["swap"]}}

    async def _set_position_mode(self) -> None:
        """Nothing to send: every Hyperliquid position is one-way."""

    async def _set_margin_mode(self, symbol: str, mode: MarginMode) -> None:
        leverage = self.config.leverage
        await self._read("set margin mode", lambda: self.exchange.set_margin_mode(mode, symbol, {"leverage": leverage}))

    async def _apply_leverage(self, order: Order) -> None:
        """Leverage goes with the margin mode in one action here; ccxt would send cross when
        not told, switching an isolated market, so the configured mode is always sent."""
        if order.leverage is None or not self.instrument(order.symbol).is_perpetual:
            return
        mode = self.config.margin_mode
        if mode is None:
            raise VenueError(
                f"{self.name}: Hyperliquid sets leverage together with the margin mode: "
                "set margin_mode (cross or isolated) in the venue's configuration"
            )
        await self._read("set leverage", lambda: self.exchange.set_leverage(order.leverage, order.symbol, {"marginMode": mode}))

    def _order_args(self, order: Order) -> tuple[str, str, float, float | None, dict[str, Any]]:
        """A market order is an aggressive IOC limit at Hyperliquid: ccxt prices it from a
        reference price plus its slippage bound (5%), so the book's mid is given."""
        kind, side, amount, price, params = super()._order_args(order)
        if order.type is OrderType.MARKET:
            reference = self.reference_price(order.symbol)
            if reference is None:
                raise mapping.UnsupportedOrder(f"no price for {order.symbol} yet to bound a market order's slippage; wait for the book")
            price = float(reference)
        return kind, side, amount, price, params

    def _next_funding_ts(self, raw: dict[str, Any]) -> int | None:
        """The next hour by the venue's clock (ccxt reckons it by the wall clock)."""
        return (self.clock.now_ms() // HOUR_MS + 1) * HOUR_MS
