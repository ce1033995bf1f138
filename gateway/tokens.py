"""API tokens: created once, shown once, kept only as hashes in ``<home>/tokens.json`` (0600).

A token is ``otk_`` and 43 random characters (256 bits), so a plain SHA-256 of it is enough to
keep: nobody can guess one back from its hash, and checking a request costs one hash. The file
lives beside the database rather than in it because tokens are created and revoked while a
gateway runs, and the gateway's process is the only one that may write the database: the
token commands write this file (under its own lock) and the gateway sees each change at the
next request, so a revoked token stops working at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from core.filemodes import PRIVATE_FILE, narrow, write_private_text
from core.permissions import Level
from core.redact import TOKEN_PREFIX

log = logging.getLogger(__name__)

TOKENS_FILE = "tokens.json"
LOCAL_NAME = "local"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")


class TokenError(Exception):
    """A token command that cannot be done, or a tokens file that cannot be read; worded for
    the person who has to act on it."""


@dataclass(frozen=True)
class TokenRecord:
    name: str
    level: Level
    sha256: str
    created_ms: int


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def name_problem(name: str) -> str | None:
    if not _NAME.match(name):
        return f"token name '{name}' must be 1 to 32 lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
    if name == LOCAL_NAME:
        return f"'{LOCAL_NAME}' is the gateway's own token for clients on this machine; choose another name"
    return None


def _parse(text: str, path: Path) -> dict[str, TokenRecord]:
    try:
        data = json.loads(text)
        records = {}
        for item in data["tokens"]:
            record = TokenRecord(str(item["name"]), Level.of(str(item["level"])), str(item["sha256"]), int(item["created_ms"]))
            records[record.name] = record
    except (ValueError, KeyError, TypeError) as exc:
        raise TokenError(f"{path}: not a tokens file OpenTrade can read ({exc}); move it aside and create the tokens again") from None
    return records


class TokenStore:
    """The tokens file, read again whenever it changes on disk."""

    def __init__(self, home: Path) -> None:
        self.path = home / TOKENS_FILE
        self._stamp: tuple[int, int, int] | None = None
        self._records: dict[str, TokenRecord] = {}
        self._by_hash: dict[str, TokenRecord] = {}

    # -- reading (the gateway) ------------------------------------------------------------------

    def records(self) -> dict[str, TokenRecord]:
        """The tokens as the file holds them now. A file that cannot be read leaves no token
        valid (a half-written revoke must not keep the revoked token alive); the error is
        logged once per change of the file."""
        try:
            info = self.path.stat()
        except FileNotFoundError:
            self._set({}, None)
            return self._records
        stamp = (info.st_ino, info.st_mtime_ns, info.st_size)
        if stamp != self._stamp:
            try:
                records = _parse(self.path.read_text(encoding="utf-8"), self.path)
            except (TokenError, OSError, UnicodeDecodeError) as exc:
                log.error("no API token is valid until this is fixed: %s", exc)
                records = {}
            self._set(records, stamp)
        return self._records

    def _set(self, records: dict[str, TokenRecord], stamp: tuple[int, int, int] | None) -> None:
        self._records, self._stamp = records, stamp
        self._by_hash = {record.sha256: record for record in records.values()}

    def lookup(self, token: str) -> TokenRecord | None:
        self.records()
        return self._by_hash.get(digest(token))

    # -- changing (the token commands) ------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, TokenRecord]]:
        """Read, change and write under an exclusive lock: two `token create` at once both land."""
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE)
        try:
            narrow(lock_path)
            fcntl.flock(fd, fcntl.LOCK_EX)
            records = _parse(self.path.read_text(encoding="utf-8"), self.path) if self.path.exists() else {}
            yield records
            payload = {"tokens": [
                {"name": r.name, "level": r.level.label, "sha256": r.sha256, "created_ms": r.created_ms}
                for r in sorted(records.values(), key=lambda r: r.name)
            ]}
            write_private_text(self.path, json.dumps(payload, indent=2) + "\n")
        finally:
            os.close(fd)

    def create(self, name: str, level: Level, now_ms: int) -> str:
        """A new token for ``name``; the only time its text exists outside the caller."""
        problem = name_problem(name)
        if problem:
            raise TokenError(problem)
        token = new_token()
        with self._locked() as records:
            if name in records:
                raise TokenError(f"a token named '{name}' exists already: revoke it first, or choose another name")
            records[name] = TokenRecord(name, level, digest(token), now_ms)
        return token

    def revoke(self, name: str) -> TokenRecord:
        with self._locked() as records:
            record = records.pop(name, None)
            if record is None:
                known = ", ".join(sorted(records)) or "none"
                raise TokenError(f"no token named '{name}' (tokens: {known})")
        return record

    def listing(self) -> list[TokenRecord]:
        if not self.path.exists():
            return []
        return sorted(_parse(self.path.read_text(encoding="utf-8"), self.path).values(), key=lambda r: r.name)
