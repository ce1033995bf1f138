"""Schema versions: applied once, in order, atomically; newer files are refused."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from core.clock import SimClock
from core.storage import Database, SchemaTooNewError, StorageError
from core.storage.migrations import Migration, bundled_migrations, current_version, migrate


async def test_fresh_database_gets_every_migration(db_path: Path, clock: SimClock) -> None:
    db = await Database.open(db_path, clock=clock)
    latest = bundled_migrations()[-1].version
    assert db.schema_version == latest
    await db.close()
    raw = sqlite3.connect(db_path)
    rows = raw.execute("SELECT version, applied_ts FROM schema_migrations ORDER BY version").fetchall()
    assert rows == [(v, clock.now_ms()) for v in range(1, latest + 1)]
    assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    raw.close()


async def test_reopen_applies_nothing_again(db_path: Path) -> None:
    await (await Database.open(db_path)).close()
    db = await Database.open(db_path)
    assert db.schema_version == bundled_migrations()[-1].version
    await db.close()
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == db.schema_version
    raw.close()


async def test_newer_database_is_refused_with_a_clear_message(db_path: Path) -> None:
    await (await Database.open(db_path)).close()
    raw = sqlite3.connect(db_path)
    raw.execute("INSERT INTO schema_migrations VALUES (99, 'from_the_future', 0)")
    raw.commit()
    raw.close()
    with pytest.raises(SchemaTooNewError, match="schema version 99 .* understands versions up to"):
        await Database.open(db_path)


def test_failed_migration_leaves_no_trace() -> None:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    good = Migration(1, "good", "CREATE TABLE a (x INTEGER);")
    bad = Migration(2, "bad", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);")
    with pytest.raises(StorageError, match="0002_bad failed: no such table: nowhere"):
        migrate(conn, [good, bad], ts=0)
    assert current_version(conn) == 1
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "a" in tables and "b" not in tables
    assert migrate(conn, [good], ts=0) == 1


async def test_bad_options_and_paths_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(StorageError, match="synchronous must be one of FULL, NORMAL"):
        await Database.open(tmp_path / "x.db", synchronous="OFF")
    with pytest.raises(StorageError, match="the directory .*dir does not exist"):
        await Database.open(tmp_path / "no" / "such" / "dir" / "x.db")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(StorageError, match="junk.db is damaged: file is not a database"):
        await Database.open(junk)


async def test_upgrade_records_the_head_of_an_existing_log(db_path: Path) -> None:
    db = await Database.open(db_path)
    for n in range(3):
        await db.audit("note", {"n": n})
    await db.close()
    raw = sqlite3.connect(db_path)
    raw.execute("DROP TABLE audit_head")  # back to a version 2 database: migrations 3 and later undone
    raw.execute("DROP TABLE protective_levels")
    raw.execute("DELETE FROM schema_migrations WHERE version >= 3")
    raw.commit()
    raw.close()
    upgraded = await Database.open(db_path)
    raw = sqlite3.connect(db_path)
    assert raw.execute("SELECT seq FROM audit_head").fetchone() == (3,)
    raw.close()
    assert (await upgraded.verify_audit()).ok
    await upgraded.audit("note", {"n": 3})
    result = await upgraded.verify_audit()
    assert result.ok and result.checked == 4
    await upgraded.close()
