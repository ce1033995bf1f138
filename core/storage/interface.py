"""The storage interface: what the engine, its services and the commands use.

``Database`` (``database.py``) implements it over either back end: a SQLite file in the home
(``sqlite.py``) or a PostgreSQL database (``postgres.py``), each a ``Backend``. The repository's
logic (drafts for the audit chain, the group commit, every query) is written once, and the SQL
that differs between the two lives in ``dialect.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from core.models import Balance, Candle, Fill, FundingPayment, FundingRate, MarketStats, Order, Position, ProtectiveLevels
from core.storage.audit import AuditEntry, AuditVerification
from core.storage.dialect import Dialect
from core.storage.errors import StorageError
from core.storage.link import Link

FaultListener = Callable[[StorageError], None]


class Backend(Protocol):
    """Where the rows are kept, and what only that place can do."""

    dialect: Dialect
    location: str  # the file, or the URL without its password: for messages

    @property
    def path(self) -> Path | None: ...

    @property
    def writer(self) -> Link: ...

    async def reader(self) -> Link: ...

    def open_failure(self, exc: BaseException) -> StorageError | None:
        """What an error met while opening (migrations, checks) means for a person."""

    def file_problem(self) -> str | None: ...

    def committed(self) -> None:
        """Called on the event loop after each commit of the writer (``checkpoint.py``)."""

    async def rescue(self, ts: int) -> Path: ...

    async def close(self, fenced: bool) -> None: ...


class Storage(Protocol):
    """The repository. Listings return rows oldest first; ``limit`` keeps the most recent rows;
    time ranges are half-open (``since_ms <= ts < until_ms``)."""

    schema_version: int
    location: str

    @property
    def path(self) -> Path | None: ...

    @property
    def commit_stats(self) -> tuple[int, int]: ...

    async def close(self) -> None: ...

    def on_fault(self, listener: FaultListener) -> None: ...

    def file_problem(self) -> str | None: ...

    async def rescue(self, reason: str, ts: int) -> Path: ...

    async def audit_head(self) -> tuple[int, str] | None: ...

    async def record_order(
        self, order: Order, event: str, detail: str | None = None, actor: str = "engine", *, new: bool = False
    ) -> None: ...

    def queue_order(
        self, order: Order, event: str, detail: str | None = None, actor: str = "engine", *, new: bool = False,
        lazy: bool = False,
    ) -> asyncio.Future[None]: ...

    async def get_order(self, client_order_id: str) -> Order | None: ...

    async def load_orders(
        self, *, open_only: bool = False, venue: str | None = None, symbol: str | None = None,
        strategy_id: str | None = None, status: Sequence[str] | None = None,
        since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None,
    ) -> list[Order]: ...

    async def order_events(self, client_order_id: str) -> list[dict[str, Any]]: ...

    async def record_fill(self, fill: Fill) -> bool: ...

    async def load_fills(
        self, *, venue: str | None = None, symbol: str | None = None, strategy_id: str | None = None,
        client_order_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Fill]: ...

    async def record_funding(self, payment: FundingPayment) -> bool: ...

    async def load_funding(
        self, *, venue: str | None = None, symbol: str | None = None, since_ms: int | None = None,
        until_ms: int | None = None, limit: int | None = None,
    ) -> list[FundingPayment]: ...

    async def audit(
        self, kind: str, payload: dict[str, Any], actor: str = "engine", ts: int | None = None
    ) -> AuditEntry: ...

    async def audit_entries(
        self, *, kind: str | None = None, since_ms: int | None = None, symbol: str | None = None,
        actor: str | None = None, before_seq: int | None = None, limit: int = 500,
    ) -> list[AuditEntry]: ...

    async def verify_audit(self) -> AuditVerification: ...

    async def save_positions(self, venue: str, positions: list[Position], ts: int) -> None: ...

    async def load_positions(self, venue: str | None = None) -> list[Position]: ...

    async def snapshot_balances(self, venue: str, balances: list[Balance], ts: int) -> None: ...

    async def latest_balances(self, venue: str) -> list[Balance]: ...

    async def save_protection(
        self, venue: str, symbol: str, levels: ProtectiveLevels | None, *, actor: str, ts: int,
        payload: dict[str, Any],
    ) -> None: ...

    async def load_protections(self) -> list[ProtectiveLevels]: ...

    async def save_strategy_version(
        self, name: str, params: dict[str, Any], note: str = "", ts: int = 0, actor: str = "engine"
    ) -> int: ...

    async def strategy_versions(self, name: str) -> list[dict[str, Any]]: ...

    async def save_candles(self, venue: str, symbol: str, timeframe: str, candles: list[Candle]) -> int: ...

    async def load_candles(
        self, venue: str, symbol: str, timeframe: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[Candle]: ...

    async def save_funding_rates(self, venue: str, symbol: str, rates: list[FundingRate]) -> int: ...

    async def load_funding_rates(
        self, venue: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[FundingRate]: ...

    async def save_market_stats(self, stats: MarketStats) -> None: ...

    async def load_market_stats(
        self, venue: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[MarketStats]: ...

    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...
