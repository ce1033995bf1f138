"""Local stand-ins for the notification endpoints: an HTTP server (Telegram's sendMessage and a
webhook) and a minimal SMTP responder, both on 127.0.0.1 with a port chosen by the system."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class FakeHttp:
    """Answers 500 to the first ``fail_next`` requests; records the rest."""

    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    fail_next: int = 0
    failed: int = 0
    runner: web.AppRunner | None = None
    port: int = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/bot{token}/sendMessage", self._telegram)
        app.router.add_post("/hook", self._hook)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return f"http://127.0.0.1:{self.port}"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def _failing(self) -> bool:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.failed += 1
            return True
        return False

    async def _telegram(self, request: web.Request) -> web.Response:
        if self._failing():
            return web.json_response({"ok": False, "description": "Internal Server Error"}, status=500)
        self.requests.append((request.match_info["token"], await request.json()))
        return web.json_response({"ok": True, "result": {"message_id": len(self.requests)}})

    async def _hook(self, request: web.Request) -> web.Response:
        if self._failing():
            return web.Response(status=500)
        self.requests.append(("hook", await request.json()))
        return web.Response(status=204)


@dataclass
class FakeSmtp:
    """Just enough SMTP for smtplib: EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)
    server: asyncio.base_events.Server | None = None
    port: int = 0

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._session, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        def say(line: str) -> None:
            writer.write((line + "\r\n").encode())

        say("220 fake smtp ready")
        current: dict[str, Any] = {"rcpt": []}
        while line := (await reader.readline()).decode().rstrip("\r\n"):
            verb = line.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                say("250-fake\r\n250 AUTH PLAIN")
            elif verb == "AUTH":
                self.logins.append(line)
                say("235 ok")
            elif verb == "MAIL":
                current = {"from": line, "rcpt": []}
                say("250 ok")
            elif verb == "RCPT":
                current["rcpt"].append(line)
                say("250 ok")
            elif verb == "DATA":
                say("354 go on")
                await writer.drain()
                data = []
                while (chunk := (await reader.readline()).decode()) not in (".\r\n", ""):
                    data.append(chunk)
                current["data"] = "".join(data)
                self.messages.append(current)
                say("250 queued")
            elif verb == "QUIT":
                say("221 bye")
                await writer.drain()
                break
            else:
                say("250 ok")
            await writer.drain()
        writer.close()


def dump(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True)
