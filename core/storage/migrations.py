"""Schema versions: numbered SQL files applied in order, each inside its own transaction.

One list of versions, two forms of each: ``schema/NNNN_name.sql`` for SQLite and
``schema/postgresql/NNNN_name.sql`` for PostgreSQL, with the same number and name. The number
is the version. ``schema_migrations`` records what has been applied so that re-opening a
database applies only what is new, and a database from a newer release is refused instead of
being misread. A migration must give both forms (``bundled_migrations`` refuses a version that
lacks its PostgreSQL form), and the two must leave the same tables, columns and meaning: the
repository's SQL runs unchanged on both.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable

from core.storage.dialect import Conn, Dialect
from core.storage.errors import SchemaTooNewError, StorageError, is_driver_error

log = logging.getLogger(__name__)

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_FOLDERS: dict[Dialect, str] = {"sqlite": "core.storage.schema", "postgresql": "core.storage.schema.postgresql"}
# Serialises migrations of one PostgreSQL database run by several programs at once.
_PG_MIGRATION_LOCK = "hashtextextended('opentrade migrations ' || current_schema(), 0)"


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def _read(folder: Traversable) -> list[Migration]:
    found = []
    for entry in folder.iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match.group(1)), match.group(2), entry.read_text("utf-8")))
    return sorted(found, key=lambda migration: migration.version)


def bundled_migrations(dialect: Dialect = "sqlite") -> list[Migration]:
    """The migrations shipped with this code for ``dialect``, in version order, checked for gaps
    and, for PostgreSQL, against the SQLite list (the same versions and names)."""
    found = _read(resources.files(_FOLDERS[dialect]))
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise StorageError(
                f"schema migrations must be numbered 1, 2, ...: expected {expected}, found {migration.version}"
            )
    if dialect == "postgresql":
        wanted = [(m.version, m.name) for m in _read(resources.files(_FOLDERS["sqlite"]))]
        missing = [f"{v:04d}_{n}.sql" for v, n in wanted if (v, n) not in {(m.version, m.name) for m in found}]
        if missing:
            raise StorageError(
                f"schema migration {', '.join(missing)} has no PostgreSQL form (core/storage/schema/postgresql/)"
            )
    return found


def current_version(conn: Conn) -> int:
    if not conn.table_exists("schema_migrations"):
        return 0
    row = conn.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    return int(row[0] or 0)


def pending(conn: Conn, migrations: list[Migration]) -> list[Migration]:
    """The migrations not applied yet; SchemaTooNewError for a database from a newer release."""
    version = current_version(conn)
    latest = migrations[-1].version if migrations else 0
    if version > latest:
        raise SchemaTooNewError(
            f"this database has schema version {version} but this OpenTrade understands versions "
            f"up to {latest}: upgrade OpenTrade, or point it at another database"
        )
    return migrations[version:]


def migrate(conn: Conn, migrations: list[Migration], ts: int) -> int:
    """Bring the database up to the last of ``migrations``; returns the resulting version.

    Runs on the connection's thread with autocommit on, so each migration's own transaction is
    the only one.
    """
    with _exclusive(conn):
        bigint = "BIGINT" if conn.dialect == "postgresql" else "INTEGER"
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            f" version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_ts {bigint} NOT NULL)"
        )
        for migration in pending(conn, migrations):
            _apply(conn, migration, ts)
            log.info("applied schema migration %04d_%s", migration.version, migration.name)
        return current_version(conn)


@contextmanager
def _exclusive(conn: Conn) -> Iterator[None]:
    """On PostgreSQL, one program migrates at a time (SQLite's BEGIN IMMEDIATE does the same
    for each migration there)."""
    if conn.dialect != "postgresql":
        yield
        return
    conn.execute(f"SELECT pg_advisory_lock({_PG_MIGRATION_LOCK})")
    try:
        yield
    finally:
        conn.execute(f"SELECT pg_advisory_unlock({_PG_MIGRATION_LOCK})")


def _apply(conn: Conn, migration: Migration, ts: int) -> None:
    # The migration and its bookkeeping row in one transaction: either both land or neither does.
    script = (
        f"{migration.sql}\n;\n"
        "INSERT INTO schema_migrations (version, name, applied_ts) "
        f"VALUES ({migration.version}, '{migration.name}', {int(ts)});\n"
    )
    try:
        conn.script(script)
    except Exception as exc:
        if not is_driver_error(exc):
            raise
        raise StorageError(f"schema migration {migration.version:04d}_{migration.name} failed: {exc}") from exc
