"""How a headless engine (``run --headless``, ``gateway``) learns to stop: SIGINT or SIGTERM sets
an event its main task waits on, so it stops cleanly (venues, database, announcements) instead
of being cut off mid-write."""

from __future__ import annotations

import asyncio
import signal


def stop_on_signals() -> asyncio.Event:
    """Call from the running loop; the event is set by the first SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop
