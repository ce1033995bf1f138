"""Reading: WHERE clauses from optional filters, and rows turned into models off the event loop."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from operator import attrgetter
from typing import Any, TypeVar

from core.models import Candle, Fill, FundingPayment, FundingRate, MarketStats, Order, OrderStatus, Position, ProtectiveLevels
from core.storage.codec import M, row_model
from core.storage.dialect import CANDLE_COLUMNS, FILL_COLUMNS, Conn
from core.storage.errors import StorageError
from core.storage.ops import ORDER_COLUMNS, POSITION_COLUMNS, PROTECTION_COLUMNS

T = TypeVar("T")


class Where:
    """A WHERE clause built from optional filters, always with bound parameters."""

    def __init__(self) -> None:
        self.clauses: list[str] = []
        self.params: list[Any] = []

    def add(self, clause: str, *params: Any) -> None:
        self.clauses.append(clause)
        self.params.extend(params)

    def range(self, column: str, since_ms: int | None, until_ms: int | None) -> None:
        if since_ms is not None:
            self.add(f"{column} >= ?", since_ms)
        if until_ms is not None:
            self.add(f"{column} < ?", until_ms)

    def sql(self) -> str:
        return " WHERE " + " AND ".join(self.clauses) if self.clauses else ""


def check_limit(limit: int | None) -> None:
    if limit is not None and limit <= 0:
        raise StorageError(f"limit must be a positive number of rows, not {limit}")


def statuses(status: Sequence[str]) -> list[str]:
    values = []
    for item in status:
        try:
            values.append(OrderStatus(item).value)
        except ValueError:
            known = ", ".join(s.value for s in OrderStatus)
            raise StorageError(f"unknown order status {item!r} (known: {known})") from None
    return values


def query(
    conn: Conn, sql: str, params: Sequence[Any], convert: Callable[[tuple[Any, ...]], T], reverse: bool,
) -> list[T]:
    rows = conn.execute(sql, params).fetchall()  # plain tuples: a third of the cost of sqlite3.Row on long loads
    if reverse:
        rows.reverse()
    return [convert(row) for row in rows]


def converter(cls: type[M], columns: Sequence[str]) -> Callable[[tuple[Any, ...]], M]:
    return partial(row_model, cls, columns=columns)


candle_values = attrgetter(*CANDLE_COLUMNS)
ORDER = converter(Order, ORDER_COLUMNS)
FILL = converter(Fill, FILL_COLUMNS)
POSITION = converter(Position, POSITION_COLUMNS)
CANDLE = converter(Candle, CANDLE_COLUMNS)
PROTECTION = converter(ProtectiveLevels, PROTECTION_COLUMNS)
FUNDING_COLUMNS = tuple(FundingRate.model_fields)
FUNDING = converter(FundingRate, FUNDING_COLUMNS)
PAYMENT_COLUMNS = tuple(FundingPayment.model_fields)
PAYMENT = converter(FundingPayment, PAYMENT_COLUMNS)
MARKET_STATS_COLUMNS = tuple(MarketStats.model_fields)
MARKET_STATS = converter(MarketStats, MARKET_STATS_COLUMNS)
