"""Who may open the app in a browser: a login page checked before any app process starts.

A browser logs in with the web password (``OPENTRADE_WEB_PASSWORD`` or the secrets file) or one
of the gateway's API tokens, and gets a session cookie that expires ``ttl`` seconds later
(HttpOnly, SameSite=Strict, Secure over TLS). Only the cookie's hash is kept, in memory: a
restart logs everyone out. A session opened with a token is refused from the first request after
the token is revoked (an app it already runs attached to the gateway is cut off by the gateway).
Wrong attempts are logged with the address only, never what was typed, and past
``max_failures`` within ``window_s`` the address is refused (429) until the window has passed.
"""

from __future__ import annotations

import hashlib
import hmac
import html
import logging
import secrets
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web

from core.ports import Clock
from core.redact import TOKEN_PREFIX
from gateway.tokens import TokenStore

log = logging.getLogger(__name__)

COOKIE = "opentrade_session"
LOGIN_PATH = "/login"
PUBLIC_PREFIXES = ("/static/",)  # textual-serve's scripts, styles and fonts: the same for everyone
MAX_PEERS = 10_000
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True)
class Session:
    who: str  # "password" or "token 'name'", for the log
    expires_ms: int
    token: str | None  # the API token it logged in with: its app session acts with it


class Login:
    def __init__(self, password: str | None, tokens: TokenStore, clock: Clock, ttl_s: float, *,
                 max_failures: int = 10, window_s: float = 60) -> None:
        self._password = password
        self._tokens = tokens
        self._clock = clock
        self._ttl_ms = int(ttl_s * 1000)
        self._max_failures = max_failures
        self._window_ms = int(window_s * 1000)
        self._sessions: dict[str, Session] = {}
        self._failures: OrderedDict[str, deque[int]] = OrderedDict()

    def can_log_in(self) -> bool:
        """Whether anyone could: a password is set or a token exists."""
        return self._password is not None or bool(self._tokens.records())

    def _check(self, secret: str) -> Session | None:
        expires = self._clock.now_ms() + self._ttl_ms
        if secret.startswith(TOKEN_PREFIX):
            record = self._tokens.lookup(secret)
            return None if record is None else Session(f"token '{record.name}'", expires, secret)
        if self._password is not None and hmac.compare_digest(secret.encode(), self._password.encode()):
            return Session("password", expires, None)
        return None

    def locked_for(self, peer: str) -> int:
        """Seconds until ``peer`` may try again; 0 when it may now."""
        now = self._clock.now_ms()
        failures = self._failures.get(peer)
        while failures and failures[0] <= now - self._window_ms:
            failures.popleft()
        if failures is not None and not failures:
            del self._failures[peer]
        if failures is None or len(failures) < self._max_failures:
            return 0
        return max(1, (failures[0] + self._window_ms - now + 999) // 1000)

    def log_in(self, secret: str, peer: str) -> str | None:
        """A new session's cookie value, or None (the attempt counted against ``peer``)."""
        session = self._check(secret)
        if session is None:
            failures = self._failures.setdefault(peer, deque())
            self._failures.move_to_end(peer)
            failures.append(self._clock.now_ms())
            while len(self._failures) > MAX_PEERS:
                self._failures.popitem(last=False)
            log.warning("web login refused from %s (%d failed within %d s)", peer, len(failures), self._window_ms // 1000)
            return None
        now = self._clock.now_ms()
        self._sessions = {key: s for key, s in self._sessions.items() if s.expires_ms > now}
        cookie = secrets.token_urlsafe(32)
        self._sessions[hashlib.sha256(cookie.encode()).hexdigest()] = session
        log.info("web login from %s with the %s", peer, session.who)
        return cookie

    def session(self, cookie: str | None) -> Session | None:
        """The live session behind a cookie: None when unknown, expired or its token revoked."""
        if not cookie:
            return None
        key = hashlib.sha256(cookie.encode("utf-8", "surrogatepass")).hexdigest()
        session = self._sessions.get(key)
        if session is None:
            return None
        revoked = session.token is not None and self._tokens.lookup(session.token) is None
        if session.expires_ms <= self._clock.now_ms() or revoked:
            del self._sessions[key]
            return None
        return session

    def remaining_s(self, session: Session) -> float:
        return max(0.0, (session.expires_ms - self._clock.now_ms()) / 1000)

    @property
    def ttl_s(self) -> float:
        return self._ttl_ms / 1000


PAGE = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>OpenTrade: log in</title>
<style>
body {{ background: #0c181f; color: #e6eef2; font-family: menlo, monospace; display: flex;
       align-items: center; justify-content: center; height: 100vh; margin: 0; }}
form {{ background: #12232d; padding: 32px; width: 420px; }}
input {{ width: 100%; box-sizing: border-box; padding: 8px; margin: 12px 0; font: inherit; }}
button {{ padding: 8px 24px; font: inherit; }}
.error {{ color: #ff7b72; }}
</style></head>
<body><form method="post" action="{action}">
<div>OpenTrade</div>
<label for="secret">Password or API token</label>
<input id="secret" name="secret" type="password" autocomplete="current-password" autofocus>
<div class="error" id="error">{error}</div>
<button type="submit" id="login">Log in</button>
</form></body></html>
"""


def page(error: str = "", status: int = 200) -> web.Response:
    return web.Response(text=PAGE.format(action=LOGIN_PATH, error=html.escape(error)), status=status,
                        content_type="text/html", headers={"Cache-Control": "no-store"})


def add_login(app: web.Application, login: Login, secure: bool) -> None:
    """The login page, and a middleware that turns away every other request without a session:
    pages go to the login page, the app's websocket (which would start an app) gets 401."""

    async def show(request: web.Request) -> web.Response:
        return page()

    async def submit(request: web.Request) -> web.Response:
        peer = request.remote or "unknown"
        wait = login.locked_for(peer)
        if wait:
            return page(f"Too many wrong attempts from {peer}: try again in {wait} s.", 429)
        form = await request.post()
        cookie = login.log_in(str(form.get("secret", "")), peer)
        if cookie is None:
            return page("Wrong password or token.", 401)
        response = web.Response(status=302, headers={"Location": "/", "Cache-Control": "no-store"})
        response.set_cookie(COOKIE, cookie, max_age=int(login.ttl_s), httponly=True, secure=secure,
                            samesite="Strict", path="/")
        return response

    @web.middleware
    async def require_login(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path == LOGIN_PATH or request.path.startswith(PUBLIC_PREFIXES):
            return await handler(request)
        if login.session(request.cookies.get(COOKIE)) is None:
            if request.method == "GET" and request.path == "/":
                raise web.HTTPFound(LOGIN_PATH)
            raise web.HTTPUnauthorized(text="log in first: " + LOGIN_PATH)
        return await handler(request)

    app.router.add_get(LOGIN_PATH, show)
    app.router.add_post(LOGIN_PATH, submit)
    app.middlewares.append(require_login)


def session_of(request: web.Request, login: Login | None) -> Session | None:
    return None if login is None else login.session(request.cookies.get(COOKIE))

