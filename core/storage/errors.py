"""Errors the storage layer raises, each with a message a person can act on."""

from __future__ import annotations

import sqlite3
from pathlib import Path


class StorageError(Exception):
    """Something about the database file or a write stopped storage from doing its job."""


class DuplicateOrderError(StorageError):
    """A new order reused a client order id the database already holds."""


class SchemaTooNewError(StorageError):
    """The file was written by a newer OpenTrade; older code must not guess at its layout."""


class DamagedDatabaseError(StorageError):
    """The file failed the start-up check: trading on it would build on records that lie."""

    @classmethod
    def of(cls, path: Path, problem: str, anchor: str | None = None) -> DamagedDatabaseError:
        """The message: what is wrong, then how to recover. ``anchor`` names the anchor file
        when the problem is a disagreement with it, which a deliberate restore also causes."""
        message = (
            f"the database {path} is damaged: {problem}.\n"
            "OpenTrade will not trade on it. To recover: stop OpenTrade, move the file aside (keep it for "
            "investigation) and restore the last copy made by `opentrade backup` (README, \"Backup and "
            "restore\"); `opentrade audit verify` tells whether the audit log is whole and names its first "
            "damaged entry."
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


def is_storage_fault(error: BaseException) -> bool:
    """True when a write failed because of the database file or its disk (full, I/O error,
    corrupt, read-only, locked too long): every later write may fail the same way. False when
    it failed because of what was written (a duplicate id, a constraint), which is its caller's
    business alone. An operational error without a code (raised by a fault point) counts as one."""
    if not isinstance(error, sqlite3.Error):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return isinstance(error, sqlite3.OperationalError)
    return code & 0xFF in _MEDIUM_FAULTS


def is_damage(error: BaseException) -> bool:
    """True for SQLite's verdict that the file itself is damaged (corrupt, or not a database at
    all), as opposed to one it cannot open or write (permissions, a lock, a full disk)."""
    if not isinstance(error, sqlite3.DatabaseError):
        return False
    code = getattr(error, "sqlite_errorcode", None)
    if code is None:
        return type(error) is sqlite3.DatabaseError
    return code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
