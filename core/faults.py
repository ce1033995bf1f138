"""Named kill points for crash tests (failpoints).

``OPENTRADE_KILL_AT=after_persist:3`` makes the process SIGKILL itself the third time it
passes ``kill_point("after_persist")``. Unset (always, outside crash tests) it costs a dict
lookup. This is how the crash tests stop the real engine exactly between writing an order and
its acknowledgement, which no external timer can do reliably.
"""

from __future__ import annotations

import os
import signal

_hits: dict[str, int] = {}


def _target() -> tuple[str, int] | None:
    spec = os.environ.get("OPENTRADE_KILL_AT")
    if not spec:
        return None
    name, _, count = spec.partition(":")
    return name, int(count or 1)


_TARGET = _target()


def kill_point(name: str) -> None:
    if _TARGET is None or _TARGET[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= _TARGET[1]:
        os.kill(os.getpid(), signal.SIGKILL)
