"""A venue wrapper that injects faults into a real paper venue, call by call."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from core.models import ExecutionReport, Order
from core.ports import VenueError


class FaultyVenue:
    """Delegates to ``inner``. ``fail(method, when, error)`` queues a fault for the next call of
    ``method``: "before" raises without reaching the venue (a timeout on the way there),
    "after" lets the venue act and then raises (the answer lost on the way back)."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.mode = inner.mode
        self.calls: defaultdict[str, int] = defaultdict(int)
        self._faults: defaultdict[str, list[tuple[str, VenueError]]] = defaultdict(list)

    def fail(self, method: str, when: str, error: VenueError, times: int = 1) -> None:
        self._faults[method].extend([(when, error)] * times)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    async def _call(self, method: str, *args: Any) -> Any:
        self.calls[method] += 1
        fault = self._faults[method].pop(0) if self._faults[method] else None
        if fault is not None and fault[0] == "before":
            raise fault[1]
        result = await getattr(self.inner, method)(*args)
        if fault is not None:
            raise fault[1]
        return result

    async def create_order(self, order: Order) -> ExecutionReport:
        report: ExecutionReport = await self._call("create_order", order)
        return report

    async def cancel_order(self, client_order_id: str, symbol: str) -> ExecutionReport:
        report: ExecutionReport = await self._call("cancel_order", client_order_id, symbol)
        return report

    async def fetch_order(self, client_order_id: str, symbol: str) -> ExecutionReport | None:
        report: ExecutionReport | None = await self._call("fetch_order", client_order_id, symbol)
        return report

    async def fetch_open_orders(self) -> list[ExecutionReport]:
        reports: list[ExecutionReport] = await self._call("fetch_open_orders")
        return reports
