"""SQLite and PostgreSQL behind one connection interface, used on the connection's own thread.

The repository's SQL is written once, with ``?`` placeholders and the upsert syntax both
databases share (``ON CONFLICT ... DO UPDATE SET x = excluded.x``). What differs is here and
nowhere else:

- placeholders: psycopg wants ``%s`` (and ``%%`` for a literal ``%``), translated once per statement;
- the write lock a write transaction takes first: SQLite's ``BEGIN IMMEDIATE``; on PostgreSQL an
  EXCLUSIVE lock on ``audit_head`` (readers go on, a second writer waits), so that two programs
  writing one database still build one audit chain;
- a consistent read (one snapshot for the audit chain and its head) and streaming long results
  (a server-side cursor on PostgreSQL) so that memory stays flat on a long log;
- the two tables PostgreSQL partitions by month, ``candles`` and ``fills``: a month's partition
  is created when its first row arrives, and since a partitioned table's unique keys must
  include its partition key, a fill's id is kept unique through the ``fill_ids`` table. Where
  the TimescaleDB extension made them hypertables (see the PostgreSQL migrations), TimescaleDB
  creates its chunks itself and nothing is created here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import count
from typing import Any, Literal, Protocol

from core.models import Candle, Fill
from core.storage.errors import StorageError

Dialect = Literal["sqlite", "postgresql"]

FILL_COLUMNS = tuple(Fill.model_fields)  # the id first: see _PG_INSERT_FILL
CANDLE_COLUMNS = tuple(Candle.model_fields)
_FILL_VALUES = ", ".join("?" * len(FILL_COLUMNS))
_STREAM_ROWS = 2000


class Cursor(Protocol):
    @property
    def rowcount(self) -> int: ...

    @property
    def description(self) -> Sequence[Sequence[Any]] | None: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class Conn(Protocol):
    """A database connection as the repository uses it, on the thread that owns it."""

    dialect: Dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def script(self, sql: str) -> None:
        """Run several statements (no parameters) in one transaction of their own."""

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        """Rows a few thousand at a time; inside a transaction (``begin_read``)."""

    def begin_write(self) -> None: ...

    def begin_read(self) -> None: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    def savepoint(self, name: str) -> None: ...

    def rollback_to(self, name: str) -> None: ...

    def release(self, name: str) -> None: ...

    @property
    def in_transaction(self) -> bool: ...

    def table_exists(self, name: str) -> bool: ...

    def insert_fill(self, row: Sequence[Any]) -> bool:
        """Store a fill unless its id is already stored; True if it was new."""

    def upsert_candles(self, rows: Sequence[Sequence[Any]]) -> None: ...

    def tables(self) -> list[str]:
        """The tables of the schema (not a partitioned table's partitions)."""

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows as they are, ids included (``opentrade db copy``)."""

    def after_copy(self, table: str) -> None:
        """Let the table's own ids continue after the copied ones."""

    def close(self) -> None: ...


INSERT_FILL = (
    f"INSERT INTO fills ({', '.join(FILL_COLUMNS)}) VALUES ({_FILL_VALUES}) ON CONFLICT (fill_id) DO NOTHING"
)
UPSERT_CANDLE = (
    f"INSERT INTO candles (venue, symbol, timeframe, {', '.join(CANDLE_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (len(CANDLE_COLUMNS) + 3))}) "
    "ON CONFLICT (venue, symbol, timeframe, ts) DO UPDATE SET "
    + ", ".join(f"{column} = excluded.{column}" for column in CANDLE_COLUMNS[1:])
)
CANDLE_TS = 3 + CANDLE_COLUMNS.index("ts")  # where ts stands in an UPSERT_CANDLE row
FILL_TS = FILL_COLUMNS.index("ts")  # and in an INSERT_FILL row


SYNCHRONOUS_MODES = ("FULL", "NORMAL")


def synchronous_mode(synchronous: str) -> str:
    """FULL: a commit returns once it is on disk (SQLite ``synchronous=FULL``, PostgreSQL
    ``synchronous_commit=on``). NORMAL: the last commits before a power loss (SQLite) or a
    server crash (PostgreSQL, ``synchronous_commit=off``) may be lost, never corrupted."""
    mode = synchronous.upper()
    if mode not in SYNCHRONOUS_MODES:
        raise StorageError(f"synchronous must be one of {', '.join(SYNCHRONOUS_MODES)}, not {synchronous!r}")
    return mode


def dict_rows(cursor: Cursor) -> list[dict[str, Any]]:
    """Rows as dicts keyed by column name (the connections give plain tuples: cheaper on long loads)."""
    names = [column[0] for column in cursor.description or ()]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


class _Base:
    """What both dialects do alike: transactions and savepoints are plain SQL."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        raise NotImplementedError

    def commit(self) -> None:
        self.execute("COMMIT")

    def rollback(self) -> None:
        self.execute("ROLLBACK")

    def savepoint(self, name: str) -> None:
        self.execute(f"SAVEPOINT {name}")

    def rollback_to(self, name: str) -> None:
        self.execute(f"ROLLBACK TO {name}")

    def release(self, name: str) -> None:
        self.execute(f"RELEASE {name}")


class SqliteConn(_Base):
    dialect: Dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self.raw = raw
        self.execute = raw.execute  # type: ignore[method-assign, assignment]  # the order path: no wrapper call

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(sql, rows)

    def script(self, sql: str) -> None:
        # executescript commits whatever is open first and runs statements as written, so the
        # transaction is part of the script: either all of it lands or none.
        try:
            self.raw.executescript(f"BEGIN IMMEDIATE;\n{sql}\n;\nCOMMIT;\n")
        except sqlite3.Error:
            if self.raw.in_transaction:
                self.raw.execute("ROLLBACK")
            raise

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        return iter(self.raw.execute(sql, params))

    def begin_write(self) -> None:
        self.raw.execute("BEGIN IMMEDIATE")

    def begin_read(self) -> None:
        self.raw.execute("BEGIN")

    @property
    def in_transaction(self) -> bool:
        return self.raw.in_transaction

    def table_exists(self, name: str) -> bool:
        return self.raw.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone() is not None

    def insert_fill(self, row: Sequence[Any]) -> bool:
        return bool(self.raw.execute(INSERT_FILL, row).rowcount == 1)

    def upsert_candles(self, rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(UPSERT_CANDLE, rows)

    def tables(self) -> list[str]:
        return [str(row[0]) for row in self.raw.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )]

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.raw.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})", rows)

    def after_copy(self, table: str) -> None:
        """SQLite gives a new row the largest id so far plus one: nothing to do."""

    def close(self) -> None:
        self.raw.close()


@lru_cache(maxsize=512)
def pg_sql(sql: str) -> str:
    """The statement with psycopg's placeholders (the repository's SQL holds no ``?`` in literals)."""
    return sql.replace("%", "%%").replace("?", "%s")


# A fill claims its id in fill_ids first; the fill row goes in only if the claim did. The
# parameters are the fill's row as for INSERT_FILL: its id (the first) goes to the claim.
_PG_INSERT_FILL = pg_sql(
    "WITH claimed AS (INSERT INTO fill_ids (fill_id) VALUES (?) ON CONFLICT DO NOTHING RETURNING fill_id) "
    f"INSERT INTO fills ({', '.join(FILL_COLUMNS)}) "
    f"SELECT claimed.fill_id, {', '.join('?' * (len(FILL_COLUMNS) - 1))} FROM claimed"
)
PARTITIONED = ("candles", "fills")
_cursor_names = count(1)


def month_bounds(ts: int) -> tuple[str, int, int]:
    """The partition holding ``ts`` (milliseconds UTC): its name suffix and [start, end) in ms."""
    moment = datetime.fromtimestamp(ts / 1000, UTC)
    start = datetime(moment.year, moment.month, 1, tzinfo=UTC)
    end = datetime(moment.year + (moment.month == 12), moment.month % 12 + 1, 1, tzinfo=UTC)
    return f"{start:%Y_%m}", int(start.timestamp() * 1000), int(end.timestamp() * 1000)


class PostgresConn(_Base):
    """A psycopg connection in autocommit mode: the transactions are the repository's own."""

    dialect: Dialect = "postgresql"

    def __init__(self, raw: Any) -> None:
        self.raw = raw
        # Partitions known to exist, per partitioned table; None for a table that is not
        # partitioned (a TimescaleDB hypertable). Forgotten at every rollback: a partition
        # created in a transaction rolled back does not exist.
        self._partitions: dict[str, set[str] | None] = {}

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        cursor: Cursor = self.raw.execute(pg_sql(sql), params)
        return cursor

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self.raw.cursor() as cursor:
            cursor.executemany(pg_sql(sql), rows)

    def script(self, sql: str) -> None:
        try:
            self.raw.execute("BEGIN")
            self.raw.execute(sql)  # no parameters: the simple protocol runs every statement
            self.raw.execute("COMMIT")
        except BaseException:
            self.rollback()
            raise

    def stream(self, sql: str, params: Sequence[Any] = ()) -> Iterator[tuple[Any, ...]]:
        cursor = self.raw.cursor(name=f"opentrade_stream_{next(_cursor_names)}")
        cursor.itersize = _STREAM_ROWS
        cursor.execute(pg_sql(sql), params)
        return iter(cursor)

    def begin_write(self) -> None:
        self.raw.execute("BEGIN; LOCK TABLE audit_head IN EXCLUSIVE MODE")

    def begin_read(self) -> None:
        self.raw.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")

    def rollback(self) -> None:
        self._partitions.clear()
        if self.in_transaction:
            self.raw.execute("ROLLBACK")

    def rollback_to(self, name: str) -> None:
        self._partitions.clear()
        super().rollback_to(name)

    @property
    def in_transaction(self) -> bool:
        # psycopg.pq.TransactionStatus: ACTIVE, INTRANS, INERROR; not IDLE, nor UNKNOWN (connection lost)
        return int(self.raw.info.transaction_status) in (1, 2, 3)

    def table_exists(self, name: str) -> bool:
        return self.execute(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = current_schema() AND table_name = ?",
            (name,),
        ).fetchone() is not None

    def insert_fill(self, row: Sequence[Any]) -> bool:
        self.ensure_partitions("fills", (row[FILL_TS],))
        return bool(self.raw.execute(_PG_INSERT_FILL, row).rowcount == 1)

    def upsert_candles(self, rows: Sequence[Sequence[Any]]) -> None:
        self.ensure_partitions("candles", (row[CANDLE_TS] for row in rows))
        self.executemany(UPSERT_CANDLE, rows)

    def tables(self) -> list[str]:
        return [str(row[0]) for row in self.execute(
            "SELECT relname FROM pg_class WHERE relnamespace = current_schema()::regnamespace "
            "AND relkind IN ('r', 'p') AND NOT relispartition ORDER BY relname"
        )]

    def copy_rows(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """With COPY, the partitions the rows need made first, and a fill's id claimed."""
        if table in PARTITIONED:
            self.ensure_partitions(table, (row[columns.index("ts")] for row in rows))
        if table == "fills":
            self.copy_rows("fill_ids", ["fill_id"], [(row[columns.index("fill_id")],) for row in rows])
        with self.raw.cursor() as cursor, cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)

    def after_copy(self, table: str) -> None:
        """Move each serial column's sequence past the largest copied id."""
        serial = self.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = ? AND column_default LIKE 'nextval(%'", (table,)
        ).fetchall()
        for (column,) in serial:
            self.execute(
                f"SELECT setval(pg_get_serial_sequence(?, ?), COALESCE(MAX({column}), 0) + 1, false) FROM {table}",
                (table, column),
            )

    def ensure_partitions(self, table: str, timestamps: Iterable[int]) -> None:
        """Create the month partitions of ``table`` that rows at ``timestamps`` need."""
        known = self._known(table)
        if known is None:
            return
        for suffix, start, end in {month_bounds(ts) for ts in timestamps}:
            name = f"{table}_{suffix}"
            if name not in known:
                self.raw.execute(
                    f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF {table} FOR VALUES FROM ({start}) TO ({end})"
                )
                known.add(name)

    def _known(self, table: str) -> set[str] | None:
        if table not in self._partitions:
            partitioned = self.execute(
                "SELECT 1 FROM pg_partitioned_table WHERE partrelid = to_regclass(?)", (table,)
            ).fetchone()
            self._partitions[table] = {
                str(row[0]) for row in self.execute(
                    "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(?)", (table,)
                )
            } if partitioned else None
        return self._partitions[table]

    def close(self) -> None:
        self.raw.close()
