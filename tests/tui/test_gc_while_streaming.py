"""The garbage collector while the market streams, as ``opentrade trade`` runs it: the start-up
frozen, full passes spaced out by ``FULL_GC_AFTER``. They still come, they find garbage, and
what is left alive after each one does not grow: memory stays bounded.

The collector counts allocations, not time, so the test streams the seeded market on the
simulated clock and counts passes. The youngest generation's threshold is lowered (the app keeps
the first two thresholds as it finds them) so that a full pass comes after a tenth of the
allocations it takes in the app; the spacing of full passes is the app's."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any

import pytest

from core.clock import SimClock
from tests.tui.conftest import advance, wait_ready
from tui.app import FULL_GC_AFTER

#: the youngest generation's threshold in this test (Python's default is 700)
YOUNG = 70
#: simulated seconds of market that fill the bounded caches (trades, candles) before watching
WARM_UP_S = 60
#: full passes to watch while streaming (about one every 17 simulated seconds here)
PASSES = 3
#: simulated seconds streamed at most while waiting for them
MAX_SECONDS = 300


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector as the test found it afterwards: thresholds, nothing frozen, running."""
    thresholds = gc.get_threshold()
    enabled = gc.isenabled()
    gc.set_threshold(YOUNG, thresholds[1], thresholds[2])
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
        if not enabled:
            gc.disable()


async def test_full_passes_keep_coming_and_memory_stays_bounded_while_the_market_streams(
        make_app: Any, clock: SimClock, collector: None) -> None:
    alive_after: list[int] = []  # objects the collector tracks, right after each full pass
    collected: list[int] = []

    def on_pass(phase: str, info: dict[str, int]) -> None:
        if info["generation"] == 2 and phase == "stop":
            collected.append(info["collected"])
            alive_after.append(len(gc.get_objects()))

    app = make_app(freeze_gc=True)
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_ready(pilot)
        assert gc.isenabled() and gc.get_freeze_count() > 0, "the start-up is frozen"
        assert gc.get_threshold()[2] == FULL_GC_AFTER
        await advance(pilot, clock, WARM_UP_S)
        gc.callbacks.append(on_pass)
        try:
            for _ in range(MAX_SECONDS):
                await advance(pilot, clock, 1)
                if len(alive_after) >= PASSES:
                    break
        finally:
            gc.callbacks.remove(on_pass)
    assert len(alive_after) >= PASSES, f"{len(alive_after)} full passes in {MAX_SECONDS} s of market"
    assert min(collected) > 0, f"the full passes find garbage: {collected}"
    first, *later = alive_after
    assert max(later) <= first * 1.05, f"objects alive after each full pass: {alive_after}"
