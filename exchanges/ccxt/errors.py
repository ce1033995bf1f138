"""What to do when ccxt fails: retry, give up, or stop calling for a while.

ccxt raises one exception hierarchy for every exchange; this module turns it into the three
behaviours the order path needs, and into ``VenueError`` messages that are safe to show (every
text goes through ``redact``, because exchanges echo request parameters, keys included).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from core.ports import Clock, OrderNotFound, VenueError
from core.redact import redact

log = logging.getLogger(__name__)

T = TypeVar("T")


class Failure(StrEnum):
    TIMEOUT = "timeout"  # the request may or may not have reached the exchange
    RATE_LIMIT = "rate_limit"
    NETWORK = "network"
    BAD_RESPONSE = "bad_response"  # unreadable answer: like a timeout, the effect is unknown
    NOT_FOUND = "not_found"
    REJECTED = "rejected"  # the exchange said no: retrying cannot help


RETRYABLE = frozenset({Failure.TIMEOUT, Failure.RATE_LIMIT, Failure.NETWORK, Failure.BAD_RESPONSE})
# After these a write may have taken effect, so it must be looked up before being repeated.
AMBIGUOUS = frozenset({Failure.TIMEOUT, Failure.NETWORK, Failure.BAD_RESPONSE})


def classify(exc: BaseException) -> Failure:
    """Map any exception raised inside a ccxt call to a behaviour.

    Exceptions that are not ccxt's (TypeError, KeyError...) come from ccxt parsing an answer it
    did not expect, such as a malformed JSON body: the request's effect is unknown.
    """
    import ccxt  # noqa: PLC0415 - ccxt is imported lazily, it costs most of a second

    if isinstance(exc, ccxt.OrderNotFound):
        return Failure.NOT_FOUND
    if isinstance(exc, ccxt.RequestTimeout):
        return Failure.TIMEOUT
    if isinstance(exc, ccxt.DDoSProtection | ccxt.RateLimitExceeded):
        return Failure.RATE_LIMIT
    if isinstance(exc, ccxt.BadResponse):
        return Failure.BAD_RESPONSE
    if isinstance(exc, ccxt.NetworkError):
        return Failure.NETWORK
    if isinstance(exc, ccxt.BaseError):
        return Failure.REJECTED
    return Failure.BAD_RESPONSE


def describe(exc: BaseException) -> str:
    """A one-line, redacted description of a ccxt failure, for people."""
    import ccxt  # noqa: PLC0415

    kind = type(exc).__name__
    text = str(exc).strip() or kind
    if isinstance(exc, ccxt.InsufficientFunds):
        text = f"insufficient funds: {text}"
    elif isinstance(exc, ccxt.AuthenticationError):
        text = f"authentication failed (check the API key, its permissions and IP whitelist): {text}"
    elif isinstance(exc, ccxt.BadResponse):
        text = f"unreadable answer from the exchange: {text}"
    elif isinstance(exc, ccxt.NotSupported):
        text = f"not supported by the exchange: {text}"
    elif isinstance(exc, ccxt.NetworkError) and exc.__cause__ is not None:
        # ccxt's text names only the request; why it failed (refused, no route) is in the cause
        text = f"{text} ({str(exc.__cause__).strip() or type(exc.__cause__).__name__})"
    elif not isinstance(exc, ccxt.BaseError):
        text = f"unreadable answer from the exchange ({kind}: {text})"
    return redact(text[:500])


def to_venue_error(exc: BaseException, venue: str) -> VenueError:
    failure = classify(exc)
    message = f"{venue}: {describe(exc)}"
    if failure is Failure.NOT_FOUND:
        return OrderNotFound(message)
    return VenueError(message, retryable=failure in RETRYABLE)


@dataclass
class RetryPolicy:
    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0
    breaker_threshold: int = 5
    breaker_cooldown: float = 60.0


class CircuitBreaker:
    """Stops calling an exchange that keeps failing, so that a dead venue is not hammered and
    the user sees one clear state instead of a stream of timeouts."""

    def __init__(self, clock: Clock, threshold: int, cooldown_s: float) -> None:
        self._clock = clock
        self.threshold = threshold
        self.cooldown_ms = int(cooldown_s * 1000)
        self.failures = 0
        self.open_until = 0

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold and self._clock.now_ms() < self.open_until

    def record_success(self) -> None:
        self.failures = 0
        self.open_until = 0

    def record_failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = self._clock.now_ms() + self.cooldown_ms


class Caller:
    """Runs ccxt calls with retries, Retry-After, backoff and the circuit breaker."""

    def __init__(
        self,
        venue: str,
        clock: Clock,
        policy: RetryPolicy,
        retry_after: Callable[[], float | None],
    ) -> None:
        self.venue = venue
        self._clock = clock
        self.policy = policy
        self.breaker = CircuitBreaker(clock, policy.breaker_threshold, policy.breaker_cooldown)
        self._retry_after = retry_after

    def check_breaker(self) -> None:
        if self.breaker.is_open:
            wait_s = max(0, self.breaker.open_until - self._clock.now_ms()) / 1000
            raise VenueError(
                f"{self.venue}: {self.breaker.failures} failures in a row, not calling the exchange "
                f"for another {wait_s:.0f} s",
                retryable=True,
            )

    def delay(self, failure: Failure, attempt: int) -> float:
        if failure is Failure.RATE_LIMIT:
            hinted = self._retry_after()
            if hinted is not None:
                return min(hinted, self.policy.max_delay)
        return float(min(self.policy.base_delay * 2**attempt, self.policy.max_delay))

    def record(self, exc: BaseException | None) -> None:
        """Only failures of the exchange itself count towards the breaker, not refusals."""
        if exc is None:
            self.breaker.record_success()
        elif classify(exc) in RETRYABLE:
            self.breaker.record_failure()

    async def call(self, what: str, fn: Callable[[], Awaitable[T]]) -> T:
        """``fn``, again after retryable failures. For reads and idempotent requests only: an
        order entry resolves an unknown outcome itself (see ``CcxtVenue.create_order``)."""
        attempt = 0
        while True:
            self.check_breaker()
            try:
                result = await fn()
            except Exception as exc:  # noqa: BLE001 - classified below, re-raised as VenueError
                self.record(exc)
                failure = classify(exc)
                last = attempt + 1 >= self.policy.attempts
                if failure not in RETRYABLE or last or self.breaker.is_open:
                    raise to_venue_error(exc, self.venue) from None
                wait = self.delay(failure, attempt)
                log.warning(
                    "%s: %s failed (%s), retry %d in %.1f s", self.venue, what,
                    describe(exc), attempt + 1, wait,
                )
                await self._clock.sleep(wait)
                attempt += 1
            else:
                self.record(None)
                return result
