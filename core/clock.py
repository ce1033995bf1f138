"""Where all time comes from: the wall clock live, a simulated clock everywhere else.

Code never calls ``time.time()`` for trading decisions; it asks a ``Clock`` so that tests,
backtests and the paper venue are deterministic.
"""

from __future__ import annotations

import asyncio
import time


class WallClock:
    """Real time in integer milliseconds UTC."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SimClock:
    """A clock that moves only when told to.

    ``sleep`` waits until someone advances the clock past the wake-up time, so a test can run
    an hour of simulated trading without waiting for it.
    """

    def __init__(self, start_ms: int = 1_704_067_200_000) -> None:
        self._now = start_ms
        self._sleepers: list[tuple[int, asyncio.Future[None]]] = []

    def now_ms(self) -> int:
        return self._now

    def set(self, ms: int) -> None:
        self._now = ms
        if self._sleepers:  # a backtest sets the clock several times a candle, mostly with nobody asleep
            self._wake()

    def advance(self, ms: int) -> None:
        self.set(self._now + ms)

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._sleepers.append((self._now + int(seconds * 1000), future))
        await future

    def _wake(self) -> None:
        remaining = []
        for due, future in self._sleepers:
            if due <= self._now:
                if not future.done():
                    future.set_result(None)
            else:
                remaining.append((due, future))
        self._sleepers = remaining


class ScaledClock:
    """Wall time run faster (speed > 1) for the simulator's accelerated modes and soak tests."""

    def __init__(self, speed: float = 1.0, start_ms: int | None = None) -> None:
        self.speed = speed
        self._origin_wall = time.monotonic()
        self._origin_ms = start_ms if start_ms is not None else time.time_ns() // 1_000_000

    def now_ms(self) -> int:
        return self._origin_ms + int((time.monotonic() - self._origin_wall) * 1000 * self.speed)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds / self.speed)
