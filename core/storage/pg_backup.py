"""`opentrade backup` on PostgreSQL: pg_dump of one snapshot, verified, with its anchor.

The command's own transaction exports its snapshot (``pg_export_snapshot``), verifies the whole
audit chain in it (its head, and against the home's anchor), and ``pg_dump --snapshot`` dumps
that same snapshot: the dump holds exactly what was verified, while the engine keeps writing.
It is written with mode 600 under a temporary name, renamed into place once pg_dump succeeds,
and its anchor is written beside it (``PATH.audit-anchor``), as for a SQLite backup.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from core.storage.anchor import BACKUP_ANCHOR_SUFFIX, Anchor, write_anchor
from core.storage.audit import recorded_head, verify_in_transaction
from core.storage.backup import BackupReport
from core.storage.errors import StorageError
from core.storage.postgres import connect, public_url


def backup_postgres(url: str, password: str | None, target: Path, anchor: Anchor | None = None) -> BackupReport:
    """Dump the database at ``url`` to ``target`` (which must not exist); StorageError, keeping
    nothing, when it cannot."""
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        raise StorageError("pg_dump was not found: install PostgreSQL's client programs (Debian: postgresql-client)")
    if target.exists():
        raise StorageError(f"{target} already exists: choose another name, or move the old copy away first")
    if not target.parent.is_dir():
        raise StorageError(f"cannot write {target}: the directory {target.parent} does not exist")
    where = public_url(url)
    conn = connect(url, password, "FULL", "backup")
    partial = target.with_name(f".{target.name}.partial")
    try:
        conn.begin_read()
        snapshot = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]
        verification = verify_in_transaction(conn, anchor)
        if not verification.ok:
            raise StorageError(f"the audit log of {where} is broken at entry {verification.first_broken}: "
                               f"{verification.message}; no copy was kept")
        head = recorded_head(conn)
        partial.unlink(missing_ok=True)
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        env = {**os.environ, "PGPASSWORD": password} if password else None
        done = subprocess.run(
            [pg_dump, "--format=custom", f"--snapshot={snapshot}", "--file", str(partial), "--dbname", url],
            capture_output=True, text=True, env=env, check=False,
        )
        if done.returncode != 0:
            first = (done.stderr.strip().splitlines() or ["no message"])[0]
            raise StorageError(f"pg_dump of {where} failed: {first}; no copy was kept")
        os.replace(partial, target)
    finally:
        partial.unlink(missing_ok=True)
        conn.close()
    anchor_path = None
    if head is not None:
        anchor_path = target.with_name(target.name + BACKUP_ANCHOR_SUFFIX)
        write_anchor(anchor_path, *head)
    return BackupReport(target, anchor_path, head, verification.checked, target.stat().st_size)
