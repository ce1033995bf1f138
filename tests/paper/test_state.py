"""The paper venue's own file: saves made on the event loop never checkpoint it there."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

from core.storage.checkpoint import BACKSTOP_PAGES
from exchanges.paper.state import VenueState

BLOB = "x" * 40_000  # ten pages of log a save: past SQLite's usual checkpoint (1,000 pages) well before the end


def test_saves_on_the_loop_leave_the_checkpoint_to_another_thread_and_keep_everything(tmp_path: Path) -> None:
    """SQLite's own checkpoint ran inside the save that crossed 1,000 pages of log, on the event
    loop: two fsyncs, 2-15 ms during which no order moved, about once every 200 saves. It is now
    only a backstop, and the repository's checkpointer moves the log into the file."""
    path = tmp_path / "paper.sqlite"
    state = VenueState(path)
    assert state._db.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == BACKSTOP_PAGES
    for n in range(300):
        state.save(meta={"blob": f"{BLOB}{n}"})
    state._checkpointer.wait_idle()
    alone = tmp_path / "file-alone.sqlite"
    shutil.copyfile(path, alone)  # without its log: what the checkpoints moved
    copy = sqlite3.connect(alone)
    assert json.loads(copy.execute("SELECT value FROM meta WHERE key = 'blob'").fetchone()[0]) == f"{BLOB}299"
    copy.close()
    state.close()
    reopened = VenueState(path)
    assert reopened.meta("blob") == f"{BLOB}299"
    reopened.close()
