"""What can go wrong talking to a gateway, as exceptions carrying the gateway's own words."""

from __future__ import annotations


class GatewayError(Exception):
    """Base: ``reason`` is one line for the person."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class NoGateway(GatewayError):
    """No gateway to talk to: none announced in the home, or none answering at the URL."""


class ApiError(GatewayError):
    """A 4xx or 5xx answer: ``error`` and ``rule`` as the gateway named them."""

    def __init__(self, status: int, error: str, reason: str, rule: str | None = None) -> None:
        super().__init__(reason)
        self.status = status
        self.error = error
        self.rule = rule


class BadRequest(ApiError):
    """400, 413: what was sent does not fit."""


class NotAllowed(ApiError):
    """401, 403, 429: the token is missing, unknown, revoked or below the level needed."""


class Refused(ApiError):
    """404, 409, 422: the engine said no (the reason is the app's text)."""


class ServerError(ApiError):
    """5xx: the gateway failed; its log says why."""


def api_error(status: int, error: str, reason: str, rule: str | None = None) -> ApiError:
    if status in (401, 403, 429):
        return NotAllowed(status, error, reason, rule)
    if status in (404, 409, 422):
        return Refused(status, error, reason, rule)
    if status >= 500:
        return ServerError(status, error, reason, rule)
    return BadRequest(status, error, reason, rule)
