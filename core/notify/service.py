"""The notification service: alerts in, batched and rate-limited messages out, a retry queue
that survives a restart.

Trading never waits for it: the bus listener only appends to a list and schedules a write of
the queue; sending happens in a background task, one channel at a time, each call bounded by
the channel's own timeout. A message leaves the queue when its channel accepted it, or after
``max_attempts`` failures (logged).

Once a UTC day the audit chain's head goes out too: a copy of the anchor (``core.storage.anchor``)
kept away from the machine, against which ``opentrade audit verify --anchor FILE`` checks the
log later, so that a log cut short or rewritten together with its anchor file still shows.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from core.config import NotificationsConfig
from core.events import Event, EventBus, RiskAlert
from core.notify.channels import NotifyError
from core.ports import Clock, Notifier
from core.redact import redact
from core.storage.anchor import anchor_text
from core.storage.errors import StorageError
from core.tasks import cancel_and_wait

log = logging.getLogger(__name__)

STATE_KEY = "notification_queue"
HEAD_DAY_KEY = "audit_head_sent_day"
DAY_MS = 86_400_000
LEVELS = {"info": 0, "warning": 1, "critical": 2}
MAX_BATCH = 20
MINUTE_MS = 60_000


HeadSource = Callable[[], Awaitable[tuple[int, str] | None]]


class StateStore(Protocol):
    async def get_state(self, key: str) -> str | None: ...

    async def set_state(self, key: str, value: str) -> None: ...


@dataclass
class Pending:
    channel: str
    ts: int
    level: str
    title: str
    body: str
    attempts: int = 0
    next_ms: int = 0


class Notifications:
    def __init__(
        self, config: NotificationsConfig, channels: Sequence[Notifier], bus: EventBus, clock: Clock, store: StateStore,
        audit_head: HeadSource | None = None,
    ) -> None:
        """``audit_head`` gives the audit chain's head (seq, hash) for the daily message."""
        self._config = config
        self._channels = {channel.name: channel for channel in channels}
        self._clock = clock
        self._store = store
        self.queue: list[Pending] = []
        self._sent: dict[str, deque[int]] = {name: deque() for name in self._channels}
        self._task: asyncio.Task[None] | None = None
        self._saving: asyncio.Task[None] | None = None
        self._dirty = False
        self._audit_head = audit_head
        self._head_day: int | None = None
        self.delivered = 0
        self.dropped = 0
        if self._channels:
            bus.add_listener((RiskAlert,), self._on_alert)

    @property
    def channels(self) -> list[Notifier]:
        return list(self._channels.values())

    async def start(self) -> None:
        """Load what was still queued at the last stop or crash, then send in the background."""
        if not self._channels:
            return
        saved = await self._store.get_state(STATE_KEY)
        if saved:
            try:
                restored = [Pending(**item) for item in json.loads(saved)]
            except (ValueError, TypeError) as exc:
                log.error("saved notification queue unreadable, starting empty: %s", exc)
                restored = []
            self.queue = [p for p in restored if p.channel in self._channels] + self.queue
        sent_day = await self._store.get_state(HEAD_DAY_KEY)
        self._head_day = int(sent_day) if sent_day and sent_day.isdigit() else None
        self._task = asyncio.get_running_loop().create_task(self._run(), name="notifications")

    async def stop(self) -> None:
        await cancel_and_wait(self._task)
        self._task = None
        if self._saving is not None:
            await self._saving
        if self._dirty:
            await self._save()

    def _on_alert(self, event: Event) -> None:
        assert isinstance(event, RiskAlert)
        if LEVELS.get(event.level, 0) < LEVELS[self._config.min_level]:
            return
        self.notify(event.rule.replace("_", " "), event.message, event.level)

    def notify(self, title: str, body: str, level: str = "warning") -> None:
        """Queue a message for every channel; returns at once."""
        now = self._clock.now_ms()
        for name in self._channels:
            self.queue.append(Pending(name, now, level, redact(title), redact(body)))
        overflow = len(self.queue) - self._config.queue_limit
        if overflow > 0:
            del self.queue[:overflow]
            self.dropped += overflow
            log.warning("notification queue full: %d oldest messages dropped", overflow)
        self._schedule_save()

    def _schedule_save(self) -> None:
        self._dirty = True
        if self._saving is None or self._saving.done():
            try:
                self._saving = asyncio.get_running_loop().create_task(self._save())
            except RuntimeError:
                self._saving = None

    async def _save(self) -> None:
        self._dirty = False
        await self._keep(STATE_KEY, json.dumps([asdict(p) for p in self.queue]))

    async def _keep(self, key: str, value: str) -> None:
        """Messages still go out when the database fails (a full disk is worth an alert)."""
        try:
            await self._store.set_state(key, value)
        except StorageError as exc:
            log.warning("notification state %s not saved: %s", key, exc)

    async def _run(self) -> None:
        while True:
            await self._clock.sleep(self._config.batch_seconds)
            try:
                await self.send_audit_head()
                await self.flush()
            except Exception:
                log.exception("notification flush failed")

    async def send_audit_head(self) -> None:
        """Queue the audit chain's head, once per UTC day (the first batch of the day)."""
        day = self._clock.now_ms() // DAY_MS
        if self._audit_head is None or day == self._head_day:
            return
        head = await self._audit_head()
        self._head_day = day
        await self._keep(HEAD_DAY_KEY, str(day))
        if head is None:
            return
        seq, digest = head
        self.notify(
            "audit log head",
            f"entry {seq} of the audit log has the hash {digest}. Keep this message: to check the log "
            f"against it later, save the next line as a file and run `opentrade audit verify --anchor FILE`.\n"
            f"{anchor_text(seq, digest).strip()}",
            "info",
        )

    async def flush(self) -> int:
        """Send what is due: one batch per channel within its rate limit. Returns messages delivered."""
        now = self._clock.now_ms()
        delivered = 0
        for name, channel in self._channels.items():
            sent = self._sent[name]
            while sent and sent[0] <= now - MINUTE_MS:
                sent.popleft()
            if len(sent) >= self._config.max_per_minute:
                continue
            batch = [p for p in self.queue if p.channel == name and p.next_ms <= now][:MAX_BATCH]
            if not batch:
                continue
            title, body, level = self._compose(batch)
            sent.append(now)
            try:
                await channel.send(title, body, level)
            except NotifyError as exc:
                self._failed(name, batch, str(exc), now)
            else:
                delivered += len(batch)
                self.queue = [p for p in self.queue if not any(p is b for b in batch)]
        if delivered:
            self.delivered += delivered
        self._schedule_save()
        return delivered

    @staticmethod
    def _compose(batch: list[Pending]) -> tuple[str, str, str]:
        level = max((p.level for p in batch), key=lambda value: LEVELS.get(value, 0))
        if len(batch) == 1:
            return batch[0].title, batch[0].body, level
        body = "\n".join(f"- {p.title}: {p.body}" for p in batch)
        return f"{len(batch)} alerts", body, level

    def _failed(self, name: str, batch: list[Pending], error: str, now: int) -> None:
        log.warning("notification to %s failed: %s", name, error)
        for pending in batch:
            pending.attempts += 1
            pending.next_ms = now + int(self._config.retry_seconds * 1000 * 2 ** (pending.attempts - 1))
        expired = [p for p in batch if p.attempts >= self._config.max_attempts]
        if expired:
            log.error("%d notifications to %s given up after %d attempts", len(expired), name, self._config.max_attempts)
            self.dropped += len(expired)
            self.queue = [p for p in self.queue if not any(p is e for e in expired)]

    def status(self) -> dict[str, Any]:
        return {"queued": len(self.queue), "delivered": self.delivered, "dropped": self.dropped,
                "channels": list(self._channels)}
