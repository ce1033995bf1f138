"""Schema versions: numbered SQL files applied in order, each inside its own transaction.

The files live in ``schema/NNNN_name.sql``; the number is the version. ``schema_migrations``
records what has been applied so that re-opening a database applies only what is new, and a
database from a newer release is refused instead of being misread.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from dataclasses import dataclass
from importlib import resources

from core.storage.errors import SchemaTooNewError, StorageError

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def bundled_migrations() -> list[Migration]:
    """The migrations shipped with this code, in version order, checked for gaps."""
    found: list[Migration] = []
    for entry in resources.files("core.storage.schema").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    found.sort(key=lambda migration: migration.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(
                f"schema migrations must be numbered 1, 2, ...: expected {expected}, found {migration.version}"
            )
    return found


def current_version(conn: sqlite3.Connection) -> int:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if not exists:
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def migrate(conn: sqlite3.Connection, migrations: list[Migration], ts: int) -> int:
    """Bring the database up to the last of ``migrations``; returns the resulting version.

    Runs in the connection's thread with autocommit mode (isolation_level None), so the
    BEGIN/COMMIT written here are the only transaction boundaries.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations ("
        " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ts INTEGER NOT NULL)"
    )
    version = current_version(conn)
    latest = migrations[-1].version if migrations else 0
    if version > latest:
        raise SchemaTooNewError(
            f"this database has schema version {version} but this OpenTrade understands versions "
            f"up to {latest}: upgrade OpenTrade, or point it at another database file"
        )
    for migration in migrations[version:]:
        _apply(conn, migration, ts)
        log.info("applied schema migration %04d_%s", migration.version, migration.name)
    return max(version, latest)


def _apply(conn: sqlite3.Connection, migration: Migration, ts: int) -> None:
    # executescript runs the statements as written, so the migration and its bookkeeping row
    # are wrapped in one explicit transaction: either both land or neither does.
    script = (
        "BEGIN IMMEDIATE;\n"
        f"{migration.sql}\n;\n"
        "INSERT INTO schema_migrations (version, name, applied_ts) "
        f"VALUES ({migration.version}, '{migration.name}', {int(ts)});\n"
        "COMMIT;\n"
    )
    try:
        conn.executescript(script)
    except sqlite3.Error as exc:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise StorageError(f"schema migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
