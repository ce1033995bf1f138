"""Named fault points for crash and fault tests (failpoints).

``OPENTRADE_KILL_AT=after_persist:3`` makes the process SIGKILL itself the third time it
passes ``kill_point("after_persist")``. Unset (always, outside crash tests) it costs a dict
lookup. This is how the crash tests stop the real engine exactly between writing an order and
its acknowledgement, which no external timer can do reliably.

``OPENTRADE_DISK_FULL_AT=commit:20`` makes ``disk_full_point("commit")`` fail as a full disk
does from its twentieth pass on (a disk stays full). A small filesystem needs root to mount;
this puts SQLite's own error where SQLite would raise it. Tests in the same process set
``DISK_FULL_AT`` directly (``monkeypatch.setitem``).
"""

from __future__ import annotations

import os
import signal
import sqlite3

_hits: dict[str, int] = {}


def _target(variable: str) -> tuple[str, int] | None:
    spec = os.environ.get(variable)
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count or 1)


_TARGET = _target("OPENTRADE_KILL_AT")

# fault point name -> passes left until the disk is full (1: the next pass fails)
DISK_FULL_AT: dict[str, int] = dict([_disk] if (_disk := _target("OPENTRADE_DISK_FULL_AT")) else [])


def kill_point(name: str) -> None:
    if _TARGET is None or _TARGET[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)


def disk_full_point(name: str) -> None:
    left = DISK_FULL_AT.get(name)
    if left is None:
        return
    if left > 1:
        DISK_FULL_AT[name] = left - 1
        return
    raise sqlite3.OperationalError("database or disk is full")
