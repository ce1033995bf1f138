"""The bot's life in the gateway's loop: python-telegram-bot's Application, started and stopped
by the gateway, fetching updates by long polling (or receiving them on the gateway's own
/telegram/webhook), each one checked against the allowed chats and handed to ``Commands``.

The token is read from the environment and registered with the log filter before the library
sees it (it logs the Bot API URL, token included, at DEBUG, and httpx logs every request URL).
A token the Bot API refuses stops the gateway's start, as a bad setting does; a Bot API that
cannot be reached does not (trading and its risk checks never wait for Telegram): the bot keeps
trying in the background, on the engine's clock.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import secrets
from typing import TYPE_CHECKING, Any

from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, LinkPreviewOptions, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest, InvalidToken, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    TypeHandler,
    filters,
)

from core.config import TelegramConfig
from core.notify.channels import TelegramNotifier
from core.redact import redact, register_secret
from core.tasks import cancel_and_wait
from gateway.telegram.access import Access
from gateway.telegram.commands import STATUS, Chat, Commands, Reply
from gateway.telegram.confirm import Confirmations

if TYPE_CHECKING:
    from core.engine import TradingEngine
    from gateway.stream import StreamHub

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATES = ["message", "callback_query"]
RETRY_FIRST_S, RETRY_MAX_S = 5, 300
NO_PREVIEW = LinkPreviewOptions(is_disabled=True)


class BotError(Exception):
    """The bot cannot start as configured; worded for the person starting the gateway."""


class TelegramBot:
    def __init__(self, engine: TradingEngine, hub: StreamHub, config: TelegramConfig) -> None:
        self.engine = engine
        self.config = config
        self.access = Access(config.chats, engine.clock)
        self.commands = Commands(engine, hub, Confirmations(engine.clock))
        self._app: Application[Any, Any, Any, Any, Any, Any] | None = None
        self._connecting: asyncio.Task[None] | None = None
        self._webhook_secret = secrets.token_urlsafe(32)

    @property
    def webhook(self) -> bool:
        return self.config.mode == "webhook"

    def token(self) -> str:
        """The token from the environment, registered as a secret; BotError when it is unset."""
        token = os.environ.get(self.config.token_env, "").strip()
        if not token:
            raise BotError(f"telegram: the environment variable {self.config.token_env} is not set: put the bot's "
                           "token from BotFather there (never in the config file)")
        register_secret(token)
        return token

    def _build(self, token: str) -> Application[Any, Any, Any, Any, Any, Any]:
        api = self.config.api_url.rstrip("/")
        builder = (ApplicationBuilder().token(token).base_url(f"{api}/bot").base_file_url(f"{api}/file/bot")
                   .job_queue(None).concurrent_updates(False))
        if self.webhook:
            builder = builder.updater(None)
        app = builder.build()
        app.add_handler(TypeHandler(Update, self._gate), group=-1)
        for name in self.commands.names:
            app.add_handler(CommandHandler(name, self._command, filters=filters.UpdateType.MESSAGE))
        app.add_handler(CallbackQueryHandler(self._button))
        app.add_handler(MessageHandler(filters.UpdateType.MESSAGE, self._other))
        app.add_error_handler(self._error)
        return app

    async def start(self) -> None:
        """Reach the Bot API (getMe) and start receiving updates; BotError for a token it
        refuses. When it cannot be reached, the gateway starts anyway and the bot keeps trying."""
        self._app = self._build(self.token())
        try:
            await self._connect()
        except (NetworkError, RetryAfter) as exc:
            log.warning("telegram: cannot reach the Bot API at %s (%s); the bot tries again in the background",
                        self.config.api_url, exc)
            self._connecting = asyncio.get_running_loop().create_task(self._retry(), name="telegram-connect")

    async def _connect(self) -> None:
        assert self._app is not None
        try:
            await self._app.initialize()
            if self.webhook:
                assert self.config.webhook_url is not None
                await self._app.bot.set_webhook(self.config.webhook_url, allowed_updates=UPDATES,
                                                secret_token=self._webhook_secret)
            if not self._app.running:  # a retry after the polling's start failed
                await self._app.start()
            if self._app.updater is not None:
                await self._app.updater.start_polling(timeout=self.config.poll_timeout, allowed_updates=UPDATES,
                                                      error_callback=_polling_failed)
        except InvalidToken:  # its text holds the token: not repeated
            raise BotError(f"telegram: the Bot API at {self.config.api_url} refused the token in "
                           f"{self.config.token_env}: check the token with BotFather, and telegram.api_url") from None
        except TelegramError as exc:
            if isinstance(exc, NetworkError | RetryAfter) and not isinstance(exc, BadRequest):
                raise  # out of reach for now: tried again
            raise BotError(f"telegram: the Bot API at {self.config.api_url} refused to start the bot: {redact(str(exc))}") from None
        self._offer_status_button(True)
        log.info("telegram bot @%s answering %d chat(s) by %s", self._app.bot.username, len(self.config.chats),
                 "webhook" if self.webhook else "long polling")

    async def _retry(self) -> None:
        delay = RETRY_FIRST_S
        while True:
            await self.engine.clock.sleep(delay)
            try:
                await self._connect()
                return
            except (NetworkError, RetryAfter) as exc:
                delay = min(delay * 2, RETRY_MAX_S)
                log.warning("telegram: still cannot reach the Bot API (%s); next try in %d s", exc, delay)
            except BotError as exc:
                log.error("%s", exc)
                return

    async def stop(self) -> None:
        await cancel_and_wait(self._connecting)
        self._connecting = None
        app, self._app = self._app, None
        if app is None:
            return
        self._offer_status_button(False)
        if app.updater is not None and app.updater.running:
            await app.updater.stop()
        if app.running:
            if self.webhook:
                await self._quietly("removing the webhook", app.bot.delete_webhook())
            await app.stop()
        await self._quietly("closing the connection", app.shutdown())
        log.info("telegram bot stopped")

    @staticmethod
    async def _quietly(what: str, call: Any) -> None:
        try:
            await call
        except TelegramError as exc:
            log.warning("telegram: %s failed: %s", what, exc)

    def _offer_status_button(self, offered: bool) -> None:
        """The alerts' Telegram channels to the allowed chats, sent with this bot's token, get a
        Status button while the bot runs to answer it."""
        for channel in self.engine.notifications.channels:
            if isinstance(channel, TelegramNotifier) and channel.token_env == self.config.token_env \
                    and channel.chat_id is not None and channel.chat_id.lstrip("-").isdigit() \
                    and int(channel.chat_id) in self.config.chats:
                channel.buttons = [[("Status", STATUS)]] if offered else []

    # ---------------------------------------------------------------------------- updates

    async def webhook_update(self, request: web.Request) -> web.Response:
        """POST /telegram/webhook: an update from Telegram, recognised by the secret it was
        given with setWebhook (a different one each start)."""
        given = request.headers.get(SECRET_HEADER, "")
        if self._app is None or not hmac.compare_digest(given.encode(), self._webhook_secret.encode()):
            log.warning("telegram webhook: a request from %s without this start's secret, ignored", request.remote)
            return web.Response(status=401)
        try:
            data = await request.json()
        except ValueError:
            return web.Response(status=400, text="not JSON")
        update = Update.de_json(data, self._app.bot)
        if update is not None:
            await self._app.update_queue.put(update)
        return web.Response(status=200)

    def _allowed(self, update: Update) -> Chat | None:
        chat = update.effective_chat
        actor = self.access.actor(chat.id) if chat is not None else None
        return Chat(chat.id, actor) if chat is not None and actor is not None else None

    async def _gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Before any handler: an update from a chat that is not allowed goes no further."""
        if self._allowed(update) is not None:
            return
        chat, user = update.effective_chat, update.effective_user
        if chat is not None:
            ignored = self.access.ignored(chat.id)
            if ignored is not None:
                message = update.effective_message
                text = (message.text or "") if message is not None else ""
                await self._audit("telegram_refused", {
                    "chat_id": chat.id, "chat_type": chat.type, "user_id": user.id if user else None,
                    "username": user.username if user else None, "command": text.split(maxsplit=1)[0][:32] if text else None,
                    "button": update.callback_query is not None, "ignored": ignored,
                }, f"telegram:{chat.id}")
        raise ApplicationHandlerStop

    async def _command(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, message = self._allowed(update), update.effective_message
        if chat is None or message is None or not message.text:
            return
        name = message.text.split(maxsplit=1)[0].lstrip("/").split("@")[0].lower()
        await self._send(chat.id, await self.commands.run(chat, name, list(context.args or [])))

    async def _other(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat = self._allowed(update)
        if chat is not None:
            await self._send(chat.id, Reply("Not a command of this bot: /help lists them."))

    async def _button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        chat, query = self._allowed(update), update.callback_query
        if chat is None or query is None:
            return
        pressed = await self.commands.press(chat, query.data or "", lambda kind, payload: self._audit(kind, payload, chat.actor))
        await query.answer(pressed.notice[:200] or None)
        if pressed.edit is not None and query.message is not None:
            try:
                await query.edit_message_text(pressed.edit, parse_mode=ParseMode.HTML, link_preview_options=NO_PREVIEW)
            except BadRequest as exc:  # pressed again: the message already says so
                if "not modified" not in str(exc):
                    raise
        if pressed.reply is not None:
            await self._send(chat.id, pressed.reply)

    async def _send(self, chat_id: int, reply: Reply) -> None:
        assert self._app is not None
        markup = InlineKeyboardMarkup([[InlineKeyboardButton(label, callback_data=data) for label, data in row]
                                       for row in reply.buttons]) if reply.buttons else None
        await self._app.bot.send_message(chat_id, reply.text, parse_mode=ParseMode.HTML, reply_markup=markup,
                                         link_preview_options=NO_PREVIEW)

    async def _error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        log.error("telegram: an update failed: %s", context.error, exc_info=context.error)

    async def _audit(self, kind: str, payload: dict[str, Any], actor: str) -> None:
        await self.engine.db.audit(kind, payload, actor=actor, ts=self.engine.clock.now_ms())


def _polling_failed(exc: TelegramError) -> None:
    """One line per failed poll (the library retries on its own): another process polling with
    the same token (Conflict), the Bot API down."""
    log.warning("telegram: fetching updates failed: %s", exc)
