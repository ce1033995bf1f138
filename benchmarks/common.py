"""What several benchmarks share: the machine's load beside each figure, and the paper market
stepped on a fixed schedule as the app's background task would at that rate."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Protocol


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: on a shared machine a wall-clock figure means
    little without them."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def queue_wait_s(thread: int | None = None) -> float:
    """Seconds the calling thread (or this process's thread of native id ``thread``) has spent
    ready to run but waiting for a CPU (``/proc/.../schedstat``, Linux): taken off a wall-clock
    interval, what is left is the interval as this process made it, without the time its
    neighbours held the cores."""
    path = "/proc/thread-self/schedstat" if thread is None else f"/proc/self/task/{thread}/schedstat"
    try:
        return int(Path(path).read_text().split()[1]) / 1e9
    except (OSError, IndexError, ValueError):
        return float("nan")


class Steppable(Protocol):
    async def advance(self, dt: float | None = None) -> None: ...


async def step_on_schedule(venue: Steppable, stop: asyncio.Event, hz: int, dt: float) -> None:
    """``venue.advance(dt)`` (the paper venue's background step, a market per turn of the loop)
    ``hz`` times a second until ``stop``, catching up after a late wake-up, so the rate holds on
    a busy machine. One step per turn of the loop, as the venue's own task steps: a catch-up run
    back to back held the loop for several steps (tens of ms on a starved machine), a stall the
    app never has from its venue."""
    started, steps = time.perf_counter(), 0
    while not stop.is_set():
        await asyncio.sleep(1 / hz)
        due = int((time.perf_counter() - started) * hz)
        while steps < due:
            await venue.advance(dt)
            steps += 1
            if steps < due:
                await asyncio.sleep(0)
