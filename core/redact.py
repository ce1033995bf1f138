"""Keeps secrets out of every log line, exception text and screen.

Every secret loaded is registered here; a logging filter and ``redact`` replace it wherever it
appears, so a key that leaks into an exception message from a library is still hidden. API
tokens of the gateway are masked by their shape instead (``otk_`` and 43 characters): the
gateway keeps only their hashes, and a mistyped or revoked token must not reach a log either.
"""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
TOKEN_PREFIX = "otk_"
_TOKEN = re.compile(TOKEN_PREFIX + r"[A-Za-z0-9_-]{8,}")
_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_secrets: set[str] = set()
_lock = threading.Lock()


_longest_first: list[str] = []


def register_secret(value: str | None) -> None:
    # Very short values would mask ordinary words; real keys are long.
    if value and len(value) >= 6:
        with _lock:
            if value not in _secrets:
                _secrets.add(value)
                _longest_first[:] = sorted(_secrets, key=len, reverse=True)


def redact(text: str) -> str:
    """Longest secrets first: one that contains another (a secret holding a key's text) would
    otherwise be cut by the shorter one's mask and show the rest of itself."""
    if TOKEN_PREFIX in text:
        text = _TOKEN.sub(MASK, text)
    for secret in _longest_first:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask_url_passwords(text: str) -> str:
    """``scheme://user:password@host`` shown as ``scheme://user:***@host``: for text that may
    hold a URL typed with its password (a command line, a value shown back)."""
    return _URL_PASSWORD.sub(rf"\1{MASK}@", text)


class RedactingFilter(logging.Filter):
    """Formats the record early so that secrets in arguments are masked too."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = redact(record.getMessage())
        record.msg, record.args = message, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


def install_log_redaction() -> None:
    """Attach the filter to every handler of the root logger (call after handlers exist)."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RedactingFilter) for f in handler.filters):
            handler.addFilter(RedactingFilter())
