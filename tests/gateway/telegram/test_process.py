"""The real `opentrade gateway` with its bot, logging at DEBUG (where python-telegram-bot writes
the Bot API URL, token included, and httpx every request URL): the commands work, the token
appears in no log line, and a missing token stops the start with one line and exit 2."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path

from tests.gateway.telegram.botapi import FakeBotApi
from tests.gateway.telegram.conftest import ADMIN, TOKEN
from tests.gateway.test_cli import CONFIG, ROOT, env, opentrade


def configured(tmp_path: Path, botapi: FakeBotApi) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(CONFIG + f"logging: {{level: DEBUG}}\ntelegram:\n  api_url: {botapi.url}\n  poll_timeout: 1\n"
                             f"  chats:\n    {ADMIN}: admin\n")
    return path


async def test_the_bot_in_the_real_gateway_never_logs_its_token(tmp_path: Path, isolated_home: Path, botapi: FakeBotApi) -> None:
    config, log = configured(tmp_path, botapi), tmp_path / "gateway.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(*opentrade(config, isolated_home, "gateway"), stdout=out,
                                                       stderr=subprocess.STDOUT, cwd=ROOT,
                                                       env=env(OPENTRADE_TELEGRAM_TOKEN=TOKEN))
    try:
        polling = botapi.wait_for(lambda: any(m == "getUpdates" for m, _ in botapi.calls), "polling")
        await asyncio.wait_for(polling, 60)
        assert (await botapi.reply(ADMIN, "/status"))["text"].startswith("Engine running")
        question = await botapi.reply(ADMIN, "/stop")
        assert (await botapi.answer(await botapi.press(question, "Confirm")))["text"] == "Done"
        assert "Risk state HALTED" in (await botapi.edited(question))["text"]
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 30) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    logs = log.read_text() + (isolated_home / "logs" / "opentrade.log").read_text()
    assert "Set Bot API URL: " in logs and "/bot***/getUpdates" in logs, "the lines that would carry it were logged"
    assert "telegram bot @opentrade_test_bot answering 1 chat(s) by long polling" in logs
    assert TOKEN not in logs and TOKEN.split(":")[1] not in logs


def test_a_missing_token_stops_the_start(tmp_path: Path, isolated_home: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(CONFIG + "telegram:\n  chats: {111: admin}\n")
    result = subprocess.run(opentrade(config, isolated_home, "gateway"), capture_output=True, text=True, cwd=ROOT,
                            env=env(), timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().endswith("telegram: the environment variable OPENTRADE_TELEGRAM_TOKEN is not set: put the "
                                          "bot's token from BotFather there (never in the config file)")
    assert "Traceback" not in result.stderr and "engine running" not in result.stderr
