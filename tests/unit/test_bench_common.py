"""The benchmarks' market driver keeps its rate after a late wake-up without holding the loop
for the whole catch-up: one step per turn, as the venue's own task steps."""

from __future__ import annotations

import asyncio
from itertools import pairwise

import pytest

from benchmarks import common


async def test_a_late_wake_up_catches_up_one_step_per_turn_of_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    wall = iter([0.0, 0.05])  # started, then woken 50 ms late: five steps due at 100 Hz
    monkeypatch.setattr(common.time, "perf_counter", lambda: next(wall))
    turns = 0
    stop = asyncio.Event()
    seen: list[int] = []

    class Venue:
        async def advance(self, dt: float | None = None) -> None:
            seen.append(turns)
            if len(seen) == 5:
                stop.set()

    async def count_turns() -> None:
        nonlocal turns
        while not stop.is_set():
            turns += 1
            await asyncio.sleep(0)

    counter = asyncio.create_task(count_turns())
    await common.step_on_schedule(Venue(), stop, 100, 0.2)
    await counter
    assert len(seen) == 5
    assert all(later > earlier for earlier, later in pairwise(seen))
