"""Who may talk to the bot: the configured chats, each as ``telegram:<chat id>`` at its level
(capped by the profile's, as an API token is). Any other chat is ignored and audited; a chat
that keeps writing is audited once a minute with the count, so a stranger's flood does not
fill the audit log."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

from core.permissions import Actor, Level
from core.ports import Clock

AUDIT_EVERY_MS = 60_000
MAX_STRANGERS = 10_000


class Access:
    def __init__(self, chats: Mapping[int, str], clock: Clock) -> None:
        self._actors = {chat: Actor(f"telegram:{chat}", Level.of(level), f"telegram chat {chat}") for chat, level in chats.items()}
        self._clock = clock
        self._strangers: OrderedDict[int, tuple[int, int]] = OrderedDict()  # chat: (last audit ms, ignored since)

    def actor(self, chat_id: int) -> Actor | None:
        return self._actors.get(chat_id)

    def ignored(self, chat_id: int) -> int | None:
        """Count a message from a chat that is not allowed: how many to audit now (this one and
        those ignored since the chat's last entry), or None within a minute of that entry."""
        now = self._clock.now_ms()
        last, since = self._strangers.pop(chat_id, (None, 0))
        since += 1
        due = last is None or now - last >= AUDIT_EVERY_MS
        self._strangers[chat_id] = (now, 0) if last is None or due else (last, since)
        while len(self._strangers) > MAX_STRANGERS:
            self._strangers.popitem(last=False)
        return since if due else None
