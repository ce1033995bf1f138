"""A Telegram Bot API server on 127.0.0.1 (a port the system picks), answering in Telegram's own
formats: ``{"ok": true, "result": ...}`` with User, Chat, Message, Update and CallbackQuery
objects, ``{"ok": false, "error_code", "description"}`` for errors, 401 for a token it does not
know, 409 for getUpdates while a webhook is set, long polls that wait for an update or their
timeout. Requests are read as Telegram reads them: form fields with JSON values (what
python-telegram-bot sends) or a JSON body.

The test plays the people: ``write`` a message into a chat, ``press`` a button of a message the
bot sent, then wait (bounded, on real time only as a guard) for what the bot does.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import json
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT = {"id": 7_000_000_001, "is_bot": True, "first_name": "OpenTrade", "username": "opentrade_test_bot",
       "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}
DATE = 1_704_067_200
RAW = {"text", "callback_query_id", "url", "secret_token", "parse_mode", "inline_message_id"}
TAG = re.compile(r"<[^>]+>")
WAIT_S = 10.0  # a guard: the bot answers in milliseconds


def person(user_id: int) -> dict[str, Any]:
    return {"id": user_id, "is_bot": False, "first_name": f"Trader {user_id}", "username": f"trader{user_id}",
            "language_code": "en"}


def chat(chat_id: int) -> dict[str, Any]:
    if chat_id > 0:
        return {"id": chat_id, "type": "private", "first_name": f"Trader {chat_id}", "username": f"trader{chat_id}"}
    return {"id": chat_id, "type": "supergroup", "title": "Trading desk"}


def error(code: int, description: str) -> web.Response:
    return web.json_response({"ok": False, "error_code": code, "description": description}, status=code)


@dataclass
class FakeBotApi:
    token: str
    updates: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    messages: dict[tuple[int, int], dict[str, Any]] = field(default_factory=dict)  # the bot's, by (chat, id)
    sent: list[dict[str, Any]] = field(default_factory=list)  # messages as sent (latest text after edits)
    answers: list[dict[str, Any]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    webhook: dict[str, Any] | None = None
    fail: dict[str, int] = field(default_factory=dict)  # method: answers of 502 still to give
    refuse: dict[str, str] = field(default_factory=dict)  # method: the description of a 400 it always gets
    offset: int = 0  # updates below it are confirmed by the bot
    url: str = ""
    _next_update: int = 100
    _next_message: int = 1
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _runner: web.AppRunner | None = None
    _closing: bool = False

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._method)
        self._runner = web.AppRunner(app, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        return self.url

    async def stop(self) -> None:
        self._closing = True  # a long poll still open returns now, not at its timeout
        await self._notify()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------------ the people

    async def _push(self, update: dict[str, Any]) -> int:
        update_id = self._next_update
        self._next_update += 1
        self.updates.append({"update_id": update_id, **update})
        await self._notify()
        return update_id

    async def write(self, chat_id: int, text: str, user_id: int | None = None) -> int:
        """A message in a chat (a command gets its bot_command entity, as Telegram marks it)."""
        message: dict[str, Any] = {"message_id": self._message_id(), "from": person(user_id or abs(chat_id)),
                                   "chat": chat(chat_id), "date": DATE, "text": text}
        if text.startswith("/"):
            message["entities"] = [{"offset": 0, "length": len(text.split()[0]), "type": "bot_command"}]
        return await self._push({"message": message})

    async def press(self, message: dict[str, Any], label: str, user_id: int | None = None) -> str:
        """Press the button ``label`` under a message the bot sent; the callback query's id."""
        data = next(button["callback_data"] for row in message["reply_markup"]["inline_keyboard"] for button in row
                    if button["text"] == label)
        return await self.press_data(message, data, user_id)

    async def press_data(self, message: dict[str, Any], data: str, user_id: int | None = None) -> str:
        query_id = f"{len(self.updates) + 1}{message['message_id']:06d}"
        chat_id = message["chat"]["id"]
        await self._push({"callback_query": {"id": query_id, "from": person(user_id or abs(chat_id)),
                                             "message": message, "chat_instance": f"-{abs(chat_id)}", "data": data}})
        return query_id

    async def wait_for(self, found: Callable[[], Any], what: str) -> Any:
        async def until() -> Any:
            async with self._changed:
                while not (result := found()):
                    await self._changed.wait()
                return result

        try:
            return await asyncio.wait_for(until(), WAIT_S)
        except TimeoutError:
            raise AssertionError(f"the bot never did it: {what}; calls: {[m for m, _ in self.calls]}") from None

    async def reply(self, chat_id: int, text: str) -> dict[str, Any]:
        """Write ``text`` in the chat and wait for the bot's next message there (as it was sent:
        a later edit does not take its buttons away from a quick second press)."""
        return copy.deepcopy(await self.next_in(chat_id, lambda: self.write(chat_id, text), f"an answer to {text!r}"))

    async def next_in(self, chat_id: int, action: Callable[[], Awaitable[Any]], what: str) -> dict[str, Any]:
        """The bot's next message in the chat after ``action``."""
        before = len(self.sent)
        await action()
        return await self.wait_for(lambda: next((m for m in self.sent[before:] if m["chat"]["id"] == chat_id), None),
                                   f"{what} in chat {chat_id}")

    async def answer(self, query_id: str) -> dict[str, Any]:
        """The bot's answerCallbackQuery to a press."""
        return await self.wait_for(lambda: next((a for a in self.answers if a["callback_query_id"] == query_id), None),
                                   f"an answer to the callback query {query_id}")

    async def edited(self, message: dict[str, Any], count: int = 1) -> dict[str, Any]:
        """The message as the bot's ``count``-th edit of it left it."""
        def edit() -> dict[str, Any] | None:
            edits = [e for e in self.edits if e["message_id"] == message["message_id"]]
            return edits[count - 1] if len(edits) >= count else None

        return await self.wait_for(edit, f"edit {count} of message {message['message_id']}")

    def in_chat(self, chat_id: int) -> list[dict[str, Any]]:
        return [m for m in self.sent if m["chat"]["id"] == chat_id]

    # ---------------------------------------------------------------------- the Bot API

    def _message_id(self) -> int:
        self._next_message += 1
        return self._next_message

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    async def _method(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        try:
            if self.fail.get(method, 0) > 0:
                self.fail[method] -= 1
                return error(502, "Bad Gateway")
            if method in self.refuse:
                return error(400, self.refuse[method])
            answer = getattr(self, f"_{method}", None)
            if answer is None:
                return error(404, "Not Found")
            result = await answer(params)
            return result if isinstance(result, web.Response) else web.json_response({"ok": True, "result": result})
        finally:
            await self._notify()

    @staticmethod
    async def _params(request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return dict(await request.json())
        fields = dict(await request.post()) if request.method == "POST" else dict(request.query)
        params: dict[str, Any] = {}
        for key, value in fields.items():
            try:
                params[key] = value if key in RAW else json.loads(str(value))
            except ValueError:
                params[key] = value
        return params

    async def _getMe(self, params: dict[str, Any]) -> Any:  # noqa: N802 - the Bot API's method names
        return BOT

    async def _getUpdates(self, params: dict[str, Any]) -> Any:  # noqa: N802
        if self.webhook is not None:
            return error(409, "Conflict: can't use getUpdates method while webhook is active; "
                              "use deleteWebhook to delete the webhook first")
        self.offset = max(self.offset, int(params.get("offset") or 0))
        timeout = float(params.get("timeout") or 0)

        def pending() -> list[dict[str, Any]]:
            return [u for u in self.updates if u["update_id"] >= self.offset]

        if not pending() and timeout > 0:
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait_for(lambda: bool(pending()) or self._closing), timeout)
        return pending()

    async def _sendMessage(self, params: dict[str, Any]) -> Any:  # noqa: N802
        chat_id = int(params["chat_id"])
        message = {"message_id": self._message_id(), "from": BOT, "chat": chat(chat_id), "date": DATE,
                   "text": html.unescape(TAG.sub("", params["text"])), "html": params["text"]}
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.messages[(chat_id, message["message_id"])] = message
        self.sent.append(message)
        return {k: v for k, v in message.items() if k != "html"}

    async def _editMessageText(self, params: dict[str, Any]) -> Any:  # noqa: N802
        message = self.messages.get((int(params["chat_id"]), int(params["message_id"])))
        if message is None:
            return error(400, "Bad Request: message to edit not found")
        if message["html"] == params["text"] and message.get("reply_markup") == (params.get("reply_markup") or None):
            return error(400, "Bad Request: message is not modified: specified new message content and reply markup are "
                              "exactly the same as a current content and reply markup of the message")
        message.update(text=html.unescape(TAG.sub("", params["text"])), html=params["text"], edit_date=DATE + 1)
        message.pop("reply_markup", None)
        if params.get("reply_markup"):
            message["reply_markup"] = params["reply_markup"]
        self.edits.append(dict(message))
        return {k: v for k, v in message.items() if k != "html"}

    async def _answerCallbackQuery(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.answers.append(params)
        return True

    async def _setWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.webhook = params
        return True

    async def _deleteWebhook(self, params: dict[str, Any]) -> Any:  # noqa: N802
        self.webhook = None
        return True
