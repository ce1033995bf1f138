"""Every failure of a request becomes a JSON ``ErrorBody`` with a 4xx or 5xx status, never a
traceback: the engine's refusals keep the exact text the app shows for them.

| what happened | status | error |
|---|---|---|
| body or query that does not fit the schema, JSON that does not parse | 400 | invalid_request |
| no token, an unknown or revoked token | 401 | unauthorized |
| a level too low for the action (``PermissionDenied``, an order refused for permission) | 403 | forbidden |
| no such route, order or strategy; a market the venue does not list | 404 | not_found |
| an order refused by validation, surveillance, breakers or the risk manager | 422 | refused |
| a client order id used before | 409 | conflict |
| a body above ``gateway.max_body_bytes`` | 413 | too_large |
| too many failed authentications from one address | 429 | rate_limited |
| a venue or the storage failed under the request (the engine's own words) | 503 | unavailable |
| a bug (logged with its traceback, which stays in the log) | 500 | internal |
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiohttp import web
from aiohttp.typedefs import Middleware
from pydantic import ValidationError

from core.api import ErrorBody, validation_text
from core.executor import OrderRefused
from core.permissions import PermissionDenied
from core.ports import VenueError
from core.redact import redact
from core.risk.protector import ProtectionRefused
from core.storage.errors import StorageError
from core.strategies.base import ParameterError

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

RULE_STATUS = {"permission": (403, "forbidden"), "unknown_order": (404, "not_found"),
               "unknown_market": (404, "not_found"), "duplicate_id": (409, "conflict")}
HTTP_ERRORS = {404: "not_found", 405: "not_found", 413: "too_large", 414: "too_large", 431: "too_large"}


class ApiProblem(Exception):
    """A request the gateway refuses itself (authentication, an unknown order, bad input)."""

    def __init__(self, status: int, error: str, reason: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.reason = reason
        self.headers = headers or {}


def error_response(status: int, error: str, reason: str, rule: str | None = None,
                   headers: dict[str, str] | None = None) -> web.Response:
    body = ErrorBody(error=error, reason=redact(reason), rule=rule)  # type: ignore[arg-type]
    return web.Response(status=status, body=body.model_dump_json(exclude_none=True),
                        content_type="application/json", headers=headers)


@dataclass(frozen=True)
class Problem:
    """What a refusal or failure comes to, whichever front end tells it."""

    status: int
    error: str
    reason: str
    rule: str | None = None


def problem_of(exc: Exception) -> Problem | None:
    """The answer to a refusal or a failure the engine or the gateway raised on purpose; None
    for a bug, which the front end logs with its traceback."""
    if isinstance(exc, ApiProblem):
        return Problem(exc.status, exc.error, exc.reason)
    if isinstance(exc, OrderRefused):
        status, error = RULE_STATUS.get(exc.rule or "", (422, "refused"))
        return Problem(status, error, exc.reason, exc.rule)
    if isinstance(exc, PermissionDenied):
        return Problem(403, "forbidden", exc.reason, "permission")
    if isinstance(exc, ValidationError):
        return Problem(400, "invalid_request", validation_text(exc))
    if isinstance(exc, ProtectionRefused):
        return Problem(422, "refused", str(exc), "protection")
    if isinstance(exc, ParameterError):
        return Problem(400, "invalid_request", str(exc))
    if isinstance(exc, VenueError):
        return Problem(503, "unavailable", f"venue error: {exc}")
    if isinstance(exc, StorageError):
        return Problem(503, "unavailable", str(exc))
    return None


def error_middleware(max_body_bytes: int) -> Middleware:
    @web.middleware
    async def errors(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return error_response(exc.status, HTTP_ERRORS.get(exc.status, "invalid_request"), _http_reason(request, exc, max_body_bytes))
        except Exception as exc:
            problem = problem_of(exc)
            if problem is None:
                log.exception("%s %s failed", request.method, request.path)
                return error_response(500, "internal", "the gateway failed on this request; its log says why")
            headers = exc.headers if isinstance(exc, ApiProblem) else None
            return error_response(problem.status, problem.error, problem.reason, problem.rule, headers)

    return errors


def _http_reason(request: web.Request, exc: web.HTTPException, max_body_bytes: int) -> str:
    if exc.status == 404:
        return f"no route {request.method} {request.path}"
    if exc.status == 405:
        return f"{request.method} is not allowed on {request.path}"
    if exc.status == 413:
        return f"the request body is larger than {max_body_bytes} bytes"
    return exc.reason
