"""`opentrade db copy`: a home's whole history from one database into another, checked.

Every table of the schema (orders and their events, fills, the audit log and its head,
strategy versions, risk parameters, positions, balances, candles, settings) is copied row for
row, ids included, from one read snapshot of the source into a single transaction on the
target. The audit chain is copied, not rebuilt: its entries, hashes and head are the same on
the target, so the home's audit anchor stays valid. Before that transaction commits, the whole
chain is verified on the target, its head compared with the source's, and every table's rows
counted on both sides: a copy that does not hold up is not kept.

A target that already holds history is refused; a copy that fails leaves the target as empty
as it found it (its one transaction is rolled back), so running the command again is safe.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from core.storage.audit import AuditVerification, recorded_head, verify_in_transaction
from core.storage.dialect import Conn
from core.storage.errors import StorageError
from core.storage.link import Link
from core.storage.migrations import bundled_migrations, current_version, migrate

# Not copied: the migrations' bookkeeping (the target keeps its own) and fill_ids, which the
# PostgreSQL target fills as the fills arrive.
_SKIPPED = {"schema_migrations", "fill_ids"}
# Tables that others reference by foreign key go first.
COPY_FIRST = ("orders", "balance_snapshots")
# Tables whose rows are listed in insertion order (SQLite's rowid, a column on PostgreSQL).
_ROWID_TABLES = ("orders", "fills")
CHUNK = 5000


@dataclass
class CopyReport:
    rows: dict[str, int] = field(default_factory=dict)
    head: tuple[int, str] | None = None
    verification: AuditVerification | None = None


def _order(tables: list[str]) -> list[str]:
    wanted = [t for t in tables if t not in _SKIPPED]
    first = [t for t in COPY_FIRST if t in wanted]
    return first + sorted(t for t in wanted if t not in first)


def _columns(conn: Conn, table: str) -> list[str]:
    cursor = conn.execute(f"SELECT * FROM {table} LIMIT 0")
    columns = [str(column[0]) for column in cursor.description or ()]
    if table in _ROWID_TABLES and "rowid" not in columns:
        columns.insert(0, "rowid")  # SQLite's, which SELECT * leaves out
    return columns


def _count(conn: Conn, table: str) -> int:
    return int(conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


def _source_state(conn: Conn) -> tuple[int, list[str]]:
    return current_version(conn), _order(conn.tables())


def _target_rows(conn: Conn, tables: list[str]) -> dict[str, int]:
    return {table: _count(conn, table) for table in tables if conn.table_exists(table)}


def _begin_copy(conn: Conn) -> None:
    conn.begin_write()


def _open_stream(conn: Conn, table: str, columns: list[str]) -> Iterator[tuple[Any, ...]]:
    return conn.stream(f"SELECT {', '.join(columns)} FROM {table}")


def _next_chunk(conn: Conn, rows: Iterator[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    return list(islice(rows, CHUNK))


def _finish_table(conn: Conn, table: str) -> None:
    conn.after_copy(table)


def _end_read(conn: Conn) -> tuple[int, str] | None:
    head = recorded_head(conn)
    conn.rollback()
    return head


async def copy_database(
    source: Link, target: Link, ts: int, progress: Callable[[str, int], None] | None = None
) -> CopyReport:
    """Copy everything ``source`` holds into ``target`` (migrated first, and refused unless
    empty); the links stay open (the caller closes them)."""
    latest = bundled_migrations(target.dialect)[-1].version
    await source.run(lambda conn: conn.begin_read())
    try:
        version, tables = await source.run(_source_state)
        if version != latest:
            raise StorageError(
                f"the source has schema version {version} and this OpenTrade writes version {latest}: "
                "open the source with this OpenTrade first (`opentrade db migrate`), then copy it"
            )
        await target.run(migrate, bundled_migrations(target.dialect), ts)
        held = {table: rows for table, rows in (await target.run(_target_rows, tables)).items() if rows}
        if held:
            listed = ", ".join(f"{rows:,} rows in {table}" for table, rows in sorted(held.items()))
            raise StorageError(
                f"the target already holds history ({listed}): copy into an empty database "
                "(a new one, e.g. createdb), so that no audit chain is mixed with another"
            )
        report = CopyReport()
        await target.run(_begin_copy)
        try:
            for table in tables:
                report.rows[table] = await _copy_table(source, target, table, progress)
            report.head = await source.run(_end_read)
            await target.run(_check, report)
            await target.run(lambda conn: conn.commit())
        except BaseException:
            await target.run(lambda conn: conn.rollback())
            raise
    finally:
        await source.run(lambda conn: conn.rollback() if conn.in_transaction else None)
    return report


async def _copy_table(source: Link, target: Link, table: str, progress: Callable[[str, int], None] | None) -> int:
    columns = await source.run(_columns, table)
    rows = await source.run(_open_stream, table, columns)
    copied = 0
    while chunk := await source.run(_next_chunk, rows):
        await target.run(lambda conn, c=chunk: conn.copy_rows(table, columns, c))
        copied += len(chunk)
        if progress is not None:
            progress(table, copied)
    await target.run(_finish_table, table)
    return copied


def _check(conn: Conn, report: CopyReport) -> None:
    """In the copy's transaction: the whole chain verified on the target, its head the
    source's, every table as full as on the source."""
    head = recorded_head(conn)
    report.verification = verify_in_transaction(conn)
    if not report.verification.ok:
        raise StorageError(f"the copied audit log does not verify, nothing was kept: {report.verification.message}")
    if head != report.head:
        raise StorageError(f"the copied audit log ends at {head}, the source's at {report.head}; nothing was kept")
    counted = _target_rows(conn, list(report.rows))
    short = [f"{table} ({counted.get(table, 0)} of {rows})" for table, rows in report.rows.items()
             if counted.get(table, 0) != rows]
    if short:
        raise StorageError(f"the target does not hold every row copied ({', '.join(short)}); nothing was kept")
