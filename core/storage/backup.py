"""Online copies of the database with SQLite's backup API, checked before they are kept.

Copying ``opentrade.sqlite`` with ``cp`` while the engine runs catches pages from different
moments, and misses whatever is still in the write-ahead log. SQLite's backup API copies the
database as one read transaction sees it: a consistent moment, while the engine keeps writing.
The copy is then checked as a start-up would check it (quick_check) and its whole audit chain
verified, against the home's anchor read before the copy began (the anchor only moves forward,
so the copy must hold the anchored entry). Only then is it renamed into place, readable by its
owner alone, with its own anchor beside it (``<copy>.audit-anchor``), which is what the home's
anchor must be replaced with when the copy is restored.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from core.storage.anchor import BACKUP_ANCHOR_SUFFIX, Anchor, write_anchor
from core.storage.audit import verify_connection
from core.storage.checks import page_problems
from core.storage.dialect import SqliteConn
from core.storage.errors import StorageError


@dataclass(frozen=True, slots=True)
class BackupReport:
    path: Path
    anchor: Path | None
    head: tuple[int, str] | None
    entries: int
    size: int


def copy_database(conn: sqlite3.Connection, target: Path) -> None:
    """Copy ``conn``'s database into the new file ``target`` (mode 0600) in one step, left in
    rollback-journal mode so that the copy is one self-contained file."""
    os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    copy = sqlite3.connect(target, isolation_level=None)
    try:
        conn.backup(copy)
        copy.execute("PRAGMA journal_mode = DELETE")
    finally:
        copy.close()


def backup_database(source: Path, target: Path, anchor: Anchor | None = None) -> BackupReport:
    """Copy ``source`` to ``target`` (which must not exist) while it may be in use, verify the
    copy, and write its anchor. Raises StorageError, keeping nothing, when it cannot."""
    if target.exists():
        raise StorageError(f"{target} already exists: choose another name, or move the old copy away first")
    if not target.parent.is_dir():
        raise StorageError(f"cannot write {target}: the directory {target.parent} does not exist")
    if not source.is_file():
        raise StorageError(f"{source}: no such database file")
    partial = target.with_name(f".{target.name}.partial")
    partial.unlink(missing_ok=True)
    try:
        _copy(source, partial)
        head, entries = _verify(partial, source, anchor)
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    anchor_path = None
    if head is not None:
        anchor_path = target.with_name(target.name + BACKUP_ANCHOR_SUFFIX)
        write_anchor(anchor_path, *head)
    return BackupReport(target, anchor_path, head, entries, target.stat().st_size)


def _copy(source: Path, partial: Path) -> None:
    try:
        conn = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {source}: {exc}") from None
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        copy_database(conn, partial)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(f"cannot copy {source}: {exc}") from None
    finally:
        conn.close()


def _verify(copy: Path, source: Path, anchor: Anchor | None) -> tuple[tuple[int, str] | None, int]:
    """(the copy's audit head, entries verified); StorageError if the copy does not hold up."""
    conn = sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True, isolation_level=None)
    try:
        problem = page_problems(conn)
        if problem is not None:
            raise StorageError(f"the copy of {source} is damaged, so {source} itself is: {problem}; no copy was kept")
        try:
            verification = verify_connection(SqliteConn(conn), anchor)
        except sqlite3.Error as exc:
            raise StorageError(
                f"the copy of {source} cannot be verified ({exc}): is it an OpenTrade database?"
            ) from None
        if not verification.ok:
            raise StorageError(
                f"the audit log of {source} is broken at entry {verification.first_broken}: "
                f"{verification.message}; no copy was kept"
            )
        last = conn.execute("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    return (int(last[0]), str(last[1])) if last else None, verification.checked
