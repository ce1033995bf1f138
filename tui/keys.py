"""Keys in the order they were typed, each one handled before the next is routed.

Textual routes a key to the widget that has the focus when the app reads the key, and runs the
key's binding later, once the key has bubbled back up to the app. A burst of keys is therefore
routed all at once, before the first of them has done anything: in ``o0.001`` the ``o`` that
moves the focus to the Size field takes effect after the five other keys went to the screen,
which has no use for them. Bursts are common: keys typed while the loop is busy, pasted, sent by
tmux, or typed while the app starts (those went to the boot screen and were dropped).

``KeyQueue`` holds the keys and lets one through at a time. After routing a key it posts a
``KeyProbe`` to the same widget: messages of one widget are handled in order, and the probe
bubbles up the same parents as the key, so when the probe reaches the app, the key has been
handled there too. The probe goes round once more behind the messages the key's handlers posted
(an Enter's ``Submitted`` on its way to its dialog), and again while the key is still working:
the screen or the focus changed (a new screen is mounted and focused before the next key), or
the key started a worker (one that opens a dialog runs up to its first wait first). Then the
next key is routed to whatever has the focus by now. Keys also wait while no screen takes them
(the app is starting). Nothing is dropped: a probe lost with a widget that closed is replaced
when the screen changes, or after ``PROBE_TIMEOUT_S``.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from textual import events
from textual.app import App
from textual.dom import DOMNode
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import Worker

#: the next key is routed anyway when a probe has not come back after this long
PROBE_TIMEOUT_S = 0.5
#: rounds of probing for one key, at most (each takes a few message hops)
MAX_PROBES = 12


class KeyProbe(Message):
    """Follows a key through the queues the key travels; the app handles it last."""

    def __init__(self, seq: int) -> None:
        super().__init__()
        self.seq = seq


@dataclass
class _Probe:
    seq: int
    screen: Screen[Any]
    focused: Widget | None
    rounds: int
    sent: float  # loop time


class KeyQueue:
    """The app calls ``push`` for every key it reads, ``returned`` when a ``KeyProbe`` reaches
    it and ``screen_changed`` on every change of screen; ``route`` is Textual's own handling of
    one key, and ``taking_keys`` says whether a screen is there to take keys."""

    def __init__(self, app: App[Any], route: Callable[[events.Key], Awaitable[None]],
                 taking_keys: Callable[[], bool]) -> None:
        self._app = app
        self._route = route
        self._taking_keys = taking_keys
        self._held: deque[events.Key] = deque()
        self._seq = 0
        self._probe: _Probe | None = None
        self._workers: set[Worker[Any]] = set()
        self._stale = False
        self._watchdog: Timer | None = None

    @property
    def idle(self) -> bool:
        """Every key read has been routed and has done its work."""
        return not self._held and self._probe is None and not self._stale

    async def push(self, event: events.Key) -> None:
        self._held.append(event)
        await self._next()

    def screen_changed(self) -> None:
        """Called as the screen changes (before any later key is read): the new screen is to be
        mounted and focused before the next key, so it is probed first."""
        self._stale = True
        self._app.call_later(self._probe_new_screen)

    async def _probe_new_screen(self) -> None:
        if self._probe is not None:
            # The probe under way may have closed with the screen it was in: a new one replaces it.
            self._send(self._probe.rounds + 1)
        else:
            await self._next()

    async def returned(self, seq: int, timed_out: bool = False) -> None:
        probe = self._probe
        if probe is None or probe.seq != seq:
            return
        if not timed_out and probe.rounds < MAX_PROBES:
            if self._new_workers():
                # A worker the key started (one that opens a dialog, say) runs up to its first
                # wait in this loop turn; the next probe then sees the dialog.
                await asyncio.sleep(0)
                self._send(probe.rounds + 1)
                return
            if probe.rounds == 0 or self._moved(probe):
                self._send(probe.rounds + 1)
                return
        self._probe = None
        await self._next()

    async def _next(self) -> None:
        if self._probe is not None:
            return
        if self._stale:
            self._send(0)
            return
        if not self._held or not self._taking_keys():
            return
        self._workers = set(self._app.workers)
        await self._route(self._held.popleft())
        self._send(0)

    def _send(self, rounds: int) -> None:
        app = self._app
        if self._watchdog is None:
            self._watchdog = app.set_interval(PROBE_TIMEOUT_S / 2, self._check_lost, name="key probe watchdog")
        self._stale = False
        self._seq += 1
        self._probe = _Probe(self._seq, app.screen, app.focused, rounds, asyncio.get_running_loop().time())
        target: DOMNode = app.focused or app.screen
        if not target.post_message(KeyProbe(self._seq)):
            app.call_later(self.returned, self._seq)

    def _check_lost(self) -> None:
        """A timer's callback runs in the timer's task: the app's queue runs the key instead."""
        probe = self._probe
        if probe is not None and asyncio.get_running_loop().time() - probe.sent > PROBE_TIMEOUT_S:
            self._app.call_later(self.returned, probe.seq, True)

    def _new_workers(self) -> bool:
        workers = set(self._app.workers)
        new = bool(workers - self._workers)
        self._workers = workers
        return new

    def _moved(self, probe: _Probe) -> bool:
        """The screen or the focus changed while the probe went round: probe where they are now."""
        return self._app.screen is not probe.screen or self._app.focused is not probe.focused
