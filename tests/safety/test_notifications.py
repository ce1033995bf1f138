"""Notifications against local fake servers: batching, rate limits, retries, a queue that
survives a restart, and no token in any error."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import ConfigError, NotificationsConfig, NotifierConfig, parse_config
from core.events import EventBus, RiskAlert
from core.models import Balance
from core.notify import Notifications, NotifyError, build_channels
from core.notify.channels import TelegramNotifier
from tests.safety.conftest import limit, safety_config, start_engine
from tests.safety.fakes import FakeHttp, FakeSmtp

TOKEN = "123456:AAE-very-secret-bot-token"


class MemoryStore:
    def __init__(self) -> None:
        self.state: dict[str, str] = {}

    async def get_state(self, key: str) -> str | None:
        return self.state.get(key)

    async def set_state(self, key: str, value: str) -> None:
        self.state[key] = value


def telegram(base: str) -> NotifierConfig:
    return NotifierConfig(type="telegram", url=base, chat_id="42", token_env="OT_TEST_TG_TOKEN")


def service(config: NotificationsConfig, clock: SimClock, store: MemoryStore | None = None) -> tuple[Notifications, EventBus]:
    bus = EventBus()
    return Notifications(config, build_channels(config), bus, clock, store or MemoryStore()), bus


async def test_alerts_are_batched_into_one_telegram_message(
    http: FakeHttp, clock: SimClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OT_TEST_TG_TOKEN", TOKEN)
    notes, bus = service(NotificationsConfig(channels=[telegram(f"http://127.0.0.1:{http.port}")]), clock)
    bus.publish(RiskAlert("info", "stop_loss", "below the notification level"))
    for i in range(3):
        bus.publish(RiskAlert("critical", "breaker:drawdown", f"equity fell {i}"))
    assert await notes.flush() == 3
    [(token, payload)] = http.requests
    assert token == TOKEN and payload["chat_id"] == "42"
    assert payload["text"].startswith("[CRITICAL] 3 alerts") and "equity fell 2" in payload["text"]
    assert "below the notification level" not in payload["text"]
    assert notes.queue == []


async def test_sends_per_channel_are_rate_limited(http: FakeHttp, clock: SimClock) -> None:
    hook = NotifierConfig(type="webhook", url=f"http://127.0.0.1:{http.port}/hook")
    notes, _ = service(NotificationsConfig(channels=[hook], max_per_minute=1), clock)
    notes.notify("first", "one")
    assert await notes.flush() == 1
    notes.notify("second", "two")
    assert await notes.flush() == 0
    clock.advance(60_001)
    assert await notes.flush() == 1
    assert [p["title"] for _, p in http.requests] == ["first", "second"]
    assert http.requests[0][1] == {"source": "opentrade", "level": "warning", "title": "first", "body": "one"}


async def test_failed_sends_are_retried_with_backoff_then_given_up(http: FakeHttp, clock: SimClock) -> None:
    hook = NotifierConfig(type="webhook", url=f"http://127.0.0.1:{http.port}/hook")
    notes, _ = service(NotificationsConfig(channels=[hook], retry_seconds=10, max_attempts=3), clock)
    http.fail_next = 1
    notes.notify("halted", "breaker tripped")
    assert await notes.flush() == 0
    assert notes.queue[0].attempts == 1
    clock.advance(9_000)
    assert await notes.flush() == 0 and http.failed == 1, "not due before the backoff"
    clock.advance(1_000)
    assert await notes.flush() == 1
    http.fail_next = 3
    notes.notify("again", "x")
    for wait in (0, 10_000, 20_000):
        clock.advance(wait)
        await notes.flush()
    assert notes.queue == [] and notes.dropped == 1 and http.failed == 4


async def test_email_goes_through_smtp(clock: SimClock, monkeypatch: pytest.MonkeyPatch) -> None:
    smtp = FakeSmtp()
    port = await smtp.start()
    monkeypatch.setenv("OT_TEST_SMTP_PASSWORD", "smtp-password-123")
    mail = NotifierConfig(type="email", smtp_host="127.0.0.1", smtp_port=port, starttls=False, username="ops",
                          password_env="OT_TEST_SMTP_PASSWORD", sender="bot@example.org", recipients=["me@example.org"])
    notes, _ = service(NotificationsConfig(channels=[mail]), clock)
    try:
        notes.notify("daily loss", "today's loss reached the limit", "critical")
        assert await notes.flush() == 1
    finally:
        await smtp.stop()
    [message] = smtp.messages
    assert "Subject: [OpenTrade critical] daily loss" in message["data"]
    assert "today's loss reached the limit" in message["data"]
    assert [r.lower() for r in message["rcpt"]] == ["rcpt to:<me@example.org>"] and smtp.logins


async def test_the_queue_survives_a_restart_and_a_breaker_trip_is_notified(
    http: FakeHttp, isolated_home: Path, clock: SimClock
) -> None:
    hook = NotifierConfig(type="webhook", url=f"http://127.0.0.1:{http.port}/hook")
    config = safety_config(notifications=NotificationsConfig(channels=[hook]))
    engine = await start_engine(isolated_home, clock, config)
    http.fail_next = 1
    engine.portfolio.set_balances("paper", [Balance(asset="USDT", free=80_000)])  # type: ignore[arg-type]
    await engine.check_risk()  # the drawdown breaker trips
    assert await engine.notifications.flush() == 0
    await engine.close()
    assert http.requests == []

    engine = await start_engine(isolated_home, clock, config)
    try:
        assert len(engine.notifications.queue) >= 1
        clock.advance(60_000)
        assert await engine.notifications.flush() >= 1
        bodies = " ".join(p["body"] for _, p in http.requests)
        assert "below its peak" in bodies
    finally:
        await engine.close()


async def test_a_dead_channel_never_holds_up_trading(isolated_home: Path, clock: SimClock) -> None:
    hook = NotifierConfig(type="webhook", url="http://127.0.0.1:9/hook", timeout=1)
    engine = await start_engine(isolated_home, clock, safety_config(notifications=NotificationsConfig(channels=[hook])))
    try:
        engine.notifications.notify("hello", "world")
        assert (await engine.place_order(limit(engine))).is_open
        assert await engine.notifications.flush() == 0
        assert engine.notifications.queue[0].attempts == 1
    finally:
        await engine.close()


async def test_errors_never_show_the_token(clock: SimClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OT_TEST_TG_TOKEN", TOKEN)
    channel = TelegramNotifier(telegram("http://127.0.0.1:9"))
    with pytest.raises(NotifyError) as error:
        await channel.send("t", "b")
    assert TOKEN not in str(error.value)
    monkeypatch.delenv("OT_TEST_TG_TOKEN")
    with pytest.raises(NotifyError, match="OT_TEST_TG_TOKEN is not set"):
        await channel.send("t", "b")


def test_channel_configs_are_checked() -> None:
    cases = {
        "notifications:\n  channels:\n    - {type: webhook}\n": "a webhook notifier needs a url",
        "notifications:\n  channels:\n    - {type: telegram}\n": "a telegram notifier needs a chat_id",
        "notifications:\n  channels:\n    - {type: email, smtp_host: x}\n": "needs smtp_host, sender and recipients",
        "notifications:\n  channels:\n    - {type: webhook, url: ftp://x}\n": "must start with http",
        "notifications:\n  channels:\n    - {type: pager}\n": "notifications.channels.0.type",
        "notifications:\n  max_per_minute: 0\n": "notifications.max_per_minute",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            parse_config(text)
