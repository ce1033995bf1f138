"""The paper venue's own SQLite file: what the "exchange" knows survives a restart.

Balances, positions, every order it accepted or rejected (by client order id, so
``fetch_order`` answers after a restart) with the funds each open order holds, and a few
counters and the simulators' state. Each change is one transaction, committed before the
venue answers. Standard library ``sqlite3`` in WAL mode: the writes are small and the venue
is the only writer. The client order ids the file holds are also kept in memory (a few dozen
bytes an order), so the duplicate check of a new order, which every order passes, reads
nothing: a synchronous read on the event loop gives up the GIL, and under load getting it
back cost more than the read. For the same reason a save writes only the balances and
counters that differ from what the file holds.

Saves run on the event loop, so the file is never checkpointed by a save there: SQLite's own
checkpoint (every 1,000 pages of log, two fsyncs) held the loop for 2-15 ms about once every
200 saves, one order in a hundred placed one at a time. The repository's ``Checkpointer``
(``core.storage.checkpoint``) runs them instead, on a thread and a connection of its own, at
most one every ``CHECKPOINT_INTERVAL`` seconds (the file's saves need no fsync of their own:
``synchronous=NORMAL``); the connection's own checkpoint is left as a backstop. A checkpoint only
moves committed pages from the log into the file: what a crash keeps is the same either way.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from core.filemodes import private_dir, private_file
from core.ledger import Book
from core.models import Order
from core.sim import Hold, SimOrder
from core.storage.checkpoint import BACKSTOP_PAGES, Checkpointer
from core.storage.errors import StorageError

CHECKPOINT_INTERVAL = 0.2  # seconds; a save writes no more than a few pages of log

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS balances (asset TEXT PRIMARY KEY, free TEXT NOT NULL, used TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS positions (
    symbol TEXT PRIMARY KEY, side INTEGER NOT NULL, size TEXT NOT NULL, entry_price TEXT NOT NULL,
    leverage INTEGER NOT NULL, margin TEXT NOT NULL, realized_pnl TEXT NOT NULL,
    created_ts INTEGER NOT NULL, updated_ts INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS orders (
    client_order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, status TEXT NOT NULL, is_open INTEGER NOT NULL,
    body TEXT NOT NULL, hold_asset TEXT NOT NULL, hold_amount TEXT NOT NULL, notional TEXT NOT NULL,
    trail_ref INTEGER, seq INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_open ON orders (is_open, seq);
"""


@dataclass(frozen=True)
class SavedPosition:
    """A position as the file keeps it: ``size`` signed; ``realized`` includes funding."""

    symbol: str
    size: Decimal
    entry: Decimal
    leverage: int
    realized: Decimal
    created_ts: int
    updated_ts: int


class VenueState:
    def __init__(self, path: Path) -> None:
        """Created owner-only (it holds the account: balances, positions, orders). A file that
        cannot be opened or written is a ``StorageError`` naming it."""
        try:
            private_dir(path.parent)
            private_file(path)
            self._db = sqlite3.connect(path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StorageError(f"cannot open the paper venue's state {path}: {getattr(exc, 'strerror', None) or exc}") from exc
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(f"PRAGMA wal_autocheckpoint={BACKSTOP_PAGES}")
            self._db.executescript(SCHEMA)
            self._ids = {row[0] for row in self._db.execute("SELECT client_order_id FROM orders")}
            self._held: dict[tuple[str, str], tuple[str, ...]] = {}  # balances and meta as committed
            self._checkpointer = Checkpointer(path, interval=CHECKPOINT_INTERVAL, name="paper-checkpoint")
        except sqlite3.Error as exc:
            self._db.close()
            raise StorageError(f"cannot open the paper venue's state {path}: {exc}") from exc

    def close(self) -> None:
        """End the checkpoints (after one under way), then close: the last connection to
        close checkpoints the rest."""
        self._checkpointer.close()
        self._db.close()

    def meta(self, key: str) -> Any:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def balances(self) -> dict[str, tuple[Decimal, Decimal]] | None:
        rows = self._db.execute("SELECT asset, free, used FROM balances").fetchall()
        return {a: (Decimal(f), Decimal(u)) for a, f, u in rows} if rows else None

    def positions(self) -> list[SavedPosition]:
        rows = self._db.execute(
            "SELECT symbol, side, size, entry_price, leverage, realized_pnl, created_ts, updated_ts FROM positions"
        ).fetchall()
        return [SavedPosition(s, Decimal(size) * side, Decimal(entry), lev, Decimal(pnl), c, u)
                for s, side, size, entry, lev, pnl, c, u in rows]

    def open_orders(self) -> list[SimOrder]:
        rows = self._db.execute(
            "SELECT body, hold_asset, hold_amount, notional, trail_ref, seq FROM orders WHERE is_open = 1 ORDER BY seq"
        ).fetchall()
        return [self._stored(row) for row in rows]

    def last_seq(self) -> int:
        """The highest arrival number of the orders kept: every order the venue numbered is kept."""
        row = self._db.execute("SELECT MAX(seq) FROM orders").fetchone()
        return int(row[0]) if row and row[0] is not None else 0

    def order(self, client_order_id: str) -> SimOrder | None:
        if client_order_id not in self._ids:
            return None
        row = self._db.execute(
            "SELECT body, hold_asset, hold_amount, notional, trail_ref, seq FROM orders WHERE client_order_id = ?",
            (client_order_id,),
        ).fetchone()
        return self._stored(row) if row else None

    @staticmethod
    def _stored(row: tuple[Any, ...]) -> SimOrder:
        body, asset, amount, notional, trail_ref, seq = row
        return SimOrder(Order.model_validate_json(body), Hold(asset, Decimal(amount)), seq, Decimal(notional), trail_ref)

    def save(
        self,
        *,
        orders: Iterable[SimOrder] = (),
        balances: dict[str, tuple[Decimal, Decimal]] | None = None,
        positions: dict[str, Book | None] | None = None,
        meta: dict[str, Any] | None = None,
    ) -> None:
        """Write everything that changed together, in one transaction. A position given as
        None or flat (closed) is deleted."""
        db = self._db
        saved: list[str] = []
        order_rows: list[tuple[Any, ...]] = []
        for stored in orders:  # the body without its None fields (their default): a third shorter
            order = stored.order
            order_rows.append((order.client_order_id, order.symbol, order.status.value, int(order.is_open),
                               order.model_dump_json(exclude_none=True), stored.hold.asset, str(stored.hold.amount),
                               str(stored.notional), stored.trail_ref, stored.seq))
            saved.append(order.client_order_id)
        rows: dict[tuple[str, str], tuple[str, ...]] = {}
        for asset, (free, used) in (balances or {}).items():
            rows[("balances", asset)] = (str(free), str(used))
        for key, value in (meta or {}).items():
            rows[("meta", key)] = (json.dumps(value),)
        rows = {row: values for row, values in rows.items() if self._held.get(row) != values}
        statements = _replace_statements("orders", order_rows)
        for symbol, p in (positions or {}).items():
            if p is None or not p.size:
                statements.append(("DELETE FROM positions WHERE symbol = ?", (symbol,)))
            else:
                statements.append((
                    "INSERT OR REPLACE INTO positions VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (symbol, 1 if p.size > 0 else -1, str(abs(p.size)), str(p.entry), p.leverage, str(p.margin()),
                     str(p.realized + p.funding), p.created_ts, p.updated_ts),
                ))
        for table in ("balances", "meta"):
            statements += _replace_statements(
                table, [(key, *values) for (kind, key), values in rows.items() if kind == table])
        if len(statements) == 1:  # a statement alone is a transaction: no BEGIN and COMMIT to pay for
            db.execute(*statements[0])
        elif statements:
            db.execute("BEGIN")
            try:
                for statement in statements:
                    db.execute(*statement)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")
        self._ids.update(saved)
        self._held.update(rows)
        self._checkpointer.committed()


_ROWS_PER_STATEMENT = 100  # 10 columns an order row: far below SQLite's 32,766 variables


def _replace_statements(table: str, rows: list[tuple[Any, ...]]) -> list[tuple[str, Sequence[Any]]]:
    """``INSERT OR REPLACE`` of ``rows`` (all of one width), many to a statement: on the event
    loop each statement gives the GIL away to the database writer's thread and waits to get it
    back, so a save of a dozen orders paid that a dozen times."""
    statements: list[tuple[str, Sequence[Any]]] = []
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        statements.append((_replace_sql(table, len(chunk[0]), len(chunk)), [value for row in chunk for value in row]))
    return statements


@lru_cache(maxsize=256)
def _replace_sql(table: str, width: int, count: int) -> str:
    row = f"({', '.join('?' * width)})"
    return f"INSERT OR REPLACE INTO {table} VALUES {', '.join([row] * count)}"
