"""The audit log read from outside the engine: verified or exported, read-only.

``opentrade audit verify|export`` use these on whatever database the home is configured with
(a read-only connection from ``StorageTarget.reader``), tests and tools on a SQLite file.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Literal, TextIO

from core.storage.anchor import Anchor
from core.storage.audit import AuditVerification, export_connection, verify_connection
from core.storage.dialect import Conn
from core.storage.errors import StorageError
from core.storage.link import Link
from core.storage.sqlite import sqlite_link


def has_audit_log(conn: Conn) -> bool:
    return conn.table_exists("audit_log")


async def open_audit_reader(path: Path) -> Link:
    """A read-only connection to an existing SQLite database with an audit log."""
    if not Path(path).is_file():
        raise StorageError(f"{path}: no such database file")
    link = await sqlite_link(Path(path), readonly=True)
    if not await link.run(has_audit_log):
        await link.close()
        raise StorageError(f"{path} has no audit log: is it an OpenTrade database?")
    return link


async def verify_audit_file(source: Path | Link, anchor: Anchor | None = None) -> AuditVerification:
    """Verify a database's audit chain, read-only: no migration, no change to it; with
    ``anchor``, also that the chain still holds that entry with that hash. ``source`` is a
    SQLite file, or a read-only connection (``StorageTarget.reader``), which is closed after."""
    link = await open_audit_reader(source) if isinstance(source, Path) else source
    try:
        return await link.run(verify_connection, anchor)
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{source} cannot be read, the database is damaged: {exc}") from exc
    finally:
        await link.close()


async def export_audit(
    source: Path | Link, since_ms: int | None, fmt: Literal["jsonl", "csv"], out: Path | TextIO
) -> int:
    """Write the audit entries (from ``since_ms`` on, inclusive) as JSON lines or CSV.

    Returns how many entries were written. Runs on the connection's thread so a long export
    never stalls the event loop. ``source`` as for ``verify_audit_file``.
    """
    if fmt not in ("jsonl", "csv"):
        raise StorageError(f"export format must be 'jsonl' or 'csv', not {fmt!r}")
    link = await open_audit_reader(source) if isinstance(source, Path) else source
    try:
        if isinstance(out, Path):
            with out.open("w", encoding="utf-8", newline="") as stream:
                return await link.run(export_connection, since_ms, fmt, stream)
        return await link.run(export_connection, since_ms, fmt, out)
    finally:
        await link.close()
