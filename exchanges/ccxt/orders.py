"""Turns the exchange's view of an order (cumulative filled size, average price and fee) into
execution reports carrying the new fill since the last report, so downstream bookkeeping sees
fills even on exchanges whose order stream has no per-trade detail."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from core.models import ZERO, ExecutionReport, Fill, Liquidity, Side
from exchanges.ccxt.mapping import report_from_order


class OrderTracker:
    def __init__(self, venue: str) -> None:
        self.venue = venue
        # client id -> (filled size, filled notional, fee) as last reported
        self._seen: dict[str, tuple[Decimal, Decimal, Decimal]] = {}
        self.open: dict[str, str] = {}  # client id -> symbol, for orders not yet terminal

    def report(self, order: dict[str, Any], client_order_id: str, ts: int) -> ExecutionReport:
        """The report for this state of the order; carries a Fill when more was filled."""
        report = report_from_order(self.venue, order, client_order_id, ts)
        filled, notional, fee = self._seen.get(client_order_id, (ZERO, ZERO, ZERO))
        if report.filled_size > filled and report.avg_price is not None:
            new_notional = report.avg_price * report.filled_size
            size = report.filled_size - filled
            report.fill = Fill(
                fill_id=f"{report.venue_order_id or client_order_id}-{report.filled_size}",
                client_order_id=client_order_id,
                venue_order_id=report.venue_order_id,
                venue=self.venue,
                symbol=report.symbol,
                side=Side(order["side"]),
                price=(new_notional - notional) / size,
                size=size,
                fee=report.fee - fee,
                fee_currency=(order.get("fee") or {}).get("currency") or "",
                liquidity=Liquidity.TAKER if order.get("type") == "market" else Liquidity.MAKER,
                ts=report.ts,
            )
            self._seen[client_order_id] = (report.filled_size, new_notional, report.fee)
        if report.status.is_terminal:
            self.open.pop(client_order_id, None)
        else:
            self.open[client_order_id] = report.symbol
        return report
