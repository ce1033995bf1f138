"""The write-ahead log is checkpointed on a thread of its own, never by the connection that
commits; it stays short; and what was committed survives a kill whatever the checkpoint was
doing."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from core.storage import Database
from core.storage.checkpoint import BACKSTOP_PAGES, Checkpointer
from tests.storage.conftest import make_order

ROW = "x" * 40_000  # ten pages of log a commit


@pytest.fixture
def writer(db_path: Path) -> Iterator[sqlite3.Connection]:
    """A connection committing as the repository's writer does: WAL, synchronous=FULL, its own
    checkpoint only as a backstop."""
    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode = WAL")
    db.execute("PRAGMA synchronous = FULL")
    db.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
    db.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the table in the file itself
    yield db
    db.close()


def commit(db: sqlite3.Connection, n: int) -> None:
    db.execute("BEGIN IMMEDIATE")
    db.execute("INSERT OR REPLACE INTO t VALUES (?, ?)", (n, f"{ROW}{n}"))
    db.execute("COMMIT")


def wal_pages(path: Path) -> int:
    wal = path.with_name(path.name + "-wal")
    return wal.stat().st_size // 4096 if wal.exists() else 0


def rows_in_the_file_alone(path: Path, copy: Path) -> int:
    """The rows a copy of the database file holds without its log: what checkpoints moved."""
    shutil.copyfile(path, copy)
    db = sqlite3.connect(copy)
    try:
        return int(db.execute("SELECT COUNT(*) FROM t").fetchone()[0])
    finally:
        db.close()


def test_the_log_is_moved_into_the_file_by_the_checkpointers_thread(writer: sqlite3.Connection, db_path: Path,
                                                                     tmp_path: Path) -> None:
    """The writer never checkpoints (its own checkpoint waits for 10,000 pages): whatever the
    file alone holds, the checkpointer's thread put there."""
    threads: list[str] = []
    checkpointer = Checkpointer(db_path, interval=0)
    checkpointer._db.set_trace_callback(lambda sql: threads.append(threading.current_thread().name))
    try:
        for n in range(3):
            commit(writer, n)
        assert rows_in_the_file_alone(db_path, tmp_path / "before.sqlite") == 0, "the commits are in the log only"
        checkpointer.committed()
        checkpointer.wait_idle()
        assert rows_in_the_file_alone(db_path, tmp_path / "after.sqlite") == 3
    finally:
        checkpointer.close()
    assert threads and set(threads) == {f"checkpoint {db_path.name}"}
    assert checkpointer.checkpoints == 2 and checkpointer.restarts == 1, "the second found nothing new: the log starts again"


def test_the_log_stays_short_where_the_writers_own_checkpoint_would_let_it_grow(writer: sqlite3.Connection,
                                                                                db_path: Path) -> None:
    """1,000 commits of ten pages: the writer alone would let its log reach the backstop, 10,000
    pages; after a checkpoint that copied it whole it starts again from the beginning."""
    checkpointer = Checkpointer(db_path, interval=0)
    try:
        for n in range(1_000):
            commit(writer, n)
            checkpointer.committed()
            if n % 50 == 49:  # a pause in the commits, as between orders placed by hand
                checkpointer.wait_idle()
    finally:
        checkpointer.close()
    assert checkpointer.checkpoints > 0
    assert wal_pages(db_path) < 1_000, "the log's file never held more than about 100 commits"


def test_a_closed_checkpointer_leaves_the_rest_to_the_writer(writer: sqlite3.Connection, db_path: Path) -> None:
    checkpointer = Checkpointer(db_path)
    checkpointer.close()
    commit(writer, 1)
    checkpointer.committed()  # after the close: nothing starts
    checkpointer.close()
    assert checkpointer.checkpoints == 0
    assert writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone() == (0, 0, 0)


_KILLED_SCRIPT = """
import asyncio, os, signal, sys
from pathlib import Path
from core.storage import Database
from tests.storage.conftest import make_order

async def main():
    db = await Database.open(Path(sys.argv[1]))
    db._backend.checkpointer._interval = 0  # checkpointing without a pause: the kill lands in one
    for n in range(int(sys.argv[2])):
        await db.record_order(make_order(n), "created", new=True)
    os.kill(os.getpid(), signal.SIGKILL)

asyncio.run(main())
"""


async def test_every_commit_survives_a_kill_while_the_log_is_being_checkpointed(db_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    orders = 200
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _KILLED_SCRIPT, str(db_path), str(orders), cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)}, stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await process.communicate()
    assert process.returncode == -signal.SIGKILL, stderr.decode()
    db = await Database.open(db_path)  # the page checks (quick_check) run first
    try:
        stored = await db.load_orders()
        assert [o.client_order_id for o in stored] == [make_order(n).client_order_id for n in range(orders)]
        verification = await db.verify_audit()
        assert verification.ok and verification.checked == orders
    finally:
        await db.close()
