"""Who is calling: a bearer token on every request and stream, turned into an ``Actor``.

A token's holder acts as ``api:<name>`` with the token's level (never more than the configured
profile's); the gateway's local token acts as ``api:local`` with the profile's level. A request
without a token is answered 401 and nothing more (it guessed nothing). A wrong token, or a
header that is not a bearer token, is a failed attempt: audited (the address, the path and
why, never what was sent) and counted per address. Past ``auth_failures`` within
``auth_window`` the address is refused with 429, whatever it sends, until the window has
passed; the attempt that starts the lockout is audited as such and the refusals during it are
not, so a flood neither guesses tokens nor fills the audit log.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from core.permissions import Actor, Level
from core.ports import Clock
from gateway.errors import ApiProblem, Handler
from gateway.tokens import LOCAL_NAME, TokenStore, digest

AuditFn = Callable[[str, dict[str, Any], str], Awaitable[Any]]
ACTOR = web.RequestKey("actor", Actor)
CREDENTIAL = web.RequestKey("credential", str)
MAX_PEERS = 10_000
CHALLENGE = {"WWW-Authenticate": 'Bearer realm="opentrade"'}


@dataclass
class Authenticated:
    actor: Actor
    credential: str  # the token's hash, to notice a revocation while a stream is open


class Authenticator:
    def __init__(self, tokens: TokenStore, local_token: str, profile_level: Level, clock: Clock,
                 max_failures: int, window_s: float, audit: AuditFn) -> None:
        self._tokens = tokens
        self._local_hash = digest(local_token)
        self._profile_level = profile_level
        self._clock = clock
        self._max_failures = max_failures
        self._window_ms = int(window_s * 1000)
        self._audit = audit
        self._failures: OrderedDict[str, deque[int]] = OrderedDict()

    def _recent(self, peer: str, now: int) -> deque[int]:
        failures = self._failures.get(peer)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self._window_ms:
            failures.popleft()
        if not failures:
            del self._failures[peer]
        return failures

    async def authenticate(self, header: str | None, peer: str, path: str) -> Authenticated:
        now = self._clock.now_ms()
        recent = self._recent(peer, now)
        if len(recent) >= self._max_failures:
            wait = max(1, (recent[0] + self._window_ms - now + 999) // 1000)
            raise ApiProblem(429, "rate_limited",
                             f"too many failed authentications from {peer}: try again in {wait} s",
                             {"Retry-After": str(wait)})
        if not header:
            raise ApiProblem(401, "unauthorized", "no token: send 'Authorization: Bearer <token>' "
                             "(create one with 'opentrade token create NAME')", CHALLENGE)
        found = self._identify(header)
        if isinstance(found, Authenticated):
            return found
        await self._failed(peer, path, found, now)
        raise ApiProblem(401, "unauthorized", found, CHALLENGE)

    def _identify(self, header: str) -> Authenticated | str:
        """The caller, or why not (never repeating what was sent)."""
        scheme, _, token = header.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return "the Authorization header must be 'Bearer <token>'"
        hashed = digest(token)
        if hmac.compare_digest(hashed, self._local_hash):
            return Authenticated(Actor(f"api:{LOCAL_NAME}", self._profile_level, "the local token"), hashed)
        record = self._tokens.lookup(token)
        if record is None:
            return "unknown or revoked token"
        return Authenticated(Actor(f"api:{record.name}", record.level, f"token '{record.name}'"), hashed)

    async def _failed(self, peer: str, path: str, reason: str, now: int) -> None:
        failures = self._failures.setdefault(peer, deque())
        self._failures.move_to_end(peer)
        failures.append(now)
        while len(self._failures) > MAX_PEERS:
            self._failures.popitem(last=False)
        kind = "auth_locked_out" if len(failures) >= self._max_failures else "auth_failed"
        await self._audit(kind, {"peer": peer, "path": path, "reason": reason, "failures": len(failures)}, "api")

    def still_valid(self, credential: str) -> bool:
        """False once the token behind an open stream has been revoked."""
        return credential == self._local_hash or any(
            hmac.compare_digest(credential, record.sha256) for record in self._tokens.records().values()
        )


def auth_middleware(auth: Authenticator, public: frozenset[str] = frozenset()) -> Middleware:
    """``public``: paths that check their caller themselves (the Telegram webhook's secret)."""

    @web.middleware
    async def authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path in public:
            return await handler(request)
        who = await auth.authenticate(request.headers.get("Authorization"), request.remote or "unknown", request.path)
        request[ACTOR] = who.actor
        request[CREDENTIAL] = who.credential
        return await handler(request)

    return authenticate
