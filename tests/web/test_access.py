"""The login in front of `opentrade web`, in process on a simulated clock: what reaches the page
and the app's websocket, wrong passwords, expired and revoked sessions, the lockout, and the
environment each app session gets."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from core.clock import SimClock
from core.permissions import Level
from core.secrets import WEB_PASSWORD_ENV, web_password
from gateway.tokens import TokenStore
from web.access import COOKIE, Login
from web.server import AppSession, WebServer

PASSWORD = "correct horse battery"
TTL_S = 600
# A real Textual app, as small as one gets: the session machinery is what is under test here.
TINY_APP = [sys.executable, "-c", "from textual.app import App; App().run()"]


def make_login(home: Path, clock: SimClock, password: str | None = PASSWORD) -> Login:
    return Login(password, TokenStore(home), clock, TTL_S, max_failures=3, window_s=60)


@pytest.fixture
async def client(isolated_home: Path, clock: SimClock) -> AsyncIterator[TestClient]:
    server = WebServer(TINY_APP, "127.0.0.1", 0, login=make_login(isolated_home, clock), clock=clock)
    async with TestClient(TestServer(await server._make_app())) as test_client:
        yield test_client


async def log_in(client: TestClient, secret: str) -> aiohttp.ClientResponse:
    return await client.post("/login", data={"secret": secret}, allow_redirects=False)


async def test_nothing_but_the_login_page_without_a_session(client: TestClient) -> None:
    page = await client.get("/", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] == "/login"
    socket = await client.get("/ws")
    assert socket.status == 401  # refused before any app process starts
    login = await client.get("/login")
    assert login.status == 200 and "Password or API token" in await login.text()
    assert (await client.get("/static/js/textual.js")).status == 200  # the same for everyone


async def test_a_wrong_password_is_refused(client: TestClient) -> None:
    answer = await log_in(client, "correct horse")
    assert answer.status == 401
    assert "Wrong password or token." in await answer.text()
    assert COOKIE not in answer.cookies
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_the_password_opens_a_session_whose_page_uses_the_address_the_browser_used(client: TestClient) -> None:
    answer = await log_in(client, PASSWORD)
    assert answer.status == 302 and answer.headers["Location"] == "/"
    cookie = answer.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and f"Max-Age={TTL_S}" in cookie
    page = await client.get("/", allow_redirects=False)
    assert page.status == 200
    assert page.headers["Cache-Control"] == "no-store"  # a page left behind ends its session (no back-forward cache)
    host = f"{client.host}:{client.port}"
    assert f'data-session-websocket-url="ws://{host}/ws"' in await page.text()


async def test_an_expired_session_is_refused(client: TestClient, clock: SimClock) -> None:
    await log_in(client, PASSWORD)
    clock.advance(TTL_S * 1000 - 1)
    assert (await client.get("/", allow_redirects=False)).status == 200
    clock.advance(1)
    page = await client.get("/", allow_redirects=False)
    assert page.status == 302 and page.headers["Location"] == "/login"
    assert (await client.get("/ws")).status == 401


async def test_an_api_token_logs_in_until_it_is_revoked(client: TestClient, isolated_home: Path, clock: SimClock) -> None:
    store = TokenStore(isolated_home)
    token = store.create("phone", Level.READ_ONLY, clock.now_ms())
    assert (await log_in(client, token + "x")).status == 401
    assert (await log_in(client, token)).status == 302
    assert (await client.get("/", allow_redirects=False)).status == 200
    store.revoke("phone")
    assert (await client.get("/", allow_redirects=False)).status == 302


async def test_an_address_is_locked_out_after_repeated_failures_until_the_window_passes(client: TestClient, clock: SimClock) -> None:
    for _ in range(3):
        assert (await log_in(client, "guess")).status == 401
    locked = await log_in(client, PASSWORD)  # even the right password, while locked out
    assert locked.status == 429 and "try again in 60 s" in await locked.text()
    clock.advance(60_000)
    assert (await log_in(client, PASSWORD)).status == 302


def test_nothing_can_log_in_without_a_password_or_a_token(isolated_home: Path, clock: SimClock) -> None:
    login = make_login(isolated_home, clock, password=None)
    assert not login.can_log_in()
    TokenStore(isolated_home).create("desk", Level.TRADE, clock.now_ms())
    assert login.can_log_in()


def test_the_web_password_comes_from_the_environment_or_the_secrets_file(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text("web:\n  password: from-the-file\n")
    secrets.chmod(0o600)
    assert web_password(secrets, environ={}) == "from-the-file"
    assert web_password(secrets, environ={WEB_PASSWORD_ENV: "from-the-env"}) == "from-the-env"
    assert web_password(None, environ={}) is None


def test_an_app_session_gets_the_token_it_logged_in_with_and_never_the_web_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WEB_PASSWORD_ENV, PASSWORD)

    async def nothing(*args: object) -> None:
        return None

    def environment(token: str | None) -> dict[str, str]:
        session = AppSession("true", token, write_bytes=nothing, write_str=nothing, close=nothing, download_manager=None)
        return session._build_environment(100, 30)

    with_token = environment("otk_" + "a" * 43)
    assert WEB_PASSWORD_ENV not in with_token and PASSWORD not in with_token.values()
    assert with_token["OPENTRADE_TOKEN"] == "otk_" + "a" * 43
    assert with_token["COLUMNS"] == "100" and with_token["TEXTUAL_DRIVER"].endswith("WebDriver")
    assert "OPENTRADE_TOKEN" not in environment(None)


async def test_an_open_app_session_ends_when_its_login_expires(client: TestClient, clock: SimClock) -> None:
    await log_in(client, PASSWORD)
    async with client.ws_connect("/ws?width=80&height=24") as socket:
        first = await asyncio.wait_for(socket.receive(), 60)
        assert first.type == aiohttp.WSMsgType.BINARY and first.data  # the app drew its first frame
        clock.advance(TTL_S * 1000)
        while (message := await asyncio.wait_for(socket.receive(), 60)).type == aiohttp.WSMsgType.BINARY:
            pass
        assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
