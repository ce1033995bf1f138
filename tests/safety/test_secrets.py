"""A session with API keys, a bot token and an SMTP password in the environment, where the
venue and a notification channel echo them in their errors (as exchange libraries do): no key
appears in any log line, audit entry, exception text, stored order, queued notification or
anywhere in the database file."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.clock import SimClock
from core.config import CircuitBreakerConfig, NotificationsConfig, NotifierConfig
from core.engine import OrderRefused
from core.notify import NotifyError
from core.ports import VenueError
from core.redact import install_log_redaction
from core.secrets import load_credentials
from runtime.wiring import build_engine
from tests.safety.conftest import limit, market, safety_config, settle
from tests.safety.faulty import FaultyVenue

API_KEY = "k3y-AbCdEf0123456789-live"
API_SECRET = "s3cr3t-ZyXwVu9876543210-live"
BOT_TOKEN = "987654:AAH-telegram-bot-token-xyz"
SECRETS = (API_KEY, API_SECRET, BOT_TOKEN)


async def test_no_secret_anywhere_after_a_session(
    isolated_home: Path, clock: SimClock, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OPENTRADE_BINANCE_API_KEY", API_KEY)
    monkeypatch.setenv("OPENTRADE_BINANCE_SECRET", API_SECRET)
    monkeypatch.setenv("OT_SECRET_TG_TOKEN", BOT_TOKEN)
    caplog.set_level(logging.DEBUG, logger="core")
    caplog.set_level(logging.DEBUG, logger="exchanges")
    install_log_redaction()  # what the app does once its handlers exist
    assert load_credentials("binance").complete  # loading registers them for redaction

    telegram = NotifierConfig(type="telegram", url="http://127.0.0.1:9", chat_id="1", token_env="OT_SECRET_TG_TOKEN")
    config = safety_config(notifications=NotificationsConfig(channels=[telegram]),
                           circuit_breakers=CircuitBreakerConfig(venue_error_min_calls=4))
    engine = await build_engine(config, isolated_home, clock=clock)
    venue = FaultyVenue(engine.venues["paper"])
    engine.venues["paper"] = venue
    engine.executor._venues = engine.venues  # type: ignore[attr-defined]
    texts: list[str] = []
    await engine.start()
    try:
        venue.step()
        leak = VenueError(f"binance {{'code': -2015, 'msg': 'Invalid API-key {API_KEY}, IP, or permissions'}}")
        venue.fail("create_order", "before", leak)
        rejected = await engine.place_order(market())
        texts.append(rejected.reason or "")
        venue.fail("create_order", "after", VenueError(f"signature {API_SECRET} mismatch"))
        venue.fail("fetch_order", "before", VenueError(f"lookup with key {API_KEY} failed"))
        await engine.place_order(limit(engine))
        resting = await engine.place_order(limit(engine, offset="0.97"))
        venue.fail("cancel_order", "before", VenueError(f"cancel denied for {API_KEY}"))
        with pytest.raises(OrderRefused) as refused:
            await engine.cancel_order(resting.client_order_id)
        texts.append(str(refused.value))
        await engine.check_risk()  # the venue's errors trip the system breaker: an alert to notify
        await settle()
        assert engine.notifications.queue, "the breaker trip is queued for Telegram"
        await engine.notifications.flush()  # fails: nothing listens on port 9
        with pytest.raises(NotifyError) as failed:
            await engine.notifications._channels[next(iter(engine.notifications._channels))].send("t", "b")  # type: ignore[attr-defined]
        texts.append(str(failed.value))
        texts.extend(f"{p.title} {p.body}" for p in engine.notifications.queue)
        texts.extend(f"{o.reason}" for o in await engine.order_history())
        texts.extend(f"{e.kind} {e.actor} {e.payload}" for e in await engine.db.audit_entries(limit=100_000))
    finally:
        await engine.close()
    texts.extend(record.getMessage() for record in caplog.records)
    texts.extend(caplog.text.splitlines())
    assert any("Invalid API-key ***" in t for t in texts), "the leaking error was seen, masked"
    for secret in SECRETS:
        leaked = [t for t in texts if secret in t]
        assert leaked == [], f"{secret[:6]}... leaked in {leaked[:3]}"
    for path in isolated_home.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(secret.encode() in data for secret in SECRETS), f"a secret is stored in {path.name}"
