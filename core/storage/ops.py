"""The repository's writes: SQL statements and the operations the group-commit writer runs.

Each ``*_op`` runs on the writer's thread, inside the batch transaction and its own savepoint,
with everything it needs already serialised by the caller on the event loop.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from core.models import Candle, Fill, Order, Position
from core.storage.audit import AuditChain, AuditDraft, AuditEntry
from core.storage.codec import canonical_json, placeholders
from core.storage.errors import DuplicateOrderError

ORDER_COLUMNS = tuple(Order.model_fields)
FILL_COLUMNS = tuple(Fill.model_fields)
POSITION_COLUMNS = tuple(Position.model_fields)
CANDLE_COLUMNS = tuple(Candle.model_fields)
ORDER_EVENT_COLUMNS = "client_order_id, ts, event, status, filled_size, detail, actor, audit_seq"

_INSERT_ORDER = (
    f"INSERT INTO orders ({', '.join(ORDER_COLUMNS)}, is_open) VALUES ({placeholders(len(ORDER_COLUMNS) + 1)}) "
)
INSERT_NEW_ORDER = _INSERT_ORDER + "ON CONFLICT (client_order_id) DO NOTHING"
UPSERT_ORDER = (
    _INSERT_ORDER + "ON CONFLICT (client_order_id) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in (*ORDER_COLUMNS[1:], "is_open"))
)
INSERT_ORDER_EVENT = f"INSERT INTO order_events ({ORDER_EVENT_COLUMNS}) VALUES ({placeholders(8)})"
INSERT_FILL = (
    f"INSERT INTO fills ({', '.join(FILL_COLUMNS)}) VALUES ({placeholders(len(FILL_COLUMNS))}) "
    "ON CONFLICT (fill_id) DO NOTHING"
)
INSERT_POSITION = (
    f"INSERT INTO positions ({', '.join(POSITION_COLUMNS)}, saved_ts) "
    f"VALUES ({placeholders(len(POSITION_COLUMNS) + 1)})"
)
UPSERT_CANDLE = (
    f"INSERT INTO candles (venue, symbol, timeframe, {', '.join(CANDLE_COLUMNS)}) "
    f"VALUES ({placeholders(len(CANDLE_COLUMNS) + 3)}) "
    "ON CONFLICT (venue, symbol, timeframe, ts) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in CANDLE_COLUMNS[1:])
)


def record_order_op(
    order_row: tuple[Any, ...], event_row: tuple[Any, ...], draft: AuditDraft, new: bool,
    conn: sqlite3.Connection, chain: AuditChain,
) -> None:
    if new:
        if conn.execute(INSERT_NEW_ORDER, order_row).rowcount != 1:
            raise DuplicateOrderError(f"client order id {order_row[0]} is already in use")
    else:
        conn.execute(UPSERT_ORDER, order_row)
    entry = chain.append(conn, draft)
    conn.execute(INSERT_ORDER_EVENT, (*event_row, entry.seq))


def record_fill_op(
    fill_row: tuple[Any, ...], draft: AuditDraft, conn: sqlite3.Connection, chain: AuditChain
) -> bool:
    if conn.execute(INSERT_FILL, fill_row).rowcount != 1:
        return False
    chain.append(conn, draft)
    return True


def audit_op(draft: AuditDraft, conn: sqlite3.Connection, chain: AuditChain) -> AuditEntry:
    return chain.append(conn, draft)


def save_positions_op(venue: str, rows: list[tuple[Any, ...]], conn: sqlite3.Connection, chain: AuditChain) -> None:
    conn.execute("DELETE FROM positions WHERE venue = ?", (venue,))
    conn.executemany(INSERT_POSITION, rows)


def snapshot_balances_op(
    venue: str, ts: int, rows: list[tuple[Any, ...]], conn: sqlite3.Connection, chain: AuditChain
) -> None:
    snapshot_id = conn.execute("INSERT INTO balance_snapshots (venue, ts) VALUES (?, ?)", (venue, ts)).lastrowid
    conn.executemany(
        "INSERT INTO balances (snapshot_id, asset, free, used) VALUES (?, ?, ?, ?)",
        [(snapshot_id, *row) for row in rows],
    )


def save_strategy_version_op(
    name: str, params: dict[str, Any], note: str, ts: int, actor: str, conn: sqlite3.Connection, chain: AuditChain
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


def save_risk_parameters_op(
    params: dict[str, Any], ts: int, actor: str, conn: sqlite3.Connection, chain: AuditChain
) -> int:
    row_id = conn.execute(
        "INSERT INTO risk_parameters (ts, actor, params) VALUES (?, ?, ?)", (ts, actor, canonical_json(params))
    ).lastrowid
    chain.append(conn, AuditDraft.of(ts, "risk_parameters", actor, {"id": row_id, "params": params}))
    return int(row_id or 0)


def execute_many_op(sql: str, rows: list[tuple[Any, ...]], conn: sqlite3.Connection, chain: AuditChain) -> int:
    conn.executemany(sql, rows)
    return len(rows)
