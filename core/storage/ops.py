"""The repository's writes: SQL statements and the operations the group-commit writer runs.

Each ``*_op`` (and ``OrderRecord``) runs on the writer's thread, inside the batch transaction,
with everything it needs already serialised by the caller on the event loop. The SQL is the
same on both back ends (``dialect.py`` holds what is not).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from core.models import Order, Position, ProtectiveLevels
from core.storage.audit import AUDIT_TABLE, AuditChain, AuditDraft, AuditEntry
from core.storage.codec import canonical_json, placeholders
from core.storage.dialect import Conn
from core.storage.errors import DuplicateOrderError

ORDER_COLUMNS = tuple(Order.model_fields)
POSITION_COLUMNS = tuple(Position.model_fields)
PROTECTION_COLUMNS = tuple(ProtectiveLevels.model_fields)
# The kind of an order's audit entries, the log's bulk (which audit_kind leaves out).
ORDER_KIND = "order"
# An order's audit payload: its row, the event and its detail, in the order canonical JSON writes them.
ORDER_PAYLOAD_KEYS = tuple(sorted((*ORDER_COLUMNS, "event", "detail")))
ORDER_EVENT_COLUMNS = "client_order_id, ts, event, status, filled_size, detail, actor, audit_seq"

# What an order is, fixed when it is made: its later writes (status, fills, the venue's id, an
# amendment's price and size) leave these as first written. The columns of the orders' indexes
# are among them, and SQLite rewrites every index holding a column an UPSERT sets, changed or
# not: setting only the rest took an order's status row from 8.6 to 5.6 WAL pages per 32 rows
# and from 7.5 to 5.5 us a row. A later write that carries other values for them (no caller's
# does: OrderManager changes only status, fills, venue_order_id, price and size) leaves the
# stored ones, as a client order id names one order.
ORDER_FIXED_COLUMNS = frozenset({
    "client_order_id", "venue", "symbol", "side", "type", "trigger_price", "trailing_offset", "time_in_force",
    "post_only", "reduce_only", "leverage", "take_profit", "stop_loss", "strategy_id", "created_ts",
})
_INSERT_ORDER = (
    f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}, is_open) VALUES ({placeholders(len(ORDER_COLUMNS) + 1)}) "
)
INSERT_NEW_ORDER = _INSERT_ORDER + "ON CONFLICT (client_order_id) DO NOTHING"
UPSERT_ORDER = (
    _INSERT_ORDER + "ON CONFLICT (client_order_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}"
                for column in (*ORDER_COLUMNS, "is_open") if column not in ORDER_FIXED_COLUMNS)
)
INSERT_ORDER_EVENT = f"INSERT INTO order_events ({ORDER_EVENT_COLUMNS}) VALUES ({placeholders(8)})"
INSERT_POSITION = (
    f"INSERT INTO positions ({', '.join(POSITION_COLUMNS)}, saved_ts) "
    f"VALUES ({placeholders(len(POSITION_COLUMNS) + 1)})"
)
UPSERT_PROTECTION = (
    f"INSERT INTO protective_levels ({', '.join(PROTECTION_COLUMNS)}) VALUES ({placeholders(len(PROTECTION_COLUMNS))}) "
    "ON CONFLICT (venue, symbol) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in PROTECTION_COLUMNS[2:])
)


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """``Database.record_order``'s write: the order's row, one event row and one audit entry.

    Called like any operation it writes alone. A batch instead gathers its order records into
    ``OrderRows``, which inserts them with a handful of multi-row statements: on the writer's
    thread every statement gives the GIL away and must win it back from the busy event loop,
    so three statements per order would make each batch wait on the loop that waits on it.
    """

    order_row: tuple[Any, ...]
    event_row: tuple[Any, ...]
    draft: AuditDraft
    new: bool

    def __call__(self, conn: Conn, chain: AuditChain) -> None:
        if self.new:
            if conn.execute(INSERT_NEW_ORDER, self.order_row).rowcount != 1:
                raise DuplicateOrderError(f"client order id {self.order_row[0]} is already in use")
        else:
            conn.execute(UPSERT_ORDER, self.order_row)
        entry = chain.append(conn, self.draft)
        conn.execute(INSERT_ORDER_EVENT, (*self.event_row, entry.seq))


class OrderRows:
    """Order records of one batch, inserted together by ``insert``."""

    def __init__(self) -> None:
        self._orders = _Rows(_ORDERS_TABLE, len(ORDER_COLUMNS) + 1, _ORDER_CONFLICT)
        self._events = _Rows(f"order_events ({ORDER_EVENT_COLUMNS})", 8)
        self._audit = _Rows(AUDIT_TABLE, 8)
        self._new_ids: list[str] = []

    def add(self, record: OrderRecord, chain: AuditChain) -> None:
        row = chain.next_row(record.draft)
        self._audit.values.extend(row)
        self._orders.values.extend(record.order_row)
        events = self._events.values
        events.extend(record.event_row)
        events.append(row[0])
        if record.new:
            self._new_ids.append(record.order_row[0])

    def insert(self, conn: Conn) -> bool:
        """Write what was gathered; False, with nothing written, if a new order's id is
        already taken (the batch then runs one write at a time, so only that one fails)."""
        if self._new_ids:
            if len(set(self._new_ids)) != len(self._new_ids):
                return False
            for chunk in _chunks(self._new_ids):
                taken = conn.execute(
                    f"SELECT 1 FROM orders WHERE client_order_id IN ({placeholders(len(chunk))}) LIMIT 1", chunk
                ).fetchone()
                if taken is not None:
                    return False
            self._new_ids.clear()
        for rows in (self._audit, self._orders, self._events):
            rows.insert(conn)
        return True


_ROWS_PER_STATEMENT = 200
_ORDERS_TABLE = f"orders ({', '.join(ORDER_COLUMNS)}, is_open)"
_ORDER_CONFLICT = UPSERT_ORDER[UPSERT_ORDER.index(" ON CONFLICT"):]


class _Rows:
    """Rows for one table, their values one after another as a multi-row INSERT binds them:
    extended row by row, not flattened at the end (a batch's 64 order rows and their events
    and entries are ~2,600 values, 3.5 us an order through a nested comprehension)."""

    def __init__(self, table: str, width: int, conflict: str = "") -> None:
        self.table = table
        self.width = width
        self.conflict = conflict
        self.values: list[Any] = []

    def insert(self, conn: Conn) -> None:
        values, width = self.values, self.width
        step = width * _ROWS_PER_STATEMENT
        for start in range(0, len(values), step):
            chunk = values[start : start + step]
            conn.execute(_multi_row_insert(self.table, width, len(chunk) // width, self.conflict), chunk)
        values.clear()


def _chunks(items: list[Any]) -> list[list[Any]]:
    return [items[i : i + _ROWS_PER_STATEMENT] for i in range(0, len(items), _ROWS_PER_STATEMENT)]


@lru_cache(maxsize=64)
def _multi_row_insert(table: str, width: int, count: int, conflict: str) -> str:
    row = f"({placeholders(width)})"
    return f"INSERT INTO {table} VALUES {', '.join([row] * count)}{conflict}"


def record_fill_op(fill_row: tuple[Any, ...], draft: AuditDraft, conn: Conn, chain: AuditChain) -> bool:
    if not conn.insert_fill(fill_row):
        return False
    chain.append(conn, draft)
    return True


def record_new_op(sql: str, row: tuple[Any, ...], draft: AuditDraft, conn: Conn, chain: AuditChain) -> bool:
    """Insert a row unless its key is stored (``sql`` says ON CONFLICT DO NOTHING), audited
    when new; True if it was."""
    if conn.execute(sql, row).rowcount != 1:
        return False
    chain.append(conn, draft)
    return True


def audit_op(draft: AuditDraft, conn: Conn, chain: AuditChain) -> AuditEntry:
    return chain.append(conn, draft)


def save_positions_op(venue: str, rows: list[tuple[Any, ...]], conn: Conn, chain: AuditChain) -> None:
    conn.execute("DELETE FROM positions WHERE venue = ?", (venue,))
    conn.executemany(INSERT_POSITION, rows)


def save_protection_op(
    venue: str, symbol: str, row: tuple[Any, ...] | None, draft: AuditDraft, conn: Conn,
    chain: AuditChain,
) -> None:
    """The market's levels replaced (``row``) or removed (None), audited in the same transaction."""
    if row is None:
        conn.execute("DELETE FROM protective_levels WHERE venue = ? AND symbol = ?", (venue, symbol))
    else:
        conn.execute(UPSERT_PROTECTION, row)
    chain.append(conn, draft)


def snapshot_balances_op(venue: str, ts: int, rows: list[tuple[Any, ...]], conn: Conn, chain: AuditChain) -> None:
    snapshot_id = conn.execute(
        "INSERT INTO balance_snapshots (venue, ts) VALUES (?, ?) RETURNING snapshot_id", (venue, ts)
    ).fetchone()[0]
    conn.executemany(
        "INSERT INTO balances (snapshot_id, asset, free, used) VALUES (?, ?, ?, ?)",
        [(snapshot_id, *row) for row in rows],
    )


def save_strategy_version_op(
    name: str, params: dict[str, Any], note: str, ts: int, actor: str, conn: Conn, chain: AuditChain
) -> int:
    row = conn.execute("SELECT COALESCE(MAX(version), 0) + 1 FROM strategy_versions WHERE name = ?", (name,)).fetchone()
    version = int(row[0])
    conn.execute(
        "INSERT INTO strategy_versions (name, version, params, note, ts) VALUES (?, ?, ?, ?, ?)",
        (name, version, canonical_json(params), note, ts),
    )
    payload = {"name": name, "version": version, "params": params, "note": note}
    chain.append(conn, AuditDraft.of(ts, "strategy_version", actor, payload))
    return version



def save_candles_op(rows: list[tuple[Any, ...]], conn: Conn, chain: AuditChain) -> int:
    conn.upsert_candles(rows)
    return len(rows)


def execute_many_op(sql: str, rows: list[tuple[Any, ...]], conn: Conn, chain: AuditChain) -> int:
    conn.executemany(sql, rows)
    return len(rows)
