"""The paper venue's own file: saves made on the event loop never checkpoint it there."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from exchanges.paper.state import CHECKPOINT_EVERY, VenueState

BLOB = "x" * 40_000  # ten pages of log a save: past SQLite's own checkpoint (1,000 pages) well before the count


async def test_saves_on_the_loop_leave_the_checkpoint_to_another_thread_and_keep_everything(tmp_path: Path) -> None:
    """SQLite's own checkpoint ran inside the save that crossed 1,000 pages of log, on the event
    loop: two fsyncs, 2-15 ms during which no order moved, about once every 200 saves."""
    path = tmp_path / "paper.sqlite"
    state = VenueState(path)
    empty = path.stat().st_size
    for n in range(CHECKPOINT_EVERY - 1):
        state.save(meta={"blob": f"{BLOB}{n}"})
    assert path.stat().st_size == empty, "no checkpoint inside a save on the loop"
    state.save(meta={"blob": f"{BLOB}last"})
    deadline = time.monotonic() + 10
    while path.stat().st_size == empty and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert path.stat().st_size > empty, "the checkpointer's thread moved the log into the file"
    state.close()
    reopened = VenueState(path)
    assert reopened.meta("blob") == f"{BLOB}last"
    reopened.close()
