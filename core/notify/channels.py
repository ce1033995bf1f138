"""The three Notifier implementations. Each ``send`` either delivers or raises NotifyError
(with secrets masked); retrying is the service's job, not theirs.

aiohttp comes with ccxt and is imported on first use; SMTP runs in a worker thread
(``smtplib`` blocks) so a slow mail server never stalls the event loop.
"""

from __future__ import annotations

import asyncio
import os
import smtplib
from email.message import EmailMessage
from typing import Any

from core.config import NotificationsConfig, NotifierConfig
from core.ports import Notifier
from core.redact import redact, register_secret

TELEGRAM_API = "https://api.telegram.org"
TELEGRAM_MAX_TEXT = 4096


class NotifyError(Exception):
    """A message that did not get through; the text never holds a token or password."""

    def __init__(self, message: str) -> None:
        super().__init__(redact(message))


def _secret(variable: str, what: str) -> str:
    value = os.environ.get(variable, "")
    if not value:
        raise NotifyError(f"{what}: environment variable {variable} is not set")
    register_secret(value)
    return value


async def _post_json(url: str, payload: dict[str, Any], timeout: float) -> tuple[int, Any]:
    import aiohttp

    try:
        async with (aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
                    session.post(url, json=payload) as response):
            try:
                body: Any = await response.json(content_type=None)
            except ValueError:
                body = None
            return response.status, body
    except (aiohttp.ClientError, TimeoutError, OSError) as exc:
        raise NotifyError(f"{type(exc).__name__}: {exc}") from None


class TelegramNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        self.name = f"telegram:{config.chat_id}"
        self.chat_id = config.chat_id
        self.token_env = config.token_env
        # Buttons under each message (label, callback data): the gateway's bot offers its
        # Status button here while it runs to answer the press.
        self.buttons: list[list[tuple[str, str]]] = []
        self._config = config

    async def send(self, title: str, body: str, level: str = "info") -> None:
        token = _secret(self._config.token_env, "telegram")
        url = f"{(self._config.url or TELEGRAM_API).rstrip('/')}/bot{token}/sendMessage"
        text = f"[{level.upper()}] {title}\n{body}"[:TELEGRAM_MAX_TEXT]
        payload: dict[str, Any] = {"chat_id": self._config.chat_id, "text": text, "disable_web_page_preview": True}
        if self.buttons:
            payload["reply_markup"] = {"inline_keyboard": [[{"text": label, "callback_data": data} for label, data in row]
                                                           for row in self.buttons]}
        status, answer = await _post_json(url, payload, self._config.timeout)
        if status != 200 or not isinstance(answer, dict) or not answer.get("ok"):
            detail = answer.get("description") if isinstance(answer, dict) else None
            raise NotifyError(f"telegram answered {status}: {detail or 'no description'}")


class WebhookNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        assert config.url is not None
        self.name = f"webhook:{config.url.split('?')[0]}"
        self._config = config
        self._url = config.url

    async def send(self, title: str, body: str, level: str = "info") -> None:
        status, _ = await _post_json(self._url, {"source": "opentrade", "level": level, "title": title, "body": body},
                                     self._config.timeout)
        if not 200 <= status < 300:
            raise NotifyError(f"webhook answered {status}")


class EmailNotifier:
    def __init__(self, config: NotifierConfig) -> None:
        self.name = f"email:{','.join(config.recipients)}"
        self._config = config

    async def send(self, title: str, body: str, level: str = "info") -> None:
        message = EmailMessage()
        message["Subject"] = f"[OpenTrade {level}] {title}"
        message["From"] = self._config.sender
        message["To"] = ", ".join(self._config.recipients)
        message.set_content(body)
        password = _secret(self._config.password_env, "email") if self._config.username else None
        try:
            await asyncio.to_thread(self._deliver, message, password)
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(f"smtp {self._config.smtp_host}: {type(exc).__name__}: {exc}") from None

    def _deliver(self, message: EmailMessage, password: str | None) -> None:
        config = self._config
        assert config.smtp_host is not None
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout) as smtp:
            if config.starttls:
                smtp.starttls()
            if config.username and password is not None:
                smtp.login(config.username, password)
            smtp.send_message(message)


def build_channels(config: NotificationsConfig) -> list[Notifier]:
    kinds: dict[str, type[TelegramNotifier] | type[WebhookNotifier] | type[EmailNotifier]] = {
        "telegram": TelegramNotifier, "webhook": WebhookNotifier, "email": EmailNotifier,
    }
    return [kinds[channel.type](channel) for channel in config.channels]
