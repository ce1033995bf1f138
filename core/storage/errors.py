"""Errors the storage layer raises, each with a message a person can act on."""

from __future__ import annotations

import sqlite3
from pathlib import Path

FILE_RECOVERY = (
    "stop OpenTrade, move the file aside (keep it for investigation) and restore the last copy made by "
    "`opentrade backup` (README, \"Backup and restore\")"
)
SERVER_RECOVERY = (
    "stop OpenTrade and restore the last dump made by `opentrade backup` (pg_restore into a new database) or "
    "use the server's point-in-time recovery (README, \"PostgreSQL\")"
)


class StorageError(Exception):
    """Something about the database file or a write stopped storage from doing its job."""


class DuplicateOrderError(StorageError):
    """A new order reused a client order id the database already holds."""


class SchemaTooNewError(StorageError):
    """The file was written by a newer OpenTrade; older code must not guess at its layout."""


class DamagedDatabaseError(StorageError):
    """The file failed the start-up check: trading on it would build on records that lie."""

    @classmethod
    def of(
        cls, where: Path | str, problem: str, anchor: str | None = None, recovery: str = FILE_RECOVERY
    ) -> DamagedDatabaseError:
        """The message: what is wrong, then how to recover. ``anchor`` names the anchor file
        when the problem is a disagreement with it, which a deliberate restore also causes."""
        message = (
            f"the database {where} is damaged: {problem}.\n"
            f"OpenTrade will not trade on it. To recover: {recovery}; `opentrade audit verify` tells whether "
            "the audit log is whole and names its first damaged entry."
        )
        if anchor is not None:
            message += (
                f"\nIf you restored a backup on purpose, copy the backup's .audit-anchor file over {anchor}; "
                f"if you meant to start a new database, delete {anchor} as well."
            )
        return cls(message)


# SQLite's primary result codes for a failure of the file or the disk rather than of the SQL.
_MEDIUM_FAULTS = frozenset({
    sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR, sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL, sqlite3.SQLITE_NOTADB,
})


# PostgreSQL's SQLSTATE classes for a failure of the server, its disk or the connection:
# 08 connection, 53 insufficient resources (disk full, out of memory), 57 operator intervention
# (shutdown, cancel), 58 system error (I/O), XX internal error (corrupted data or index).
_SERVER_FAULT_CLASSES = frozenset({"08", "53", "57", "58", "XX"})


def is_driver_error(error: BaseException) -> bool:
    """An error of one of the database drivers (sqlite3 or psycopg), as opposed to ours."""
    return isinstance(error, sqlite3.Error) or type(error).__module__.startswith("psycopg")


def is_storage_fault(error: BaseException) -> bool:
    """True when a write failed because of the database, its disk or the connection to it
    (full, I/O error, corrupt, read-only, locked too long, server gone): every later write may
    fail the same way. False when it failed because of what was written (a duplicate id, a
    constraint), which is its caller's business alone. An operational error without a code
    (raised by a fault point, or a connection lost) counts as one."""
    if type(error).__module__.startswith("psycopg"):
        state = getattr(error, "sqlstate", None)
        return state[:2] in _SERVER_FAULT_CLASSES if state else type(error).__name__ == "OperationalError"
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return isinstance(error, sqlite3.OperationalError)
    return code & 0xFF in _MEDIUM_FAULTS


def is_damage(error: BaseException | None) -> bool:
    """True for SQLite's verdict that the file itself is damaged (corrupt, or not a database at
    all), as opposed to one it cannot open or write (permissions, a lock, a full disk)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return type(error) is sqlite3.DatabaseError
    return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
