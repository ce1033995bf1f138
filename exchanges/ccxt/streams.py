"""Keeps market data and own orders flowing from an exchange: websockets where ccxt has them,
polling where it does not, and polling while a websocket keeps failing.

Each stream is one task looping over "get the next update, hand it on". A failure is logged,
counted and waited out with exponential backoff (ccxt.pro opens a new connection on the next
``watch_*`` call, which is the reconnect); after a few websocket failures in a row the stream
polls over REST for a while before trying the websocket again. The venue's connection state is
the summary of all its streams and is published only when it changes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from core.events import ConnectionChanged, EventBus
from core.ports import Clock
from exchanges.ccxt.errors import describe

log = logging.getLogger(__name__)

Fetch = Callable[[], Awaitable[Any]]
Handle = Callable[[Any], None]


@dataclass
class StreamPolicy:
    poll_interval: float = 1.0
    base_backoff: float = 0.5
    max_backoff: float = 30.0
    ws_failures_before_polling: int = 3
    polls_before_ws_retry: int = 30


@dataclass
class StreamSpec:
    key: str  # "book:BTC/USDT"
    watch: Fetch | None  # None when the exchange has no websocket for this data
    poll: Fetch | None  # None when there is no REST fallback (own orders without tracking)
    handle: Handle


@dataclass
class _StreamState:
    ok: bool = False
    failures: int = 0
    polling: bool = False
    detail: str = ""


class StreamSupervisor:
    def __init__(
        self, venue: str, bus: EventBus, clock: Clock, policy: StreamPolicy | None = None
    ) -> None:
        self.venue = venue
        self._bus = bus
        self._clock = clock
        self.policy = policy or StreamPolicy()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._states: dict[str, _StreamState] = {}
        self.state = "disconnected"
        self.detail = ""

    def start(self, spec: StreamSpec) -> None:
        if spec.key in self._tasks:
            return
        self._states[spec.key] = _StreamState()
        self._tasks[spec.key] = asyncio.create_task(self._run(spec), name=f"{self.venue}:{spec.key}")
        self._publish_state()

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        self._states.clear()
        self._set_state("disconnected", "stopped")

    async def _run(self, spec: StreamSpec) -> None:
        state = self._states[spec.key]
        polls_left = 0
        while True:
            use_ws = spec.watch is not None and (polls_left <= 0 or spec.poll is None)
            state.polling = not use_ws
            fetch = spec.watch if use_ws else spec.poll
            assert fetch is not None
            try:
                data = await fetch()
                spec.handle(data)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - every failure is reported and retried
                state.ok, state.failures = False, state.failures + 1
                state.detail = f"{spec.key}: {describe(exc)}"
                log.warning("%s stream %s failed (%d in a row): %s", self.venue, spec.key, state.failures, state.detail)
                if use_ws and spec.poll is not None and state.failures >= self.policy.ws_failures_before_polling:
                    polls_left = self.policy.polls_before_ws_retry
                self._publish_state()
                await self._clock.sleep(self._backoff(state.failures))
                continue
            if not state.ok:
                state.ok, state.failures, state.detail = True, 0, ""
                self._publish_state()
            if not use_ws:
                polls_left -= 1
                await self._clock.sleep(self.policy.poll_interval)

    def _backoff(self, failures: int) -> float:
        return float(min(self.policy.base_backoff * 2 ** (failures - 1), self.policy.max_backoff))

    def _publish_state(self) -> None:
        states = list(self._states.values())
        failing = [s for s in states if s.failures > 0]
        if not states:
            self._set_state("disconnected", "")
        elif failing and len(failing) == len(states):
            self._set_state("disconnected", failing[0].detail)
        elif failing:
            self._set_state("degraded", failing[0].detail)
        elif all(s.ok for s in states):
            polling = sum(s.polling for s in states)
            self._set_state("connected", f"{polling} of {len(states)} streams polling" if polling else "")
        else:
            self._set_state("connecting", "")

    def _set_state(self, state: str, detail: str) -> None:
        if (state, detail) == (self.state, self.detail):
            return
        self.state, self.detail = state, detail
        self._bus.publish(ConnectionChanged(venue=self.venue, state=state, detail=detail))
