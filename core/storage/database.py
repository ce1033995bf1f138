"""The repository: everything OpenTrade keeps, behind one object, on either back end.

``Database.open(path)`` keeps it in a SQLite file (the default, in the home);
``Database.connect(url)`` in a PostgreSQL database (``storage.url``). Everything below is
written once for both: the back ends differ only in how they are reached and checked
(``sqlite.py``, ``postgres.py``) and in a few statements (``dialect.py``).

Writes go through a group-commit writer (``writer.py``) so that an order is durable before the
engine acknowledges it without paying one fsync per order. Every state change of an order is a
row in ``orders`` (its current state), a row in ``order_events`` (its history) and an entry in
the hash-chained audit log, all in the same transaction. Storage never reads the wall clock:
timestamps come from the caller, or from the ``clock`` given to ``open``.

Reads use a second connection (on SQLite read-only, which WAL lets read while the writer
commits), so loading a long history never delays an order's commit; a read issued after an
awaited write sees that write.

Listing methods return rows oldest first; ``limit`` keeps the most recent ``limit`` rows.
Time ranges are half-open: ``since_ms <= ts < until_ms``.

Storage refuses to lie: a damaged database is refused at opening (``checks.py``), a failed write
or a file deleted under the open connection is reported to whoever listens (``on_fault``,
``file_problem``; the engine's storage watch halts trading), and a clean close of a SQLite file
checkpoints the write-ahead log so that the ``.sqlite`` file alone holds everything.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Callable, Sequence
from functools import partial
from operator import itemgetter
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from core.models import Balance, Candle, Fill, FundingPayment, FundingRate, MarketStats, Order, Position, ProtectiveLevels
from core.ports import Clock
from core.redact import redact
from core.storage import ops
from core.storage.anchor import AnchorWriter, read_anchor
from core.storage.audit import (
    ENTRY_COLUMNS,
    AuditChain,
    AuditDraft,
    AuditEntry,
    AuditVerification,
    entry_from_row,
    recorded_head,
    verify_connection,
)
from core.storage.checks import check_chain
from core.storage.codec import canonical_json, flat_dump, model_row, placeholders, sorted_flat_json
from core.storage.dialect import CANDLE_COLUMNS, FILL_COLUMNS, Conn, dict_rows
from core.storage.errors import StorageError
from core.storage.interface import Backend, FaultListener
from core.storage.link import InFlight, Link
from core.storage.migrations import bundled_migrations, migrate
from core.storage.ops import ORDER_COLUMNS, ORDER_EVENT_COLUMNS, POSITION_COLUMNS, PROTECTION_COLUMNS
from core.storage.postgres import PostgresBackend
from core.storage.queries import (
    CANDLE,
    FILL,
    FUNDING,
    FUNDING_COLUMNS,
    MARKET_STATS,
    MARKET_STATS_COLUMNS,
    ORDER,
    PAYMENT,
    PAYMENT_COLUMNS,
    POSITION,
    PROTECTION,
    Where,
    candle_values,
    check_limit,
    query,
    statuses,
)
from core.storage.sqlite import SqliteBackend
from core.storage.writer import GroupCommitWriter

log = logging.getLogger(__name__)
_order_columns = itemgetter(*ORDER_COLUMNS)  # an order's row from its flat dump

T = TypeVar("T")


class Database:
    """Open with ``await Database.open(path)`` (SQLite) or ``await Database.connect(url)``
    (PostgreSQL); close with ``await db.close()``."""

    def __init__(self, backend: Backend, reader: Link, chain: AuditChain, schema_version: int,
                 clock: Clock | None, anchor: Path | None) -> None:
        self.schema_version = schema_version
        self.location = backend.location
        self._backend = backend
        self._reader = reader
        self._clock = clock
        self._closed = False
        self._fault_listeners: list[FaultListener] = []
        self._anchor = AnchorWriter(anchor, self._fault) if anchor is not None else None
        self._writer = GroupCommitWriter(backend.writer, chain, on_fault=self._fault, on_commit=self._committed)
        self._order_writes = InFlight()
        self._fenced = False
        if self._anchor is not None and chain.last_seq:
            self._anchor.update(chain.mark())

    def _committed(self, head: tuple[int, str]) -> None:
        self._backend.committed()
        if self._anchor is not None:
            self._anchor.update(head)

    @property
    def path(self) -> Path | None:
        """The SQLite file; None for a PostgreSQL database."""
        return self._backend.path

    @classmethod
    async def open(
        cls, path: Path, synchronous: str = "FULL", clock: Clock | None = None, anchor: Path | None = None
    ) -> Database:
        """Open (creating if needed), check and migrate the SQLite database at ``path``.

        ``synchronous="NORMAL"`` trades the last transactions before a power loss (never
        corruption) for speed; the default FULL keeps every acknowledged write. ``anchor`` is
        the file that keeps the audit chain's head outside the database (``anchor.py``): the
        chain must still hold what it records, and it follows every commit. A file that fails
        the checks (``checks.py``) raises DamagedDatabaseError and nothing is written to it.
        """
        anchored = read_anchor(anchor) if anchor is not None else None
        return await cls._start(await SqliteBackend.open(Path(path), synchronous), clock, anchor, anchored)

    @classmethod
    async def connect(
        cls, url: str, password: str | None = None, synchronous: str = "FULL", clock: Clock | None = None,
        anchor: Path | None = None,
    ) -> Database:
        """Connect to, check and migrate the PostgreSQL database at ``url``; as ``open`` otherwise
        (``synchronous`` sets ``synchronous_commit``: FULL is on)."""
        anchored = read_anchor(anchor) if anchor is not None else None
        return await cls._start(await PostgresBackend.open(url, password, synchronous), clock, anchor, anchored)

    @classmethod
    async def _start(cls, backend: Backend, clock: Clock | None, anchor: Path | None, anchored: Any) -> Database:
        writer = backend.writer
        try:
            ts = clock.now_ms() if clock is not None else 0
            version = await writer.run(migrate, bundled_migrations(backend.dialect), ts)
            await writer.run(check_chain, backend.location, anchored)
            chain = await writer.run(AuditChain.load)
            reader = await backend.reader()
        except BaseException as exc:
            await backend.close(fenced=True)
            failure = backend.open_failure(exc)
            if failure is not None:
                raise failure from exc
            raise
        log.debug("opened %s (schema version %d)", backend.location, version)
        return cls(backend, reader, chain, version, clock, anchor)

    async def close(self) -> None:
        """Commit what is queued, write the anchor, then close (a SQLite file is checkpointed
        first, so that a copy of the file alone has everything); calling it again does nothing."""
        if self._closed:
            return
        self._closed = True
        await self._writer.close()
        if self._anchor is not None:
            await self._anchor.close()
        await self._reader.close()
        await self._backend.close(self._fenced)

    # Health: failed writes, the file under the connection

    def on_fault(self, listener: FaultListener) -> None:
        """Call ``listener`` with each storage fault: a write that failed because of the
        database, its disk or the connection (not because of what was written), or an anchor
        that could not be written."""
        self._fault_listeners.append(listener)

    def _fault(self, error: StorageError) -> None:
        for listener in self._fault_listeners:
            listener(error)

    def file_problem(self) -> str | None:
        """Whether the file at ``path`` is still the one this connection writes to (None on
        PostgreSQL, where there is no file of ours)."""
        return self._backend.file_problem()

    async def rescue(self, reason: str, ts: int) -> Path:
        """For a file deleted or replaced under the connection: refuse every later write, then
        copy what the connection still holds next to the path (``<name>.rescued-<ts>``)."""
        self._fenced = True
        await self._writer.fence(reason)
        return await self._backend.rescue(ts)

    async def audit_head(self) -> tuple[int, str] | None:
        """The last committed audit entry's (seq, hash)."""
        self._check_open()
        return await self._reader.run(recorded_head)

    async def __aenter__(self) -> Database:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    @property
    def order_writes(self) -> InFlight:
        """The awaited writes of orders (``queue_order`` not ``lazy``) in flight: background
        work on the event loop gives way to them (``core.storage.link``)."""
        return self._order_writes

    @property
    def commit_stats(self) -> tuple[int, int]:
        """(transactions committed, writes in them): their ratio is the group-commit batch size."""
        return self._writer.batches, self._writer.writes

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("the database is closed")

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        self._check_open()
        return await self._reader.run(_dict_query, sql, params)

    async def _fetch(
        self, sql: str, params: Sequence[Any], convert: Callable[[tuple[Any, ...]], T], reverse: bool = False
    ) -> list[T]:
        """Rows become models on the reader's thread: a 100,000-candle load does not stall the loop."""
        self._check_open()
        return await self._reader.run(query, sql, params, convert, reverse)

    async def _recent(
        self, columns: str, table: str, where: Where, order: tuple[str, ...], limit: int | None,
        convert: Callable[[tuple[Any, ...]], T],
    ) -> list[T]:
        """Oldest first; with a limit, the most recent ``limit`` rows (still oldest first)."""
        check_limit(limit)
        if limit is None:
            sql = f"SELECT {columns} FROM {table}{where.sql()} ORDER BY {', '.join(order)}"
            return await self._fetch(sql, where.params, convert)
        descending = ", ".join(f"{column} DESC" for column in order)
        sql = f"SELECT {columns} FROM {table}{where.sql()} ORDER BY {descending} LIMIT ?"
        return await self._fetch(sql, [*where.params, limit], convert, reverse=True)

    def _draft(
        self, kind: str, actor: str, payload: dict[str, Any], ts: int | None, text: str | None = None
    ) -> AuditDraft:
        if not kind:
            raise StorageError("an audit entry needs a kind")
        if ts is None:
            payload_ts = payload.get("ts")
            if isinstance(payload_ts, int) and not isinstance(payload_ts, bool):
                ts = payload_ts
            else:
                ts = self._clock.now_ms() if self._clock is not None else 0
        return AuditDraft.of(ts, kind, actor, payload, text)

    # Orders

    async def record_order(
        self, order: Order, event: str, detail: str | None = None, actor: str = "engine", *, new: bool = False
    ) -> None:
        """Store the order's current state, one history row and one audit entry; durable on return.

        ``new=True`` (the first write of an order) raises ``DuplicateOrderError`` if the client
        order id is already stored, checked inside the write: no separate read, and no window
        in which two callers could both claim the same id.
        """
        await self.queue_order(order, event, detail, actor, new=new)

    def queue_order(
        self, order: Order, event: str, detail: str | None = None, actor: str = "engine", *, new: bool = False,
        lazy: bool = False,
    ) -> asyncio.Future[None]:
        """``record_order`` without waiting: the rows are queued now (so an order's rows land in
        the order they were queued) and the future resolves once they are committed. ``lazy``
        is for a row nobody waits on: it may wait a moment to share a commit."""
        if not event:
            raise StorageError(f"order {order.client_order_id}: an order event needs a name")
        if detail is not None:
            detail = redact(detail)
        payload = flat_dump(order, ops.ORDER_PAYLOAD_KEYS)  # "event" and "detail" in their places
        order_row = (*_order_columns(payload), order.is_open)
        event_row = (order.client_order_id, order.updated_ts, event, payload["status"],
                     payload["filled_size"], detail, actor)
        payload["event"] = event
        payload["detail"] = detail
        draft = self._draft(ops.ORDER_KIND, actor, payload, order.updated_ts, sorted_flat_json(payload))
        written = self._writer.queue(ops.OrderRecord(order_row, event_row, draft, new), lazy=lazy)
        if not lazy:
            self._order_writes.track(written)
        return written

    async def get_order(self, client_order_id: str) -> Order | None:
        orders = await self._fetch(
            f"SELECT {', '.join(ORDER_COLUMNS)} FROM orders WHERE client_order_id = ?", (client_order_id,), ORDER
        )
        return orders[0] if orders else None

    async def load_orders(
        self, *, open_only: bool = False, venue: str | None = None, symbol: str | None = None,
        strategy_id: str | None = None, status: Sequence[str] | None = None,
        since_ms: int | None = None, until_ms: int | None = None, limit: int | None = None,
    ) -> list[Order]:
        """Orders by creation time; ``since_ms``/``until_ms`` filter on ``created_ts``."""
        where = Where()
        if open_only:
            where.add("is_open")  # as orders_open's own WHERE: a bound "is_open = ?" would not use it
        if venue is not None:
            where.add("venue = ?", venue)
        if symbol is not None:
            where.add("symbol = ?", symbol)
        if strategy_id is not None:
            where.add("strategy_id = ?", strategy_id)
        if status is not None:
            values = statuses(status)
            where.add(f"status IN ({placeholders(len(values))})" if values else "1 = 0", *values)
        where.range("created_ts", since_ms, until_ms)
        return await self._recent(", ".join(ORDER_COLUMNS), "orders", where, ("created_ts", "rowid"), limit, ORDER)

    async def order_events(self, client_order_id: str) -> list[dict[str, Any]]:
        """The order's history, oldest first: ts, event, status, filled_size, detail, actor, audit_seq."""
        rows = await self._rows(
            f"SELECT {ORDER_EVENT_COLUMNS} FROM order_events WHERE client_order_id = ? ORDER BY id",
            (client_order_id,),
        )
        return rows

    # Fills

    async def record_fill(self, fill: Fill) -> bool:
        """Store a fill once: True if it was new, False if ``fill_id`` was already stored."""
        payload = flat_dump(fill)
        fill_row = tuple(payload[column] for column in FILL_COLUMNS)
        draft = self._draft("fill", "engine", payload, fill.ts)
        return bool(await self._writer.submit(partial(ops.record_fill_op, fill_row, draft)))

    async def load_fills(
        self, *, venue: str | None = None, symbol: str | None = None, strategy_id: str | None = None,
        client_order_id: str | None = None, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Fill]:
        where = Where()
        if venue is not None:
            where.add("venue = ?", venue)
        if symbol is not None:
            where.add("symbol = ?", symbol)
        if strategy_id is not None:
            where.add("strategy_id = ?", strategy_id)
        if client_order_id is not None:
            where.add("client_order_id = ?", client_order_id)
        where.range("ts", since_ms, until_ms)
        return await self._recent(", ".join(FILL_COLUMNS), "fills", where, ("ts", "rowid"), limit, FILL)

    # Funding payments

    async def record_funding(self, payment: FundingPayment) -> bool:
        """Store a funding payment once, with its audit entry: True if it was new, False if
        one for the same venue, market and funding time was already stored."""
        payload = payment.model_dump(mode="json")
        row = tuple(payload[column] for column in PAYMENT_COLUMNS)
        draft = self._draft("funding", "engine", payload, payment.ts)
        return bool(await self._writer.submit(partial(ops.record_new_op, _INSERT_PAYMENT, row, draft)))

    async def load_funding(
        self, *, venue: str | None = None, symbol: str | None = None, since_ms: int | None = None,
        until_ms: int | None = None, limit: int | None = None,
    ) -> list[FundingPayment]:
        where = Where()
        if venue is not None:
            where.add("venue = ?", venue)
        if symbol is not None:
            where.add("symbol = ?", symbol)
        where.range("ts", since_ms, until_ms)
        return await self._recent(", ".join(PAYMENT_COLUMNS), "funding_payments", where, ("ts", "venue", "symbol"),
                                  limit, PAYMENT)

    # Audit log

    async def audit(
        self, kind: str, payload: dict[str, Any], actor: str = "engine", ts: int | None = None
    ) -> AuditEntry:
        """Append an entry; ``ts`` defaults to the payload's ``ts``, then the clock, then 0."""
        draft = self._draft(kind, actor, payload, ts)
        # The entry handed back holds the payload as stored (Decimals as strings), as a reader would see it.
        draft = draft._replace(payload=json.loads(draft.payload_json))
        entry: AuditEntry = await self._writer.submit(partial(ops.audit_op, draft))
        return entry

    async def audit_entries(
        self, *, kind: str | None = None, since_ms: int | None = None, symbol: str | None = None,
        actor: str | None = None, before_seq: int | None = None, limit: int = 500,
    ) -> list[AuditEntry]:
        """The most recent ``limit`` matching entries, oldest first; ``before_seq`` pages back."""
        where = Where()
        if before_seq is not None:
            where.add("seq < ?", before_seq)
        if kind is not None:
            where.add("kind = ?", kind)
            if kind != ops.ORDER_KIND:  # audit_kind leaves the order entries out: said so, the planner uses it
                where.add(f"kind <> '{ops.ORDER_KIND}'")
        if symbol is not None:
            where.add("symbol = ?", symbol)
        if actor is not None:
            where.add("actor = ?", actor)
        where.range("ts", since_ms, None)
        return await self._recent(ENTRY_COLUMNS, "audit_log", where, ("seq",), limit, entry_from_row)

    async def verify_audit(self) -> AuditVerification:
        """Recompute the whole chain; ``first_broken`` names the first bad entry's seq."""
        if self._closed:
            raise StorageError("the database is closed")
        return await self._reader.run(verify_connection)

    # Positions and balances

    async def save_positions(self, venue: str, positions: list[Position], ts: int) -> None:
        """Replace the venue's current positions with ``positions``."""
        foreign = sorted({p.venue for p in positions if p.venue != venue})
        if foreign:
            raise StorageError(f"save_positions for venue {venue!r} was given positions of {', '.join(foreign)}")
        rows = [(*model_row(position, POSITION_COLUMNS), ts) for position in positions]
        await self._writer.submit(partial(ops.save_positions_op, venue, rows))

    async def load_positions(self, venue: str | None = None) -> list[Position]:
        where = Where()
        if venue is not None:
            where.add("venue = ?", venue)
        return await self._fetch(
            f"SELECT {', '.join(POSITION_COLUMNS)} FROM positions{where.sql()} ORDER BY venue, symbol, side",
            where.params, POSITION,
        )

    async def snapshot_balances(self, venue: str, balances: list[Balance], ts: int) -> None:
        """Append a snapshot; earlier snapshots are kept as the account's history."""
        assets = [balance.asset for balance in balances]
        if len(set(assets)) != len(assets):
            twice = sorted({asset for asset in assets if assets.count(asset) > 1})
            raise StorageError(f"balance snapshot for {venue!r} lists {', '.join(twice)} more than once")
        rows = [(b.asset, str(b.free), str(b.used)) for b in balances]
        await self._writer.submit(partial(ops.snapshot_balances_op, venue, ts, rows))

    async def latest_balances(self, venue: str) -> list[Balance]:
        rows = await self._rows(
            "SELECT asset, free, used FROM balances WHERE snapshot_id = "
            "(SELECT MAX(snapshot_id) FROM balance_snapshots WHERE venue = ?) ORDER BY asset",
            (venue,),
        )
        return [Balance.model_validate(dict(row)) for row in rows]

    # Protective levels

    async def save_protection(
        self, venue: str, symbol: str, levels: ProtectiveLevels | None, *, actor: str, ts: int,
        payload: dict[str, Any],
    ) -> None:
        """Replace the market's protective levels (None removes them) and append the audit
        entry ``payload`` (kind "protection": who, the old and new levels, why) in one write."""
        if levels is not None and (levels.venue, levels.symbol) != (venue, symbol):
            raise StorageError(f"levels for {levels.symbol} on {levels.venue} given as {symbol} on {venue}")
        row = model_row(levels, PROTECTION_COLUMNS) if levels is not None else None
        draft = self._draft("protection", actor, {"venue": venue, "symbol": symbol, **payload}, ts)
        await self._writer.submit(partial(ops.save_protection_op, venue, symbol, row, draft))

    async def load_protections(self) -> list[ProtectiveLevels]:
        return await self._fetch(
            f"SELECT {', '.join(PROTECTION_COLUMNS)} FROM protective_levels ORDER BY venue, symbol", (), PROTECTION
        )

    # Strategy and risk parameters

    async def save_strategy_version(
        self, name: str, params: dict[str, Any], note: str = "", ts: int = 0, actor: str = "engine"
    ) -> int:
        """Keep a new version (1, 2, ...) of a strategy's parameters and audit the change."""
        if not name:
            raise StorageError("a strategy version needs the strategy's name")
        canonical_json(params)  # refuse unserialisable parameters here, with a clear message
        version: int = await self._writer.submit(partial(ops.save_strategy_version_op, name, params, note, ts, actor))
        return version

    async def strategy_versions(self, name: str) -> list[dict[str, Any]]:
        """Every version of the strategy, oldest first: name, version, params, note, ts."""
        rows = await self._rows(
            "SELECT name, version, params, note, ts FROM strategy_versions WHERE name = ? ORDER BY version", (name,)
        )
        return [{**dict(row), "params": json.loads(row["params"])} for row in rows]

    # Candles

    async def save_candles(self, venue: str, symbol: str, timeframe: str, candles: list[Candle]) -> int:
        """Insert or replace candles by timestamp; returns how many were written."""
        if not candles:
            return 0
        # Candle fields are plain ints and floats, stored as they are: no serialisation needed.
        rows = [(venue, symbol, timeframe, *candle_values(candle)) for candle in candles]
        for row in rows:
            if not all(math.isfinite(value) for value in row[4:]):
                raise StorageError(
                    f"{venue} {symbol} {timeframe} candle at {row[3]} has a value that is not a finite number: "
                    f"open {row[4]}, high {row[5]}, low {row[6]}, close {row[7]}, volume {row[8]}"
                )
        count: int = await self._writer.submit(partial(ops.save_candles_op, rows))
        return count

    async def load_candles(
        self, venue: str, symbol: str, timeframe: str, since_ms: int | None = None, until_ms: int | None = None
    ) -> list[Candle]:
        where = Where()
        where.add("venue = ? AND symbol = ? AND timeframe = ?", venue, symbol, timeframe)
        where.range("ts", since_ms, until_ms)
        return await self._fetch(
            f"SELECT {', '.join(CANDLE_COLUMNS)} FROM candles{where.sql()} ORDER BY ts", where.params, CANDLE
        )

    # Market data beyond prices (the data service, core/marketdata)

    async def save_funding_rates(self, venue: str, symbol: str, rates: list[FundingRate]) -> int:
        """Insert or replace funding rates by time; returns how many were written."""
        rows = [(venue, symbol, rate.ts, rate.rate) for rate in rates if math.isfinite(rate.rate)]
        if not rows:
            return 0
        count: int = await self._writer.submit(partial(ops.execute_many_op, _UPSERT_FUNDING, rows))
        return count

    async def load_funding_rates(
        self, venue: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[FundingRate]:
        return await self._market_rows("funding_rates", FUNDING_COLUMNS, FUNDING, venue, symbol, since_ms, until_ms, limit)

    async def save_market_stats(self, stats: MarketStats) -> None:
        row = tuple(getattr(stats, column) for column in MARKET_STATS_COLUMNS)
        await self._writer.submit(partial(ops.execute_many_op, _UPSERT_MARKET_STATS, [row]))

    async def load_market_stats(
        self, venue: str, symbol: str, since_ms: int | None = None, until_ms: int | None = None,
        limit: int | None = None,
    ) -> list[MarketStats]:
        return await self._market_rows(
            "market_stats", MARKET_STATS_COLUMNS, MARKET_STATS, venue, symbol, since_ms, until_ms, limit)

    async def _market_rows(
        self, table: str, columns: Sequence[str], convert: Callable[[tuple[Any, ...]], T], venue: str, symbol: str,
        since_ms: int | None, until_ms: int | None, limit: int | None,
    ) -> list[T]:
        where = Where()
        where.add("venue = ? AND symbol = ?", venue, symbol)
        where.range("ts", since_ms, until_ms)
        return await self._recent(", ".join(columns), table, where, ("ts",), limit, convert)

    # Small key-value state (last screen, theme, risk state)

    async def get_state(self, key: str) -> str | None:
        rows = await self._rows("SELECT value FROM kv_state WHERE key = ?", (key,))
        return str(rows[0]["value"]) if rows else None

    async def set_state(self, key: str, value: str) -> None:
        await self._writer.submit(partial(
            ops.execute_many_op,
            "INSERT INTO kv_state (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [(key, value)],
        ))


def _upsert(table: str, columns: Sequence[str], key: Sequence[str]) -> str:
    updated = [column for column in columns if column not in key]
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET " + ", ".join(f"{c} = excluded.{c}" for c in updated)
    )


_UPSERT_FUNDING = _upsert("funding_rates", ("venue", "symbol", *FUNDING_COLUMNS), ("venue", "symbol", "ts"))
_INSERT_PAYMENT = (
    f"INSERT INTO funding_payments ({', '.join(PAYMENT_COLUMNS)}) VALUES ({placeholders(len(PAYMENT_COLUMNS))}) "
    "ON CONFLICT (venue, symbol, ts) DO NOTHING"
)
_UPSERT_MARKET_STATS = _upsert("market_stats", MARKET_STATS_COLUMNS, ("venue", "symbol", "ts"))


def _dict_query(conn: Conn, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
    return dict_rows(conn.execute(sql, params))
