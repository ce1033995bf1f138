"""The bot's start and stop with the gateway: its settings and token checked before the engine
starts, a Bot API out of reach that does not stop the gateway, the webhook, and the alerts'
Status button."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from core.clock import SimClock
from core.config import AppConfig, ConfigError, GatewayConfig, NotificationsConfig, NotifierConfig, TelegramConfig, parse_config
from core.engine import TradingEngine
from gateway.server import Gateway, GatewayError
from tests.gateway.conftest import gateway_config
from tests.gateway.telegram.botapi import FakeBotApi
from tests.gateway.telegram.conftest import ADMIN, TOKEN
from tests.safety.conftest import start_engine, until

WEBHOOK_URL = "https://trader.example.org/telegram/webhook"


@asynccontextmanager
async def serving(home: Path, clock: SimClock, config: AppConfig) -> AsyncIterator[tuple[TradingEngine, Gateway]]:
    engine = await start_engine(home, clock, config)
    gateway = Gateway(engine, home, GatewayConfig(port=0))
    try:
        gateway.check()
        await gateway.start()
        yield engine, gateway
    finally:
        await gateway.stop()
        await engine.close()


def test_the_telegram_section_names_what_is_wrong() -> None:
    def problems(text: str) -> list[str]:
        with pytest.raises(ConfigError) as info:
            parse_config(text, "c.yaml")
        return info.value.problems

    assert problems("telegram:\n  chats: {abc: trade}\n") == [
        "c.yaml:2: telegram.chats: value error, chat id 'abc' is not a Telegram chat id: a whole number, negative for groups"]
    assert problems("telegram:\n  chats: {123: root}\n") == [
        "c.yaml:2: telegram.chats.123: input should be 'read_only', 'trade' or 'admin' (got 'root')"]
    assert problems("telegram:\n  chats: {}\n") == [
        "c.yaml:2: telegram.chats: value error, name at least one chat id with its level (read_only, trade or admin): "
        "the bot answers no other chat"]
    assert problems("telegram: {chats: {1: admin}, mode: webhook}") == [
        "c.yaml:1: telegram: value error, mode webhook needs webhook_url: the public https:// address that reaches the "
        "gateway's /telegram/webhook"]
    assert problems("telegram: {chats: {1: admin}, mode: webhook, webhook_url: 'http://x.org/hook'}")[0].endswith(
        "webhook_url must start with https:// (Telegram sends updates only over HTTPS; got 'http://x.org/hook')")
    assert problems("telegram: {chats: {1: admin}, api_url: api.telegram.org}")[0].endswith(
        "api_url must start with http:// or https:// (got 'api.telegram.org')")
    [pasted] = problems(f"telegram: {{chats: {{1: admin}}, token_env: '{TOKEN}'}}")
    assert "not the token itself" in pasted and TOKEN not in pasted and TOKEN.split(":")[1] not in pasted
    config = parse_config("telegram:\n  chats:\n    123456789: trade\n    '-1001234567890': read_only\n", "c.yaml").telegram
    assert config is not None and config.chats == {123456789: "trade", -1001234567890: "read_only"}
    assert (config.mode, config.token_env, config.api_url) == ("polling", "OPENTRADE_TELEGRAM_TOKEN", "https://api.telegram.org")
    assert parse_config("trading: {}").telegram is None, "no section, no bot"


async def test_no_token_or_a_refused_one_stops_the_start(engine: TradingEngine, isolated_home: Path, botapi: FakeBotApi,
                                                        telegram: TelegramConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    engine.config = engine.config.model_copy(update={"telegram": telegram})
    monkeypatch.delenv("OPENTRADE_TELEGRAM_TOKEN")
    with pytest.raises(GatewayError) as unset:
        Gateway(engine, isolated_home, GatewayConfig(port=0)).check()
    assert str(unset.value) == ("telegram: the environment variable OPENTRADE_TELEGRAM_TOKEN is not set: put the bot's "
                                "token from BotFather there (never in the config file)")
    wrong = "7000000001:AAHsomeoneElsesTokenXXXXXXXXXXXXXXXX"
    monkeypatch.setenv("OPENTRADE_TELEGRAM_TOKEN", wrong)
    gateway = Gateway(engine, isolated_home, GatewayConfig(port=0))
    with pytest.raises(GatewayError) as refused:
        await gateway.start()
    assert str(refused.value) == (f"telegram: the Bot API at {botapi.url} refused the token in OPENTRADE_TELEGRAM_TOKEN: "
                                  "check the token with BotFather, and telegram.api_url")
    assert not (isolated_home / "gateway.json").exists(), "never announced"
    assert gateway._runner is None, "not listening either"


async def test_a_bot_api_out_of_reach_does_not_stop_the_gateway(isolated_home: Path, clock: SimClock, botapi: FakeBotApi,
                                                                telegram: TelegramConfig, caplog: pytest.LogCaptureFixture) -> None:
    botapi.fail["getMe"] = 2
    with caplog.at_level(logging.WARNING, "gateway.telegram.bot"):
        async with serving(isolated_home, clock, gateway_config(telegram=telegram)):
            assert (isolated_home / "gateway.json").exists(), "the engine runs and the API serves"
            assert "telegram: cannot reach the Bot API" in caplog.text and "Bad Gateway" in caplog.text
            assert await simulated_seconds_until(clock, lambda: getme_calls(botapi) == 2) == 5
            await until(lambda: "still cannot reach the Bot API (Bad Gateway); next try in 10 s" in caplog.text, "the log")
            assert await simulated_seconds_until(clock, lambda: getme_calls(botapi) == 3) == 10, "twice as long"
            assert (await botapi.reply(ADMIN, "/status"))["text"].startswith("Engine running")


def getme_calls(botapi: FakeBotApi) -> int:
    return [method for method, _ in botapi.calls].count("getMe")


async def simulated_seconds_until(clock: SimClock, done: Callable[[], bool], limit: int = 60) -> int:
    """Move the simulated clock a second at a time until ``done``; the seconds it took."""
    for second in range(1, limit + 1):
        clock.advance(1_000)
        for _ in range(50):  # let the woken task reach the Bot API and back
            if done():
                return second
            await asyncio.sleep(0.002)
    raise AssertionError(f"not done within {limit} simulated seconds")


async def test_the_webhook(isolated_home: Path, clock: SimClock, botapi: FakeBotApi, telegram: TelegramConfig) -> None:
    hooked = telegram.model_copy(update={"mode": "webhook", "webhook_url": WEBHOOK_URL})
    async with serving(isolated_home, clock, gateway_config(telegram=hooked)) as (_, gateway):
        assert botapi.webhook is not None
        assert botapi.webhook["url"] == WEBHOOK_URL and botapi.webhook["allowed_updates"] == ["message", "callback_query"]
        secret = botapi.webhook["secret_token"]
        assert len(secret) >= 32 and "getUpdates" not in [m for m, _ in botapi.calls]
        update = {"update_id": 1, "message": {"message_id": 1, "date": 1, "chat": {"id": ADMIN, "type": "private"},
                                              "from": {"id": ADMIN, "is_bot": False, "first_name": "A"}, "text": "/status",
                                              "entities": [{"offset": 0, "length": 7, "type": "bot_command"}]}}
        async with aiohttp.ClientSession() as session:
            async def post(headers: dict[str, str]) -> int:
                async with session.post(gateway.url + "/telegram/webhook", json=update, headers=headers) as response:
                    return response.status

            assert await post({"X-Telegram-Bot-Api-Secret-Token": "guess"}) == 401
            assert await post({}) == 401
            answer = await botapi.next_in(ADMIN, lambda: post({"X-Telegram-Bot-Api-Secret-Token": secret}), "the status")
            assert answer["text"].startswith("Engine running") and len(botapi.in_chat(ADMIN)) == 1
            async with session.get(gateway.url + "/api/v1/status") as response:
                assert response.status == 401, "the rest of the API still needs a token"
    assert botapi.webhook is None, "removed at the stop"


async def test_a_webhook_telegram_refuses_stops_the_start(engine: TradingEngine, isolated_home: Path, botapi: FakeBotApi,
                                                           telegram: TelegramConfig) -> None:
    engine.config = engine.config.model_copy(update={"telegram": telegram.model_copy(
        update={"mode": "webhook", "webhook_url": WEBHOOK_URL})})
    botapi.refuse["setWebhook"] = "Bad Request: bad webhook: Failed to resolve host: Name or service not known"
    with pytest.raises(GatewayError) as refused:
        await Gateway(engine, isolated_home, GatewayConfig(port=0)).start()
    assert str(refused.value).startswith(f"telegram: the Bot API at {botapi.url} refused to start the bot: ")
    assert str(refused.value).lower().endswith("bad webhook: failed to resolve host: name or service not known")
    assert not (isolated_home / "gateway.json").exists()


async def test_alerts_get_a_status_button_while_the_bot_runs(isolated_home: Path, clock: SimClock, botapi: FakeBotApi,
                                                            telegram: TelegramConfig) -> None:
    channels = [NotifierConfig(type="telegram", chat_id=str(chat), url=botapi.url) for chat in (ADMIN, 555)]
    config = gateway_config(telegram=telegram, notifications=NotificationsConfig(channels=channels))
    async with serving(isolated_home, clock, config) as (engine, gateway):
        engine.notifications.notify("drawdown", "equity fell 3%", "warning")
        assert await engine.notifications.flush() == 2
        alert = await botapi.wait_for(lambda: botapi.in_chat(ADMIN), "the alert")
        other = await botapi.wait_for(lambda: botapi.in_chat(555), "the alert in a chat the bot does not answer")
        assert alert[0]["text"] == "[WARNING] drawdown\nequity fell 3%"
        assert alert[0]["reply_markup"] == {"inline_keyboard": [[{"text": "Status", "callback_data": "status"}]]}
        assert "reply_markup" not in other[0], "a chat the bot does not answer gets no button"
        status = await botapi.next_in(ADMIN, lambda: botapi.press(alert[0], "Status"), "the status")
        assert status["text"].startswith("Engine running")
        await gateway.stop()
        engine.notifications.notify("later", "after the gateway stopped", "warning")
        assert await engine.notifications.flush() == 2
        assert "reply_markup" not in botapi.in_chat(ADMIN)[-1], "no bot, no button to press"
