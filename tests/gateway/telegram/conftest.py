"""A real gateway whose bot talks to a fake Bot API on 127.0.0.1: three allowed chats, one per
level (the reader's a group), and the token in the environment as a person would set it."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from core.config import AppConfig, TelegramConfig
from tests.gateway.conftest import gateway_config
from tests.gateway.telegram.botapi import FakeBotApi

TOKEN = "7000000001:AAHfakeTokenForTheTests-0123456789ab"  # the shape BotFather gives
ADMIN, TRADER, READER, STRANGER = 111, 222, -100333, 999


@pytest.fixture
async def botapi() -> AsyncIterator[FakeBotApi]:
    api = FakeBotApi(TOKEN)
    await api.start()
    yield api
    await api.stop()


@pytest.fixture
def telegram(botapi: FakeBotApi, monkeypatch: pytest.MonkeyPatch) -> TelegramConfig:
    monkeypatch.setenv("OPENTRADE_TELEGRAM_TOKEN", TOKEN)
    return TelegramConfig(chats={ADMIN: "admin", TRADER: "trade", READER: "read_only"}, api_url=botapi.url,
                          poll_timeout=1)


@pytest.fixture
def config(telegram: TelegramConfig, request: pytest.FixtureRequest) -> AppConfig:
    """Other sections for one test: ``@pytest.mark.parametrize("config", [{...}], indirect=True)``."""
    return gateway_config(telegram=telegram).model_copy(update=getattr(request, "param", {}))
