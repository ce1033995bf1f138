"""Which file the database path named when it was opened, and whether it still does.

An open SQLite connection keeps writing to its file after the file is deleted or replaced:
every write still succeeds, into a file that nobody will find again, and the history is gone
when the connection closes. Comparing the path's device and inode with those at opening shows
it; the storage watch (``core.storage_watch``) checks every second and after a failed write.
"""

from __future__ import annotations

import os
from pathlib import Path


class FileIdentity:
    def __init__(self, path: Path) -> None:
        self.path = path
        found = os.stat(path)
        self._identity = (found.st_dev, found.st_ino)

    def problem(self) -> str | None:
        """What happened to the file since it was opened, or None while it is still there."""
        try:
            found = os.stat(self.path)
        except FileNotFoundError:
            return f"the database file {self.path} was deleted while OpenTrade was running"
        except OSError as exc:
            return f"the database file {self.path} can no longer be reached: {exc.strerror}"
        if (found.st_dev, found.st_ino) != self._identity:
            return f"the database file {self.path} was replaced by another file while OpenTrade was running"
        return None
