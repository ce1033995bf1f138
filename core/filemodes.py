"""The home's files are the trader's alone: directories 0700, files 0600.

The database holds every order, fill and balance, the logs the account's activity, the paper
venue's file its positions; on a shared machine a world-readable copy of any of them is a leak.
Files are created private rather than narrowed after the fact, so there is no moment when
another user could open them. SQLite gives its -wal and -shm files the mode of the database
file, so a database created 0600 keeps its journal private too. Files and directories that
already exist with wider modes (written by an older OpenTrade) are narrowed, with a warning.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path

log = logging.getLogger(__name__)

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_OTHERS = stat.S_IRWXG | stat.S_IRWXO


def private_dir(path: Path) -> Path:
    """Create the directory (and its parents) if missing, and keep other users out of it."""
    path.mkdir(mode=PRIVATE_DIR, parents=True, exist_ok=True)
    narrow(path)
    return path


def private_file(path: Path) -> Path:
    """Create the file empty if it is missing (an existing one keeps its content), owner-only."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE))
    narrow(path)
    return path


def write_private_text(path: Path, text: str) -> None:
    """Replace the file's content in one step: written owner-only beside it, then renamed over
    it, so a crash never leaves half a file and the content is never readable by others."""
    tmp = path.with_name(path.name + ".tmp")
    with contextlib.suppress(FileNotFoundError):
        tmp.unlink()
    with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, PRIVATE_FILE), "w",
                   encoding="utf-8") as out:
        out.write(text)
    os.replace(tmp, path)


def narrow(path: Path) -> None:
    """Take away the group's and others' permissions from an existing file or directory.
    One we do not own cannot be changed: it is named in a warning and left as it is."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if not mode & _OTHERS:
        return
    try:
        os.chmod(path, mode & ~_OTHERS)
    except OSError as exc:
        log.warning("%s is open to other users (mode %03o) and could not be made private: %s", path, mode, exc.strerror)
        return
    log.warning("%s was open to other users (mode %03o); it is now %03o", path, mode, mode & ~_OTHERS)
