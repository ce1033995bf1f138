"""Confirmations: a command that changes anything waits for a press of Confirm, at most 60 s on
the engine's clock, and runs once however often the button is pressed.

Each question carries a one-time nonce in its buttons' callback data; pressing takes the nonce
out before anything is awaited, so a second press (or a press racing the first) finds it gone.
A nonce is good only in the chat that was asked.
"""

from __future__ import annotations

import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

from core.ports import Clock

CONFIRM_SECONDS = 60
CONFIRM, CANCEL = "ok", "no"
CLOSED_KEPT = 1000  # answered or expired nonces remembered, to tell a second press what happened

Closed = Literal["confirmed", "canceled", "expired", "unknown"]


@dataclass(frozen=True)
class Answered:
    """A press that finds no open question: how it was closed, and what it asked (None when
    the nonce is unknown, e.g. asked before a restart or in another chat)."""

    how: Closed
    what: str | None = None


@dataclass
class Pending:
    chat_id: int
    command: str
    what: str  # what Confirm does, as the question named it
    run: Callable[[], Awaitable[str]]
    asked_ms: int


class Confirmations:
    def __init__(self, clock: Clock, seconds: int = CONFIRM_SECONDS) -> None:
        self._clock = clock
        self._ttl_ms = seconds * 1000
        self._pending: dict[str, Pending] = {}
        self._closed: OrderedDict[str, tuple[int, Answered]] = OrderedDict()  # nonce: (chat, how)

    @property
    def seconds(self) -> int:
        return self._ttl_ms // 1000

    def ask(self, chat_id: int, command: str, what: str, run: Callable[[], Awaitable[str]]) -> str:
        """A new question's nonce (callback data ``ok:<nonce>`` and ``no:<nonce>``)."""
        self._sweep()
        nonce = secrets.token_urlsafe(12)
        self._pending[nonce] = Pending(chat_id, command, what, run, self._clock.now_ms())
        return nonce

    def take(self, nonce: str, chat_id: int, *, confirmed: bool) -> Pending | Answered:
        """The question to act on (confirmed or canceled), or why there is none: it was
        answered before, it expired, or it is not this chat's (or from before a restart)."""
        pending = self._pending.get(nonce)
        if pending is None:
            asked_in, closed = self._closed.get(nonce, (chat_id, Answered("unknown")))
            return closed if asked_in == chat_id else Answered("unknown")
        if pending.chat_id != chat_id:
            return Answered("unknown")
        del self._pending[nonce]
        if self._expired(pending):
            return self._close(nonce, "expired", pending)
        self._close(nonce, "confirmed" if confirmed else "canceled", pending)
        return pending

    def _expired(self, pending: Pending) -> bool:
        return self._clock.now_ms() - pending.asked_ms >= self._ttl_ms

    def _sweep(self) -> None:
        for nonce in [n for n, p in self._pending.items() if self._expired(p)]:
            self._close(nonce, "expired", self._pending.pop(nonce))

    def _close(self, nonce: str, how: Closed, pending: Pending) -> Answered:
        closed = Answered(how, pending.what)
        self._closed[nonce] = (pending.chat_id, closed)
        while len(self._closed) > CLOSED_KEPT:
            self._closed.popitem(last=False)
        return closed
